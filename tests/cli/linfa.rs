//! `train.learner: linfa` through the real binary: linfa-trees' tree, converted into ours, runs
//! the demo from `repro` to `score` and `serve` with soft probabilities and exact reasons, its
//! model file is the same on a forced rerun, and asking it for another algorithm is a usage
//! error.
use crate::support::Project;

/// The demo on 3,000 customers with `algorithm` fitted by linfa-trees.
fn linfa_demo(algorithm: &str) -> Project {
    crate::support::demo_training(3000, 7, &format!("  algorithm: {algorithm}\n  learner: linfa\n"))
}

#[test]
fn learner_linfa_runs_the_demo_from_repro_to_score_and_serve_with_soft_probabilities() {
    let p = linfa_demo("decision_tree");
    let r = p.ok(&["repro"]);
    assert!(
        r.stderr().contains("decision_tree on 2250 rows") && r.stderr().contains("fitted by linfa-trees"),
        "{}",
        r.all()
    );
    let model: serde_json::Value = serde_json::from_str(&p.read("models/model.json")).unwrap();
    assert_eq!(model["algorithm"], "decision_tree");
    assert_eq!(model["lineage"]["params"]["learner"], "linfa");
    let tree = &model["estimator"]["tree"];
    assert_eq!(tree["cover"].as_array().unwrap().len(), tree["feature"].as_array().unwrap().len());
    let metrics: serde_json::Value = serde_json::from_str(&p.read("reports/metrics.json")).unwrap();
    let auc = metrics["auc_roc"].as_f64().unwrap();
    assert!(auc > 0.7, "demo AUC {auc}");

    p.ok(&["score", "--model", "models/model.json", "--input", "data/features.parquet", "--output", "s.csv"]);
    let scores = p.read("s.csv");
    let probabilities: Vec<f64> =
        scores.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(probabilities.len(), 3000);
    let mut distinct: Vec<u64> = probabilities.iter().map(|q| q.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 2, "{} distinct probabilities: hard labels", distinct.len());
    assert!(probabilities.iter().any(|&q| q > 0.0 && q < 1.0), "only 0 and 1");

    // serve: the same probability, and TreeSHAP reasons that add up to it.
    let first: Vec<&str> = scores.lines().nth(1).unwrap().split(',').collect();
    let (id, scored): (&str, f64) = (first[0], first[1].parse().unwrap());
    let server = crate::serve::Server::start(
        p.root(),
        &["--model", "models/model.json", "--features", "data/features.parquet"],
    );
    let v = server.post_json("/predict?top_k=1000", &serde_json::json!({"customer_id": id})).json();
    let prob = v["churn_probability"].as_f64().unwrap();
    assert!((prob - scored).abs() < 1e-12, "serve {prob} vs score {scored}");
    let total = v["base_value"].as_f64().unwrap()
        + v["reasons"].as_array().unwrap().iter().map(|r| r["contribution"].as_f64().unwrap()).sum::<f64>();
    assert!((total - prob).abs() < 1e-9, "base + reasons {total} vs probability {prob}");
    drop(server);

    // A forced rerun fits linfa-trees again and writes the same bytes (canonical conversion).
    let before = std::fs::read(p.path("models/model.json")).unwrap();
    p.ok(&["repro", "--force", "--single-item", "train"]);
    assert!(before == std::fs::read(p.path("models/model.json")).unwrap(), "the model file changed");
}

#[test]
fn learner_linfa_for_another_algorithm_is_a_usage_error() {
    let p = linfa_demo("random_forest");
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("train.learner") && r.stderr().contains("decision_tree only"), "{}", r.all());
    assert!(!r.stderr().contains("panicked"), "{}", r.all());
}
