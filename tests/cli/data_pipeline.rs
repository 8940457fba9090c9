//! The built-in data stages through the engine: generate -> ingest -> validate -> features.
use crate::support::{Project, DATA_PIPELINE as PIPELINE};

const PARAMS: &str = "validation:\n  min_rows: 1000\nfeatures:\n  snapshot_date: \"2024-06-30\"\n";

fn project(defects: bool) -> Project {
    project_of(1200, defects)
}

fn project_of(customers: usize, defects: bool) -> Project {
    let p = Project::new().file("pipeline.yaml", PIPELINE).file("params.yaml", PARAMS);
    let n = customers.to_string();
    let mut args = vec!["generate", "--customers", &n, "--seed", "7", "--out", "data/raw"];
    if defects {
        args.push("--defects");
    }
    let out = p.ok(&args).stdout();
    assert!(out.contains(&format!("generated {customers} customers")), "{out}");
    p
}

#[test]
fn generated_data_runs_through_ingest_validate_and_features_and_then_is_fresh() {
    let p = project(false);
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("3 ran"), "{}", r.all());
    assert!(p.path("data/features.parquet").is_file());
    let report: serde_json::Value = serde_json::from_str(&p.read("reports/validation.json")).unwrap();
    assert!(report.to_string().contains("pass"), "{report}");
    let again = p.ok(&["repro"]);
    assert!(again.stderr().contains("0 ran, 0 restored, 3 up to date"), "{}", again.all());
}

#[test]
fn features_are_byte_identical_from_run_to_run() {
    let p = project(false);
    p.ok(&["repro"]);
    let first = std::fs::read(p.path("data/features.parquet")).unwrap();
    for _ in 0..3 {
        p.ok(&["repro", "--force", "--single-item", "features"]);
        assert!(
            std::fs::read(p.path("data/features.parquet")).unwrap() == first,
            "features changed between runs"
        );
    }
}

/// Polars cuts its streams into batches by thread count; the features must not notice
/// (30,000 customers: the CDR table is read in several batches, cut differently by 1 and 3
/// threads).
#[test]
fn features_do_not_depend_on_the_number_of_threads() {
    let p = project_of(30_000, false);
    p.ok(&["repro"]);
    let first = std::fs::read(p.path("data/features.parquet")).unwrap();
    for threads in ["1", "3"] {
        let r = p
            .cmd(&["repro", "--force", "--single-item", "features"])
            .env("POLARS_MAX_THREADS", threads)
            .output();
        assert!(r.expect("run churnflow").status.success());
        assert!(
            std::fs::read(p.path("data/features.parquet")).unwrap() == first,
            "features differ with POLARS_MAX_THREADS={threads}"
        );
    }
}

#[test]
fn changing_the_snapshot_date_reruns_validate_and_features_but_not_ingest() {
    let p = project(false);
    p.ok(&["repro"]);
    p.write("params.yaml", &PARAMS.replace("2024-06-30", "2024-07-31"));
    let status = p.ok(&["status"]).stdout();
    assert!(status.contains("features: param features.snapshot_date 2024-06-30 -> 2024-07-31"), "{status}");
    assert!(!status.contains("ingest:"), "{status}");
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("2 ran, 0 restored, 1 up to date"), "{}", r.all());
}

#[test]
fn defective_data_fails_validation_with_exit_1_and_features_does_not_run() {
    let p = project(true);
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("validate: FAILED"), "{}", r.all());
    assert!(r.stderr().contains("customers"), "the failing table is named:\n{}", r.all());
    assert!(!p.exists("data/features.parquet"));
}

#[test]
fn an_unknown_layout_is_refused_before_anything_runs() {
    let p = project(false);
    p.write("pipeline.yaml", &PIPELINE.replace("layout: events", "layout: eventz"));
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("pipeline.yaml:5:"), "{}", r.all());
    assert!(r.stderr().contains("eventz"), "{}", r.all());
    assert!(!p.exists("data/ingested"));
}

#[test]
fn generate_is_deterministic_for_a_seed() {
    let p = Project::new();
    p.ok(&["generate", "--customers", "300", "--seed", "3", "--out", "a"]);
    p.ok(&["generate", "--customers", "300", "--seed", "3", "--out", "b"]);
    for t in ["customers", "transactions", "cdr", "support_tickets"] {
        assert_eq!(p.read(&format!("a/{t}.csv")), p.read(&format!("b/{t}.csv")), "{t} differs");
    }
    let r = p.run(&["generate", "--customers", "10", "--out", "c", "--snapshot-date", "2024-13-01"]);
    assert_eq!(r.code(), 2, "{}", r.all());
}
