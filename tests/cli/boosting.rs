//! `algorithm: gradient_boosting` through the real binary: the demo from `repro` to `score`,
//! model bytes that do not depend on the thread count, and mistyped params as usage errors.
use crate::support::Project;

/// The demo on 3,000 customers with `algorithm: gradient_boosting` and `extra` train params.
fn boosted_demo(extra: &str) -> Project {
    crate::support::demo_training(3000, 7, &format!("  algorithm: gradient_boosting\n{extra}"))
}

#[test]
fn gradient_boosting_runs_the_demo_from_repro_to_score() {
    let p = boosted_demo("");
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("gradient_boosting on 2250 rows"), "{}", r.all());
    let model: serde_json::Value = serde_json::from_str(&p.read("models/model.json")).unwrap();
    assert_eq!(model["algorithm"], "gradient_boosting");
    let trees = model["estimator"]["trees"].as_array().unwrap().len();
    assert!((1..=100).contains(&trees), "{trees} trees");
    assert!(r.stderr().contains(&format!("{trees} trees")), "the summary says how many trees were kept");

    let metrics: serde_json::Value = serde_json::from_str(&p.read("reports/metrics.json")).unwrap();
    let auc = metrics["auc_roc"].as_f64().unwrap();
    assert!(auc > 0.7, "demo AUC {auc}");
    let plots: serde_json::Value = serde_json::from_str(&p.read("reports/plots.json")).unwrap();
    let importance = plots["feature_importance"].as_array().unwrap();
    assert!(!importance.is_empty() && importance[0]["importance"].as_f64().unwrap() > 0.0, "{plots}");
    assert!(p.read("reports/model_card.md").contains("gradient_boosting"));

    let s = p
        .ok(&[
            "score",
            "--model",
            "models/model.json",
            "--input",
            "data/features.parquet",
            "--output",
            "out/scores.csv",
            "--json",
        ])
        .json();
    assert_eq!(s["rows"], 3000);
    let csv = p.read("out/scores.csv");
    let probabilities: Vec<f64> =
        csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(probabilities.len(), 3000);
    assert!(probabilities.iter().all(|&q| q > 0.0 && q < 1.0), "a probability outside (0, 1)");
    let again = p.ok(&["repro"]);
    assert!(again.stderr().contains("0 ran"), "{}", again.all());
}

#[test]
fn boosted_model_bytes_are_the_same_on_1_and_3_threads() {
    let p = boosted_demo("  subsample: 0.8\n  colsample: 0.7\n");
    p.ok(&["repro", "train"]);
    let mut files = Vec::new();
    for threads in ["1", "3", "1"] {
        let out =
            p.cmd(&["repro", "--force", "--single-item", "train"]).env("RAYON_NUM_THREADS", threads).output();
        let out = out.expect("run churnflow");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        files.push(std::fs::read(p.path("models/model.json")).unwrap());
    }
    assert!(files[0] == files[1], "the model file differs between 1 and 3 threads");
    assert!(files[0] == files[2], "the model file differs between two runs");
}

#[test]
fn a_mistyped_boosting_param_is_a_usage_error_naming_the_file_and_key() {
    for (extra, key) in [
        ("  learning_rate: fast\n", "train.learning_rate"),
        ("  subsample: 2\n", "train.subsample"),
        ("  num_leaves: 31\n", "num_leaves"),
    ] {
        let p = boosted_demo(extra);
        let r = p.run(&["repro"]);
        assert_eq!(r.code(), 2, "{extra}: {}", r.all());
        assert!(r.stderr().contains("params.yaml") && r.stderr().contains(key), "{extra}: {}", r.all());
        assert!(!r.stderr().contains("panicked"), "{}", r.all());
    }
}

#[test]
fn serve_explains_a_boosted_model_in_log_odds_and_agrees_with_score() {
    let p = boosted_demo("");
    p.ok(&["repro", "train"]);
    p.ok(&["score", "--model", "models/model.json", "--input", "data/features.parquet", "--output", "s.csv"]);
    let scores = p.read("s.csv");
    let first: Vec<&str> = scores.lines().nth(1).unwrap().split(',').collect();
    let (id, scored): (&str, f64) = (first[0], first[1].parse().unwrap());
    let server = crate::serve::Server::start(
        p.root(),
        &["--model", "models/model.json", "--features", "data/features.parquet"],
    );
    let r = server.post_json("/predict?top_k=1000", &serde_json::json!({"customer_id": id}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let prob = v["churn_probability"].as_f64().unwrap();
    assert!((prob - scored).abs() < 1e-12, "serve {prob} vs score {scored}");
    assert_eq!(v["output_space"], "log_odds");
    let reasons = v["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty());
    let total = v["base_value"].as_f64().unwrap()
        + reasons.iter().map(|r| r["contribution"].as_f64().unwrap()).sum::<f64>();
    let log_odds = (prob / (1.0 - prob)).ln();
    assert!((total - log_odds).abs() < 1e-9, "base + reasons {total} vs log-odds {log_odds}");
}
