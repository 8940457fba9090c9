//! Integration tests: the real binary on temporary projects.
mod support;

mod browser;

mod boosting;
mod dag;
mod data_pipeline;
mod drift;
mod errors;
mod exit_codes;
mod experiments;
mod file_modes;
mod freshness;
mod generate;
mod linfa;
mod model_pipeline;
mod registry;
mod remote;
mod serve;
mod store;
mod telco;
mod tuning;

mod gitrepo;
mod metrics;
mod monitor;
mod params_diff;
mod readme;
mod report;
