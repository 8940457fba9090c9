//! The engine-facing contract for the data kinds: names, params sections, derived deps/outs.

use churnflow_stages::{describe, run, Invocation, KINDS};
use serde_json::{json, Value};

#[test]
fn data_kinds_are_listed_and_unknown_kinds_are_settings_errors() {
    for k in ["ingest", "validate", "features"] {
        assert!(KINDS.contains(&k), "{k} missing from KINDS");
    }
    let e = describe("ingset", &json!({}), &Value::Null).expect_err("unknown kind");
    assert!(e.message.contains("ingset") && e.message.contains("ingest"), "{}", e.message);
    let inv = Invocation {
        root: std::env::temp_dir(),
        stage: "x".into(),
        settings: json!({}),
        params: Value::Null,
        baseline_model: None,
        baseline_training_data: None,
    };
    assert!(run("ingset", &inv).is_err());
}

#[test]
fn features_declares_the_validation_report_as_a_dep() {
    let io = describe(
        "features",
        &json!({"input": "data/ingested", "validation_report": "reports/validation.json", "out": "data/features.parquet"}),
        &json!({"snapshot_date": "2024-06-30"}),
    )
    .unwrap();
    assert_eq!(io.deps, ["data/ingested", "reports/validation.json"]);
    assert_eq!(io.outs[0].path, "data/features.parquet");
    assert_eq!(io.params_section, "features");
    let e = describe(
        "features",
        &json!({"input": "i", "validation_report": "r.json", "out": "f.parquet"}),
        &json!({"snapshot_date": "June 30"}),
    )
    .expect_err("bad date");
    assert!(e.message.contains("features.snapshot_date"), "{}", e.message);
}
