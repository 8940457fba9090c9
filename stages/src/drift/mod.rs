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
pub(crate) const COMPARED_NOTHING: &str = "no champion yet: nothing to compare against";

/// Reads both sides and computes the drift report. Every error is bad input (a missing
/// table, no shared columns, empty data, bad params).
pub fn drift_report(
    reference: &DriftSide,
    current: &DriftSide,
    options: &DriftOptions,
) -> Result<DriftReport, StageError> {
    let params = DriftParams::parse(&options.params)?;
    let since = options.log_since.as_deref();
    let r = columns::read_side(&reference.path, &reference.shown, since)?;
    let c = columns::read_side(&current.path, &current.shown, since)?;
    report::compute(&r, &c, options, &params, (&reference.shown, &current.shown))
}

impl DriftReport {
    /// The self-contained HTML page (`html.rs`).
    pub fn html(&self) -> String {
        html::render(self)
    }
}
