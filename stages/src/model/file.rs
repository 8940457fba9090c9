//! The model file: what `train` writes and `evaluate`/`score` read. The estimators and the
//! encoded matrix they read live below it ([`super::encoded`]) and never import it.
//!
//! A model file is one JSON document (compact, no timestamps, so identical inputs give
//! byte-identical files) holding everything needed to turn a raw feature table into churn
//! probabilities:
//!
//! * `format: "churnflow-model"` and `format_version` ([`FORMAT_VERSION`]). A file from a newer
//!   version is refused with a message telling the user to upgrade.
//! * the feature schema and the preprocessing fitted on the training split only:
//!   - numeric columns (any integer, float or boolean type): missing values are replaced by the
//!     training median; logistic regression also standardises with the training mean and
//!     standard deviation (trees use the imputed raw value);
//!   - categorical columns (strings): one-hot over a vocabulary of at most `max_categories`
//!     values seen in training (most frequent first, ties by name). **A value outside the
//!     vocabulary (unseen at training, or rarer than the cut-off) and a missing value are all
//!     zeros**: for logistic regression the column then adds nothing to the intercept, in a tree
//!     the row takes the "not equal" branch of every split on that column.
//! * the estimator ([`Fitted`], tagged by `type`): what the algorithm's fit gives, stored as its
//!   file in [`super::estimators`] defines it — logistic regression coefficients, one tree, a
//!   forest, or gradient-boosted trees (whose leaf values are log-odds margins).
//! * the decision threshold used by `score` when the caller does not pass one, and the risk
//!   tier cut-offs;
//! * lineage: blake3 of the training file, the training params, the churnflow-stages version;
//! * for a model whose params were searched (`train.tune`), how: [`TuningSummary`].
//!
//! Probabilities are always P(churned = 1).

use crate::contract::StageError;
use crate::data::snapshot::SnapshotSpec;
use crate::io::atomic::write_bytes_atomic;
use crate::io::io_error;
use crate::model::encoded::{encode_with, Encoded, FeatureSpec};
use crate::model::estimators::Fitted;
use crate::model::params::Algorithm;
pub use crate::model::params::RiskTiers;
use crate::model::tree_shap::ExplainCache;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The model file format this build writes and the newest it reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// The `format` tag of a model file.
pub(crate) const FORMAT_TAG: &str = "churnflow-model";

/// Where the model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// blake3 of the training table file.
    pub training_data_blake3: String,
    pub training_rows: usize,
    pub training_positives: usize,
    /// The resolved `train` params (defaults filled in).
    pub params: serde_json::Value,
    /// Version of churnflow-stages that trained the model.
    pub stages_version: String,
}

/// How a tuned model's params were chosen: a cross-validated search over the train split
/// (`train.tune`; every trial is in the twin of the train stage's `tuning` report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningSummary {
    /// `random` or `grid`.
    pub search: String,
    /// Candidates scored.
    pub trials: usize,
    /// Folds of the stratified cross-validation.
    pub cv: usize,
    pub seed: u64,
    /// What the candidates were ranked by (`auc_roc`, the mean over the folds).
    pub metric: String,
    /// The chosen values of the searched params; the other params are params.yaml's.
    pub best_params: serde_json::Map<String, serde_json::Value>,
    pub cv_auc_mean: f64,
    /// Sample standard deviation of the fold AUCs.
    pub cv_auc_std: f64,
}

/// A trained churn model (see the module docs for the file format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub format_version: u32,
    pub algorithm: Algorithm,
    pub id_column: String,
    pub label_column: String,
    pub features: Vec<FeatureSpec>,
    /// Names of the expanded (one-hot) model inputs, in coefficient order.
    pub expanded_features: Vec<String>,
    /// Class weights used in training, `[weight of 0, weight of 1]`.
    pub class_weights: [f64; 2],
    /// `score` predicts churn when probability ≥ this (unless the caller passes a threshold).
    pub decision_threshold: f64,
    pub risk_tiers: RiskTiers,
    pub estimator: Fitted,
    /// Importance per expanded feature (sums to 1): |standardised coefficient| for logistic
    /// regression, total weighted Gini decrease for trees and forests, total split gain (the
    /// decrease of the boosting objective) for gradient boosting.
    pub feature_importance: Vec<f64>,
    pub lineage: Lineage,
    /// For models trained on `snapshot` data: the ingest cleaning (id and label columns,
    /// numeric coercions), so `score` accepts the raw table as it was exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotSpec>,
    /// How the params were chosen when `train.tune` searched them (absent for fixed params, so
    /// such files keep their bytes and older files still load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<TuningSummary>,
    /// What explaining a prediction needs, derived from the estimator on first use (not stored).
    #[serde(skip)]
    pub(crate) explain_cache: ExplainCache,
}

/// A short description for `churnflow models show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub algorithm: &'static str,
    pub format_version: u32,
    pub id_column: String,
    pub label_column: String,
    pub n_features: usize,
    pub features: Vec<String>,
    pub decision_threshold: f64,
    pub training_rows: usize,
    pub training_positives: usize,
    pub training_data_blake3: String,
    pub stages_version: String,
    /// The five most important expanded features with their importance.
    pub top_features: Vec<(String, f64)>,
}

impl Model {
    pub fn summary(&self) -> ModelSummary {
        ModelSummary {
            algorithm: self.algorithm.name(),
            format_version: self.format_version,
            id_column: self.id_column.clone(),
            label_column: self.label_column.clone(),
            n_features: self.features.len(),
            features: self.features.iter().map(|f| f.name().to_string()).collect(),
            decision_threshold: self.decision_threshold,
            training_rows: self.lineage.training_rows,
            training_positives: self.lineage.training_positives,
            training_data_blake3: self.lineage.training_data_blake3.clone(),
            stages_version: self.lineage.stages_version.clone(),
            top_features: self.top_features(5),
        }
    }

    /// The `k` most important expanded features, most important first.
    pub fn top_features(&self, k: usize) -> Vec<(String, f64)> {
        let mut pairs: Vec<(String, f64)> =
            self.expanded_features.iter().cloned().zip(self.feature_importance.iter().copied()).collect();
        pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        pairs.truncate(k);
        pairs
    }

    /// The input columns the model reads.
    pub fn required_columns(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name()).collect()
    }

    /// Encodes the model's columns of `df` (read from `file`, for messages). Missing columns
    /// are one error listing all of them.
    pub fn encode(&self, df: &DataFrame, file: &Path) -> Result<Encoded, StageError> {
        let missing: Vec<&str> =
            self.required_columns().into_iter().filter(|c| df.column(c).is_err()).collect();
        if !missing.is_empty() {
            return Err(StageError::new(format!(
                "{}: missing column{} the model needs: {} (the model was trained on: {})",
                file.display(),
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                self.required_columns().join(", ")
            )));
        }
        encode_with(&self.features, df, file)
    }

    /// P(churned = 1) for every encoded row.
    pub fn predict(&self, data: &Encoded) -> Vec<f64> {
        self.estimator.predict(&self.features, data)
    }

    /// Reads, encodes and predicts a table in one go.
    pub fn predict_table(&self, df: &DataFrame, file: &Path) -> Result<Vec<f64>, StageError> {
        let encoded = self.encode(df, file)?;
        Ok(self.predict(&encoded))
    }

    /// The compact JSON bytes of the file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StageError> {
        let mut bytes = serde_json::to_vec(self)
            .map_err(|e| StageError::new(format!("cannot encode the model as JSON: {e}")))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Writes the model file atomically.
    pub fn save(&self, path: &Path) -> Result<(), StageError> {
        write_bytes_atomic(path, &self.to_bytes()?)
    }
}

/// Loads a model file, refusing other formats and newer format versions with a clear message.
pub fn load_model(path: &Path) -> Result<Model, StageError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, "read model file", &e))?;
    model_from_bytes(&bytes, path)
}

pub(crate) fn model_from_bytes(bytes: &[u8], path: &Path) -> Result<Model, StageError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        StageError::new(format!("{}: not a churnflow model file (invalid JSON: {e})", path.display()))
    })?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_TAG) {
        return Err(StageError::new(format!(
            "{}: not a churnflow model file (no \"format\": \"{FORMAT_TAG}\")",
            path.display()
        )));
    }
    let version = value.get("format_version").and_then(|v| v.as_u64()).ok_or_else(|| {
        StageError::new(format!("{}: model file has no numeric format_version", path.display()))
    })?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(StageError::new(format!(
            "{}: model file format_version {version} is newer than this churnflow reads \
             (up to {FORMAT_VERSION}); upgrade churnflow to use this model",
            path.display()
        )));
    }
    let model: Model = serde_json::from_value(value).map_err(|e| {
        StageError::new(format!("{}: damaged model file (format_version {version}): {e}", path.display()))
    })?;
    model.check(path)?;
    Ok(model)
}

impl Model {
    /// Internal consistency of a loaded file (a hand-edited or truncated model must not panic).
    fn check(&self, path: &Path) -> Result<(), StageError> {
        let width: usize = self.features.iter().map(FeatureSpec::width).sum();
        let bad = |what: &str| StageError::new(format!("{}: damaged model file: {what}", path.display()));
        if width != self.expanded_features.len() || width != self.feature_importance.len() {
            return Err(bad("feature schema and expanded features disagree"));
        }
        self.estimator.check(width).map_err(|e| bad(&e))?;
        Ok(())
    }
}
