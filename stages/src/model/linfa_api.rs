//! churnflow's estimators behind linfa's traits: hyper-parameters that `Fit` a linfa
//! [`DatasetBase`] of a dense `f64` matrix and churn labels (`bool`, or `usize` 0/1), and a
//! fitted [`ChurnModel`] whose `PredictInplace` gives P(churned = 1), so linfa's `predict`
//! returns probabilities. Public as `churnflow_stages::estimators`.
//!
//! This module owns only the mapping; the numbers come from the algorithms `train` uses, through
//! the same trait ([`super::estimators`]) and the same params ([`super::params`]):
//!
//! * the matrix becomes our encoded matrix with every column numeric, the preprocessing fitted
//!   by [`encoded::fit_features`] exactly as for a table (NaN is a missing value, imputed with
//!   the column's training median; logistic regression standardises, and adds `ln(1 + x)` terms
//!   when `log_terms` is on); infinite values, constant columns and all-NaN columns are errors;
//! * the hyper-parameters are our `train` params ([`TrainParams`]), with the same defaults and
//!   checks ([`ParamGuard::check`] runs [`TrainParams::check`]); [`LogisticRegressionValidParams::train_params`]
//!   and its siblings give the params that `churnflow train` would use for the same model;
//! * a row weighs its class weight (`balanced`, from the label counts, as scikit-learn) times its
//!   sample weight from [`DatasetBase::weights`] when the dataset has weights;
//! * gradient boosting's early-stopping slice is drawn from the row numbers as ids (`"0"`, `"1"`,
//!   …): the same rows as `train` on a table whose id column holds them.
//!
//! So a linfa `Dataset` fitted here and the same rows trained by `train` give the same model
//! (tested to 1e-12 for every algorithm). `learner: linfa` (linfa-trees' own tree, converted by
//! [`super::linfa_tree`]) is reachable as [`DecisionTreeParams::learner`]; it takes class
//! weights only.
//!
//! `predict` panics, as linfa's own models do, when the matrix has another number of columns
//! than the training matrix; [`ChurnModel::try_predict`] returns that as an error instead.

use crate::model::encoded::{self, sources_of, Encoded, FeatureSpec, PrepOptions};
use crate::model::estimators::{Fitted, TrainingData};
use crate::model::params::{class_weights, Algorithm, ClassWeight, Learner, MaxFeatures, TrainParams};
use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use linfa::ParamGuard;
use ndarray::{Array1, ArrayBase, Data, Ix2};
use polars::prelude::{Column, DataFrame};
use std::collections::HashSet;
use std::path::Path;

/// A churn label as linfa targets hold it: `bool`, or an integer 0/1.
pub trait ChurnLabel {
    /// `Some(true)` for a churner, `Some(false)` for a stayer, `None` for anything else.
    fn churned(&self) -> Option<bool>;
}

impl ChurnLabel for bool {
    fn churned(&self) -> Option<bool> {
        Some(*self)
    }
}

impl ChurnLabel for usize {
    fn churned(&self) -> Option<bool> {
        match self {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// The hyper-parameter types: an unchecked builder (`new`, setters) whose `check` gives the
/// checked type that implements `Fit` (linfa's `ParamGuard` pattern; linfa's blanket impl makes
/// the builder fit too).
macro_rules! hyper_parameters {
    ($(#[$doc:meta])* $name:ident, $valid:ident, $algorithm:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name($valid);

        /// Checked hyper-parameters: `train` params that passed [`TrainParams::check`].
        #[derive(Debug, Clone)]
        pub struct $valid(TrainParams);

        impl Default for $name {
            fn default() -> Self {
                $name($valid(TrainParams { algorithm: $algorithm, ..TrainParams::default() }))
            }
        }

        impl $name {
            /// churnflow's defaults for this algorithm.
            pub fn new() -> Self {
                Self::default()
            }

            /// `balanced` (the default), `none`, or a weight per label.
            pub fn class_weight(mut self, class_weight: ClassWeight) -> Self {
                self.params().class_weight = class_weight;
                self
            }

            fn params(&mut self) -> &mut TrainParams {
                &mut (self.0).0
            }
        }

        impl $valid {
            /// The `train` params of the same model: `train_frame` with these on a table of the
            /// same rows (ids `"0"`, `"1"`, …) fits what `fit` fits here.
            pub fn train_params(&self) -> TrainParams {
                self.0.clone()
            }
        }

        impl ParamGuard for $name {
            type Checked = $valid;
            type Error = linfa::Error;

            fn check_ref(&self) -> Result<&$valid, linfa::Error> {
                (self.0).0.check().map_err(linfa::Error::Parameters)?;
                Ok(&self.0)
            }

            fn check(self) -> Result<$valid, linfa::Error> {
                self.check_ref()?;
                Ok(self.0)
            }
        }

        impl<D, T, L> Fit<ArrayBase<D, Ix2>, T, linfa::Error> for $valid
        where
            D: Data<Elem = f64>,
            T: AsSingleTargets<Elem = L>,
            L: ChurnLabel,
        {
            type Object = ChurnModel;

            fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<ChurnModel, linfa::Error> {
                fit_dataset(&self.0, dataset)
            }
        }
    };
}

hyper_parameters!(
    /// churnflow's L2-regularised, class-weighted logistic regression (Newton's method).
    LogisticRegressionParams,
    LogisticRegressionValidParams,
    Algorithm::LogisticRegression
);
hyper_parameters!(
    /// churnflow's CART tree on ≤ 256 bins per input, or linfa-trees' tree ([`Self::learner`]).
    DecisionTreeParams,
    DecisionTreeValidParams,
    Algorithm::DecisionTree
);
hyper_parameters!(
    /// churnflow's random forest: bagged trees, soft voting, seeded per tree.
    RandomForestParams,
    RandomForestValidParams,
    Algorithm::RandomForest
);
hyper_parameters!(
    /// churnflow's histogram gradient-boosted trees (log-loss, early stopping on a slice).
    GradientBoostingParams,
    GradientBoostingValidParams,
    Algorithm::GradientBoosting
);

impl LogisticRegressionParams {
    /// L2 penalty (scikit-learn's 1 / C), default 1.
    pub fn l2(mut self, l2: f64) -> Self {
        self.params().l2 = l2;
        self
    }
    /// Newton iterations, default 100.
    pub fn max_iterations(mut self, n: u32) -> Self {
        self.params().max_iterations = n;
        self
    }
    /// Stop when the largest step is below this, default 1e-8.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.params().tolerance = tolerance;
        self
    }
    /// Add `ln(1 + x)` of non-negative columns with more than two values, default on.
    pub fn log_terms(mut self, on: bool) -> Self {
        self.params().log_terms = on;
        self
    }
}

/// Setters shared by the tree-based hyper-parameters.
macro_rules! tree_setters {
    ($name:ident) => {
        impl $name {
            /// Maximum depth, 1–64.
            pub fn max_depth(mut self, depth: usize) -> Self {
                self.params().max_depth = Some(depth);
                self
            }
            /// Every leaf holds at least this many rows, default 20.
            pub fn min_samples_leaf(mut self, rows: usize) -> Self {
                self.params().min_samples_leaf = rows;
                self
            }
            /// Seed of every random choice, default 42.
            pub fn seed(mut self, seed: u64) -> Self {
                self.params().seed = seed;
                self
            }
        }
    };
}
tree_setters!(DecisionTreeParams);
tree_setters!(RandomForestParams);
tree_setters!(GradientBoostingParams);

impl DecisionTreeParams {
    /// Inputs tried per node (default all).
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.params().max_features = Some(m);
        self
    }
    /// Who grows the tree: churnflow (default) or linfa-trees, converted into our tree.
    pub fn learner(mut self, learner: Learner) -> Self {
        self.params().learner = learner;
        self
    }
}

impl RandomForestParams {
    /// Number of trees, default 100.
    pub fn n_trees(mut self, n: usize) -> Self {
        self.params().n_trees = n;
        self
    }
    /// Inputs tried per node (default sqrt).
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.params().max_features = Some(m);
        self
    }
}

impl GradientBoostingParams {
    /// Maximum boosting rounds, default 100.
    pub fn n_trees(mut self, n: usize) -> Self {
        self.params().n_trees = n;
        self
    }
    /// Shrinkage, default 0.1.
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.params().learning_rate = Some(rate);
        self
    }
    /// Leaves per tree, default 31.
    pub fn max_leaves(mut self, leaves: usize) -> Self {
        self.params().max_leaves = Some(leaves);
        self
    }
    /// Minimum hessian sum of a leaf, default 1e-3.
    pub fn min_child_weight(mut self, weight: f64) -> Self {
        self.params().min_child_weight = Some(weight);
        self
    }
    /// L2 penalty on leaf values, default 1.
    pub fn l2(mut self, l2: f64) -> Self {
        self.params().l2 = l2;
        self
    }
    /// Share of rows per tree, default 1.
    pub fn subsample(mut self, share: f64) -> Self {
        self.params().subsample = Some(share);
        self
    }
    /// Share of inputs per tree, default 1.
    pub fn colsample(mut self, share: f64) -> Self {
        self.params().colsample = Some(share);
        self
    }
    /// Rounds without a better validation loss before stopping (0 = off), default 20.
    pub fn early_stopping_rounds(mut self, rounds: usize) -> Self {
        self.params().early_stopping_rounds = Some(Some(rounds));
        self
    }
    /// Share of rows held out for early stopping, default 0.1.
    pub fn validation_fraction(mut self, share: f64) -> Self {
        self.params().validation_fraction = Some(share);
        self
    }
}

/// A fitted churnflow estimator: `predict` gives P(churned = 1) per row.
#[derive(Debug, Clone)]
pub struct ChurnModel {
    algorithm: Algorithm,
    names: Vec<String>,
    features: Vec<FeatureSpec>,
    estimator: Fitted,
    importance: Vec<f64>,
}

impl ChurnModel {
    /// `logistic_regression`, `decision_tree`, `random_forest` or `gradient_boosting`.
    pub fn algorithm(&self) -> &'static str {
        self.algorithm.name()
    }

    /// The input names: the dataset's feature names, or `x0`, `x1`, … when it has none.
    pub fn input_names(&self) -> &[String] {
        &self.names
    }

    /// Importance per model input, summing to 1 (as in the model file).
    pub fn feature_importance(&self) -> &[f64] {
        &self.importance
    }

    /// P(churned = 1) per row, or an error when the matrix has another number of columns.
    pub fn try_predict<D: Data<Elem = f64>>(
        &self,
        x: &ArrayBase<D, Ix2>,
    ) -> Result<Array1<f64>, linfa::Error> {
        if x.ncols() != self.features.len() {
            return Err(linfa::Error::MismatchedShapes(x.ncols(), self.features.len()));
        }
        Ok(Array1::from(self.probabilities(x)))
    }

    fn probabilities<D: Data<Elem = f64>>(&self, x: &ArrayBase<D, Ix2>) -> Vec<f64> {
        let numeric: Vec<Vec<f64>> = self
            .features
            .iter()
            .enumerate()
            .map(|(j, spec)| {
                let median = match spec {
                    FeatureSpec::Numeric { median, .. } => *median,
                    FeatureSpec::Categorical { .. } => f64::NAN,
                };
                x.column(j).iter().map(|&v| if v.is_nan() { median } else { v }).collect()
            })
            .collect();
        let data =
            Encoded { n: x.nrows(), numeric, categorical: Vec::new(), sources: sources_of(&self.features) };
        self.estimator.predict(&self.features, &data)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for ChurnModel {
    /// P(churned = 1) of every row into `y`.
    ///
    /// # Panics
    /// When `x` has another number of columns than the training matrix, or `y` another length
    /// than `x` has rows (as linfa's own models); see [`ChurnModel::try_predict`].
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        assert_eq!(
            x.ncols(),
            self.features.len(),
            "the model was fitted on {} columns, the matrix has {}",
            self.features.len(),
            x.ncols()
        );
        assert_eq!(x.nrows(), y.len(), "{} rows but {} targets", x.nrows(), y.len());
        for (out, p) in y.iter_mut().zip(self.probabilities(x)) {
            *out = p;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// Where a dataset's messages say the problem is.
const SOURCE: &str = "linfa dataset";

/// The fit behind every `Fit` impl.
fn fit_dataset<D, T, L>(
    params: &TrainParams,
    dataset: &DatasetBase<ArrayBase<D, Ix2>, T>,
) -> Result<ChurnModel, linfa::Error>
where
    D: Data<Elem = f64>,
    T: AsSingleTargets<Elem = L>,
    L: ChurnLabel,
{
    let params = params.resolved();
    let x = dataset.records();
    let (n, p) = x.dim();
    if n == 0 {
        return Err(linfa::Error::NotEnoughSamples);
    }
    if p == 0 {
        return Err(linfa::Error::Parameters("the dataset has no input columns".into()));
    }
    let targets = dataset.as_single_targets();
    if targets.len() != n {
        return Err(linfa::Error::MismatchedShapes(n, targets.len()));
    }
    let mut y = Vec::with_capacity(n);
    for (r, label) in targets.iter().enumerate() {
        match label.churned() {
            Some(churned) => y.push(u8::from(churned)),
            None => {
                return Err(linfa::Error::Parameters(format!(
                    "row {r}: churn labels are 0 and 1 (or false and true)"
                )))
            }
        }
    }
    let positives = y.iter().filter(|&&l| l == 1).count();
    if positives == 0 || positives == n {
        return Err(linfa::Error::Parameters(format!(
            "every one of the {n} rows has label {}; a churn model needs both classes",
            u8::from(positives == n)
        )));
    }
    let sample_weights = match dataset.weights() {
        None => None,
        Some(w) if w.len() != n => return Err(linfa::Error::MismatchedShapes(n, w.len())),
        Some(w) => {
            if let Some(r) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(linfa::Error::Parameters(format!(
                    "row {r} has the weight {}; weights are finite and ≥ 0",
                    w[r]
                )));
            }
            for class in [0u8, 1] {
                if !y.iter().zip(w).any(|(&l, &v)| l == class && v > 0.0) {
                    return Err(linfa::Error::Parameters(format!("every row of class {class} has weight 0")));
                }
            }
            Some(w)
        }
    };
    let names = input_names(dataset.feature_names(), p);
    let mut columns = Vec::with_capacity(p);
    for (j, name) in names.iter().enumerate() {
        let values: Vec<Option<f64>> = x.column(j).iter().map(|&v| (!v.is_nan()).then_some(v)).collect();
        if let Some(r) = values.iter().position(|v| v.is_some_and(|v| v.is_infinite())) {
            return Err(linfa::Error::Parameters(format!("row {r}, column {name}: an infinite value")));
        }
        let mut seen = values.iter().flatten();
        match seen.next() {
            None => return Err(linfa::Error::Parameters(format!("column {name} has no values (all NaN)"))),
            Some(first) if seen.all(|v| v == first) => {
                return Err(linfa::Error::Parameters(format!(
                    "column {name} is constant ({first} in every row that is not NaN): it cannot help \
                     the model, drop it"
                )))
            }
            Some(_) => {}
        }
        columns.push(Column::new(name.as_str().into(), values));
    }
    let df = DataFrame::new(n, columns).map_err(|e| linfa::Error::Parameters(e.to_string()))?;
    let file = Path::new(SOURCE);
    let stage = |e: crate::contract::StageError| linfa::Error::Parameters(e.message);
    let prep = PrepOptions {
        max_categories: params.max_categories,
        log_terms: params.log_terms && params.algorithm.log_terms(),
    };
    let features = encoded::fit_features(&df, &names, &prep, file).map_err(stage)?;
    let data = encoded::encode_with(&features, &df, file).map_err(stage)?;
    let class_weights = class_weights(&params.class_weight, &y);
    let weights: Vec<f64> = match sample_weights {
        None => y.iter().map(|&l| class_weights[l as usize]).collect(),
        Some(w) => y.iter().zip(w).map(|(&l, &v)| class_weights[l as usize] * f64::from(v)).collect(),
    };
    if params.learner == Learner::Linfa && sample_weights.is_some() {
        return Err(linfa::Error::Parameters(
            "learner linfa takes class weights only, not sample weights (linfa-trees sums weights in \
             f32, exactly only as small integers)"
                .into(),
        ));
    }
    // Boosting's early-stopping slice is drawn by the row numbers as ids.
    let ids = || Ok((0..n).map(|r| r.to_string()).collect());
    let training =
        TrainingData { features: &features, data: &data, y: &y, weights: &weights, class_weights, ids: &ids };
    let (estimator, importance) = params.algorithm.fit(&params, &training).map_err(stage)?;
    let sum: f64 = importance.iter().sum();
    let importance = importance.iter().map(|v| if sum > 0.0 { v / sum } else { 0.0 }).collect();
    Ok(ChurnModel { algorithm: params.algorithm, names, features, estimator, importance })
}

/// The dataset's feature names when there is one per column and they are distinct, else `x0`, `x1`, ….
fn input_names(given: &[String], p: usize) -> Vec<String> {
    let distinct: HashSet<&String> = given.iter().collect();
    if given.len() == p && distinct.len() == p {
        given.to_vec()
    } else {
        (0..p).map(|j| format!("x{j}")).collect()
    }
}
