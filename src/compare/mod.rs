//! Comparing the project between two sides — the workspace or a git revision: metrics,
//! declared params and the files stages declare.
//!
//! * [`git`] — reading project files as they were at a revision;
//! * [`side`] — one side, loaded: its pipeline, params and lock, and any declared out;
//! * [`metrics`] — metrics values: parse, flatten, diff rows, `--fail-on` checks;
//! * [`metric_files`] — every metrics file declared at a side, read and flattened;
//! * [`layout`] — those rows for a person: model metrics first, per-item sections collapsed;
//! * [`params`] — the params that stages declare at a side, compared between sides.
//!
//! Used by `metrics`, `params diff` and `report`; builds on `pipeline` and `store`.
pub(crate) mod git;
pub(crate) mod layout;
pub(crate) mod metric_files;
pub(crate) mod metrics;
pub(crate) mod params;
pub(crate) mod side;
