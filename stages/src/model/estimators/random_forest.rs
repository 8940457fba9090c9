//! `random_forest`: bagged CART trees, seeded per tree ([`crate::model::forest`]); the
//! probability is the mean of the trees' leaf probabilities (soft voting), and so are the
//! contributions (the mean of the trees' TreeSHAP values, in probability).

use super::{dense_row, Estimator, Explained, OutputSpace, Row, TrainingData, Tunable};
use crate::contract::StageError;
use crate::model::encoded::{Encoded, FeatureSpec};
use crate::model::forest;
use crate::model::params::{MaxFeatures, ParamKind, TrainParams};
use crate::model::tree::{Binned, NodeValues, Tree, TreeParams};
use serde::{Deserialize, Serialize};

/// Default `max_depth`.
const MAX_DEPTH: usize = 10;

/// The probability is the mean of the trees' leaf probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    pub trees: Vec<Tree>,
}

impl Estimator for RandomForest {
    const NAME: &'static str = "random_forest";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::new("class_weight", ParamKind::Choice),
        Tunable::new("max_categories", ParamKind::Whole),
        Tunable::new("max_depth", ParamKind::Whole),
        Tunable::new("max_features", ParamKind::CountOrShare),
        Tunable::new("min_samples_leaf", ParamKind::Whole),
        Tunable::new("n_trees", ParamKind::Whole),
    ];

    fn resolve(params: &mut TrainParams) {
        params.max_depth = Some(params.max_depth.unwrap_or(MAX_DEPTH));
        params.max_features = Some(params.max_features.unwrap_or(MaxFeatures::Sqrt));
    }

    fn fit(params: &TrainParams, t: &TrainingData) -> Result<(Self, Vec<f64>), StageError> {
        let limits = TreeParams {
            max_depth: params.max_depth.unwrap_or(MAX_DEPTH),
            min_samples_leaf: params.min_samples_leaf,
            max_features: params
                .max_features
                .unwrap_or(MaxFeatures::Sqrt)
                .resolve(t.data.sources.len())
                .map_err(StageError::new)?,
        };
        let (trees, importance) =
            forest::fit(&Binned::new(t.data), t.y, t.weights, params.n_trees, limits, params.seed);
        Ok((RandomForest { trees }, importance))
    }

    fn check(&self, width: usize) -> Result<(), String> {
        if self.trees.is_empty() {
            return Err("forest has no trees".into());
        }
        for t in &self.trees {
            t.check(width, NodeValues::Probabilities)?;
        }
        Ok(())
    }

    fn predict(&self, _features: &[FeatureSpec], data: &Encoded) -> Vec<f64> {
        forest::predict(&self.trees, data)
    }

    fn predict_one(&self, _features: &[FeatureSpec], data: &Encoded) -> f64 {
        let x = dense_row(data);
        // Summed in tree order, then divided, as the batch prediction does.
        let mut sum = 0.0;
        for tree in &self.trees {
            sum += tree.leaf_value(&x);
        }
        sum / self.trees.len().max(1) as f64
    }

    fn trees(&self) -> &[Tree] {
        &self.trees
    }

    fn contributions(&self, row: &mut Row, phi: &mut [f64]) -> Explained {
        let (mut base, mut output) = (0.0, 0.0);
        for (tree, prepared) in self.trees.iter().zip(row.trees) {
            prepared.add_contributions(row.dense, phi, row.shap);
            base += prepared.expected_value();
            output += tree.leaf_value(row.dense);
        }
        let n = self.trees.len() as f64;
        for v in phi.iter_mut() {
            *v /= n;
        }
        Explained { space: OutputSpace::Probability, base_value: base / n, output: output / n }
    }
}
