//! churnflow: a content-hashed stage graph for customer-churn machine learning.
//!
//! The engine — pipeline spec, graph, fingerprints, store, executor, registry, reports —
//! knows nothing of polars or linfa; the built-in churn stages live in the
//! `churnflow-stages` crate and are run in child processes of this binary.
pub mod atomic;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod error;
pub mod exec;
pub mod fingerprint;
pub mod freshness;
pub mod git;
pub mod graph;
pub mod hashing;
pub mod lockfile;
pub mod metrics;
pub mod params;
pub mod paths;
pub mod pipeline;
pub mod plan;
pub mod process;
pub mod progress;
pub mod project;
pub mod project_lock;
pub mod registry;
pub mod report;
pub mod spec;
pub mod store;
pub mod table;
pub mod yaml;
