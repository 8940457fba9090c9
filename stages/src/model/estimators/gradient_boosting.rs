//! `gradient_boosting`: histogram gradient-boosted trees on the log-loss, grown best-first,
//! with early stopping on a validation slice of the train split ([`crate::model::boosting`]).
//! Leaf values are log-odds margins; contributions are the trees' path-dependent TreeSHAP
//! values summed over the trees, in log-odds (covers are hessian sums, as XGBoost's
//! `pred_contribs`).
//!
//! The validation slice (early stopping on): within each class, the
//! `round(validation_fraction · n_class)` customers with the smallest `blake3(seed' ‖ id)`
//! (seed' = `seed` mixed with a constant, so the slice is not the band next to the split
//! stage's test cut when both use the same seed), at least one row of each class staying in
//! training. The slice only measures the loss; no tree is fitted on it.

use super::{dense_row, Estimator, Explained, OutputSpace, Row, TrainingData, Tunable};
use crate::contract::{KindIoError, StageError};
use crate::model::boosting::{self, BoostParams};
use crate::model::encoded::{Encoded, FeatureSpec};
use crate::model::params::{ParamKind, TrainParams};
use crate::model::sampling::hash_unit;
use crate::model::tree::{Binned, NodeValues, Tree};
use serde::{Deserialize, Serialize};

/// Defaults.
const MAX_DEPTH: usize = 12;
const LEARNING_RATE: f64 = 0.1;
const EARLY_STOPPING_ROUNDS: usize = 20;
const VALIDATION_FRACTION: f64 = 0.1;
const MAX_LEAVES: usize = 31;
const MIN_CHILD_WEIGHT: f64 = 1e-3;
/// Mixed into `seed` for the validation slice.
const VALIDATION_SALT: u64 = 0x7661_6c69_6461_7465;

/// `P = σ(base_score + Σ leaf values)`: the trees' leaf values are log-odds margins (already
/// scaled by the learning rate), node covers are hessian sums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoosting {
    pub base_score: f64,
    pub learning_rate: f64,
    /// Boosting rounds run; more than `trees.len()` when early stopping kept an earlier round.
    pub rounds: usize,
    /// Weighted log-loss on the validation slice of the train split at the kept round (null
    /// when early stopping was off).
    pub validation_log_loss: Option<f64>,
    pub trees: Vec<Tree>,
}

impl Estimator for GradientBoosting {
    const NAME: &'static str = "gradient_boosting";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::new("class_weight", ParamKind::Choice),
        Tunable::new("colsample", ParamKind::Real),
        Tunable::new("early_stopping_rounds", ParamKind::Whole),
        Tunable::new("l2", ParamKind::Real),
        Tunable::new("learning_rate", ParamKind::Real),
        Tunable::new("max_categories", ParamKind::Whole),
        Tunable::new("max_depth", ParamKind::Whole),
        Tunable::new("max_leaves", ParamKind::Whole),
        Tunable::new("min_child_weight", ParamKind::Real),
        Tunable::new("min_samples_leaf", ParamKind::Whole),
        Tunable::new("n_trees", ParamKind::Whole),
        Tunable::new("subsample", ParamKind::Real),
        Tunable::new("validation_fraction", ParamKind::Real),
    ];

    fn check_params(params: &TrainParams) -> Result<(), KindIoError> {
        let share = |name: &str, v: Option<f64>, closed: bool| match v {
            Some(x) if !(x > 0.0 && (x < 1.0 || closed && x == 1.0)) => {
                let key = format!("train.{name}");
                let message = format!("{key} must be in (0, 1{}, got {x}", if closed { "]" } else { ")" });
                Err(KindIoError::param(&key, message))
            }
            _ => Ok(()),
        };
        share("learning_rate", params.learning_rate, true)?;
        share("subsample", params.subsample, true)?;
        share("colsample", params.colsample, true)?;
        share("validation_fraction", params.validation_fraction, false)?;
        if let Some(m) = params.max_leaves {
            if !(2..=4096).contains(&m) {
                return Err(KindIoError::param(
                    "train.max_leaves",
                    format!("train.max_leaves must be between 2 and 4096, got {m}"),
                ));
            }
        }
        if let Some(w) = params.min_child_weight {
            if !(w > 0.0 && w.is_finite()) {
                return Err(KindIoError::param(
                    "train.min_child_weight",
                    format!("train.min_child_weight must be a number > 0, got {w}"),
                ));
            }
        }
        if let Some(Some(r)) = params.early_stopping_rounds {
            if r > 10_000 {
                return Err(KindIoError::param(
                    "train.early_stopping_rounds",
                    format!("train.early_stopping_rounds must be at most 10000 (0 = off), got {r}"),
                ));
            }
        }
        Ok(())
    }

    fn resolve(params: &mut TrainParams) {
        let b = boost_params(params);
        params.max_depth = Some(b.max_depth);
        params.learning_rate = Some(b.learning_rate);
        params.early_stopping_rounds = Some(Some(b.early_stopping_rounds));
        params.validation_fraction = Some(params.validation_fraction.unwrap_or(VALIDATION_FRACTION));
        params.max_leaves = Some(b.max_leaves);
        params.min_child_weight = Some(b.min_child_weight);
        params.subsample = Some(b.subsample);
        params.colsample = Some(b.colsample);
    }

    fn fit(params: &TrainParams, t: &TrainingData) -> Result<(Self, Vec<f64>), StageError> {
        let boost = boost_params(params);
        let validation = if boost.early_stopping_rounds > 0 {
            let fraction = params.validation_fraction.unwrap_or(VALIDATION_FRACTION);
            validation_slice(&(t.ids)()?, t.y, fraction, params.seed)
        } else {
            vec![false; t.y.len()]
        };
        let binned = Binned::new(t.data);
        let fitted = boosting::fit(&binned, t.data, t.y, t.weights, &validation, &boost);
        let model = GradientBoosting {
            base_score: fitted.base_score,
            learning_rate: boost.learning_rate,
            rounds: fitted.rounds,
            validation_log_loss: fitted.validation_log_loss,
            trees: fitted.trees,
        };
        Ok((model, fitted.importance))
    }

    fn check(&self, width: usize) -> Result<(), String> {
        if !self.base_score.is_finite() || !self.learning_rate.is_finite() {
            return Err("boosted model has a non-finite base score or learning rate".into());
        }
        if self.trees.is_empty() {
            return Err("boosted model has no trees".into());
        }
        for t in &self.trees {
            t.check(width, NodeValues::Margins)?;
        }
        Ok(())
    }

    fn predict(&self, _features: &[FeatureSpec], data: &Encoded) -> Vec<f64> {
        boosting::predict(self.base_score, &self.trees, data)
    }

    fn predict_one(&self, _features: &[FeatureSpec], data: &Encoded) -> f64 {
        boosting::sigmoid(self.margin(&dense_row(data)))
    }

    fn trees(&self) -> &[Tree] {
        &self.trees
    }

    fn contributions(&self, row: &mut Row, phi: &mut [f64]) -> Explained {
        let mut base = self.base_score;
        for prepared in row.trees {
            prepared.add_contributions(row.dense, phi, row.shap);
            base += prepared.expected_value();
        }
        Explained { space: OutputSpace::LogOdds, base_value: base, output: self.margin(row.dense) }
    }

    fn describe(&self) -> String {
        let mut text = format!(", {} trees", self.trees.len());
        if let Some(loss) = self.validation_log_loss {
            text.push_str(&format!(" (best of {} rounds, validation log-loss {loss:.4})", self.rounds));
        }
        text
    }
}

impl GradientBoosting {
    /// The log-odds of a dense row: `base_score` plus the leaf values, added in tree order as
    /// the batch prediction adds them (so the probability is the same to the bit).
    fn margin(&self, x: &[f64]) -> f64 {
        let mut margin = self.base_score;
        for tree in &self.trees {
            margin += tree.leaf_value(x);
        }
        margin
    }
}

/// The boosting settings with their defaults.
fn boost_params(p: &TrainParams) -> BoostParams {
    BoostParams {
        n_trees: p.n_trees,
        learning_rate: p.learning_rate.unwrap_or(LEARNING_RATE),
        max_depth: p.max_depth.unwrap_or(MAX_DEPTH),
        max_leaves: p.max_leaves.unwrap_or(MAX_LEAVES),
        min_samples_leaf: p.min_samples_leaf,
        min_child_weight: p.min_child_weight.unwrap_or(MIN_CHILD_WEIGHT),
        l2: p.l2,
        subsample: p.subsample.unwrap_or(1.0),
        colsample: p.colsample.unwrap_or(1.0),
        early_stopping_rounds: p.early_stopping_rounds.unwrap_or(Some(EARLY_STOPPING_ROUNDS)).unwrap_or(0),
        seed: p.seed,
    }
}

/// The validation slice for early stopping (see the module docs): `true` for held-out rows.
fn validation_slice(ids: &[String], y: &[u8], fraction: f64, seed: u64) -> Vec<bool> {
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
