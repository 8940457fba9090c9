//! churnflow: a content-hashed stage graph for customer-churn machine learning.
//!
//! The engine knows nothing of polars or linfa; the built-in churn stages live in the
//! `churnflow-stages` crate and are run in child processes of this binary. The layers, from
//! the bottom (docs/architecture.md has the table of who may use whom, `tests/layering.rs`
//! enforces it; docs/engine.md and the module docs say more):
//!
//! * [`pipeline`] — pipeline.yaml and params.yaml, resolved; the stage graph;
//! * [`store`] — objects, hashes, pipeline.lock, the registry, the project lock, what `gc`
//!   keeps;
//! * [`error`] — the error type shared by every layer, and diagnostics (it wraps `store`'s
//!   and `compare`'s error enums);
//! * [`remote`] — the remote store: remotes, push and fetch of objects and run records, the
//!   registry's sync, `repro --pull`'s restore;
//! * [`plan`] — fingerprints, freshness, restorability, the predicted plan;
//! * [`exec`] — the scheduler, processes, progress, the `__stage` protocol, checkout;
//! * [`compare`] — the workspace and git revisions side by side: metrics, params;
//! * [`report`] — the HTML report;
//! * [`serve`] — the HTTP server of `churnflow serve`;
//! * [`drift`] — the two sides of `churnflow drift` (the champion's training data in the store);
//! * [`monitor`] — `churnflow monitor`: drift of the served predictions, gauges, retrain;
//! * [`experiments`] — `churnflow exp`: overrides, sweeps, scratch workspaces, records;
//! * [`cli`] and [`commands`] — arguments, one module per command, exit codes.
//!
//! Only [`main`] is public: everything else is private to the crate, so the compiler
//! reports dead code. `tests/layering` checks which layer may import which.
mod cli;
mod commands;
mod compare;
mod drift;
mod error;
mod exec;
mod experiments;
mod monitor;
mod pipeline;
mod plan;
mod remote;
mod report;
mod serve;
mod store;

pub use cli::main;
