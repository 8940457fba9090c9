//! Training: probability orientation, non-degenerate tree probabilities, determinism,
//! save/load, unseen categories, bad training data, model format versions.

use crate::support::*;
use churnflow_stages::testing::metrics;
use churnflow_stages::testing::model::{load_model, Algorithm};
use churnflow_stages::testing::train::{train_frame, ClassWeight, TrainParams};
use polars::prelude::*;
use std::path::Path;

const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::LogisticRegression,
    Algorithm::DecisionTree,
    Algorithm::RandomForest,
    Algorithm::GradientBoosting,
];

fn params(algorithm: Algorithm) -> TrainParams {
    TrainParams { algorithm, n_trees: 30, min_samples_leaf: 10, ..TrainParams::default() }
}

fn fit_and_auc(df: &DataFrame, algorithm: Algorithm, class_weight: ClassWeight) -> (f64, Vec<f64>) {
    let (train, test) = (head(df, 1500), tail_from(df, 1500));
    let p = TrainParams { class_weight, ..params(algorithm) };
    let model = train_frame(&train, Path::new("train.parquet"), "h".into(), &p).unwrap();
    let prob = model.predict_table(&test, Path::new("test.parquet")).unwrap();
    (metrics::auc_roc(&labels(&test, "churned"), &prob).unwrap(), prob)
}

#[test]
fn probabilities_are_p_churn_when_churners_are_the_minority_and_the_majority() {
    // linfa-logistic 0.8.1 returns P(more frequent label): with churners a minority that is
    // P(stay) and the AUC falls below 0.5. Ours must be P(churned = 1) either way.
    for (bias, what) in [(-2.5, "minority"), (2.5, "majority")] {
        let df = synthetic(2500, bias, 17);
        let rate = labels(&df, "churned").iter().filter(|&&l| l == 1).count() as f64 / 2500.0;
        assert!(if what == "minority" { rate < 0.3 } else { rate > 0.7 }, "rate {rate}");
        for algorithm in ALGORITHMS {
            for cw in [ClassWeight::Balanced, ClassWeight::None] {
                let (auc, _) = fit_and_auc(&df, algorithm, cw);
                assert!(auc > 0.7, "{algorithm:?} {cw:?} churners {what}: AUC {auc}");
            }
        }
    }
}

#[test]
fn linfa_logistic_probability_orientation_pitfall_and_agreement_with_our_solver() {
    use linfa::prelude::*;
    use ndarray::{Array1, Array2};
    // Numeric inputs only, no class weights, l2 = 1: our objective equals linfa's.
    let mut rng = Rng(21);
    let n = 800;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (a, b) = (rng.normal(), rng.normal());
        let p = 1.0 / (1.0 + (-(-2.0 + 1.5 * a - 0.8 * b)).exp());
        x.push([a, b]);
        y.push(u8::from(rng.unit() < p));
    }
    let df = DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>()),
            Column::new("a".into(), x.iter().map(|r| r[0]).collect::<Vec<_>>()),
            Column::new("b".into(), x.iter().map(|r| r[1]).collect::<Vec<_>>()),
            Column::new("churned".into(), y.iter().map(|&v| i32::from(v)).collect::<Vec<_>>()),
        ],
    )
    .unwrap();
    let p = TrainParams { class_weight: ClassWeight::None, l2: 1.0, ..TrainParams::default() };
    let ours = train_frame(&df, Path::new("t.parquet"), "h".into(), &p).unwrap();
    let our_p = ours.predict_table(&df, Path::new("t.parquet")).unwrap();
    // Standardise exactly as the model does (population std) and build ndarray 0.16 arrays
    // from Vecs (polars' to_ndarray gives ndarray 0.17, linfa 0.8.1 takes ndarray 0.16).
    let mut flat = Vec::with_capacity(2 * n);
    let cols: Vec<Vec<f64>> = (0..2).map(|j| x.iter().map(|r| r[j]).collect()).collect();
    let stats: Vec<(f64, f64)> = cols
        .iter()
        .map(|c| {
            let m = c.iter().sum::<f64>() / n as f64;
            (m, (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt())
        })
        .collect();
    for r in &x {
        for j in 0..2 {
            flat.push((r[j] - stats[j].0) / stats[j].1);
        }
    }
    let xa = Array2::from_shape_vec((n, 2), flat).unwrap();
    let ya: Array1<usize> = y.iter().map(|&v| v as usize).collect();
    let fitted = linfa_logistic::LogisticRegression::default()
        .alpha(1.0)
        .gradient_tolerance(1e-10)
        .max_iterations(2000)
        .fit(&Dataset::new(xa.clone(), ya))
        .unwrap();
    let raw = fitted.predict_probabilities(&xa).to_vec();
    let positives = y.iter().filter(|&&v| v == 1).count();
    assert!(positives < n / 2, "churners must be the minority for this test");
    // The pitfall: linfa's probabilities are for the majority label (0 here).
    assert_eq!(fitted.labels().pos.class, 0);
    assert!(metrics::auc_roc(&y, &raw).unwrap() < 0.5);
    // Oriented by labels().pos, linfa and our Newton solver agree.
    let oriented: Vec<f64> = raw.iter().map(|q| 1.0 - q).collect();
    let max_diff = oriented.iter().zip(&our_p).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(max_diff < 1e-4, "our solver and linfa-logistic disagree by {max_diff}");
}

#[test]
fn trees_and_forests_give_many_distinct_probabilities_not_hard_labels() {
    let df = synthetic(2500, -1.0, 4);
    for algorithm in [Algorithm::DecisionTree, Algorithm::RandomForest] {
        let (_, prob) = fit_and_auc(&df, algorithm, ClassWeight::Balanced);
        let mut distinct: Vec<u64> = prob.iter().map(|p| p.to_bits()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() >= 10, "{algorithm:?}: only {} distinct probabilities", distinct.len());
        assert!(prob.iter().all(|p| (0.0..=1.0).contains(p)));
    }
}

#[test]
fn forest_and_logistic_model_bytes_do_not_depend_on_the_thread_count() {
    let df = synthetic(2000, -1.0, 8);
    for algorithm in [Algorithm::RandomForest, Algorithm::LogisticRegression] {
        let p = params(algorithm);
        let fit = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                train_frame(&df, Path::new("t.parquet"), "h".into(), &p).unwrap().to_bytes().unwrap()
            })
        };
        assert!(fit(1) == fit(2), "{algorithm:?} differs between 1 and 2 threads");
    }
    // A different seed gives a different forest (the seed is really used).
    let a = train_frame(&df, Path::new("t"), "h".into(), &params(Algorithm::RandomForest)).unwrap();
    let b = train_frame(
        &df,
        Path::new("t"),
        "h".into(),
        &TrainParams { seed: 7, ..params(Algorithm::RandomForest) },
    )
    .unwrap();
    assert_ne!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
}

#[test]
fn saved_and_loaded_models_predict_identically() {
    let df = synthetic(1500, -1.0, 12);
    let dir = tempfile::tempdir().unwrap();
    for algorithm in ALGORITHMS {
        let model = train_frame(&df, Path::new("t"), "h".into(), &params(algorithm)).unwrap();
        let path = dir.path().join(format!("{}.json", algorithm.name()));
        model.save(&path).unwrap();
        let loaded = load_model(&path).unwrap();
        assert_eq!(loaded, model);
        let a = model.predict_table(&df, Path::new("t")).unwrap();
        let b = loaded.predict_table(&df, Path::new("t")).unwrap();
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{algorithm:?}");
        // A rerun gives byte-identical files (no timestamps, deterministic fits).
        let again = train_frame(&df, Path::new("t"), "h".into(), &params(algorithm)).unwrap();
        assert_eq!(again.to_bytes().unwrap(), std::fs::read(&path).unwrap());
    }
}

#[test]
fn unseen_and_missing_categories_score_as_all_zero_one_hot() {
    let df = synthetic(1500, -1.0, 13);
    for algorithm in ALGORITHMS {
        let model = train_frame(&df, Path::new("t"), "h".into(), &params(algorithm)).unwrap();
        let row = |contract: Option<&str>| {
            DataFrame::new(
                1,
                vec![
                    Column::new("customer_id".into(), ["x"]),
                    Column::new("tenure_months".into(), [Some(10.0)]),
                    Column::new("monthly_charges".into(), [80.0]),
                    Column::new("support_calls".into(), [3i64]),
                    Column::new("contract_type".into(), [contract]),
                    Column::new("region".into(), ["mars"]),
                ],
            )
            .unwrap()
        };
        let unseen = model.predict_table(&row(Some("weekly")), Path::new("s")).unwrap();
        let missing = model.predict_table(&row(None), Path::new("s")).unwrap();
        assert_eq!(unseen, missing, "{algorithm:?}: unseen category must encode like a missing one");
        assert!(unseen[0] > 0.0 && unseen[0] < 1.0 || algorithm != Algorithm::LogisticRegression);
    }
}

#[test]
fn single_class_constant_and_empty_columns_are_clear_errors() {
    let df = synthetic(300, -1.0, 14);
    let p = TrainParams::default();
    let one_class = df.clone().with_column(Column::new("churned".into(), vec![0i32; 300])).unwrap().clone();
    let e = train_frame(&one_class, Path::new("data/train.parquet"), "h".into(), &p).unwrap_err();
    assert!(e.message.contains("data/train.parquet") && e.message.contains("both"), "{}", e.message);

    let constant = df.clone().with_column(Column::new("plan".into(), vec!["basic"; 300])).unwrap().clone();
    let e = train_frame(&constant, Path::new("train.parquet"), "h".into(), &p).unwrap_err();
    assert!(
        e.message.contains("'plan'")
            && e.message.contains("constant")
            && e.message.contains("exclude_columns"),
        "{}",
        e.message
    );
    // The suggested fix works.
    let fixed = TrainParams { exclude_columns: vec!["plan".into()], ..TrainParams::default() };
    train_frame(&constant, Path::new("train.parquet"), "h".into(), &fixed).unwrap();

    let empty = df.clone().with_column(Column::new("score".into(), vec![None::<f64>; 300])).unwrap().clone();
    let e = train_frame(&empty, Path::new("train.parquet"), "h".into(), &p).unwrap_err();
    assert!(e.message.contains("'score'") && e.message.contains("no values"), "{}", e.message);

    let bad_label = df.clone().with_column(Column::new("churned".into(), vec![2i32; 300])).unwrap().clone();
    let e = train_frame(&bad_label, Path::new("train.parquet"), "h".into(), &p).unwrap_err();
    assert!(e.message.contains("row 1") && e.message.contains("not 0 or 1"), "{}", e.message);
}

#[test]
fn model_files_from_a_newer_format_version_or_damaged_are_refused() {
    let df = synthetic(400, -1.0, 15);
    let model = train_frame(&df, Path::new("t"), "h".into(), &TrainParams::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    let mut value: serde_json::Value = serde_json::from_slice(&model.to_bytes().unwrap()).unwrap();
    value["format_version"] = serde_json::json!(99);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let e = load_model(&path).unwrap_err();
    assert!(
        e.message.contains("format_version 99") && e.message.contains("upgrade churnflow"),
        "{}",
        e.message
    );

    value["format_version"] = serde_json::json!(1);
    value["estimator"]["coefficients"] = serde_json::json!([1.0]);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    assert!(load_model(&path).unwrap_err().message.contains("damaged"));

    std::fs::write(&path, b"{\"hello\": 1}").unwrap();
    assert!(load_model(&path).unwrap_err().message.contains("not a churnflow model"));
}

#[test]
fn class_weighting_raises_recall_at_one_half() {
    let df = synthetic(3000, -2.5, 16);
    let (train, test) = (head(&df, 2000), tail_from(&df, 2000));
    let y = labels(&test, "churned");
    let recall = |cw| {
        let p = TrainParams { class_weight: cw, ..TrainParams::default() };
        let m = train_frame(&train, Path::new("t"), "h".into(), &p).unwrap();
        let prob = m.predict_table(&test, Path::new("t")).unwrap();
        metrics::Confusion::at(&y, &prob, 0.5).recall()
    };
    assert!(recall(ClassWeight::Balanced) > recall(ClassWeight::None) + 0.1);
}
