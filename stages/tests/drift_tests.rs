//! Tests of data drift: the statistics against SciPy/Evidently fixtures, and the report
//! (method choice, the dataset-drift rule, overrides, the prediction log), one test binary.

#[path = "drift_tests/stattests.rs"]
mod stattests;

#[path = "drift_tests/report.rs"]
mod report;
