//! examples/telco end to end: the raw IBM Telco export to a promoted champion, and `score`
//! on the raw export with the ingest cleaning the model carries.
use crate::support::Project;

fn telco() -> Project {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telco");
    let p = Project::new();
    for f in ["pipeline.yaml", "params.yaml", "data/telco.csv"] {
        p.write(f, &std::fs::read_to_string(example.join(f)).unwrap());
    }
    p
}

#[test]
fn the_telco_example_runs_from_the_raw_export_to_a_champion() {
    let p = telco();
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("7 ran"), "{}", r.all());
    assert!(r.stderr().contains("promoted model"), "{}", r.all());
    let metrics: serde_json::Value = serde_json::from_str(&p.read("reports/metrics.json")).unwrap();
    let auc = metrics["auc_roc"].as_f64().unwrap();
    assert!(auc > 0.83, "Telco test AUC {auc}");
    assert_eq!(metrics["n"], 916, "a stratified 25 % test split of 3,663 customers");
}

#[test]
fn score_accepts_the_raw_telco_export_with_blanks_and_the_label_column() {
    let p = telco();
    p.ok(&["repro"]);
    let s = p.ok(&["score", "--input", "data/telco.csv", "--output", "scores.parquet", "--json"]).json();
    assert_eq!(s["rows"], 3663);
    // Scoring the cleaned features gives the same probabilities as scoring the raw export.
    p.ok(&["score", "--input", "data/features.parquet", "--output", "clean.csv"]);
    p.ok(&["score", "--input", "data/telco.csv", "--output", "raw.csv"]);
    // (The features table is sorted by id; the raw export is in file order.)
    let sorted = |t: String| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    let (clean, raw) = (sorted(p.read("clean.csv")), sorted(p.read("raw.csv")));
    assert_eq!(clean.len(), 3664);
    let differing = clean.iter().zip(&raw).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "{differing} rows score differently from the raw export");
}

/// The report of a pipeline run against an earlier champion: every plot evaluate writes is
/// drawn, each with the champion overlaid, and the page fits a 1280 px screen.
#[test]
fn the_report_draws_every_plot_of_the_telco_run_with_the_champion_overlaid() {
    let p = telco();
    p.ok(&["repro"]);
    let params = p.read("params.yaml").replace("l2: 1.0", "l2: 3.0");
    p.write("params.yaml", &params);
    p.ok(&["repro"]);
    let plots: serde_json::Value = serde_json::from_str(&p.read("reports/plots.json")).unwrap();
    assert_eq!(plots["schema_version"], 1);
    assert!(plots["baseline"]["roc"]["fpr"].is_array(), "evaluate wrote the champion's curves");

    crate::report::assert_the_report_draws_every_plot_with_the_champion_and_fits_1280px(&p);
}
