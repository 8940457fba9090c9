//! Experiments: the pipeline run with params overridden, without touching the workspace.
//!
//! * [`overrides`] — `-S key=value` (DVC's syntax), sweeps: lists, `range()`, `choice()`,
//!   intervals; the grid and random points;
//! * [`scratch`] — an experiment's scratch workspace: the project as hard links, in
//!   `artifacts/tmp/`;
//! * [`check`] — every point of a sweep checked before the first runs: the kinds' param
//!   checks (a bad value is its `-S`'s fault), the overrides a stage ignores (a warning);
//! * [`runner`] — a sweep: experiments N at a time, each a `repro` in its scratch workspace
//!   on a store shared with the project (runs claimed, so none is computed twice);
//! * [`record`] — `artifacts/exps/<name>.json`: overrides, params, metrics, lock, status;
//! * [`rows`] — the table of `exp show` / `exp diff`: flattened params and metrics, columns;
//! * [`apply`] — `exp apply`: params into params.yaml in place, lock, outs from the store.
//!
//! Design: an experiment is a `repro` somewhere else, not a second executor. The scratch
//! workspace is built from hard links, so untouched stages are fresh there at no cost; its
//! store keeps its own logs and hash cache but shares objects, run records and claims with
//! the project's, so what one experiment computes every other one (and the workspace, after
//! `exp apply`) restores. Promotion never runs inside an experiment: it changes the registry,
//! which belongs to the workspace; after `exp apply`, `repro` runs it.
//!
//! This layer builds on `exec` (the scheduler), `plan`, `compare` (metrics files),
//! `pipeline` and `store`; `commands/exp.rs` turns arguments into its calls.
pub(crate) mod apply;
pub(crate) mod check;
pub(crate) mod overrides;
pub(crate) mod record;
pub(crate) mod rows;
pub(crate) mod runner;
pub(crate) mod scratch;
