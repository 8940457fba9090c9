//! The `train` params (params section `train`): what every algorithm reads, their serde
//! forms, the checks of the params shared by several algorithms, and the resolution of
//! defaults. The params only one algorithm reads are checked and defaulted by that algorithm
//! ([`super::estimators`]); the train kind ([`super::train`]), tuning and the linfa face all
//! take their params from here.

use crate::contract::KindIoError;
use crate::search::did_you_mean;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The learning algorithm (params `train.algorithm`): one variant per line of the table in
/// [`super::estimators`], which gives each its file (a variant without a line there does not
/// compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    LogisticRegression,
    DecisionTree,
    RandomForest,
    GradientBoosting,
}

/// Cut-offs of `risk_tier` in `score`: `high` when p ≥ high, `medium` when p ≥ medium, else `low`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskTiers {
    pub high: f64,
    pub medium: f64,
}

impl Default for RiskTiers {
    fn default() -> Self {
        RiskTiers { high: 0.7, medium: 0.4 }
    }
}

impl RiskTiers {
    /// The tier of probability `p` when churn is predicted at `p ≥ threshold`: `high` at or
    /// above `high`, `medium` at or above the lower of `medium` and the threshold — a customer
    /// predicted to churn is never `low` — else `low`.
    pub fn tier(&self, p: f64, threshold: f64) -> &'static str {
        if p >= self.high {
            "high"
        } else if p >= self.medium.min(threshold) {
            "medium"
        } else {
            "low"
        }
    }
}

/// How candidates are chosen from the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Search {
    #[default]
    Random,
    Grid,
}

/// The `train.tune` params section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuneParams {
    pub search: Search,
    /// Random: candidates drawn; grid: the most points the grid may have.
    pub trials: usize,
    /// K of the stratified K-fold cross-validation.
    pub cv: usize,
    /// Seeds the folds and the random draws.
    pub seed: u64,
    /// Train param → the values to try (see the module docs for the forms).
    pub space: BTreeMap<String, Value>,
}

impl Default for TuneParams {
    fn default() -> Self {
        TuneParams { search: Search::Random, trials: 20, cv: 5, seed: 42, space: BTreeMap::new() }
    }
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

/// Inputs considered at each tree node (params `train.max_features`): `sqrt`, `log2`, `all`,
/// a count (≥ 1) or a fraction (0 < f < 1) of the expanded inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// The rounded square root of the inputs.
    Sqrt,
    /// The rounded base-2 logarithm of the inputs.
    Log2,
    /// Every input.
    All,
    /// A count (≥ 1, whole) or a fraction (0 < f < 1) of the expanded inputs.
    Number(f64),
}

/// The spellings of the rules, as params.yaml writes them.
const MAX_FEATURES_RULES: [(&str, MaxFeatures); 3] =
    [("sqrt", MaxFeatures::Sqrt), ("log2", MaxFeatures::Log2), ("all", MaxFeatures::All)];

impl Serialize for MaxFeatures {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxFeatures::Number(f) => s.serialize_f64(*f),
            rule => {
                let name = MAX_FEATURES_RULES.iter().find(|(_, r)| r == rule).map_or("all", |(n, _)| n);
                s.serialize_str(name)
            }
        }
    }
}

impl<'de> Deserialize<'de> for MaxFeatures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MaxFeatures, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = MaxFeatures;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one of sqrt, log2, all or a number (a count ≥ 1 or a fraction in (0, 1))")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MaxFeatures, E> {
                if let Some((_, rule)) = MAX_FEATURES_RULES.iter().find(|(name, _)| *name == v) {
                    return Ok(*rule);
                }
                let hint = did_you_mean(v, MAX_FEATURES_RULES.iter().map(|(name, _)| *name))
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                Err(E::custom(format!("'{v}' is not one of sqrt, log2, all or a number{hint}")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::Number(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::Number(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MaxFeatures, E> {
                Ok(MaxFeatures::Number(v as f64))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl MaxFeatures {
    /// The inputs tried per node out of `p`, at least 1 and at most `p`.
    pub(crate) fn resolve(&self, p: usize) -> Result<usize, String> {
        let k = match *self {
            MaxFeatures::Sqrt => (p as f64).sqrt().round() as usize,
            MaxFeatures::Log2 => (p as f64).log2().round() as usize,
            MaxFeatures::All => p,
            MaxFeatures::Number(f) if f > 0.0 && f < 1.0 => (f * p as f64).round() as usize,
            MaxFeatures::Number(f) if f >= 1.0 && f.fract() == 0.0 => f as usize,
            MaxFeatures::Number(f) => {
                return Err(format!(
                    "train.max_features: {f} is neither a fraction in (0, 1) nor a count ≥ 1"
                ))
            }
        };
        Ok(k.clamp(1, p.max(1)))
    }
}

/// What values a train param takes: how `train.tune` reads an interval of it (the bounds
/// are the param's checks, which every searched value passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// Whole numbers: an interval draws whole numbers.
    Whole,
    /// Any number in the param's bounds.
    Real,
    /// One of some values (a list).
    Choice,
    /// `max_features`: a count (whole bounds ≥ 1 draw whole numbers) or a share.
    CountOrShare,
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

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            algorithm: Algorithm::default(),
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
    /// Refuses values of the params several algorithms read, and of the params of every
    /// model (threshold, tiers, preprocessing, CV), naming the key; the params of one
    /// algorithm are its own check ([`TrainParams::check`] runs both).
    pub(crate) fn check_shared(&self) -> Result<(), KindIoError> {
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
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn max_features_reads_its_spellings_and_suggests_one_for_a_typo() {
        for (given, want) in [
            (json!("sqrt"), MaxFeatures::Sqrt),
            (json!("log2"), MaxFeatures::Log2),
            (json!("all"), MaxFeatures::All),
            (json!(0.5), MaxFeatures::Number(0.5)),
            (json!(3), MaxFeatures::Number(3.0)),
        ] {
            let read: MaxFeatures = serde_json::from_value(given.clone()).unwrap();
            assert_eq!(read, want);
            // Written back as it was read (the lineage of every model file keeps its bytes).
            assert_eq!(serde_json::to_value(read).unwrap().as_f64(), given.as_f64());
        }
        assert_eq!(serde_json::to_string(&MaxFeatures::Number(3.0)).unwrap(), "3.0");
        assert_eq!(serde_json::to_string(&MaxFeatures::Sqrt).unwrap(), "\"sqrt\"");
        let e = serde_json::from_value::<MaxFeatures>(json!("sqr")).unwrap_err().to_string();
        assert_eq!(e, "'sqr' is not one of sqrt, log2, all or a number (did you mean 'sqrt'?)");
        assert!(MaxFeatures::Number(1.5).resolve(10).unwrap_err().starts_with("train.max_features: 1.5"));
    }
}
