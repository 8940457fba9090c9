//! Gradient boosting: real probabilities that rank better than one tree, early stopping on a
//! validation slice, class weights in the gradients, seeded row and column sampling, model
//! bytes independent of the thread count, TreeSHAP reasons in log-odds, bad params refused.

use crate::support::*;
use churnflow_stages::testing::metrics;
use churnflow_stages::testing::model::{load_model, Algorithm};
use churnflow_stages::testing::train::{train_frame, ClassWeight, TrainParams};
use churnflow_stages::{describe, ExplainScratch, Model, OutputSpace};
use polars::prelude::*;
use serde_json::{json, Map, Value};
use std::path::Path;

fn gbm() -> TrainParams {
    TrainParams { algorithm: Algorithm::GradientBoosting, ..TrainParams::default() }
}

fn fit(df: &DataFrame, p: &TrainParams) -> Model {
    train_frame(df, Path::new("train.parquet"), "h".into(), p).unwrap_or_else(|e| panic!("{}", e.message))
}

/// The model file as JSON (the estimator's fields are not part of the Rust API).
fn file(model: &Model) -> Value {
    serde_json::from_slice(&model.to_bytes().unwrap()).unwrap()
}

fn auc(model: &Model, test: &DataFrame) -> f64 {
    let p = model.predict_table(test, Path::new("test.parquet")).unwrap();
    metrics::auc_roc(&labels(test, "churned"), &p).unwrap()
}

/// Eight numeric inputs in [-1, 1] whose churn log-odds add smooth effects of six of them and
/// one interaction: learnable, but not by one tree of 64 leaves.
fn additive(n: usize, seed: u64) -> DataFrame {
    let mut rng = Rng(seed);
    let x: Vec<Vec<f64>> = (0..8).map(|_| (0..n).map(|_| 2.0 * rng.unit() - 1.0).collect()).collect();
    let churned: Vec<i32> = (0..n)
        .map(|i| {
            let logit = 2.0 * (3.0 * x[0][i]).sin() + 2.0 * x[1][i] * x[1][i] - 0.7 + 1.5 * x[2][i]
                - 1.5 * x[3][i]
                + 2.0 * x[4][i] * x[5][i]
                + x[6][i];
            i32::from(rng.unit() < 1.0 / (1.0 + (-logit).exp()))
        })
        .collect();
    let mut cols =
        vec![Column::new("customer_id".into(), (0..n).map(|i| format!("C{i}")).collect::<Vec<_>>())];
    for (j, values) in x.into_iter().enumerate() {
        cols.push(Column::new(format!("x{j}").into(), values));
    }
    cols.push(Column::new("churned".into(), churned));
    DataFrame::new(n, cols).unwrap()
}

/// The synthetic table with its labels replaced by coin flips: nothing to learn.
fn noise(n: usize, seed: u64) -> DataFrame {
    let mut rng = Rng(seed);
    let flips: Vec<i32> = (0..n).map(|_| i32::from(rng.unit() < 0.3)).collect();
    let mut df = synthetic(n, 0.0, seed);
    df.with_column(Column::new("churned".into(), flips)).unwrap();
    df
}

#[test]
fn probabilities_lie_strictly_between_0_and_1_and_rank_better_than_one_tree() {
    let df = additive(6000, 31);
    let (train, test) = (head(&df, 4000), tail_from(&df, 4000));
    let boosted = fit(&train, &gbm());
    let prob = boosted.predict_table(&test, Path::new("test.parquet")).unwrap();
    assert!(prob.iter().all(|&p| p > 0.0 && p < 1.0), "a probability outside (0, 1)");
    let mut distinct: Vec<u64> = prob.iter().map(|p| p.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 500, "only {} distinct probabilities", distinct.len());
    let tree = fit(&train, &TrainParams { algorithm: Algorithm::DecisionTree, ..TrainParams::default() });
    let (a_gbm, a_tree) = (auc(&boosted, &test), auc(&tree, &test));
    assert!(a_gbm > a_tree + 0.02, "boosting AUC {a_gbm:.4} vs one tree {a_tree:.4}");
    // The recorded params hold every default.
    let params = &file(&boosted)["lineage"]["params"];
    assert_eq!(params["learning_rate"], 0.1);
    assert_eq!(params["early_stopping_rounds"], 20);
    assert_eq!(params["max_leaves"], 31);
    assert_eq!(params["max_depth"], 12);
}

#[test]
fn early_stopping_stops_before_n_trees_on_noise_and_records_the_trees_it_kept() {
    let df = noise(3000, 5);
    let p = TrainParams {
        n_trees: 300,
        early_stopping_rounds: Some(Some(10)),
        learning_rate: Some(0.3),
        ..gbm()
    };
    let est = file(&fit(&df, &p))["estimator"].clone();
    let kept = est["trees"].as_array().unwrap().len();
    assert!(kept < 300, "kept {kept} trees on pure noise");
    assert_eq!(est["rounds"], kept + 10, "stopped 10 rounds after the best one");
    assert!(est["validation_log_loss"].as_f64().unwrap() > 0.0);

    // 0 and null both turn it off: every round runs, on every row.
    for off in [json!(0), Value::Null] {
        let p: TrainParams = serde_json::from_value(json!({
            "algorithm": "gradient_boosting", "n_trees": 40, "early_stopping_rounds": off
        }))
        .unwrap();
        let model = fit(&df, &p);
        let est = file(&model)["estimator"].clone();
        assert_eq!(est["trees"].as_array().unwrap().len(), 40, "{off}");
        assert_eq!(est["rounds"], 40);
        assert_eq!(est["validation_log_loss"], Value::Null);
        assert_eq!(file(&model)["lineage"]["params"]["early_stopping_rounds"], 0);
    }
}

#[test]
fn class_weights_enter_the_gradients_and_hessians() {
    let df = synthetic(3000, -2.5, 16);
    let (train, test) = (head(&df, 2000), tail_from(&df, 2000));
    let y = labels(&test, "churned");
    let fitted = |cw| {
        let m = fit(&train, &TrainParams { class_weight: cw, ..gbm() });
        let prob = m.predict_table(&test, Path::new("t")).unwrap();
        (m, prob)
    };
    let ((balanced, pb), (none, pn)) = (fitted(ClassWeight::Balanced), fitted(ClassWeight::None));
    assert!(balanced.to_bytes().unwrap() != none.to_bytes().unwrap());
    let mean = |p: &[f64]| p.iter().sum::<f64>() / p.len() as f64;
    assert!(mean(&pb) > mean(&pn) + 0.1, "balanced {} vs none {}", mean(&pb), mean(&pn));
    let recall = |p: &[f64]| metrics::Confusion::at(&y, p, 0.5).recall();
    assert!(recall(&pb) > recall(&pn) + 0.1, "recall {} vs {}", recall(&pb), recall(&pn));
    // A map gives each label its own weight.
    let mapped: TrainParams = serde_json::from_value(
        json!({"algorithm": "gradient_boosting", "class_weight": {"0": 1.0, "1": 3.0}}),
    )
    .unwrap();
    assert_eq!(mapped.class_weight, ClassWeight::Weights([1.0, 3.0]));
    let m = fit(&train, &mapped);
    assert_eq!(file(&m)["class_weights"], json!([1.0, 3.0]));
    assert_eq!(file(&m)["lineage"]["params"]["class_weight"], json!({"0": 1.0, "1": 3.0}));
    let pm = m.predict_table(&test, Path::new("t")).unwrap();
    assert!(mean(&pm) > mean(&pn) + 0.05, "weights 1:3 {} vs none {}", mean(&pm), mean(&pn));
    // Unweighted, the base score is the log-odds of the training churn rate.
    let rate = labels(&train, "churned").iter().filter(|&&l| l == 1).count() as f64;
    let base = file(&none)["estimator"]["base_score"].as_f64().unwrap();
    // (early stopping trains on 90 % of the rows, so the rate is close, not equal)
    assert!((base - (rate / (2000.0 - rate)).ln()).abs() < 0.1, "base score {base}");
}

#[test]
fn row_and_column_subsampling_follow_the_seed() {
    let df = synthetic(2500, -1.0, 9);
    let sampled = TrainParams { subsample: Some(0.7), colsample: Some(0.6), n_trees: 25, ..gbm() };
    // The fitted ensemble (the lineage records the seed, so whole files always differ).
    let trees = |p: &TrainParams| file(&fit(&df, p))["estimator"].clone();
    let a = trees(&sampled);
    assert!(a == trees(&sampled), "same seed, same model");
    assert!(a != trees(&TrainParams { seed: 7, ..sampled.clone() }), "the seed is used");
    // Without early stopping the seed only draws the rows and inputs.
    let off = TrainParams { early_stopping_rounds: Some(Some(0)), ..sampled.clone() };
    assert!(trees(&off) != trees(&TrainParams { seed: 7, ..off.clone() }));
    let whole = TrainParams { subsample: None, colsample: None, ..off.clone() };
    assert!(trees(&whole) == trees(&TrainParams { seed: 7, ..whole.clone() }), "nothing left to draw");
    assert!(trees(&whole) != trees(&off), "sampling changes the fit");
}

#[test]
fn model_bytes_do_not_depend_on_the_thread_count() {
    let df = synthetic(6000, -1.0, 8);
    let p = TrainParams { subsample: Some(0.8), colsample: Some(0.8), n_trees: 40, ..gbm() };
    let fit_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| fit(&df, &p).to_bytes().unwrap())
    };
    let one = fit_on(1);
    assert!(one == fit_on(3), "1 and 3 threads give different model files");
    assert!(one == fit_on(2), "1 and 2 threads give different model files");
}

/// Row `i` of the table as the JSON object a client would send.
fn row(df: &DataFrame, i: usize) -> Map<String, Value> {
    df.columns()
        .iter()
        .map(|c| {
            let v = match c.get(i).unwrap() {
                AnyValue::Null => Value::Null,
                AnyValue::String(s) => json!(s),
                AnyValue::StringOwned(s) => json!(s.as_str()),
                AnyValue::Float64(x) => json!(x),
                AnyValue::Int64(x) => json!(x),
                AnyValue::Int32(x) => json!(x),
                other => panic!("unexpected {other:?}"),
            };
            (c.name().to_string(), v)
        })
        .collect()
}

#[test]
fn tree_shap_reasons_of_a_boosted_model_add_up_to_its_log_odds() {
    let df = synthetic(2000, -0.5, 21);
    let model = fit(&df, &TrainParams { n_trees: 60, max_leaves: Some(15), ..gbm() });
    model.prepare_explanations().unwrap();
    let base_score = file(&model)["estimator"]["base_score"].as_f64().unwrap();
    let mut scratch = ExplainScratch::default();
    let mut moved = 0;
    for i in (0..df.height()).step_by(13) {
        let customer = model.customer(&row(&df, i)).unwrap();
        let p = model.probability(&customer);
        let e = model.explain(&customer, &mut scratch).unwrap();
        assert_eq!(e.space, OutputSpace::LogOdds);
        let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
        assert!(
            (e.base_value + sum - e.output).abs() < 1e-9,
            "row {i}: {} + {sum} vs {}",
            e.base_value,
            e.output
        );
        assert!(
            (e.output - (p / (1.0 - p)).ln()).abs() < 1e-9,
            "the output is the log-odds of the probability"
        );
        // The base value is the expected margin over the training rows, not the base score.
        assert!(e.base_value != base_score);
        moved += usize::from(e.contributions.iter().any(|c| c.contribution.abs() > 1e-3));
    }
    assert!(moved > 100, "contributions are (almost) all zero");
}

#[test]
fn margins_load_but_damaged_boosted_files_are_refused() {
    let df = synthetic(1500, -1.0, 12);
    let model = fit(&df, &TrainParams { n_trees: 10, ..gbm() });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let mut value = file(&model);
    let leaves: Vec<f64> = value["estimator"]["trees"][0]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(leaves.iter().any(|&v| v < 0.0), "leaf values are log-odds margins, some negative");
    assert_eq!(load_model(&path).unwrap(), model, "margins outside [0, 1] load");

    value["estimator"]["trees"][0]["value"][0] = json!("NaN");
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    assert!(load_model(&path).unwrap_err().message.contains("damaged"));
    let text = String::from_utf8(model.to_bytes().unwrap()).unwrap();
    let huge = text.replacen("\"base_score\":", "\"base_score\":1e999,\"x\":", 1);
    std::fs::write(&path, huge).unwrap();
    assert!(load_model(&path).is_err(), "a non-finite base score is refused");
    let mut value = file(&model);
    value["estimator"]["trees"] = json!([]);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    assert!(load_model(&path).unwrap_err().message.contains("no trees"));

    // A forest keeps the probability check.
    let forest =
        fit(&df, &TrainParams { algorithm: Algorithm::RandomForest, n_trees: 3, ..TrainParams::default() });
    let mut value = file(&forest);
    value["estimator"]["trees"][0]["value"][0] = json!(1.5);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let e = load_model(&path).unwrap_err();
    assert!(e.message.contains("outside [0, 1]"), "{}", e.message);
}

#[test]
fn bad_boosting_params_are_errors_that_name_the_key_not_panics() {
    let settings = json!({"input": "a", "model": "b"});
    for (key, bad, says) in [
        ("learning_rate", json!(0), "must be in (0, 1]"),
        ("learning_rate", json!("fast"), "expected a number"),
        ("subsample", json!(1.5), "must be in (0, 1]"),
        ("colsample", json!(0.0), "must be in (0, 1]"),
        ("validation_fraction", json!(1.0), "must be in (0, 1)"),
        ("max_leaves", json!(1), "between 2 and 4096"),
        ("max_leaves", json!(-3), "train.max_leaves"),
        ("min_child_weight", json!(0), "must be a number > 0"),
        ("early_stopping_rounds", json!(-1), "train.early_stopping_rounds"),
        ("early_stopping_rounds", json!("soon"), "train.early_stopping_rounds"),
        ("class_weight", json!({"0": 1.0}), "both labels"),
        ("class_weight", json!({"0": 1.0, "1": -2.0}), "numbers > 0"),
        ("class_weight", json!({"0": 1.0, "2": 2.0}), "not '2'"),
        ("class_weight", json!("heavy"), "'heavy' is not"),
    ] {
        let mut params = json!({"algorithm": "gradient_boosting"});
        params[key] = bad.clone();
        let e = describe("train", &settings, &params).unwrap_err();
        assert!(e.message.contains(says), "{key} = {bad}: {}", e.message);
        assert_eq!(e.params_key.as_deref(), Some(format!("train.{key}").as_str()), "{key} = {bad}");
    }
    let e = describe("train", &settings, &json!({"algorithm": "gradient_boosting", "num_leaves": 31}))
        .unwrap_err();
    assert!(e.message.contains("num_leaves"), "{}", e.message);
    assert!(describe(
        "train",
        &settings,
        &json!({"algorithm": "gradient_boosting", "early_stopping_rounds": null})
    )
    .is_ok());

    // One label class, and a table too small to split: a clear error, and a model.
    let df = synthetic(300, -1.0, 14);
    let one_class = df.clone().with_column(Column::new("churned".into(), vec![1i32; 300])).unwrap().clone();
    let e = train_frame(&one_class, Path::new("data/train.parquet"), "h".into(), &gbm()).unwrap_err();
    assert!(e.message.contains("data/train.parquet") && e.message.contains("both"), "{}", e.message);
    let alternating: Vec<i32> = (0..12).map(|i| i % 2).collect();
    let tiny = head(&synthetic(40, 0.0, 3), 12)
        .with_column(Column::new("churned".into(), alternating))
        .unwrap()
        .clone();
    let model = fit(&tiny, &gbm());
    let p = model.predict_table(&tiny, Path::new("t")).unwrap();
    assert!(p.iter().all(|&x| x > 0.0 && x < 1.0));
}
