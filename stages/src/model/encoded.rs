//! The encoded training matrix and the fitted feature schema: what the estimators
//! ([`logistic`](super::logistic), [`tree`](super::tree), [`forest`](super::forest)) read.
//!
//! A [`FeatureSpec`] is one input column with the preprocessing fitted on the training split
//! only (see [`fit_features`]); [`encode_with`] turns a table into an [`Encoded`] matrix:
//! column-major, missing numbers imputed with the training median, categories as vocabulary
//! indices (a value outside the vocabulary, or missing, is all zeros in the one-hot inputs).
//! The model file ([`super::file`]) stores the specs; this module knows nothing of it.

use crate::contract::StageError;
use crate::io::table::column;
use crate::io::values::{f64_values, is_numeric, string_values};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

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
        /// `[min, max]` of the non-missing training values (what serving validates against and
        /// documents; absent in files written before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<[f64; 2]>,
    },
    /// One-hot over `categories`; anything else (and missing) → all zeros.
    Categorical {
        name: String,
        categories: Vec<String>,
        /// Share of the training rows in each category (the mean of its one-hot input), which
        /// centres the logistic model's contributions; empty in files written before it was
        /// recorded.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        frequencies: Vec<f64>,
    },
}

impl FeatureSpec {
    pub fn name(&self) -> &str {
        match self {
            FeatureSpec::Numeric { name, .. } | FeatureSpec::Categorical { name, .. } => name,
        }
    }
    /// How many expanded inputs the column becomes.
    pub(crate) fn width(&self) -> usize {
        match self {
            FeatureSpec::Numeric { log1p, .. } => 1 + usize::from(log1p.is_some()),
            FeatureSpec::Categorical { categories, .. } => categories.len(),
        }
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
            FeatureSpec::Categorical { name, categories, .. } => {
                names.extend(categories.iter().map(|c| format!("{name}={c}")))
            }
        }
    }
    names
}

pub(crate) fn encode_with(
    features: &[FeatureSpec],
    df: &DataFrame,
    file: &Path,
) -> Result<Encoded, StageError> {
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
            specs.push(FeatureSpec::Numeric {
                name: name.clone(),
                median,
                mean,
                std,
                log1p,
                range: Some([lo, hi]),
            });
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
            ranked.sort_by(|a, b| a.0.cmp(b.0));
            let rows = df.height() as f64;
            let frequencies = ranked.iter().map(|(_, n)| *n as f64 / rows).collect();
            let categories: Vec<String> = ranked.into_iter().map(|(s, _)| s.to_string()).collect();
            specs.push(FeatureSpec::Categorical { name: name.clone(), categories, frequencies });
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
