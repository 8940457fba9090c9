//! `train.tune` through the real binary on the demo: `repro` runs a small cross-validated
//! search, writes reports/tuning.json (a metrics file) and a model card that says how the
//! params were chosen; then the test split is poisoned and the search run again gives the same
//! report and the same model — the search never reads the test rows.
use crate::support::Project;

/// The demo on 1,000 customers, gradient boosting with a 4-trial, 3-fold random search.
fn tuned_demo() -> Project {
    let tune = "  algorithm: gradient_boosting\n  tune:\n    search: random\n    trials: 4\n    cv: 3\n    \
                seed: 0\n    space:\n      learning_rate: {loguniform: [0.03, 0.3]}\n      \
                max_leaves: [7, 15, 31]\n";
    let p = crate::support::demo_training(1000, 13, tune);
    let pipeline = p.read("pipeline.yaml");
    let from = "      model: models/model.json\n  evaluate:";
    assert!(pipeline.contains(from), "pipeline.yaml's train stage changed");
    p.write(
        "pipeline.yaml",
        &pipeline.replacen(
            from,
            "      model: models/model.json\n      tuning: reports/tuning.json\n  evaluate:",
            1,
        ),
    );
    p
}

/// The report's bytes without its one line of wall time.
fn without_seconds(report: &str) -> String {
    let kept: Vec<&str> = report.lines().filter(|l| !l.trim_start().starts_with("\"seconds\": ")).collect();
    assert_eq!(kept.len() + 1, report.lines().count(), "one seconds line in:\n{report}");
    kept.join("\n")
}

#[test]
fn a_tuned_train_stage_reports_its_trials_and_never_reads_the_test_split() {
    let p = tuned_demo();
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("best of 4 random candidates by 3-fold CV AUC"), "{}", r.all());

    let report: serde_json::Value = serde_json::from_str(&p.read("reports/tuning.json")).unwrap();
    assert_eq!(report["trials"], 4);
    let log: serde_json::Value = serde_json::from_str(&p.read("reports/tuning_trials.json")).unwrap();
    assert_eq!(log["trial"].as_object().unwrap().len(), 4);
    assert_eq!(log["best_trial"], report["best_trial"]);
    let mean = report["best_cv_auc_mean"].as_f64().unwrap();
    assert!(mean > 0.6 && mean < 1.0, "{report}");
    let model: serde_json::Value = serde_json::from_str(&p.read("models/model.json")).unwrap();
    let rows = report["rows"].as_u64().unwrap();
    assert!(
        rows == model["lineage"]["training_rows"] && (700..800).contains(&rows),
        "the train split's rows: {rows}"
    );
    assert_eq!(model["tuning"]["best_params"], report["best_params"]);
    let card = p.read("reports/model_card.md");
    assert!(card.contains("## How the params were chosen\n\nRandom search over 4 candidates"), "{card}");

    // A metrics file: `metrics show` lists its figures and the chosen params, not the trials
    // (a metrics diff in a pull request stays short).
    let shown = p.ok(&["metrics", "show", "--json"]).json();
    let rows = shown["rows"].as_array().unwrap();
    let shows = |key: &str| rows.iter().any(|r| r["path"] == "reports/tuning.json" && r["key"] == key);
    assert!(shows("best_cv_auc_mean") && shows("best_params.max_leaves"), "{shown}");
    let keys: Vec<&str> = rows.iter().filter_map(|r| r["key"].as_str()).collect();
    assert!(!keys.iter().any(|k| k.starts_with("trial.")), "trials among the metrics: {keys:?}");
    assert!(p.ok(&["repro"]).stderr().contains("0 ran"), "a tuned stage is fresh when nothing changed");

    let (tuning, model_bytes) =
        (p.read("reports/tuning.json"), std::fs::read(p.path("models/model.json")).unwrap());
    let trials_log = p.read("reports/tuning_trials.json");
    // Poison the test split twice: bytes that are no table at all, then other rows (the train
    // split's) with the same columns. `--single-item`: `repro --force train` would rerun split
    // too and repair the file.
    let poisons = [b"not a parquet file\n".to_vec(), std::fs::read(p.path("data/train.parquet")).unwrap()];
    for poison in poisons {
        std::fs::write(p.path("data/test.parquet"), &poison).unwrap();
        let r = p.ok(&["repro", "--force", "--single-item", "train"]);
        assert!(r.stderr().contains("best of 4 random candidates"), "{}", r.all());
        assert_eq!(std::fs::read(p.path("data/test.parquet")).unwrap(), poison, "the poison stayed in place");
        assert_eq!(without_seconds(&p.read("reports/tuning.json")), without_seconds(&tuning));
        assert_eq!(p.read("reports/tuning_trials.json"), trials_log);
        assert!(std::fs::read(p.path("models/model.json")).unwrap() == model_bytes, "the model changed");
    }
}

#[test]
fn a_search_without_its_report_is_a_usage_error_saying_what_to_add() {
    let p = tuned_demo();
    let pipeline = p.read("pipeline.yaml");
    p.write("pipeline.yaml", &pipeline.replacen("      tuning: reports/tuning.json\n", "", 1));
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr().contains("pipeline.yaml") && r.stderr().contains("tuning: reports/tuning.json"),
        "{}",
        r.all()
    );

    let p = tuned_demo();
    let params = p.read("params.yaml");
    p.write("params.yaml", &params.replacen("max_leaves: [7, 15, 31]", "max_leafs: [7, 15, 31]", 1));
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr().contains("params.yaml")
            && r.stderr().contains("train.tune.space.max_leafs")
            && r.stderr().contains("did you mean 'max_leaves'?"),
        "{}",
        r.all()
    );
    assert!(!r.stderr().contains("panicked"), "{}", r.all());
}
