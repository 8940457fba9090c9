//! Tests of the model stages (split, train, evaluate, promote, score), one test binary.

#[path = "model_tests/support.rs"]
mod support;

#[path = "model_tests/metrics.rs"]
mod metrics;

#[path = "model_tests/training.rs"]
mod training;

#[path = "model_tests/kinds.rs"]
mod kinds;

#[path = "model_tests/telco.rs"]
mod telco;

#[path = "model_tests/online.rs"]
mod online;

#[path = "model_tests/boosting.rs"]
mod boosting;

#[path = "model_tests/tuning.rs"]
mod tuning;

#[path = "model_tests/linfa.rs"]
mod linfa;
