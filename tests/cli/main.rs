//! Integration tests: the real binary on temporary projects.
mod support;

mod dag;
mod data_pipeline;
mod errors;
mod model_pipeline;
mod freshness;
mod registry;
mod store;

mod gitrepo;
mod metrics;
mod params_diff;
mod report;
