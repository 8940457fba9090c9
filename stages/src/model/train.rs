//! Kind `train`: the train split → a model file ([`super::file`]), and optionally k-fold
//! cross-validation scores.
//!
//! The id column (default: the first) and the label column (default `churned`, 0/1) are not
//! features; every other column is, unless listed in `exclude_columns`. Strings are
//! categorical, numbers numeric. The preprocessing is fitted on this table only.
//!
//! Class weighting `balanced` gives each class the weight n / (2 · n_class) (scikit-learn's
//! `class_weight="balanced"`), for every algorithm: it enters the logistic loss, the Gini
//! impurity of splits and the leaf probabilities, and the gradients and hessians of boosting.
//! With `none` every row weighs 1; a map `{0: w0, 1: w1}` gives each label its own weight.
//!
//! Gradient boosting with early stopping holds out a validation slice of this table: within
//! each class, the `round(validation_fraction · n_class)` customers with the smallest
//! `blake3(seed' ‖ id)` (seed' = `seed` mixed with a constant, so the slice is not the band
//! next to the split stage's test cut when both use the same seed), at least one row of each
//! class staying in training. The slice only measures the loss; no tree is fitted on it.

use crate::contract::{plain, Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::data::snapshot::SnapshotSpec;
use crate::io::hash_file;
use crate::io::json;
use crate::io::table::{self, column};
use crate::io::values::{id_values, label_values};
use crate::model::boosting::{self, BoostParams};
use crate::model::encoded::{self, Encoded, FeatureSpec, PrepOptions};
use crate::model::file::{Algorithm, Estimator, Lineage, Model, RiskTiers, FORMAT_TAG, FORMAT_VERSION};
use crate::model::folds::stratified_folds;
use crate::model::forest;
use crate::model::linfa_tree::{self, LinfaTreeParams};
use crate::model::logistic;
use crate::model::metrics;
use crate::model::sampling::SplitMix64;
use crate::model::split::hash_unit;
use crate::model::tree::{self, Binned, TreeParams};
use crate::model::tuning::{self, TrainingTable, TuneParams};
use polars::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

pub(crate) struct Train;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainSettings {
    /// The train split (Parquet or CSV).
    pub input: String,
    /// The model file to write (JSON).
    pub model: String,
    /// Optional k-fold cross-validation scores (JSON, a metrics out).
    #[serde(default)]
    pub cv: Option<String>,
    /// Optional: ingest's `snapshot.json` (layout `snapshot`). The model then carries the
    /// cleaning, so `churnflow score` accepts the raw table (e.g. the Telco CSV) as exported.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// The report of a `train.tune` search (a `.json` metrics out; every trial goes to its twin
    /// `<name>_trials.json`); required with `tune`.
    #[serde(default)]
    pub tuning: Option<String>,
}

/// How the two classes are weighted (params `train.class_weight`): `balanced`, `none`, or a
/// map of the two labels' weights, `{0: 1.0, 1: 4.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClassWeight {
    #[default]
    Balanced,
    None,
    /// `[weight of label 0, weight of label 1]`.
    Weights([f64; 2]),
}

impl Serialize for ClassWeight {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ClassWeight::Balanced => s.serialize_str("balanced"),
            ClassWeight::None => s.serialize_str("none"),
            ClassWeight::Weights([w0, w1]) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("0", w0)?;
                map.serialize_entry("1", w1)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClassWeight, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = ClassWeight;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"balanced\", \"none\" or a weight per label, e.g. {0: 1.0, 1: 4.0}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ClassWeight, E> {
                match v {
                    "balanced" => Ok(ClassWeight::Balanced),
                    "none" => Ok(ClassWeight::None),
                    other => Err(E::custom(format!(
                        "'{other}' is not \"balanced\", \"none\" or a weight per label, e.g. {{0: 1.0, 1: 4.0}}"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ClassWeight, A::Error> {
                use serde::de::Error;
                let mut weights = [None, None];
                while let Some(label) = map.next_key::<String>()? {
                    let slot = match label.trim() {
                        "0" => 0,
                        "1" => 1,
                        other => {
                            return Err(A::Error::custom(format!("the labels are 0 and 1, not '{other}'")))
                        }
                    };
                    weights[slot] = Some(map.next_value::<f64>()?);
                }
                match weights {
                    [Some(w0), Some(w1)] => Ok(ClassWeight::Weights([w0, w1])),
                    _ => Err(A::Error::custom("give a weight for both labels, e.g. {0: 1.0, 1: 4.0}")),
                }
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Who fits a decision tree (params `train.learner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// Our CART on binned inputs ([`super::tree`]).
    #[default]
    Churnflow,
    /// linfa-trees' `DecisionTree`, converted into our tree ([`super::linfa_tree`]).
    Linfa,
}

impl Learner {
    fn is_default(&self) -> bool {
        *self == Learner::Churnflow
    }
}

/// Inputs considered at each tree node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxFeatures {
    /// "sqrt", "log2" or "all".
    Rule(String),
    /// A count (≥ 1) or a fraction (0 < f < 1) of the expanded inputs.
    Number(f64),
}

impl MaxFeatures {
    pub(crate) fn resolve(&self, p: usize) -> Result<usize, String> {
        let k = match self {
            MaxFeatures::Rule(r) if r == "sqrt" => (p as f64).sqrt().round() as usize,
            MaxFeatures::Rule(r) if r == "log2" => (p as f64).log2().round() as usize,
            MaxFeatures::Rule(r) if r == "all" => p,
            MaxFeatures::Rule(r) => {
                return Err(format!("train.max_features: '{r}' is not one of sqrt, log2, all or a number"))
            }
            MaxFeatures::Number(f) if *f > 0.0 && *f < 1.0 => (f * p as f64).round() as usize,
            MaxFeatures::Number(f) if *f >= 1.0 && f.fract() == 0.0 => *f as usize,
            MaxFeatures::Number(f) => {
                return Err(format!(
                    "train.max_features: {f} is neither a fraction in (0, 1) nor a count ≥ 1"
                ))
            }
        };
        Ok(k.clamp(1, p.max(1)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    pub algorithm: Algorithm,
    /// Decision tree only: `churnflow` (default) or `linfa`. Recorded only when not the default,
    /// so the files of every other model did not change when it came.
    #[serde(skip_serializing_if = "Learner::is_default")]
    pub learner: Learner,
    pub class_weight: ClassWeight,
    /// Logistic regression: L2 penalty (scikit-learn's 1 / C).
    pub l2: f64,
    pub max_iterations: u32,
    pub tolerance: f64,
    /// Trees: default 6 for a decision tree, 10 for a forest.
    pub max_depth: Option<usize>,
    pub min_samples_leaf: usize,
    pub n_trees: usize,
    /// Default "all" for a decision tree, "sqrt" for a forest.
    pub max_features: Option<MaxFeatures>,
    pub seed: u64,
    /// Decision threshold stored in the model for `score`.
    pub threshold: f64,
    pub risk_tiers: RiskTiers,
    pub max_categories: usize,
    pub exclude_columns: Vec<String>,
    /// Default: the first column.
    pub id_column: Option<String>,
    pub label_column: String,
    /// k of k-fold cross-validation (0 = off; 5 when the `cv` setting is given and this is 0).
    pub cv_folds: usize,
    /// Logistic regression: also fit `ln(1 + x)` of every non-negative numeric column with
    /// more than two distinct values (skewed amounts, counts, durations).
    pub log_terms: bool,
    // Gradient boosting only (absent from the recorded params of the other algorithms, so
    // their model files did not change when boosting came).
    /// Shrinkage of every tree's leaf values (default 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// Stop when the validation loss has not improved for this many rounds (default 20;
    /// 0 or null = off: every tree is fitted on the whole table).
    #[serde(deserialize_with = "absent_or_null", skip_serializing_if = "Option::is_none")]
    pub early_stopping_rounds: Option<Option<usize>>,
    /// Share of the table held out for early stopping (default 0.1, stratified, seeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,
    /// Leaves per tree, grown best-first (default 31).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_leaves: Option<usize>,
    /// Minimum hessian sum in a leaf (default 1e-3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_child_weight: Option<f64>,
    /// Share of the training rows each tree is fitted on (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsample: Option<f64>,
    /// Share of the inputs each tree may split on (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colsample: Option<f64>,
    /// Cross-validated search of some of these params on the train split (see
    /// [`super::tuning`]); absent = the params as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tune: Option<TuneParams>,
}

/// `early_stopping_rounds`: absent → `None` (the default), `null` → `Some(None)` (off).
fn absent_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<usize>>, D::Error> {
    Option::<usize>::deserialize(d).map(Some)
}

/// Gradient-boosting defaults.
const LEARNING_RATE: f64 = 0.1;
const EARLY_STOPPING_ROUNDS: usize = 20;
const VALIDATION_FRACTION: f64 = 0.1;
const MAX_LEAVES: usize = 31;
const MIN_CHILD_WEIGHT: f64 = 1e-3;
/// Mixed into `seed` for the validation slice.
const VALIDATION_SALT: u64 = 0x7661_6c69_6461_7465;

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            algorithm: Algorithm::LogisticRegression,
            learner: Learner::Churnflow,
            class_weight: ClassWeight::Balanced,
            l2: 1.0,
            max_iterations: 100,
            tolerance: 1e-8,
            max_depth: None,
            min_samples_leaf: 20,
            n_trees: 100,
            max_features: None,
            seed: 42,
            threshold: 0.5,
            risk_tiers: RiskTiers::default(),
            max_categories: 50,
            exclude_columns: Vec::new(),
            id_column: None,
            label_column: "churned".into(),
            cv_folds: 0,
            log_terms: true,
            learning_rate: None,
            early_stopping_rounds: None,
            validation_fraction: None,
            max_leaves: None,
            min_child_weight: None,
            subsample: None,
            colsample: None,
            tune: None,
        }
    }
}

impl TrainParams {
    /// Rejects values that cannot train (a usage error, before anything runs).
    pub fn check(&self) -> Result<(), String> {
        self.check_keyed().map_err(String::from)
    }

    /// [`TrainParams::check`], naming the params key each refusal is about.
    pub(crate) fn check_keyed(&self) -> Result<(), KindIoError> {
        if self.learner == Learner::Linfa {
            if self.algorithm != Algorithm::DecisionTree {
                return Err(KindIoError::param(
                    "train.learner",
                    format!(
                        "train.learner: linfa is offered for algorithm decision_tree only, not {}: \
                         linfa-ensemble's forest votes hard labels and drops sample weights, linfa has \
                         no gradient boosting and linfa-logistic no sample weights",
                        self.algorithm.name()
                    ),
                ));
            }
            if self.max_features.as_ref().is_some_and(|m| *m != MaxFeatures::Rule("all".into())) {
                return Err(KindIoError::param(
                    "train.max_features",
                    "train.max_features: linfa-trees tries every input at every node; remove \
                     max_features or use learner: churnflow",
                ));
            }
        }
        if let ClassWeight::Weights(w) = self.class_weight {
            if !w.iter().all(|x| *x > 0.0 && x.is_finite()) {
                return Err(KindIoError::param(
                    "train.class_weight",
                    format!("train.class_weight: weights must be numbers > 0, got {} and {}", w[0], w[1]),
                ));
            }
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(KindIoError::param("train.l2", format!("train.l2 must be ≥ 0, got {}", self.l2)));
        }
        if self.max_iterations == 0 {
            return Err(KindIoError::param("train.max_iterations", "train.max_iterations must be ≥ 1"));
        }
        if let Some(d) = self.max_depth {
            if !(1..=64).contains(&d) {
                return Err(KindIoError::param(
                    "train.max_depth",
                    format!("train.max_depth must be between 1 and 64, got {d}"),
                ));
            }
        }
        if self.min_samples_leaf == 0 {
            return Err(KindIoError::param("train.min_samples_leaf", "train.min_samples_leaf must be ≥ 1"));
        }
        if !(1..=10_000).contains(&self.n_trees) {
            return Err(KindIoError::param(
                "train.n_trees",
                format!("train.n_trees must be between 1 and 10000, got {}", self.n_trees),
            ));
        }
        if let Some(m) = &self.max_features {
            // Its messages start with `train.max_features:`.
            m.resolve(100).map_err(|message| KindIoError::param("train.max_features", message))?;
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(KindIoError::param(
                "train.threshold",
                format!("train.threshold must be in (0, 1), got {}", self.threshold),
            ));
        }
        let t = self.risk_tiers;
        if !(0.0 <= t.medium && t.medium <= t.high && t.high <= 1.0) {
            return Err(KindIoError::param(
                "train.risk_tiers",
                format!(
                    "train.risk_tiers must satisfy 0 ≤ medium ≤ high ≤ 1, got medium {} high {}",
                    t.medium, t.high
                ),
            ));
        }
        if self.max_categories == 0 {
            return Err(KindIoError::param("train.max_categories", "train.max_categories must be ≥ 1"));
        }
        if self.cv_folds == 1 || self.cv_folds > 50 {
            return Err(KindIoError::param(
                "train.cv_folds",
                format!("train.cv_folds must be 0 (off) or between 2 and 50, got {}", self.cv_folds),
            ));
        }
        let share = |name: &str, v: Option<f64>, closed: bool| match v {
            Some(x) if !(x > 0.0 && (x < 1.0 || closed && x == 1.0)) => {
                let key = format!("train.{name}");
                let message = format!("{key} must be in (0, 1{}, got {x}", if closed { "]" } else { ")" });
                Err(KindIoError::param(&key, message))
            }
            _ => Ok(()),
        };
        share("learning_rate", self.learning_rate, true)?;
        share("subsample", self.subsample, true)?;
        share("colsample", self.colsample, true)?;
        share("validation_fraction", self.validation_fraction, false)?;
        if let Some(m) = self.max_leaves {
            if !(2..=4096).contains(&m) {
                return Err(KindIoError::param(
                    "train.max_leaves",
                    format!("train.max_leaves must be between 2 and 4096, got {m}"),
                ));
            }
        }
        if let Some(w) = self.min_child_weight {
            if !(w > 0.0 && w.is_finite()) {
                return Err(KindIoError::param(
                    "train.min_child_weight",
                    format!("train.min_child_weight must be a number > 0, got {w}"),
                ));
            }
        }
        if let Some(Some(r)) = self.early_stopping_rounds {
            if r > 10_000 {
                return Err(KindIoError::param(
                    "train.early_stopping_rounds",
                    format!("train.early_stopping_rounds must be at most 10000 (0 = off), got {r}"),
                ));
            }
        }
        if let Some(tune) = &self.tune {
            tune.check(self.algorithm, |overrides| self.with_overrides(overrides))?;
        }
        Ok(())
    }

    /// A tuning candidate: these params with `overrides` (train param → value) in place of
    /// their own values and without `tune`, checked.
    fn with_overrides(&self, overrides: &Map<String, Value>) -> Result<TrainParams, String> {
        let base = TrainParams { tune: None, ..self.clone() };
        let mut value = serde_json::to_value(base).map_err(|e| format!("train: {e}"))?;
        if let Value::Object(map) = &mut value {
            map.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let params: TrainParams = serde_path_to_error::deserialize(value)
            .map_err(|e| format!("train.{}: {}", e.path(), plain(&e.inner().to_string())))?;
        params.check()?;
        Ok(params)
    }

    pub(crate) fn max_depth(&self) -> usize {
        self.max_depth.unwrap_or(match self.algorithm {
            Algorithm::RandomForest => 10,
            Algorithm::GradientBoosting => 12,
            _ => 6,
        })
    }

    /// The boosting settings with their defaults (gradient boosting only).
    pub(crate) fn boost_params(&self) -> BoostParams {
        BoostParams {
            n_trees: self.n_trees,
            learning_rate: self.learning_rate.unwrap_or(LEARNING_RATE),
            max_depth: self.max_depth(),
            max_leaves: self.max_leaves.unwrap_or(MAX_LEAVES),
            min_samples_leaf: self.min_samples_leaf,
            min_child_weight: self.min_child_weight.unwrap_or(MIN_CHILD_WEIGHT),
            l2: self.l2,
            subsample: self.subsample.unwrap_or(1.0),
            colsample: self.colsample.unwrap_or(1.0),
            early_stopping_rounds: self
                .early_stopping_rounds
                .unwrap_or(Some(EARLY_STOPPING_ROUNDS))
                .unwrap_or(0),
            seed: self.seed,
        }
    }

    pub(crate) fn max_features(&self) -> MaxFeatures {
        self.max_features.clone().unwrap_or_else(|| match self.algorithm {
            Algorithm::RandomForest => MaxFeatures::Rule("sqrt".into()),
            _ => MaxFeatures::Rule("all".into()),
        })
    }

    /// The params with every default made explicit (recorded in the model's lineage).
    pub fn resolved(&self) -> TrainParams {
        let mut p = self.clone();
        p.max_depth = Some(self.max_depth());
        if self.algorithm == Algorithm::GradientBoosting {
            let b = self.boost_params();
            p.learning_rate = Some(b.learning_rate);
            p.early_stopping_rounds = Some(Some(b.early_stopping_rounds));
            p.validation_fraction = Some(self.validation_fraction.unwrap_or(VALIDATION_FRACTION));
            p.max_leaves = Some(b.max_leaves);
            p.min_child_weight = Some(b.min_child_weight);
            p.subsample = Some(b.subsample);
            p.colsample = Some(b.colsample);
        } else {
            p.max_features = Some(self.max_features());
        }
        p
    }
}

impl Kind for Train {
    const NAME: &'static str = "train";
    const PARAMS_SECTION: &'static str = "train";
    const CODE_VERSION: u32 = 2;
    type Settings = TrainSettings;
    type Params = TrainParams;

    fn io(s: &TrainSettings, p: &TrainParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        p.check_keyed()?;
        let mut outs = vec![OutDecl::out(&s.model)];
        outs.extend(s.cv.as_ref().map(OutDecl::metrics));
        match (&p.tune, &s.tuning) {
            (Some(_), None) => {
                return Err(KindIoError::setting(
                    "the params set train.tune but the stage has no `tuning` report to write \
                     the trials to: add `tuning: reports/tuning.json` under its `with:` in \
                     pipeline.yaml",
                ))
            }
            (None, Some(t)) => {
                return Err(KindIoError::setting(format!(
                    "the setting `tuning: {t}` needs a search to report: add a `tune` section under \
                     `train` in params.yaml (see docs/stages-model.md#tuning), or remove the setting"
                )))
            }
            (Some(_), Some(report)) => {
                let Some(trials) = tuning::trials_path(report) else {
                    return Err(KindIoError::setting(format!(
                        "the setting `tuning: {report}` must name a .json file (a metrics file; every \
                         trial goes to the twin file <name>_trials.json next to it)"
                    )));
                };
                outs.push(OutDecl::metrics(report));
                outs.push(OutDecl { cache: false, ..OutDecl::out(trials) });
            }
            (None, None) => {}
        }
        let mut deps = vec![s.input.clone()];
        deps.extend(s.snapshot.clone());
        Ok((deps, outs))
    }

    fn run(
        root: &Path,
        s: TrainSettings,
        p: TrainParams,
        _inv: &Invocation,
    ) -> Result<StageSummary, StageError> {
        p.check().map_err(StageError::new)?;
        let input = root.join(&s.input);
        let (p, mut model, tuned) = match (&p.tune, &s.tuning) {
            (Some(tune), Some(report)) => {
                let df = table::read_table(&input)?;
                let names = df.get_column_names();
                let id_column = p
                    .id_column
                    .clone()
                    .unwrap_or_else(|| names.first().map_or(String::new(), |n| n.to_string()));
                let table = TrainingTable {
                    df: &df,
                    file: &input,
                    id_column: &id_column,
                    label_column: &p.label_column,
                };
                let found = tuning::tune(
                    &table,
                    tune,
                    p.algorithm,
                    |o| p.with_overrides(o),
                    |rows, candidate| train_frame(rows, &input, String::new(), candidate),
                )?;
                json::write_json(&root.join(report), &found.report)?;
                let trials = tuning::trials_path(report).ok_or_else(|| {
                    StageError::new(format!("the setting `tuning: {report}` must name a .json file"))
                })?;
                json::write_json(&root.join(trials), &found.trials)?;
                let mut model = train_frame(&df, &input, hash_file(&input)?, &found.params)?;
                model.tuning = Some(found.summary.clone());
                (found.params, model, Some(found.summary))
            }
            _ => {
                let model = train_file(&input, &p)?;
                (p, model, None)
            }
        };
        if let Some(spec) = &s.snapshot {
            model.snapshot = Some(SnapshotSpec::read(&root.join(spec), spec)?);
        }
        model.save(&root.join(&s.model))?;
        let mut summary = format!(
            "{} on {} rows ({} churners), {} inputs",
            model.algorithm.name(),
            model.lineage.training_rows,
            model.lineage.training_positives,
            model.expanded_features.len()
        );
        if p.learner == Learner::Linfa {
            summary.push_str(", fitted by linfa-trees");
        }
        if let Estimator::GradientBoosting { trees, rounds, validation_log_loss, .. } = &model.estimator {
            summary.push_str(&format!(", {} trees", trees.len()));
            if let Some(loss) = validation_log_loss {
                summary.push_str(&format!(" (best of {rounds} rounds, validation log-loss {loss:.4})"));
            }
        }
        if let Some(t) = &tuned {
            summary.push_str(&format!(
                "; params: best of {} {} candidates by {}-fold CV AUC {:.4} ± {:.4}",
                t.trials, t.search, t.cv, t.cv_auc_mean, t.cv_auc_std
            ));
        }
        if let Some(cv_path) = &s.cv {
            let folds = if p.cv_folds == 0 { 5 } else { p.cv_folds };
            let cv = cross_validate(&input, &p, folds)?;
            if let Some(mean) = cv.auc_roc_mean {
                summary.push_str(&format!(", {folds}-fold CV AUC {mean:.4}"));
            }
            json::write_json(&root.join(cv_path), &cv)?;
        }
        Ok(StageSummary { summary })
    }
}

/// Trains a model on a table file.
pub(crate) fn train_file(input: &Path, params: &TrainParams) -> Result<Model, StageError> {
    let df = table::read_table(input)?;
    let data_hash = hash_file(input)?;
    train_frame(&df, input, data_hash, params)
}

/// Trains on an in-memory table (`file` names it in messages).
pub fn train_frame(
    df: &DataFrame,
    file: &Path,
    data_hash: String,
    params: &TrainParams,
) -> Result<Model, StageError> {
    params.check().map_err(StageError::new)?;
    let params = params.resolved();
    if df.height() == 0 {
        return Err(StageError::new(format!("{}: the training table has no rows", file.display())));
    }
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let id_column = params.id_column.clone().unwrap_or_else(|| names[0].clone());
    column(df, &id_column, file)?;
    let y = label_values(column(df, &params.label_column, file)?, file)?;
    for excluded in &params.exclude_columns {
        column(df, excluded, file)?;
    }
    let feature_columns: Vec<String> = names
        .iter()
        .filter(|c| **c != id_column && **c != params.label_column && !params.exclude_columns.contains(c))
        .cloned()
        .collect();
    if feature_columns.is_empty() {
        return Err(StageError::new(format!(
            "{}: no feature columns besides the id '{id_column}' and the label '{}'",
            file.display(),
            params.label_column
        )));
    }
    let positives = y.iter().filter(|&&v| v == 1).count();
    if positives == 0 || positives == y.len() {
        let only = if positives == 0 { 0 } else { 1 };
        return Err(StageError::new(format!(
            "{}: every one of the {} training rows has {} = {only}; a churn model needs both \
             churners (1) and non-churners (0) — check the label column and the split",
            file.display(),
            y.len(),
            params.label_column
        )));
    }
    let features = encoded::fit_features(
        df,
        &feature_columns,
        &PrepOptions {
            max_categories: params.max_categories,
            log_terms: params.log_terms && params.algorithm == Algorithm::LogisticRegression,
        },
        file,
    )?;
    let data = encoded::encode_training(&features, df, file)?;
    let class_weights = class_weights(&params.class_weight, &y);
    let weights: Vec<f64> = y.iter().map(|&l| class_weights[l as usize]).collect();
    let ids = || id_values(column(df, &id_column, file)?, file);
    let (estimator, raw_importance) =
        fit_estimator(&features, &data, &y, &weights, class_weights, ids, &params)?;
    let total: f64 = raw_importance.iter().sum();
    let feature_importance =
        raw_importance.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
    let params_value = serde_json::to_value(&params)
        .map_err(|e| StageError::new(format!("cannot record the train params: {e}")))?;
    Ok(Model {
        format: FORMAT_TAG.into(),
        format_version: FORMAT_VERSION,
        algorithm: params.algorithm,
        id_column,
        label_column: params.label_column.clone(),
        expanded_features: encoded::expanded_names(&features),
        features,
        class_weights,
        decision_threshold: params.threshold,
        risk_tiers: params.risk_tiers,
        estimator,
        feature_importance,
        snapshot: None,
        tuning: None,
        lineage: Lineage {
            training_data_blake3: data_hash,
            training_rows: y.len(),
            training_positives: positives,
            params: params_value,
            stages_version: env!("CARGO_PKG_VERSION").into(),
        },
        explain_cache: Default::default(),
    })
}

/// The weight of a row of class 0 and of class 1: `balanced` is n / (2·n_class), as
/// scikit-learn (the labels hold both classes).
pub(crate) fn class_weights(class_weight: &ClassWeight, y: &[u8]) -> [f64; 2] {
    let n = y.len() as f64;
    let positives = y.iter().filter(|&&l| l == 1).count() as f64;
    match class_weight {
        ClassWeight::Balanced => [n / (2.0 * (n - positives)), n / (2.0 * positives)],
        ClassWeight::None => [1.0, 1.0],
        ClassWeight::Weights(w) => *w,
    }
}

/// Fits the estimator `params` names on an encoded matrix: the one dispatch over the
/// algorithms, for `train` and the linfa adapter. `weights` is each row's weight (its class
/// weight, times its sample weight for linfa); `class_weights` is what linfa-trees takes;
/// `ids` gives the row ids boosting's early-stopping slice is drawn by, when it is on.
/// Returns the estimator and its unnormalised importance per input.
pub(crate) fn fit_estimator(
    features: &[FeatureSpec],
    data: &Encoded,
    y: &[u8],
    weights: &[f64],
    class_weights: [f64; 2],
    ids: impl FnOnce() -> Result<Vec<String>, StageError>,
    params: &TrainParams,
) -> Result<(Estimator, Vec<f64>), StageError> {
    let tree_params = || -> Result<TreeParams, StageError> {
        Ok(TreeParams {
            max_depth: params.max_depth(),
            min_samples_leaf: params.min_samples_leaf,
            max_features: params.max_features().resolve(data.sources.len()).map_err(StageError::new)?,
        })
    };
    Ok(match params.algorithm {
        Algorithm::LogisticRegression => {
            let fitted =
                logistic::fit(features, data, y, weights, params.l2, params.max_iterations, params.tolerance)
                    .map_err(|e| StageError::new(e.to_string()))?;
            let importance = fitted.coefficients.iter().map(|c| c.abs()).collect();
            (
                Estimator::LogisticRegression {
                    intercept: fitted.intercept,
                    coefficients: fitted.coefficients,
                    iterations: fitted.iterations,
                    converged: fitted.converged,
                },
                importance,
            )
        }
        Algorithm::GradientBoosting => {
            let boost = params.boost_params();
            let validation = if boost.early_stopping_rounds > 0 {
                let fraction = params.validation_fraction.unwrap_or(VALIDATION_FRACTION);
                validation_slice(&ids()?, y, fraction, params.seed)
            } else {
                vec![false; y.len()]
            };
            let binned = Binned::new(data);
            let fitted = boosting::fit(&binned, data, y, weights, &validation, &boost);
            (
                Estimator::GradientBoosting {
                    base_score: fitted.base_score,
                    learning_rate: boost.learning_rate,
                    rounds: fitted.rounds,
                    validation_log_loss: fitted.validation_log_loss,
                    trees: fitted.trees,
                },
                fitted.importance,
            )
        }
        Algorithm::DecisionTree if params.learner == Learner::Linfa => {
            let limits =
                LinfaTreeParams { max_depth: params.max_depth(), min_samples_leaf: params.min_samples_leaf };
            let (fitted, _) = linfa_tree::fit(data, y, class_weights, limits)
                .map_err(|e| StageError::new(e.to_string()))?;
            (Estimator::DecisionTree { tree: fitted.tree }, fitted.importance)
        }
        Algorithm::DecisionTree => {
            let mut rng = SplitMix64::new(params.seed);
            let (tree, importance) = tree::fit(&Binned::new(data), y, weights, tree_params()?, &mut rng);
            (Estimator::DecisionTree { tree }, importance)
        }
        Algorithm::RandomForest => {
            let (trees, importance) =
                forest::fit(&Binned::new(data), y, weights, params.n_trees, tree_params()?, params.seed);
            (Estimator::RandomForest { trees }, importance)
        }
    })
}

/// The validation slice for early stopping (see the module docs): `true` for held-out rows.
pub(crate) fn validation_slice(ids: &[String], y: &[u8], fraction: f64, seed: u64) -> Vec<bool> {
    let mut held = vec![false; y.len()];
    let salted = seed ^ VALIDATION_SALT;
    for class in [0u8, 1] {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] == class).collect();
        let take = ((fraction * rows.len() as f64).round() as usize).min(rows.len().saturating_sub(1));
        let keys: Vec<f64> = rows.iter().map(|&r| hash_unit(salted, &ids[r])).collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then_with(|| ids[rows[a]].cmp(&ids[rows[b]])));
        rows = order.into_iter().map(|i| rows[i]).collect();
        for &r in &rows[..take] {
            held[r] = true;
        }
    }
    held
}

/// k-fold cross-validation scores of the train params on the training table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CvReport {
    pub schema_version: u32,
    pub folds: usize,
    pub algorithm: String,
    /// Per fold: AUC on the held-out fold, or null when that fold could not be trained.
    pub auc_roc: Vec<Option<f64>>,
    pub auc_roc_mean: Option<f64>,
    pub auc_roc_std: Option<f64>,
    /// Why a fold failed, if one did.
    pub errors: Vec<String>,
}

/// Stratified k-fold CV ([`stratified_folds`], seeded with the train seed); the preprocessing
/// is refitted inside every fold.
pub(crate) fn cross_validate(input: &Path, params: &TrainParams, k: usize) -> Result<CvReport, StageError> {
    let df = table::read_table(input)?;
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let id_column = params.id_column.clone().unwrap_or_else(|| names.first().cloned().unwrap_or_default());
    let ids = id_values(column(&df, &id_column, input)?, input)?;
    let y = label_values(column(&df, &params.label_column, input)?, input)?;
    let fold = stratified_folds(&ids, &y, k, params.seed);
    let mut aucs = Vec::with_capacity(k);
    let mut errors = Vec::new();
    for f in 0..k {
        let held: Vec<bool> = fold.iter().map(|&x| x == f).collect();
        let held_mask = BooleanChunked::from_slice("held".into(), &held);
        let fit_mask = !&held_mask;
        let result = (|| {
            let fit_df = df.filter(&fit_mask).map_err(|e| StageError::new(e.to_string()))?;
            let held_df = df.filter(&held_mask).map_err(|e| StageError::new(e.to_string()))?;
            let model = train_frame(&fit_df, input, String::new(), params)?;
            let p = model.predict_table(&held_df, input)?;
            let held_y: Vec<u8> = y.iter().zip(&held).filter(|(_, &h)| h).map(|(&l, _)| l).collect();
            Ok::<_, StageError>(metrics::auc_roc(&held_y, &p))
        })();
        match result {
            Ok(a) => aucs.push(a),
            Err(e) => {
                errors.push(format!("fold {}: {}", f + 1, e.message));
                aucs.push(None);
            }
        }
    }
    let ok: Vec<f64> = aucs.iter().flatten().copied().collect();
    let mean = (!ok.is_empty()).then(|| ok.iter().sum::<f64>() / ok.len() as f64);
    let std = mean
        .filter(|_| ok.len() > 1)
        .map(|m| (ok.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (ok.len() - 1) as f64).sqrt());
    Ok(CvReport {
        schema_version: 1,
        folds: k,
        algorithm: params.algorithm.name().into(),
        auc_roc: aucs,
        auc_roc_mean: mean,
        auc_roc_std: std,
        errors,
    })
}
