//! Integration tests of the data stages (one binary: polars links once).
//!
//! Each module is one kind; `common` builds a temporary project from the fixtures and runs
//! stages through the crate's public contract (`describe` / `run`).

mod common;
mod contract;
mod features;
mod generate;
mod ingest;
mod validate;
