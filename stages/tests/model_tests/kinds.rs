//! The kinds through the engine's entry points (`describe`, `run`), and `score`.

use crate::support::*;
use churnflow_stages::{describe, run, score, Invocation, OutRole};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn invoke(root: &Path, kind: &str, settings: Value, params: Value, baseline: Option<PathBuf>) -> String {
    let inv = Invocation {
        root: root.to_path_buf(),
        stage: kind.into(),
        settings,
        params,
        baseline_model: baseline,
        baseline_training_data: None,
    };
    run(kind, &inv).unwrap_or_else(|e| panic!("{kind}: {}", e.message)).summary
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn split_settings() -> Value {
    json!({"input": "data/features.parquet", "train": "data/train.parquet", "test": "data/test.parquet"})
}

fn eval_settings() -> Value {
    json!({
        "model": "models/model.json", "test": "data/test.parquet", "metrics": "reports/metrics.json",
        "predictions": "reports/predictions.parquet", "plots": "reports/plots.json",
        "comparison": "reports/comparison.json", "model_card": "reports/model_card.md"
    })
}

fn promote_settings() -> Value {
    json!({"metrics": "reports/metrics.json", "comparison": "reports/comparison.json",
           "model": "models/model.json", "decision": "reports/promotion.json"})
}

#[test]
fn describe_derives_deps_outs_and_roles_and_rejects_bad_params() {
    let io = describe("evaluate", &eval_settings(), &Value::Null).unwrap();
    assert_eq!(io.deps, vec!["models/model.json", "data/test.parquet"]);
    assert_eq!(io.params_section, "evaluation");
    let roles: Vec<(String, OutRole, bool)> =
        io.outs.iter().map(|o| (o.path.clone(), o.role, o.cache)).collect();
    assert!(roles.contains(&("reports/metrics.json".into(), OutRole::Metrics, false)));
    assert!(roles.contains(&("reports/plots.json".into(), OutRole::Plots, false)));
    assert!(roles.contains(&("reports/model_card.json".into(), OutRole::Out, false)));
    assert!(roles.contains(&("reports/predictions.parquet".into(), OutRole::Out, true)));

    let e = describe("train", &json!({"input": "a", "model": "b"}), &json!({"algorithm": "xgboost"}))
        .unwrap_err();
    assert!(e.message.starts_with("train.algorithm: ") && e.message.contains("xgboost"), "{}", e.message);
    assert_eq!(e.params_key.as_deref(), Some("train.algorithm"));
    let e = describe("split", &split_settings(), &json!({"test_size": 1.5})).unwrap_err();
    assert!(e.message.contains("test_size"), "{}", e.message);
    assert_eq!(e.params_key.as_deref(), Some("split.test_size"), "a check in io() is about its key");
    let e = describe("train", &json!({"input": "a", "model": "b"}), &json!({"l2": "abc"})).unwrap_err();
    assert_eq!(e.message, "train.l2: expected a number, found the text \"abc\"");
    let e = describe("train", &json!({"input": "a", "model": "b", "oops": 1}), &Value::Null).unwrap_err();
    assert!(e.message.contains("oops"), "{}", e.message);
    assert_eq!(e.params_key, None, "a `with:` setting is not a params key");
    assert!(describe("promote", &promote_settings(), &json!({"min_auc_roc": 0.7})).is_ok());
}

#[test]
fn split_is_stratified_within_one_percent_and_keyed_by_id_not_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let df = synthetic(3000, -1.0, 31);
    write_parquet(&root.join("data/features.parquet"), &df);
    invoke(root, "split", split_settings(), json!({"test_size": 0.25, "seed": 3}), None);
    let (train, test) =
        (read_parquet(&root.join("data/train.parquet")), read_parquet(&root.join("data/test.parquet")));
    assert_eq!(train.height() + test.height(), 3000);
    assert_eq!(train.get_column_names(), df.get_column_names());
    let all = labels(&df, "churned");
    let t = labels(&test, "churned");
    for class in [0u8, 1] {
        let share = t.iter().filter(|&&l| l == class).count() as f64
            / all.iter().filter(|&&l| l == class).count() as f64;
        assert!((share - 0.25).abs() <= 0.01, "class {class}: test share {share}");
    }
    // Reversed row order: the same customers are in test.
    let reversed = df.reverse();
    write_parquet(&root.join("data/features.parquet"), &reversed);
    invoke(root, "split", split_settings(), json!({"test_size": 0.25, "seed": 3}), None);
    let mut a = strings(&test, "customer_id");
    let mut b = strings(&read_parquet(&root.join("data/test.parquet")), "customer_id");
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Threshold method: nobody moves when customers are added.
    let p = json!({"test_size": 0.25, "seed": 3, "method": "hash_threshold"});
    write_parquet(&root.join("data/features.parquet"), &head(&df, 2000));
    invoke(root, "split", split_settings(), p.clone(), None);
    let small: Vec<String> = strings(&read_parquet(&root.join("data/test.parquet")), "customer_id");
    write_parquet(&root.join("data/features.parquet"), &df);
    invoke(root, "split", split_settings(), p, None);
    let big: std::collections::HashSet<String> =
        strings(&read_parquet(&root.join("data/test.parquet")), "customer_id").into_iter().collect();
    assert!(small.iter().all(|id| big.contains(id)));
}

#[test]
fn split_with_test_ids_and_duplicate_ids() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let df = synthetic(200, -1.0, 32);
    write_parquet(&root.join("data/features.parquet"), &df);
    std::fs::write(root.join("data/test_ids.txt"), "C000001\nC000007\n\nnot-a-customer\n").unwrap();
    let mut s = split_settings();
    s["test_ids"] = json!("data/test_ids.txt");
    let io = describe("split", &s, &Value::Null).unwrap();
    assert!(io.deps.contains(&"data/test_ids.txt".to_string()));
    invoke(root, "split", s, Value::Null, None);
    assert_eq!(
        strings(&read_parquet(&root.join("data/test.parquet")), "customer_id"),
        vec!["C000001", "C000007"]
    );

    let dup = df.vstack(&head(&df, 1)).unwrap();
    write_parquet(&root.join("data/features.parquet"), &dup);
    let inv = Invocation {
        root: root.into(),
        stage: "split".into(),
        settings: split_settings(),
        params: Value::Null,
        baseline_model: None,
        baseline_training_data: None,
    };
    let e = run("split", &inv).unwrap_err();
    assert!(e.message.contains("C000000") && e.message.contains("rows 1 and 201"), "{}", e.message);
}

/// split → train → evaluate → promote, then a challenger evaluated against the champion.
#[test]
fn pipeline_of_kinds_from_split_to_promotion_decision() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_parquet(&root.join("data/features.parquet"), &synthetic(3000, -1.0, 33));
    invoke(root, "split", split_settings(), Value::Null, None);
    let train_settings =
        json!({"input": "data/train.parquet", "model": "models/model.json", "cv": "reports/cv.json"});
    let s = invoke(root, "train", train_settings.clone(), json!({"cv_folds": 3}), None);
    assert!(s.contains("logistic_regression") && s.contains("3-fold CV AUC"), "{s}");
    let cv = read_json(&root.join("reports/cv.json"));
    assert_eq!(cv["auc_roc"].as_array().unwrap().len(), 3);
    assert!(cv["auc_roc_mean"].as_f64().unwrap() > 0.7);

    let eval_params =
        json!({"threshold": "max_profit", "fairness_columns": ["region"], "bootstrap": {"resamples": 200}});
    let s = invoke(root, "evaluate", eval_settings(), eval_params.clone(), None);
    assert!(s.contains("no earlier champion to compare with"), "{s}");
    let m = read_json(&root.join("reports/metrics.json"));
    for key in [
        "auc_roc",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "log_loss",
        "brier",
        "threshold",
        "tn",
        "fp",
        "fn",
        "tp",
        "top_decile_lift",
        "expected_profit",
        "n",
        "positive_rate",
        "fairness_recall_gap",
    ] {
        assert!(m[key].is_number(), "metrics.{key} missing: {m}");
    }
    assert_eq!(
        m["n"].as_u64().unwrap(),
        m["tn"].as_u64().unwrap()
            + m["fp"].as_u64().unwrap()
            + m["fn"].as_u64().unwrap()
            + m["tp"].as_u64().unwrap()
    );
    let preds = read_parquet(&root.join("reports/predictions.parquet"));
    assert_eq!(preds.get_column_names(), ["customer_id", "churned", "probability"]);
    // Metrics recomputed from the predictions file agree.
    let auc = churnflow_stages::testing::metrics::auc_roc(
        &labels(&preds, "churned"),
        &floats(&preds, "probability"),
    )
    .unwrap();
    assert_eq!(auc, m["auc_roc"].as_f64().unwrap());
    let plots = read_json(&root.join("reports/plots.json"));
    for key in ["roc", "pr", "calibration", "gains", "confusion", "feature_importance"] {
        assert!(!plots[key].is_null(), "plots.{key}");
    }
    let card = std::fs::read_to_string(root.join("reports/model_card.md")).unwrap();
    for section in ["## Intended use", "## Data", "## Metrics", "## Fairness", "## Limitations", "## Lineage"]
    {
        assert!(card.contains(section), "model card lacks {section}");
    }
    assert!(read_json(&root.join("reports/model_card.json"))["data"]["training_data_blake3"].is_string());
    let cmp = read_json(&root.join("reports/comparison.json"));
    assert_eq!(cmp["status"], "no_baseline");

    let s = invoke(root, "promote", promote_settings(), json!({"min_auc_roc": 0.6}), None);
    assert!(s.starts_with("promote"), "{s}");
    let d = read_json(&root.join("reports/promotion.json"));
    assert_eq!(d["promote"], true);
    assert!(d["baseline_model_blake3"].is_null());
    assert_eq!(d["model_blake3"].as_str().unwrap().len(), 64);
    let first_card = std::fs::read(root.join("reports/model_card.md")).unwrap();

    // Byte-identical rerun of train + evaluate.
    let first_model = std::fs::read(root.join("models/model.json")).unwrap();
    let first_metrics = std::fs::read(root.join("reports/metrics.json")).unwrap();
    invoke(root, "train", train_settings.clone(), json!({"cv_folds": 3}), None);
    invoke(root, "evaluate", eval_settings(), eval_params.clone(), None);
    assert_eq!(std::fs::read(root.join("models/model.json")).unwrap(), first_model);
    assert_eq!(std::fs::read(root.join("reports/metrics.json")).unwrap(), first_metrics);
    assert_eq!(std::fs::read(root.join("reports/model_card.md")).unwrap(), first_card);

    // The champion is kept aside (as the registry would); a weak challenger is trained.
    std::fs::copy(root.join("models/model.json"), root.join("champion.json")).unwrap();
    invoke(root, "train", train_settings, json!({"algorithm": "decision_tree", "max_depth": 1}), None);
    let s = invoke(root, "evaluate", eval_settings(), eval_params, Some(PathBuf::from("champion.json")));
    assert!(s.contains("vs champion"), "{s}");
    let cmp = read_json(&root.join("reports/comparison.json"));
    assert_eq!(cmp["status"], "compared");
    let diff = &cmp["auc_roc_diff"];
    assert!(
        diff["diff"].as_f64().unwrap() < 0.0
            && diff["ci_low"].as_f64().unwrap() <= diff["diff"].as_f64().unwrap()
    );
    let s = invoke(
        root,
        "promote",
        promote_settings(),
        json!({"max_auc_drop": 0.01, "require_ci_above": -0.02}),
        None,
    );
    assert!(s.starts_with("keep the champion"), "{s}");
    let d = read_json(&root.join("reports/promotion.json"));
    assert_eq!(d["promote"], false);
    assert!(d["reason"].as_str().unwrap().contains("max_auc_drop"), "{d}");
    assert_eq!(
        d["baseline_model_blake3"].as_str().unwrap(),
        cmp["baseline"]["model_blake3"].as_str().unwrap()
    );
    let gates = d["gates"].as_array().unwrap();
    assert!(gates.iter().any(|g| g["name"] == "require_ci_above" && g["passed"] == false));
}

#[test]
fn promote_refuses_a_comparison_made_for_another_model_and_fails_unmeasured_fairness() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_parquet(&root.join("data/features.parquet"), &synthetic(1200, -1.0, 34));
    invoke(root, "split", split_settings(), Value::Null, None);
    invoke(
        root,
        "train",
        json!({"input": "data/train.parquet", "model": "models/model.json"}),
        Value::Null,
        None,
    );
    invoke(root, "evaluate", eval_settings(), json!({"bootstrap": {"resamples": 50}}), None);
    invoke(root, "promote", promote_settings(), json!({"max_fairness_gap": 0.1}), None);
    let d = read_json(&root.join("reports/promotion.json"));
    assert_eq!(d["promote"], false);
    assert!(d["reason"].as_str().unwrap().contains("fairness_columns"), "{d}");
    // Retrain with other params without re-evaluating: the comparison is stale.
    invoke(
        root,
        "train",
        json!({"input": "data/train.parquet", "model": "models/model.json"}),
        json!({"l2": 5.0}),
        None,
    );
    let inv = Invocation {
        root: root.into(),
        stage: "promote".into(),
        settings: promote_settings(),
        params: Value::Null,
        baseline_model: None,
        baseline_training_data: None,
    };
    let e = run("promote", &inv).unwrap_err();
    assert!(e.message.contains("re-run evaluate"), "{}", e.message);
}

#[test]
fn score_reads_csv_with_blanks_and_extra_columns_and_writes_the_documented_columns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_parquet(&root.join("train.parquet"), &synthetic(1000, -1.0, 35));
    invoke(
        root,
        "train",
        json!({"input": "train.parquet", "model": "model.json"}),
        json!({"threshold": 0.5}),
        None,
    );
    let csv = "extra,customer_id,tenure_months,monthly_charges,support_calls,contract_type,region,churned\n\
               x,A1,12,70.5,2,month-to-month,north,Yes\n\
               y,A2, ,99.0,5,weekly,,No\n\
               z,A3,60,20.0,0,two-year,south,No\n";
    std::fs::write(root.join("in.csv"), csv).unwrap();
    let s = score(&root.join("model.json"), &root.join("in.csv"), &root.join("out.csv")).unwrap();
    assert_eq!(s.rows, 3);
    assert_eq!(s.high + s.medium + s.low, 3);
    let out = std::fs::read_to_string(root.join("out.csv")).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), "customer_id,churn_probability,churn_prediction,risk_tier");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["A1", "A2", "A3"]);
    for r in &rows {
        let p: f64 = r[1].parse().unwrap();
        assert_eq!(r[2], if p >= 0.5 { "1" } else { "0" });
        assert_eq!(
            r[3],
            if p >= 0.7 {
                "high"
            } else if p >= 0.4 {
                "medium"
            } else {
                "low"
            }
        );
    }
    // The rows scored are told as scoring goes, ending at all of them.
    let seen = std::sync::Mutex::new(Vec::new());
    let model = churnflow_stages::load_model(&root.join("model.json")).unwrap();
    let watch = |p: churnflow_stages::ProgressSnapshot| seen.lock().unwrap().push((p.done, p.total));
    let opts = churnflow_stages::ScoreOptions::default();
    churnflow_stages::score_watched(&model, &root.join("in.csv"), &root.join("w.csv"), &opts, &watch)
        .unwrap();
    assert_eq!(seen.lock().unwrap().last(), Some(&(3, 3)));
    // Parquet out and the same probabilities.
    score(&root.join("model.json"), &root.join("in.csv"), &root.join("out.parquet")).unwrap();
    let pq = read_parquet(&root.join("out.parquet"));
    assert_eq!(pq.get_column_names(), ["customer_id", "churn_probability", "churn_prediction", "risk_tier"]);

    // Missing columns: one error listing them all.
    std::fs::write(root.join("bad.csv"), "customer_id,tenure_months\nA1,3\n").unwrap();
    let e = score(&root.join("model.json"), &root.join("bad.csv"), &root.join("o.csv")).unwrap_err();
    for c in ["monthly_charges", "support_calls", "contract_type", "region"] {
        assert!(e.message.contains(c), "{}", e.message);
    }
    // A non-number in a numeric column names row and column.
    std::fs::write(
        root.join("bad2.csv"),
        "customer_id,tenure_months,monthly_charges,support_calls,contract_type,region\nA1,abc,1,1,one-year,north\n",
    )
    .unwrap();
    let e = score(&root.join("model.json"), &root.join("bad2.csv"), &root.join("o.csv")).unwrap_err();
    assert!(
        e.message.contains("row 1") && e.message.contains("tenure_months") && e.message.contains("abc"),
        "{}",
        e.message
    );
    let e = score(&root.join("model.json"), &root.join("in.csv"), &root.join("o.xlsx")).unwrap_err();
    assert!(e.message.contains(".parquet or .csv"), "{}", e.message);
}

#[test]
fn model_summary_for_models_show() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_parquet(&root.join("train.parquet"), &synthetic(800, -1.0, 36));
    invoke(
        root,
        "train",
        json!({"input": "train.parquet", "model": "model.json"}),
        json!({"algorithm": "random_forest", "n_trees": 5}),
        None,
    );
    let m = churnflow_stages::load_model(&root.join("model.json")).unwrap();
    let s = m.summary();
    assert_eq!(s.algorithm, "random_forest");
    assert_eq!(s.features, ["tenure_months", "monthly_charges", "support_calls", "contract_type", "region"]);
    assert_eq!(s.training_rows, 800);
    assert_eq!(s.top_features.len(), 5);
    assert_eq!(
        s.training_data_blake3,
        blake3::hash(&std::fs::read(root.join("train.parquet")).unwrap()).to_hex().to_string()
    );
}

#[test]
fn incomparable_and_identical_baselines_stop_promotion_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let df = synthetic(1200, -1.0, 37);
    write_parquet(&root.join("data/features.parquet"), &df);
    invoke(root, "split", split_settings(), Value::Null, None);
    // A "champion" trained with an extra column the test split does not have.
    let with_extra = df
        .clone()
        .with_column(polars::prelude::Column::new(
            "extra".into(),
            (0..1200).map(|i| (i % 7) as f64).collect::<Vec<_>>(),
        ))
        .unwrap()
        .clone();
    write_parquet(&root.join("old/features.parquet"), &with_extra);
    invoke(
        root,
        "train",
        json!({"input": "old/features.parquet", "model": "old/champion.json"}),
        Value::Null,
        None,
    );
    invoke(
        root,
        "train",
        json!({"input": "data/train.parquet", "model": "models/model.json"}),
        Value::Null,
        None,
    );
    let params = json!({"bootstrap": {"resamples": 50}});
    invoke(root, "evaluate", eval_settings(), params.clone(), Some(root.join("old/champion.json")));
    let cmp = read_json(&root.join("reports/comparison.json"));
    assert_eq!(cmp["status"], "incomparable");
    assert!(cmp["reason"].as_str().unwrap().contains("extra"), "{cmp}");
    invoke(root, "promote", promote_settings(), Value::Null, None);
    let d = read_json(&root.join("reports/promotion.json"));
    assert_eq!(d["promote"], false);
    assert!(d["reason"].as_str().unwrap().contains("baseline_comparable"), "{d}");
    invoke(root, "promote", promote_settings(), json!({"allow_incomparable_baseline": true}), None);
    assert_eq!(read_json(&root.join("reports/promotion.json"))["promote"], true);

    // The champion is this very model.
    invoke(root, "evaluate", eval_settings(), params, Some(root.join("models/model.json")));
    assert_eq!(read_json(&root.join("reports/comparison.json"))["status"], "same_model");
    invoke(root, "promote", promote_settings(), Value::Null, None);
    let d = read_json(&root.join("reports/promotion.json"));
    assert_eq!(d["promote"], false);
    assert!(d["reason"].as_str().unwrap().contains("already the champion"));
}
