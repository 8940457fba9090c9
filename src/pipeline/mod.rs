//! The pipeline as the user wrote it, resolved: what each stage runs, reads and writes.
//!
//! * [`yaml`] — YAML with line/column positions, and the checks shared by every file;
//! * [`spec`] — `pipeline.yaml` parsed into a typed spec, positions kept;
//! * [`params`] — `params.yaml`, `${}` interpolation, canonical values;
//! * [`params_edit`] — changing values of params.yaml in place (comments kept);
//! * [`paths`] — project-relative path normal form;
//! * [`resolve`] — the resolved [`resolve::Pipeline`]: params interpolated, paths
//!   normalised, every problem collected with its line and column;
//! * [`graph`] — the stage graph (who reads whose outs), its order and closures.
//!
//! This layer reads only the files the user writes. It knows nothing of hashes, the store,
//! the lock or how stages run; `plan`, `exec`, `compare` and `report` build on it.
pub(crate) mod graph;
pub(crate) mod params;
pub(crate) mod params_edit;
pub(crate) mod paths;
pub(crate) mod resolve;
pub(crate) mod spec;
pub(crate) mod yaml;
