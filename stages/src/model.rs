//! The model file: what `train` writes and `evaluate`/`score` read.
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
//! * the estimator ([`Estimator`]): logistic regression coefficients, one tree or a forest.
//! * the decision threshold used by `score` when the caller does not pass one, and the risk
//!   tier cut-offs;
//! * lineage: blake3 of the training file, the training params, the churnflow-stages version.
//!
//! Probabilities are always P(churned = 1).

use crate::forest;
use crate::model_io::{self, column, f64_values, is_numeric, string_values};
use crate::tree::Tree;
use crate::StageError;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The model file format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The `format` tag of a model file.
pub const FORMAT_TAG: &str = "churnflow-model";

/// The learning algorithm (params `train.algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    LogisticRegression,
    DecisionTree,
    RandomForest,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::LogisticRegression => "logistic_regression",
            Algorithm::DecisionTree => "decision_tree",
            Algorithm::RandomForest => "random_forest",
        }
    }
}

/// One input column and its fitted preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeatureSpec {
    /// Missing → `median`; logistic regression uses `(x - mean) / std`, and, when `log1p` is
    /// set (`[mean, std]` of `ln(1 + max(x, 0))` on the training rows), that standardised log
    /// term as a second input — a skewed amount such as total charges is then fitted by a
    /// linear and a logarithmic term.
    Numeric {
        name: String,
        median: f64,
        mean: f64,
        std: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log1p: Option<[f64; 2]>,
    },
    /// One-hot over `categories`; anything else (and missing) → all zeros.
    Categorical { name: String, categories: Vec<String> },
}

impl FeatureSpec {
    pub fn name(&self) -> &str {
        match self {
            FeatureSpec::Numeric { name, .. } | FeatureSpec::Categorical { name, .. } => name,
        }
    }
    fn width(&self) -> usize {
        match self {
            FeatureSpec::Numeric { log1p, .. } => 1 + usize::from(log1p.is_some()),
            FeatureSpec::Categorical { categories, .. } => categories.len(),
        }
    }
}

/// The fitted estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Estimator {
    /// `P = σ(intercept + Σ coefficients[j] · z[j])` over the standardised expanded features.
    LogisticRegression {
        intercept: f64,
        coefficients: Vec<f64>,
        iterations: u32,
        converged: bool,
    },
    DecisionTree {
        tree: Tree,
    },
    /// The probability is the mean of the trees' leaf probabilities.
    RandomForest {
        trees: Vec<Tree>,
    },
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
    pub estimator: Estimator,
    /// Importance per expanded feature (sums to 1): |standardised coefficient| for logistic
    /// regression, total weighted Gini decrease for trees.
    pub feature_importance: Vec<f64>,
    pub lineage: Lineage,
    /// For models trained on `snapshot` data: the ingest cleaning (id and label columns,
    /// numeric coercions), so `score` accepts the raw table as it was exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::snapshot::SnapshotSpec>,
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
        match &self.estimator {
            Estimator::LogisticRegression { intercept, coefficients, .. } => {
                crate::logistic::predict(&self.features, *intercept, coefficients, data)
            }
            Estimator::DecisionTree { tree } => tree.predict(data),
            Estimator::RandomForest { trees } => forest::predict(trees, data),
        }
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
        let bytes = self.to_bytes()?;
        model_io::atomic_write(path, |w| std::io::Write::write_all(w, &bytes))
    }
}

/// Loads a model file, refusing other formats and newer format versions with a clear message.
pub fn load_model(path: &Path) -> Result<Model, StageError> {
    let bytes = std::fs::read(path).map_err(|e| model_io::io_error(path, "read model file", &e))?;
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
        match &self.estimator {
            Estimator::LogisticRegression { coefficients, .. } => {
                if coefficients.len() != width {
                    return Err(bad("coefficient count does not match the features"));
                }
            }
            Estimator::DecisionTree { tree } => tree.check(width).map_err(|e| bad(&e))?,
            Estimator::RandomForest { trees } => {
                if trees.is_empty() {
                    return Err(bad("forest has no trees"));
                }
                for t in trees {
                    t.check(width).map_err(|e| bad(&e))?;
                }
            }
        }
        Ok(())
    }
}

/// Where an expanded model input comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    Numeric(usize),
    /// `ln(1 + max(x, 0))` of a numeric column.
    Log1p(usize),
    /// (categorical column, category index): 1.0 when the row has that category.
    OneHot(usize, u32),
}

/// A table encoded for the model: column-major, imputed, categories as vocabulary indices.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub(crate) n: usize,
    /// Imputed numeric columns (raw units), in feature order of the numeric features.
    pub(crate) numeric: Vec<Vec<f64>>,
    /// Vocabulary index per row for each categorical feature; `u32::MAX` = unseen or missing.
    pub(crate) categorical: Vec<Vec<u32>>,
    /// Expanded input j → its source.
    pub(crate) sources: Vec<Source>,
}

impl Encoded {
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Expanded input `j` of `row` (raw units, one-hot as 0/1).
    #[inline]
    pub(crate) fn value(&self, row: usize, j: usize) -> f64 {
        match self.sources[j] {
            Source::Numeric(c) => self.numeric[c][row],
            Source::Log1p(c) => self.numeric[c][row].max(0.0).ln_1p(),
            Source::OneHot(c, k) => f64::from(u8::from(self.categorical[c][row] == k)),
        }
    }
}

pub(crate) fn sources_of(features: &[FeatureSpec]) -> Vec<Source> {
    let mut sources = Vec::new();
    let (mut ni, mut ci) = (0, 0);
    for f in features {
        match f {
            FeatureSpec::Numeric { log1p, .. } => {
                sources.push(Source::Numeric(ni));
                if log1p.is_some() {
                    sources.push(Source::Log1p(ni));
                }
                ni += 1;
            }
            FeatureSpec::Categorical { categories, .. } => {
                for k in 0..categories.len() {
                    sources.push(Source::OneHot(ci, k as u32));
                }
                ci += 1;
            }
        }
    }
    sources
}

pub(crate) fn expanded_names(features: &[FeatureSpec]) -> Vec<String> {
    let mut names = Vec::new();
    for f in features {
        match f {
            FeatureSpec::Numeric { name, log1p, .. } => {
                names.push(name.clone());
                if log1p.is_some() {
                    names.push(format!("log1p({name})"));
                }
            }
            FeatureSpec::Categorical { name, categories } => {
                names.extend(categories.iter().map(|c| format!("{name}={c}")))
            }
        }
    }
    names
}

fn encode_with(features: &[FeatureSpec], df: &DataFrame, file: &Path) -> Result<Encoded, StageError> {
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    for f in features {
        let col = column(df, f.name(), file)?;
        match f {
            FeatureSpec::Numeric { median, .. } => {
                let values = f64_values(col, file)?;
                numeric.push(values.into_iter().map(|v| v.unwrap_or(*median)).collect());
            }
            FeatureSpec::Categorical { categories, .. } => {
                let index: HashMap<&str, u32> =
                    categories.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
                categorical.push(category_indices(col, &index, file)?);
            }
        }
    }
    Ok(Encoded { n: df.height(), numeric, categorical, sources: sources_of(features) })
}

/// Vocabulary indices of a column; unseen and missing values are `u32::MAX`.
fn category_indices(col: &Column, index: &HashMap<&str, u32>, file: &Path) -> Result<Vec<u32>, StageError> {
    if col.dtype() == &DataType::String {
        let ca = col.str().map_err(|e| StageError::new(e.to_string()))?;
        // Look each distinct string up once: columns have few distinct values and many rows.
        let mut cache: HashMap<&str, u32> = HashMap::new();
        Ok(ca
            .iter()
            .map(|v| match v {
                None => u32::MAX,
                Some(s) => {
                    *cache.entry(s).or_insert_with(|| index.get(s.trim()).copied().unwrap_or(u32::MAX))
                }
            })
            .collect())
    } else {
        let values = string_values(col, file)?;
        Ok(values
            .iter()
            .map(|v| v.as_deref().and_then(|s| index.get(s.trim()).copied()).unwrap_or(u32::MAX))
            .collect())
    }
}

/// Options of preprocessing fitting (from the `train` params).
#[derive(Debug, Clone)]
pub(crate) struct PrepOptions {
    pub max_categories: usize,
    /// Add a log term for non-negative numeric columns with more than two distinct values.
    pub log_terms: bool,
}

/// Fits the feature schema on the training table: column roles, medians, scaling, vocabularies.
/// Constant and all-missing columns are errors naming the column and the fix.
pub(crate) fn fit_features(
    df: &DataFrame,
    columns: &[String],
    options: &PrepOptions,
    file: &Path,
) -> Result<Vec<FeatureSpec>, StageError> {
    let mut specs = Vec::with_capacity(columns.len());
    let fix = "drop it in the features stage or list it in train.exclude_columns";
    for name in columns {
        let col = column(df, name, file)?;
        if is_numeric(col.dtype()) {
            let values: Vec<f64> = f64_values(col, file)?.into_iter().flatten().collect();
            if values.is_empty() {
                return Err(StageError::new(format!(
                    "{}: column '{name}' has no values (all {} rows are empty): {fix}",
                    file.display(),
                    df.height()
                )));
            }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
            if lo == hi {
                return Err(StageError::new(format!(
                    "{}: column '{name}' is constant ({lo} in every non-empty row), so it cannot \
                     help the model: {fix}",
                    file.display()
                )));
            }
            let m = sorted.len();
            let median = if m % 2 == 1 { sorted[m / 2] } else { (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0 };
            // Mean and std of the imputed column (what the model actually sees).
            let n_missing = df.height() - m;
            let total = values.iter().sum::<f64>() + median * n_missing as f64;
            let mean = total / df.height() as f64;
            let ss = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>()
                + (median - mean) * (median - mean) * n_missing as f64;
            let std = (ss / df.height() as f64).sqrt();
            let std = if std > 0.0 { std } else { 1.0 };
            let distinct = sorted.windows(2).filter(|w| w[0] != w[1]).count() + 1;
            let log1p = (options.log_terms && lo >= 0.0 && distinct > 2).then(|| {
                let logs: Vec<f64> = values
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(median, n_missing))
                    .map(|v| v.max(0.0).ln_1p())
                    .collect();
                let m = logs.iter().sum::<f64>() / logs.len() as f64;
                let sd = (logs.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / logs.len() as f64).sqrt();
                [m, if sd > 0.0 { sd } else { 1.0 }]
            });
            specs.push(FeatureSpec::Numeric { name: name.clone(), median, mean, std, log1p });
        } else if matches!(col.dtype(), DataType::String) {
            let values = string_values(col, file)?;
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for v in values.iter().flatten() {
                *counts.entry(v.trim()).or_insert(0) += 1;
            }
            if counts.is_empty() {
                return Err(StageError::new(format!(
                    "{}: column '{name}' has no values (all {} rows are empty): {fix}",
                    file.display(),
                    df.height()
                )));
            }
            if counts.len() == 1 {
                let only = counts.keys().next().copied().unwrap_or_default();
                return Err(StageError::new(format!(
                    "{}: column '{name}' is constant ('{only}' in every non-empty row), so it \
                     cannot help the model: {fix}",
                    file.display()
                )));
            }
            let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            ranked.truncate(options.max_categories.max(1));
            let mut categories: Vec<String> = ranked.into_iter().map(|(s, _)| s.to_string()).collect();
            categories.sort();
            specs.push(FeatureSpec::Categorical { name: name.clone(), categories });
        } else {
            return Err(StageError::new(format!(
                "{}: column '{name}' has type {}, which the model cannot use (numbers and \
                 strings only): {fix}",
                file.display(),
                col.dtype()
            )));
        }
    }
    Ok(specs)
}

/// Encodes the training table with freshly fitted specs.
pub(crate) fn encode_training(
    features: &[FeatureSpec],
    df: &DataFrame,
    file: &Path,
) -> Result<Encoded, StageError> {
    encode_with(features, df, file)
}
