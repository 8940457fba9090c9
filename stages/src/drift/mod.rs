//! Data drift between a reference and a current data set, column by column, with Evidently
//! 0.7's data-drift defaults (so results compare with it column by column): the statistics
//! ([`stattests`]), the two sides as polars frames — a table, a store object, or the serving
//! prediction log ([`columns`], [`log`]) — the per-column verdicts, dataset drift, prediction
//! and label drift and the AUC on current data ([`report`]), and the HTML page ([`html`]).
//!
//! The kind `drift` ([`stage`]) runs the same report inside a pipeline.
//!
//! Layering: `drift` reads tables through `io` and never imports `data`; of `model` it uses
//! only the metrics (`model/metrics.rs`, the one AUC) and the model file (a champion's id and
//! label columns); `model` never imports `drift` (checked by `tests/layering.rs`).

pub(crate) mod columns;
pub(crate) mod html;
pub(crate) mod log;
pub(crate) mod report;
pub(crate) mod stage;
pub(crate) mod stattests;

use crate::contract::StageError;
use crate::drift::report::{DriftOptions, DriftParams, DriftReport, DriftSide};

/// What the kind `drift` reports when its reference is the champion and there is none yet.
pub(crate) const COMPARED_NOTHING: &str = "no earlier champion: nothing to compare against";

/// Reads both sides and computes the drift report. Every error is bad input (a missing
/// table, no shared columns, empty data, bad params).
pub fn drift_report(
    reference: &DriftSide,
    current: &DriftSide,
    options: &DriftOptions,
) -> Result<DriftReport, StageError> {
    let params = DriftParams::parse(&options.params)?;
    let since = options.log_since.as_deref();
    let mut r = columns::read_side(&reference.path, &reference.shown, since)?;
    let c = columns::read_side(&current.path, &current.shown, since)?;
    if let Some(model) = &options.reference_model {
        score_reference(&mut r, &c, model, options, &reference.shown)?;
    }
    report::compute(&r, &c, options, &params, (&reference.shown, &current.shown))
}

/// When the current side has the model's score and the reference (that model's training
/// data) does not, scores the reference with the model, so the two score distributions can be
/// compared (prediction drift), as Evidently compares reference and current predictions.
fn score_reference(
    reference: &mut columns::Loaded,
    current: &columns::Loaded,
    model: &std::path::Path,
    options: &DriftOptions,
    shown: &str,
) -> Result<(), StageError> {
    let name = options.prediction_column.as_str();
    if current.df.column(name).is_err() || reference.df.column(name).is_ok() {
        return Ok(());
    }
    let m = crate::model::file::load_model(model)?;
    let scores = m
        .predict_table(&reference.df, std::path::Path::new(shown))
        .map_err(|e| e.map_message(|m| format!("{shown}: cannot score it with its model: {m}")))?;
    reference
        .df
        .with_column(polars::prelude::Column::new(name.into(), scores))
        .map_err(|e| StageError::new(format!("{shown}: {e}")))?;
    reference.source.push_str(", scored with its model");
    Ok(())
}

impl DriftReport {
    /// The self-contained HTML page (`html.rs`).
    pub fn html(&self) -> String {
        html::render(self)
    }
}
