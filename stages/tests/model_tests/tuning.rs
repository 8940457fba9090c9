//! Cross-validated tuning (`train.tune`) through the kinds' entry points: the searched params
//! beat a deliberately bad fixed choice on held-out rows, every trial is recorded, the report
//! and the model do not depend on the thread count, the model card says how the params were
//! chosen, and bad `tune` sections are usage errors naming their key.

use crate::support::*;
use churnflow_stages::testing::metrics;
use churnflow_stages::{describe, load_model, run, Invocation, OutRole, SettingsError};
use serde_json::{json, Value};
use std::path::Path;

fn train_settings() -> Value {
    json!({"input": "data/train.parquet", "model": "models/model.json", "tuning": "reports/tuning.json"})
}

fn run_kind(root: &Path, kind: &str, settings: Value, params: Value) -> Result<String, String> {
    let inv = Invocation {
        root: root.to_path_buf(),
        stage: kind.into(),
        settings,
        params,
        baseline_model: None,
        baseline_training_data: None,
    };
    run(kind, &inv).map(|s| s.summary).map_err(|e| e.message)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The report's bytes without its line of wall time (the one value two identical runs do not
/// share).
fn without_seconds(report: &[u8]) -> String {
    let text = String::from_utf8_lossy(report);
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("\"seconds\": ")).collect();
    assert_eq!(kept.len() + 1, text.lines().count(), "one seconds line in:\n{text}");
    kept.join("\n")
}

/// AUC of the model at `models/model.json` on `df`.
fn auc(root: &Path, df: &polars::prelude::DataFrame) -> f64 {
    let model = load_model(&root.join("models/model.json")).unwrap();
    let p = model.predict_table(df, Path::new("holdout.parquet")).unwrap();
    metrics::auc_roc(&labels(df, "churned"), &p).unwrap()
}

#[test]
fn the_searched_depth_beats_a_bad_fixed_one_and_every_trial_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let df = synthetic(3000, -1.0, 41);
    let (train, holdout) = (head(&df, 2000), tail_from(&df, 2000));
    write_parquet(&root.join("data/train.parquet"), &train);

    // A stump: one split cannot rank these customers well.
    let fixed = json!({"algorithm": "decision_tree", "max_depth": 1, "min_samples_leaf": 20});
    let plain = json!({"input": "data/train.parquet", "model": "models/model.json"});
    run_kind(root, "train", plain, fixed.clone()).unwrap();
    let fixed_auc = auc(root, &holdout);
    let fixed_model = std::fs::read(root.join("models/model.json")).unwrap();
    assert!(!String::from_utf8_lossy(&fixed_model).contains("\"tuning\""), "a fixed model records no search");

    let mut tuned = fixed.clone();
    tuned["tune"] = json!({"search": "grid", "trials": 6, "cv": 3, "seed": 5,
                           "space": {"max_depth": [1, 4, 6], "min_samples_leaf": [5, 40]}});
    let summary = run_kind(root, "train", train_settings(), tuned).unwrap();
    assert!(summary.contains("best of 6 grid candidates by 3-fold CV AUC"), "{summary}");
    let report = read_json(&root.join("reports/tuning.json"));
    assert_eq!(report["metric"], "auc_roc");
    assert_eq!(report["search"], "grid");
    assert_eq!(
        (report["trials"].as_u64(), report["cv"].as_u64(), report["seed"].as_u64()),
        (Some(6), Some(3), Some(5))
    );
    assert_eq!(report["rows"], 2000);
    assert!(report.get("trial").is_none(), "the trials are in the twin file, not the metrics");
    let log = read_json(&root.join("reports/tuning_trials.json"));
    assert_eq!(log["best_trial"], report["best_trial"]);
    let trials: Vec<&Value> = log["trial"].as_object().unwrap().values().collect();
    let keys: Vec<&String> = log["trial"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["1", "2", "3", "4", "5", "6"]);
    let mut best = (0usize, f64::MIN);
    for (i, t) in trials.iter().enumerate() {
        let folds: Vec<f64> = t["fold_auc"].as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect();
        assert_eq!(folds.len(), 3);
        let mean = folds.iter().sum::<f64>() / 3.0;
        assert!((t["cv_auc_mean"].as_f64().unwrap() - mean).abs() < 1e-12);
        assert!(t["cv_auc_std"].as_f64().unwrap() > 0.0);
        if mean > best.1 {
            best = (i, mean);
        }
    }
    // The grid in order (first key slowest), and the best by mean CV AUC.
    assert_eq!(trials[0]["params"], json!({"max_depth": 1, "min_samples_leaf": 5}));
    assert_eq!(trials[5]["params"], json!({"max_depth": 6, "min_samples_leaf": 40}));
    assert_eq!(report["best_trial"], best.0 + 1);
    assert_eq!(report["best_cv_auc_mean"].as_f64().unwrap(), best.1);
    assert_eq!(report["best_params"], trials[best.0]["params"]);
    assert_ne!(report["best_params"]["max_depth"], 1, "{report}");

    // The model is the winner fitted on the whole train split, and says how it was chosen.
    let model = read_json(&root.join("models/model.json"));
    assert_eq!(model["lineage"]["params"]["max_depth"], report["best_params"]["max_depth"]);
    assert!(model["lineage"]["params"].get("tune").is_none(), "the recorded params are the fitted ones");
    assert_eq!(model["lineage"]["training_rows"], 2000);
    let t = &model["tuning"];
    assert_eq!(
        (t["search"].as_str(), t["trials"].as_u64(), t["cv"].as_u64()),
        (Some("grid"), Some(6), Some(3))
    );
    assert_eq!(t["best_params"], report["best_params"]);
    assert_eq!(t["cv_auc_mean"], report["best_cv_auc_mean"]);
    assert_eq!(t["cv_auc_std"], report["best_cv_auc_std"]);
    // Byte for byte the model of a plain fit with the chosen values in params.yaml, but for its
    // `tuning` summary.
    let mut chosen = fixed.clone();
    for (k, v) in report["best_params"].as_object().unwrap() {
        chosen[k] = v.clone();
    }
    let plain_settings = json!({"input": "data/train.parquet", "model": "models/plain.json"});
    run_kind(root, "train", plain_settings, chosen).unwrap();
    let mut without_summary = model.clone();
    without_summary.as_object_mut().unwrap().remove("tuning");
    let plain_bytes = std::fs::read(root.join("models/plain.json")).unwrap();
    assert_eq!(plain_bytes, [serde_json::to_vec(&without_summary).unwrap(), b"\n".to_vec()].concat());
    let tuned_auc = auc(root, &holdout);
    assert!(tuned_auc > fixed_auc + 0.03, "tuned {tuned_auc:.4} vs the stump {fixed_auc:.4}");

    // The model card says how the params were chosen.
    write_parquet(&root.join("data/test.parquet"), &holdout);
    let eval = json!({"model": "models/model.json", "test": "data/test.parquet",
                      "metrics": "reports/metrics.json", "predictions": "reports/predictions.parquet",
                      "model_card": "reports/model_card.md"});
    run_kind(root, "evaluate", eval.clone(), json!({"bootstrap": {"resamples": 0}})).unwrap();
    let card = std::fs::read_to_string(root.join("reports/model_card.md")).unwrap();
    let depth = report["best_params"]["max_depth"].to_string();
    assert!(
        card.contains("## How the params were chosen\n\nGrid search over 6 candidates")
            && card.contains("stratified 3-fold cross-validation on the training rows only")
            && card.contains(&format!("`max_depth` = {depth}")),
        "{card}"
    );
    let card_json = read_json(&root.join("reports/model_card.json"));
    assert_eq!(card_json["params_chosen"]["method"], "cv_search");
    std::fs::write(root.join("models/model.json"), &fixed_model).unwrap();
    run_kind(root, "evaluate", eval, json!({"bootstrap": {"resamples": 0}})).unwrap();
    let card = std::fs::read_to_string(root.join("reports/model_card.md")).unwrap();
    assert!(card.contains("Fixed in params.yaml (`train`), no search: `class_weight` = balanced"), "{card}");
    assert!(card.contains("`max_depth` = 1"), "{card}");
}

#[test]
fn boosting_search_gives_the_same_report_and_model_on_1_and_3_threads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_parquet(&root.join("data/train.parquet"), &synthetic(1500, -1.0, 42));
    let params = json!({"algorithm": "gradient_boosting", "n_trees": 40, "subsample": 0.8,
        "tune": {"trials": 3, "cv": 3, "seed": 11, "space": {
            "learning_rate": {"loguniform": [0.02, 0.3]}, "max_leaves": {"uniform": [4, 31]},
            "colsample": [0.6, 1.0]}}});
    let mut runs = Vec::new();
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| run_kind(root, "train", train_settings(), params.clone())).unwrap();
        runs.push((
            std::fs::read(root.join("reports/tuning.json")).unwrap(),
            std::fs::read(root.join("models/model.json")).unwrap(),
        ));
    }
    assert_eq!(
        without_seconds(&runs[0].0),
        without_seconds(&runs[1].0),
        "the report differs between 1 and 3 threads"
    );
    let report: Value = serde_json::from_slice(&runs[0].0).unwrap();
    assert!(runs[0].1 == runs[1].1, "the model file differs between 1 and 3 threads");
    assert_eq!(report["search"], "random");
    assert_eq!(report["space_size"], Value::Null);
    let log = read_json(&root.join("reports/tuning_trials.json"));
    let trials = log["trial"].as_object().unwrap();
    assert_eq!(trials.len(), 3);
    for t in trials.values() {
        let lr = t["params"]["learning_rate"].as_f64().unwrap();
        let leaves = t["params"]["max_leaves"].as_u64().expect("a whole number of leaves");
        assert!((0.02..=0.3).contains(&lr) && (4..=31).contains(&leaves), "{t}");
    }
    // Early stopping ran inside the folds and in the final fit.
    let model = read_json(&root.join("models/model.json"));
    assert_eq!(model["lineage"]["params"]["early_stopping_rounds"], 20);
    assert_eq!(model["lineage"]["params"]["learning_rate"], report["best_params"]["learning_rate"]);
}

fn describe_err(settings: Value, params: Value) -> SettingsError {
    describe("train", &settings, &params).expect_err("a usage error")
}

#[test]
fn bad_tune_sections_are_usage_errors_naming_their_key() {
    let gbm = |tune: Value| json!({"algorithm": "gradient_boosting", "tune": tune});
    let cases = [
        (
            gbm(json!({"space": {"learnig_rate": [0.1, 0.2]}})),
            "train.tune.space.learnig_rate",
            "did you mean 'learning_rate'?",
        ),
        (
            json!({"tune": {"space": {"max_leaves": [8, 16]}}}),
            "train.tune.space.max_leaves",
            "logistic_regression does not use max_leaves (it tunes: class_weight, l2,",
        ),
        (gbm(json!({"space": {"seed": [1, 2]}})), "train.tune.space.seed", "seed is not searched"),
        (gbm(json!({"space": {}})), "train.tune.space", "train.tune.space is empty"),
        (gbm(json!({"trials": 0, "space": {"l2": [1, 2]}})), "train.tune.trials", "between 1 and 10000"),
        (gbm(json!({"cv": 1, "space": {"l2": [1, 2]}})), "train.tune.cv", "between 2 and 50"),
        (
            gbm(json!({"search": "grid", "trials": 8,
                       "space": {"max_leaves": [4, 8, 16], "n_trees": [50, 100, 200]}})),
            "train.tune.trials",
            "the grid has 9 points (3 max_leaves × 3 n_trees), more than trials (8)",
        ),
        (
            gbm(json!({"search": "grid", "space": {"l2": {"loguniform": [0.1, 10]}}})),
            "train.tune.space.l2",
            "uniform and loguniform are for `search: random`",
        ),
        (
            gbm(json!({"space": {"subsample": {"uniform": [0.5, 1.5]}}})),
            "train.tune.space.subsample",
            "the value 1.5 is refused: train.subsample must be in (0, 1]",
        ),
        (
            gbm(json!({"space": {"max_depth": ["deep", 4]}})),
            "train.tune.space.max_depth",
            "the value \"deep\" is refused: train.max_depth: expected a whole number, 0 or more",
        ),
        (gbm(json!({"space": {"l2": 3}})), "train.tune.space.l2", "a fixed value belongs in train.l2"),
    ];
    for (params, key, says) in cases {
        let e = describe_err(train_settings(), params.clone());
        assert_eq!(e.params_key.as_deref(), Some(key), "{params}: {}", e.message);
        assert!(e.message.starts_with(key) && e.message.contains(says), "{params}: {}", e.message);
    }
    // A mistyped key of the section itself.
    let e = describe_err(train_settings(), gbm(json!({"trails": 5, "space": {"l2": [1, 2]}})));
    assert!(
        e.message.contains("trails") && e.params_key.as_deref().is_some_and(|k| k.starts_with("train.tune")),
        "{e:?}"
    );

    // The report is a .json metrics file; every trial goes to its twin.
    let yaml_report = json!({"input": "data/train.parquet", "model": "models/model.json",
                             "tuning": "reports/tuning.yaml"});
    let e = describe_err(yaml_report, gbm(json!({"space": {"l2": [1, 2]}})));
    assert!(
        e.message.contains("must name a .json file") && e.message.contains("_trials.json"),
        "{}",
        e.message
    );
    let io = describe("train", &train_settings(), &gbm(json!({"space": {"l2": [1, 2]}}))).unwrap();
    let outs: Vec<(&str, OutRole, bool)> =
        io.outs.iter().map(|o| (o.path.as_str(), o.role, o.cache)).collect();
    assert!(outs.contains(&("reports/tuning.json", OutRole::Metrics, false)), "{outs:?}");
    assert!(outs.contains(&("reports/tuning_trials.json", OutRole::Out, false)), "{outs:?}");

    // The search and its report come together.
    let plain = json!({"input": "data/train.parquet", "model": "models/model.json"});
    let e = describe_err(plain, gbm(json!({"space": {"l2": [1, 2]}})));
    assert_eq!(e.params_key, None, "{}", e.message);
    assert!(
        e.message.contains("add `tuning: reports/tuning.json`") && e.message.contains("pipeline.yaml"),
        "{}",
        e.message
    );
    let e = describe_err(train_settings(), json!({"algorithm": "gradient_boosting"}));
    assert!(e.message.contains("add a `tune` section under `train` in params.yaml"), "{}", e.message);

    // With both, the report is a metrics out that is not cached, like the other reports.
    let io = describe("train", &train_settings(), &gbm(json!({"space": {"l2": [1, 2]}}))).unwrap();
    let out = io.outs.iter().find(|o| o.path == "reports/tuning.json").expect("the tuning out");
    assert_eq!((out.role, out.cache), (OutRole::Metrics, false));
}

#[test]
fn more_folds_than_churners_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut df = synthetic(200, -1.0, 43);
    let churned: Vec<i32> = (0..200).map(|i| i32::from(i < 4)).collect();
    df.with_column(polars::prelude::Column::new("churned".into(), churned)).unwrap();
    write_parquet(&root.join("data/train.parquet"), &df);
    let params = json!({"tune": {"cv": 5, "space": {"l2": [0.1, 1, 10]}}});
    let e = run_kind(root, "train", train_settings(), params).unwrap_err();
    assert!(
        e.starts_with("train.tune.cv: 5 folds need at least 5 rows of each class")
            && e.contains("has 4 rows with churned = 1"),
        "{e}"
    );
    assert!(!root.join("models/model.json").exists() && !root.join("reports/tuning.json").exists());
}
