//! `churnflow score`: a model + a table of customers → churn probabilities, predictions and
//! risk tiers (CSV or Parquet in and out, by extension).
//!
//! Output columns, in order: the id (named as in training, e.g. `customer_id`),
//! `churn_probability` (P(churn), f64), `churn_prediction` (1 when probability ≥ threshold,
//! else 0), `risk_tier` (`high` when probability ≥ the model's `risk_tiers.high` (default 0.7),
//! `medium` when ≥ the lower of `risk_tiers.medium` (0.4) and the threshold, else `low`: a
//! customer predicted to churn is never `low`; see [`RiskTiers::tier`](super::file::RiskTiers::tier)).
//!
//! The threshold is [`ScoreOptions::threshold`] when given — the engine passes the threshold
//! that `evaluate` chose and the promotion decision recorded (`Decision::threshold`) when
//! scoring with `registry:champion` — else the model's own `decision_threshold` (train param
//! `threshold`, default 0.5). Input columns the model does not use are ignored; missing ones are
//! one error listing them all. Rows are scored in blocks to bound memory.

use crate::contract::StageError;
use crate::data::snapshot::clean_snapshot;
use crate::io::table::{self, column, write_table};
use crate::io::values::id_values;
use crate::model::file::{load_model, Model};
use crate::progress::{Reporter, Snapshot, Unit};
use polars::prelude::*;
use serde::Serialize;
use std::path::Path;

/// How to score.
#[derive(Debug, Clone, Default)]
pub struct ScoreOptions {
    /// Overrides the model's decision threshold.
    pub threshold: Option<f64>,
}

/// What `score` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSummary {
    pub rows: usize,
    pub predicted_churners: usize,
    pub threshold: f64,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub mean_probability: f64,
}

const BLOCK_ROWS: usize = 1 << 18;

/// Whether the table at `path` has a column named `name` (reads only the schema).
fn raw_has_column(path: &Path, name: &str) -> Result<bool, StageError> {
    let shown = path.display().to_string();
    let schema = table::read_raw_strings(path, &shown)?.slice(0, 0);
    Ok(schema.get_column_names().iter().any(|c| c.as_str() == name))
}

/// Scores `input` with the model file at `model`, writing `output`.
pub fn score(model: &Path, input: &Path, output: &Path) -> Result<ScoreSummary, StageError> {
    let m = load_model(model)?;
    score_with(&m, input, output, &ScoreOptions::default())
}

/// Scores with a loaded model and options.
pub fn score_with(
    model: &Model,
    input: &Path,
    output: &Path,
    options: &ScoreOptions,
) -> Result<ScoreSummary, StageError> {
    score_watched(model, input, output, options, &|_| {})
}

/// [`score_with`], telling `watch` how many rows are scored as it goes.
pub fn score_watched(
    model: &Model,
    input: &Path,
    output: &Path,
    options: &ScoreOptions,
    watch: &(dyn Fn(Snapshot) + Sync),
) -> Result<ScoreSummary, StageError> {
    let threshold = options.threshold.unwrap_or(model.decision_threshold);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(StageError::new(format!("score threshold must be in [0, 1], got {threshold}")));
    }
    table::table_format(output)?;
    let df = match &model.snapshot {
        // A raw snapshot export (it has the raw id column): clean it as ingest did.
        Some(spec) if raw_has_column(input, &spec.id_column)? => {
            let shown = input.display().to_string();
            let raw = table::read_raw_strings(input, &shown)?;
            clean_snapshot(raw, spec, &shown)?
        }
        _ => table::read_table(input)?,
    };
    if df.column(&model.id_column).is_err() {
        let missing: Vec<&str> = std::iter::once(model.id_column.as_str())
            .chain(model.required_columns().into_iter().filter(|c| df.column(c).is_err()))
            .collect();
        return Err(StageError::new(format!(
            "{}: missing column{} the model needs: {}",
            input.display(),
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    // The id column is passed through as text (no per-row copies); missing ids are an error.
    let ids = column(&df, &model.id_column, input)?
        .cast(&DataType::String)
        .map_err(|e| StageError::new(format!("{}: id column '{}': {e}", input.display(), model.id_column)))?;
    if ids.null_count() > 0 {
        // Name the first empty row.
        id_values(&ids, input)?;
    }
    let n = df.height();
    let progress = Reporter::to_callback(Unit::Rows, n as u64, watch);
    let mut probability = Vec::with_capacity(n);
    let mut offset = 0;
    while offset < n {
        let len = BLOCK_ROWS.min(n - offset);
        let block = df.slice(offset as i64, len);
        let p = model.predict_table(&block, input).map_err(|e| {
            e.map_message(|m| m.replacen("row ", &format!("block at row {}, row ", offset + 1), 1))
        })?;
        probability.extend(p);
        offset += len;
        progress.add(len as u64);
    }
    let tiers = model.risk_tiers;
    let prediction: Vec<i32> = probability.iter().map(|&p| i32::from(p >= threshold)).collect();
    let tier: Vec<&str> = probability.iter().map(|&p| tiers.tier(p, threshold)).collect();
    let summary = ScoreSummary {
        rows: n,
        predicted_churners: prediction.iter().filter(|&&v| v == 1).count(),
        threshold,
        high: tier.iter().filter(|&&t| t == "high").count(),
        medium: tier.iter().filter(|&&t| t == "medium").count(),
        low: tier.iter().filter(|&&t| t == "low").count(),
        mean_probability: if n == 0 { 0.0 } else { probability.iter().sum::<f64>() / n as f64 },
    };
    let mut out = DataFrame::new(
        n,
        vec![
            ids.with_name(model.id_column.as_str().into()),
            Column::new("churn_probability".into(), probability),
            Column::new("churn_prediction".into(), prediction),
            Column::new("risk_tier".into(), tier),
        ],
    )
    .map_err(|e| StageError::new(format!("cannot build the scores table: {e}")))?;
    write_table(output, &mut out)?;
    Ok(summary)
}
