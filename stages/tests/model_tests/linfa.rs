//! linfa's traits over churnflow's estimators (`churnflow_stages::estimators`): a linfa
//! `Dataset` → `fit` → `predict` gives what `train` gives on the same rows, for every algorithm;
//! any `Fit` whose model predicts probabilities goes through one generic function; sample
//! weights enter the fit; bad datasets are errors. And `learner: linfa`: linfa-trees' tree
//! converted into ours — training rows land in the leaves linfa's `predict` sends them to, the
//! probabilities are honest, the conversion is the same whichever tree linfa's random
//! tie-breaking returned, f32 weight sums that panic linfa-trees are avoided, and a split value
//! that rounds onto a training value is routed as `predict` routes it.

use crate::support::*;
use churnflow_stages::estimators::{
    ChurnModel, ClassWeight, DecisionTreeParams, GradientBoostingParams, Learner, LogisticRegressionParams,
    RandomForestParams, TrainParams,
};
use churnflow_stages::testing::linfa_tree as lt;
use churnflow_stages::testing::metrics;
use churnflow_stages::testing::train::train_frame;
use linfa::prelude::*;
use linfa::{Dataset, DatasetBase};
use ndarray::{Array1, Array2};
use polars::prelude::*;
use std::path::Path;

/// A numeric churn matrix: tenure (NaN every 17th row), monthly charges, support calls (0–5),
/// two 0/1 contract columns; labels drawn from a logistic model.
fn churn_matrix(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = Rng(seed);
    let mut x = Array2::zeros((n, 5));
    let mut y = Vec::with_capacity(n);
    for r in 0..n {
        let tenure = (rng.unit() * 72.0).floor();
        let monthly = 20.0 + (rng.unit() * 9000.0).round() / 100.0;
        let calls = (rng.unit() * 6.0).floor();
        let contract = rng.next_u64() % 3;
        let logit = -1.0 - 0.05 * (tenure - 36.0)
            + 0.02 * (monthly - 65.0)
            + 0.35 * (calls - 2.5)
            + if contract == 0 {
                1.5
            } else if contract == 2 {
                -1.0
            } else {
                0.0
            }
            + 0.5 * rng.normal();
        x[[r, 0]] = if r % 17 == 3 { f64::NAN } else { tenure };
        x[[r, 1]] = monthly;
        x[[r, 2]] = calls;
        x[[r, 3]] = f64::from(u8::from(contract == 0));
        x[[r, 4]] = f64::from(u8::from(contract == 2));
        y.push(rng.unit() < 1.0 / (1.0 + (-logit).exp()));
    }
    (x, y)
}

/// The same rows as a table for `train`: ids "0", "1", …, columns x0…, `churned`.
fn frame(x: &Array2<f64>, y: &[bool]) -> DataFrame {
    let n = x.nrows();
    let mut columns =
        vec![Column::new("customer_id".into(), (0..n).map(|r| r.to_string()).collect::<Vec<_>>())];
    for j in 0..x.ncols() {
        let values: Vec<Option<f64>> = x.column(j).iter().map(|&v| (!v.is_nan()).then_some(v)).collect();
        columns.push(Column::new(format!("x{j}").into(), values));
    }
    columns.push(Column::new("churned".into(), y.iter().map(|&l| i32::from(l)).collect::<Vec<_>>()));
    DataFrame::new(n, columns).unwrap()
}

fn as_u8(y: &[bool]) -> Vec<u8> {
    y.iter().map(|&l| u8::from(l)).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max)
}

fn distinct(values: &[f64]) -> usize {
    let mut bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    bits.sort_unstable();
    bits.dedup();
    bits.len()
}

/// What `train` predicts for its own training table with `params`.
fn trained(df: &DataFrame, params: &TrainParams) -> Vec<f64> {
    let model = train_frame(df, Path::new("t.parquet"), "h".into(), params).unwrap();
    model.predict_table(df, Path::new("t.parquet")).unwrap()
}

/// AUC on `test` of any linfa `Fit` whose fitted model predicts probabilities.
fn auc_of<M>(
    params: M,
    train: &DatasetBase<Array2<f64>, Array1<bool>>,
    test: &Array2<f64>,
    test_y: &[bool],
) -> f64
where
    M: Fit<Array2<f64>, Array1<bool>, linfa::Error>,
    M::Object: PredictInplace<Array2<f64>, Array1<f64>>,
{
    let model = params.fit(train).unwrap();
    let p: Array1<f64> = model.predict(test);
    metrics::auc_roc(&as_u8(test_y), p.as_slice().unwrap()).unwrap()
}

#[test]
fn every_estimator_fitted_through_linfa_predicts_what_train_gives_on_the_same_rows() {
    let (x, y) = churn_matrix(1500, 3);
    let dataset = Dataset::new(x.clone(), Array1::from(y.clone()));
    let df = frame(&x, &y);
    let compare = |name: &str, model: ChurnModel, params: TrainParams| {
        let ours: Array1<f64> = model.predict(&x);
        let expected = trained(&df, &params);
        let d = max_diff(ours.as_slice().unwrap(), &expected);
        assert!(d <= 1e-12, "{name}: linfa fit and train differ by {d}");
        assert!(distinct(&expected) > 2, "{name}: {} distinct probabilities", distinct(&expected));
        assert_eq!(model.input_names(), ["x0", "x1", "x2", "x3", "x4"]);
        assert!((model.feature_importance().iter().sum::<f64>() - 1.0).abs() < 1e-9, "{name}");
    };
    let lr = LogisticRegressionParams::new().l2(0.5);
    compare("logistic", lr.fit(&dataset).unwrap(), lr.check().unwrap().train_params());
    let tree = DecisionTreeParams::new().max_depth(5).min_samples_leaf(10);
    compare("tree", tree.fit(&dataset).unwrap(), tree.check().unwrap().train_params());
    let linfa_tree = DecisionTreeParams::new().learner(Learner::Linfa).min_samples_leaf(10);
    compare("linfa tree", linfa_tree.fit(&dataset).unwrap(), linfa_tree.check().unwrap().train_params());
    let forest = RandomForestParams::new().n_trees(15).max_depth(6).seed(9);
    compare("forest", forest.fit(&dataset).unwrap(), forest.check().unwrap().train_params());
    // Early stopping on: the validation slice comes from the ids "0", "1", … on both sides.
    let gbm = GradientBoostingParams::new().n_trees(60).learning_rate(0.2).max_leaves(8);
    compare("boosting", gbm.fit(&dataset).unwrap(), gbm.check().unwrap().train_params());
    let unweighted = GradientBoostingParams::new().n_trees(20).class_weight(ClassWeight::None);
    compare(
        "boosting, no class weights",
        unweighted.fit(&dataset).unwrap(),
        unweighted.check().unwrap().train_params(),
    );

    // usize labels 0/1 are the same labels.
    let usize_labels: Array1<usize> = y.iter().map(|&l| usize::from(l)).collect();
    let as_usize =
        LogisticRegressionParams::new().l2(0.5).fit(&Dataset::new(x.clone(), usize_labels)).unwrap();
    let p: Array1<f64> = as_usize.predict(&x);
    assert_eq!(
        p.as_slice().unwrap(),
        trained(&df, &LogisticRegressionParams::new().l2(0.5).check().unwrap().train_params())
    );
}

#[test]
fn any_linfa_fit_that_predicts_probabilities_goes_through_one_generic_function() {
    let (x, y) = churn_matrix(4000, 11);
    let (train_x, test_x) =
        (x.slice(ndarray::s![..3000, ..]).to_owned(), x.slice(ndarray::s![3000.., ..]).to_owned());
    let train = Dataset::new(train_x, Array1::from(y[..3000].to_vec()));
    let test_y = &y[3000..];
    let aucs = [
        ("logistic", auc_of(LogisticRegressionParams::new(), &train, &test_x, test_y)),
        ("tree", auc_of(DecisionTreeParams::new(), &train, &test_x, test_y)),
        ("linfa tree", auc_of(DecisionTreeParams::new().learner(Learner::Linfa), &train, &test_x, test_y)),
        ("forest", auc_of(RandomForestParams::new().n_trees(30), &train, &test_x, test_y)),
        ("boosting", auc_of(GradientBoostingParams::new(), &train, &test_x, test_y)),
        // The checked parameters fit too (linfa's ParamGuard pattern).
        (
            "logistic, checked",
            auc_of(LogisticRegressionParams::new().check().unwrap(), &train, &test_x, test_y),
        ),
    ];
    for (name, auc) in aucs {
        assert!(auc > 0.75, "{name}: test AUC {auc}");
    }
}

#[test]
fn sample_weights_of_the_dataset_enter_the_fit() {
    let (x, y) = churn_matrix(1200, 5);
    let labels = Array1::from(y.clone());
    let plain = Dataset::new(x.clone(), labels.clone());
    let ones = Dataset::new(x.clone(), labels.clone()).with_weights(Array1::from_elem(x.nrows(), 1.0f32));
    let mut rng = Rng(2);
    let counts: Vec<u32> = (0..x.nrows()).map(|_| 1 + (rng.next_u64() % 3) as u32).collect();
    let varied =
        Dataset::new(x.clone(), labels.clone()).with_weights(counts.iter().map(|&c| c as f32).collect());
    let predict = |model: ChurnModel| -> Vec<f64> { model.predict(&x).to_vec() };

    // Weight 1 everywhere is no weight; other weights change every estimator's fit.
    let lr = LogisticRegressionParams::new();
    let tree = DecisionTreeParams::new().min_samples_leaf(5);
    let forest = RandomForestParams::new().n_trees(10);
    let gbm = GradientBoostingParams::new().n_trees(30);
    macro_rules! weigh {
        ($params:expr, $name:expr) => {{
            let base = predict($params.fit(&plain).unwrap());
            assert_eq!(base, predict($params.fit(&ones).unwrap()), "{}: weights of 1 changed the fit", $name);
            let d = max_diff(&base, &predict($params.fit(&varied).unwrap()));
            assert!(d > 1e-6, "{}: the sample weights did not change the fit", $name);
        }};
    }
    weigh!(lr, "logistic");
    weigh!(tree, "tree");
    weigh!(forest, "forest");
    weigh!(gbm, "boosting");

    // An integer weight is that many copies of the row (logistic regression without penalty or
    // class weights; a matrix without missing values, as the median ignores weights).
    let dense = x.mapv(|v| if v.is_nan() { 30.0 } else { v });
    let mut copies = Vec::new();
    let mut copied_y = Vec::new();
    for (r, &c) in counts.iter().enumerate() {
        for _ in 0..c {
            copies.extend(dense.row(r).iter().copied());
            copied_y.push(y[r]);
        }
    }
    let copied = Array2::from_shape_vec((copied_y.len(), dense.ncols()), copies).unwrap();
    let unpenalised = LogisticRegressionParams::new().l2(0.0).class_weight(ClassWeight::None);
    let weighted = unpenalised
        .fit(
            &Dataset::new(dense.clone(), labels.clone())
                .with_weights(counts.iter().map(|&c| c as f32).collect()),
        )
        .unwrap();
    let repeated = unpenalised.fit(&Dataset::new(copied, Array1::from(copied_y))).unwrap();
    let d = max_diff(&weighted.predict(&dense).to_vec(), &repeated.predict(&dense).to_vec());
    assert!(d < 1e-7, "weights vs copied rows differ by {d}");

    // The linfa learner takes class weights only.
    let err = DecisionTreeParams::new().learner(Learner::Linfa).fit(&varied).unwrap_err();
    assert!(err.to_string().contains("sample weights"), "{err}");
}

#[test]
fn bad_datasets_and_params_are_errors_not_panics() {
    let (x, y) = churn_matrix(300, 8);
    let labels = Array1::from(y.clone());
    let message = |r: Result<ChurnModel, linfa::Error>| r.unwrap_err().to_string();

    let twos: Array1<usize> = y.iter().map(|&l| if l { 2 } else { 0 }).collect();
    assert!(message(LogisticRegressionParams::new().fit(&Dataset::new(x.clone(), twos))).contains("0 and 1"));
    let all_churn = Array1::from_elem(x.nrows(), true);
    assert!(
        message(DecisionTreeParams::new().fit(&Dataset::new(x.clone(), all_churn))).contains("both classes")
    );
    let mut constant = x.clone();
    constant.column_mut(2).fill(4.0);
    assert!(message(RandomForestParams::new().fit(&Dataset::new(constant, labels.clone())))
        .contains("x2 is constant"));
    let mut infinite = x.clone();
    infinite[[7, 1]] = f64::INFINITY;
    assert!(
        message(GradientBoostingParams::new().fit(&Dataset::new(infinite, labels.clone()))).contains("row 7")
    );
    let short = Dataset::new(x.clone(), labels.clone()).with_weights(Array1::from_elem(10, 1.0f32));
    assert!(matches!(
        LogisticRegressionParams::new().fit(&short),
        Err(linfa::Error::MismatchedShapes(300, 10))
    ));
    let negative = Dataset::new(x.clone(), labels.clone()).with_weights(Array1::from_elem(300, -1.0f32));
    assert!(message(LogisticRegressionParams::new().fit(&negative)).contains("weight"));
    // Params are checked by the `train` rules.
    let bad = LogisticRegressionParams::new().l2(-1.0).fit(&Dataset::new(x.clone(), labels.clone()));
    assert!(message(bad).contains("train.l2"));
    let bad_depth = DecisionTreeParams::new().max_depth(0).check();
    assert!(matches!(bad_depth, Err(linfa::Error::Parameters(m)) if m.contains("max_depth")));

    let model = LogisticRegressionParams::new().fit(&Dataset::new(x.clone(), labels)).unwrap();
    let narrow = x.slice(ndarray::s![.., ..3]).to_owned();
    assert!(matches!(model.try_predict(&narrow), Err(linfa::Error::MismatchedShapes(3, 5))));
    assert_eq!(model.try_predict(&x).unwrap(), model.predict(&x));
}

/// Our leaf for each row of `x`.
fn leaves(tree: &churnflow_stages::testing::linfa_tree::Converted, x: &Array2<f64>) -> Vec<usize> {
    let t = &tree.tree;
    x.rows()
        .into_iter()
        .map(|row| {
            let mut i = 0;
            while t.feature[i] >= 0 {
                let f = t.feature[i] as usize;
                i = if row[f] <= t.threshold[i] { t.left[i] as usize } else { t.right[i] as usize };
            }
            i
        })
        .collect()
}

fn balanced(y: &[u8]) -> [f64; 2] {
    let n = y.len() as f64;
    let p = y.iter().filter(|&&l| l == 1).count() as f64;
    [n / (2.0 * (n - p)), n / (2.0 * p)]
}

#[test]
fn linfa_learner_rows_land_in_the_leaves_linfa_predict_sends_them_to_with_their_churn_fraction() {
    let (x, y) = churn_matrix(3000, 5);
    let x = x.mapv(|v| if v.is_nan() { 36.0 } else { v });
    let y8 = as_u8(&y);
    for class_weights in [[1.0, 1.0], balanced(&y8)] {
        let prepared = lt::prepare(x.clone(), y8.clone(), class_weights).unwrap();
        let limits = lt::LinfaTreeParams { max_depth: 6, min_samples_leaf: 5 };
        let fitted = lt::fit_linfa(&prepared, limits).unwrap();
        let predicted: Array1<bool> = fitted.predict(&x);
        let raw = lt::convert(&fitted, &prepared, false).unwrap();
        let at = leaves(&raw, &x);
        // Every leaf's rows carry the one label linfa gave that leaf, and it is a possible label.
        let mut label_of: std::collections::HashMap<usize, bool> = Default::default();
        for (r, &leaf) in at.iter().enumerate() {
            assert_ne!(raw.leaf_labels[leaf], 0, "row {r} ended on a split node");
            let first = *label_of.entry(leaf).or_insert(predicted[r]);
            assert_eq!(first, predicted[r], "leaf {leaf} holds rows linfa labels differently");
            let bit = if predicted[r] { 2 } else { 1 };
            assert_ne!(raw.leaf_labels[leaf] & bit, 0, "leaf {leaf}: linfa's label is not a possible one");
        }
        assert!(label_of.len() > 4, "only {} leaves", label_of.len());
        // Leaf value = weighted churn fraction of its rows, cover = their weight.
        for &leaf in label_of.keys() {
            let (mut wp, mut w) = (0.0, 0.0);
            for r in (0..y8.len()).filter(|&r| at[r] == leaf) {
                let weight = class_weights[usize::from(y8[r])];
                w += weight;
                wp += weight * f64::from(y8[r]);
            }
            assert!((raw.tree.value[leaf] - wp / w).abs() < 1e-12 && (raw.tree.cover[leaf] - w).abs() < 1e-9);
        }
        // The canonical tree only merges leaves: rows sharing a leaf of linfa's tree share one.
        let canonical = lt::convert(&fitted, &prepared, true).unwrap();
        let merged = leaves(&canonical, &x);
        let mut onto: std::collections::HashMap<usize, usize> = Default::default();
        for (r, &leaf) in at.iter().enumerate() {
            assert_eq!(
                *onto.entry(leaf).or_insert(merged[r]),
                merged[r],
                "canonical tree splits a linfa leaf"
            );
        }
    }
}

#[test]
fn linfa_learner_probabilities_are_honest_where_linfa_gives_hard_labels() {
    let (x, y) = churn_matrix(6000, 21);
    let x = x.mapv(|v| if v.is_nan() { 36.0 } else { v });
    let y8 = as_u8(&y);
    let (train_x, test_x) =
        (x.slice(ndarray::s![..4500, ..]).to_owned(), x.slice(ndarray::s![4500.., ..]).to_owned());
    let prepared = lt::prepare(train_x, y8[..4500].to_vec(), balanced(&y8[..4500])).unwrap();
    let fitted =
        lt::fit_linfa(&prepared, lt::LinfaTreeParams { max_depth: 6, min_samples_leaf: 20 }).unwrap();
    let converted = lt::convert(&fitted, &prepared, true).unwrap();
    let probabilities: Vec<f64> =
        leaves(&converted, &test_x).iter().map(|&l| converted.tree.value[l]).collect();
    let hard: Array1<bool> = fitted.predict(&test_x);
    let hard: Vec<f64> = hard.iter().map(|&l| f64::from(u8::from(l))).collect();
    let test_y = &y8[4500..];
    let soft_auc = metrics::auc_roc(test_y, &probabilities).unwrap();
    let hard_auc = metrics::auc_roc(test_y, &hard).unwrap();
    assert!(distinct(&probabilities) > 2, "{} distinct probabilities", distinct(&probabilities));
    assert!(soft_auc > hard_auc + 0.03, "leaf fractions AUC {soft_auc} vs hard labels {hard_auc}");

    // Through `train` on a table: an ordinary decision tree with soft probabilities.
    let df = synthetic(3000, -1.0, 4);
    let params = TrainParams {
        algorithm: churnflow_stages::testing::model::Algorithm::DecisionTree,
        learner: Learner::Linfa,
        ..TrainParams::default()
    };
    let model = train_frame(&df, Path::new("t.parquet"), "h".into(), &params).unwrap();
    let p = model.predict_table(&df, Path::new("t.parquet")).unwrap();
    assert!(distinct(&p) > 5 && p.iter().all(|q| (0.0..=1.0).contains(q)), "{} distinct", distinct(&p));
    assert!(metrics::auc_roc(&labels(&df, "churned"), &p).unwrap() > 0.75);
    let recorded = model.lineage.params.get("learner").and_then(|l| l.as_str());
    assert_eq!(recorded, Some("linfa"), "the lineage records the learner");
    let default = train_frame(
        &df,
        Path::new("t.parquet"),
        "h".into(),
        &TrainParams { learner: Learner::Churnflow, ..params },
    )
    .unwrap();
    assert!(default.lineage.params.get("learner").is_none(), "the default learner is not recorded");
}

#[test]
fn linfa_learner_gives_one_tree_whichever_tie_break_linfa_drew() {
    // Input 0 is 0 for 20 stayers, 1 for 6 stayers and 6 churners, 2 for 20 churners; input 1
    // is noise that never helps. linfa-trees splits at 1.5, then at 0.5: the middle leaf is a
    // tie, labelled in HashMap order; when it draws "stayed", prune() merges it with the
    // stayers' leaf (3 nodes), else it keeps the split (5 nodes).
    let mut rows = Vec::new();
    for (a, stayers, churners) in [(0.0, 20, 0), (1.0, 6, 6), (2.0, 0, 20)] {
        rows.extend((0..stayers).map(|i| (a, i % 2, 0u8)));
        rows.extend((0..churners).map(|i| (a, i % 2, 1u8)));
    }
    let x = Array2::from_shape_fn(
        (rows.len(), 2),
        |(r, j)| if j == 0 { rows[r].0 } else { f64::from(rows[r].1) },
    );
    let y: Vec<u8> = rows.iter().map(|r| r.2).collect();
    let prepared = lt::prepare(x, y, [1.0, 1.0]).unwrap();
    let limits = lt::LinfaTreeParams { max_depth: 4, min_samples_leaf: 1 };
    let (mut raw, mut canonical) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let fitted = lt::fit_linfa(&prepared, limits).unwrap();
        raw.push(lt::convert(&fitted, &prepared, false).unwrap().tree.feature.len());
        canonical.push(lt::convert(&fitted, &prepared, true).unwrap().tree);
    }
    // The premise (each fit is a coin flip: all 30 alike has probability 2^-29).
    assert!(raw.contains(&3) && raw.contains(&5), "linfa-trees' own trees had sizes {raw:?}");
    // The conversion merges the tie with its sibling whatever linfa drew.
    assert!(canonical.iter().all(|t| *t == canonical[0]), "the canonical conversion differs between fits");
    assert_eq!(canonical[0].feature.len(), 3);
    // The merged leaf holds 26 stayers and 6 churners; the other, 20 churners.
    assert_eq!(canonical[0].value[1..], [6.0 / 32.0, 1.0]);
}

#[test]
fn a_split_value_that_rounds_onto_a_training_value_is_routed_as_linfa_predict_routes_it() {
    // 1e12 and the next f64 are 1.2e-4 apart (more than linfa's 1e-5 "equal" tolerance) but
    // their midpoint rounds onto one of them: linfa's fit (`<=`) and predict (`<`) disagree.
    let a = 1e12f64;
    let b = f64::from_bits(a.to_bits() + 1);
    let n = 60;
    let mut x = Array2::zeros((n, 2));
    let mut y = Vec::new();
    for r in 0..n {
        x[[r, 0]] = if r < 30 { a } else { b };
        x[[r, 1]] = (r % 7) as f64;
        y.push(u8::from(r >= 30));
    }
    let prepared = lt::prepare(x.clone(), y.clone(), [1.0, 1.0]).unwrap();
    let fitted = lt::fit_linfa(&prepared, lt::LinfaTreeParams { max_depth: 3, min_samples_leaf: 5 }).unwrap();
    // The premise: the midpoint rounds (ties to even) onto a. linfa's fit sends the a rows
    // left (`a <= a`), its predict sends them right (`a < a` is false): it predicts the right
    // leaf's label, churned, for every row.
    let (feature, split, _) = fitted.root_node().split();
    assert!(feature == 0 && split == a, "split {split} on input {feature}");
    let predicted: Array1<bool> = fitted.predict(&x);
    assert!(predicted.iter().all(|&l| l), "{predicted:?}");
    for canonical in [false, true] {
        let converted = lt::convert(&fitted, &prepared, canonical).unwrap();
        let t = &converted.tree;
        assert!(t.cover.iter().all(|&c| c > 0.0), "a node without training rows");
        // No training row takes the left branch under predict's rule: the split is collapsed
        // and every row reaches one leaf, the right one, with the churn fraction of all 60.
        for (r, &leaf) in leaves(&converted, &x).iter().enumerate() {
            assert_eq!(converted.leaf_labels[leaf], 2, "row {r}");
            assert_eq!(t.value[leaf], 0.5, "row {r}");
        }
    }
}

/// A training table as a dense matrix, roughly as `train` encodes it: the first column is the
/// id, numbers with missing → median, strings one-hot over their values (missing → all zero).
fn dense_table(df: &DataFrame, label: &str) -> (Array2<f64>, Vec<u8>) {
    let y = labels(df, label);
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for col in df.columns().iter().skip(1).filter(|c| c.name().as_str() != label) {
        if col.dtype() == &DataType::String {
            let values: Vec<Option<String>> =
                col.str().unwrap().iter().map(|v| v.map(str::to_string)).collect();
            let mut vocabulary: Vec<&String> = values.iter().flatten().collect();
            vocabulary.sort();
            vocabulary.dedup();
            for v in vocabulary {
                columns.push(values.iter().map(|x| f64::from(u8::from(x.as_ref() == Some(v)))).collect());
            }
        } else {
            let values: Vec<Option<f64>> =
                col.cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect();
            let mut present: Vec<f64> = values.iter().flatten().copied().collect();
            present.sort_by(f64::total_cmp);
            let median = present[present.len() / 2];
            columns.push(values.iter().map(|v| v.unwrap_or(median)).collect());
        }
    }
    columns.retain(|c| c.iter().any(|v| *v != c[0]));
    let x = Array2::from_shape_fn((y.len(), columns.len()), |(r, j)| columns[j][r]);
    (x, y)
}

/// linfa-trees itself on a large table (does it panic with f32 class weights, how long do its
/// fit and our conversion take, do unweighted fits differ between runs), on the table named by
/// `CHURNFLOW_LINFA_TRAIN` (the demo's data/train.parquet after `churnflow generate --customers
/// 100000` and `churnflow repro split`), else 100,000 synthetic rows:
/// `cargo test --release -p churnflow-stages --test model_tests linfa_measured -- --ignored --nocapture`
#[test]
#[ignore]
fn linfa_measured_on_a_large_table() {
    use std::time::Instant;
    let df = match std::env::var("CHURNFLOW_LINFA_TRAIN") {
        Ok(path) => read_parquet(Path::new(&path)),
        Err(_) => synthetic(100_000, -1.0, 1),
    };
    let (x, y) = dense_table(&df, "churned");
    let (n, p) = x.dim();
    let weights = balanced(&y);
    eprintln!("{n} rows, {p} inputs, balanced class weights {weights:?}");
    let limits = lt::LinfaTreeParams { max_depth: 6, min_samples_leaf: 20 };

    // linfa-trees as released, with the class weights as f32 (mean row weight 1, so the
    // minimum leaf weight 20 is 20 average rows).
    let targets: Array1<bool> = y.iter().map(|&l| l == 1).collect();
    let f32_weights: Array1<f32> = y.iter().map(|&l| weights[usize::from(l)] as f32).collect();
    let dataset = DatasetBase::new(x.view(), targets.clone()).with_weights(f32_weights);
    for (depth, leaf) in [(6, 20.0f32), (6, 1.0), (12, 1.0), (20, 1.0)] {
        let raw = linfa_trees::DecisionTree::<f64, bool>::params()
            .max_depth(Some(depth))
            .min_weight_leaf(leaf)
            .min_weight_split(2.0 * leaf);
        let t0 = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| raw.fit(&dataset)));
        eprintln!(
            "linfa-trees, f32 fractional class weights, depth {depth}, min leaf weight {leaf}: {} after {:.2} s",
            if outcome.is_err() { "PANICKED" } else { "fitted" },
            t0.elapsed().as_secs_f64()
        );
    }

    // Ours: integer weights, fit, canonical conversion.
    let deep = lt::LinfaTreeParams { max_depth: 9, min_samples_leaf: 1 };
    for (what, class_weights, limits) in [
        ("balanced, depth 6, min leaf 20", weights, limits),
        ("unweighted, depth 6, min leaf 20", [1.0, 1.0], limits),
        ("balanced, depth 9, min leaf 1", weights, deep),
        ("unweighted, depth 9, min leaf 1", [1.0, 1.0], deep),
    ] {
        let prepared = lt::prepare(x.clone(), y.clone(), class_weights).unwrap();
        let mut fits = Vec::new();
        let mut raw_trees = Vec::new();
        let mut canonical = Vec::new();
        let mut convert_ms = Vec::new();
        for _ in 0..3 {
            let t0 = Instant::now();
            let fitted = lt::fit_linfa(&prepared, limits).unwrap();
            fits.push(t0.elapsed().as_secs_f64());
            let t1 = Instant::now();
            let converted = lt::convert(&fitted, &prepared, true).unwrap();
            convert_ms.push(t1.elapsed().as_secs_f64() * 1e3);
            canonical.push(converted.tree);
            raw_trees.push(lt::convert(&fitted, &prepared, false).unwrap().tree);
        }
        let count = |trees: &Vec<_>| (0..trees.len()).filter(|&i| !trees[..i].contains(&trees[i])).count();
        eprintln!(
            "{what}: integer weights {:?}; linfa fit {:?} s; conversion (route + canonical prune) {:?} ms; \
             leaves: {} nodes; distinct trees over 3 fits: linfa {} , converted {}",
            prepared.integer_weights,
            fits,
            convert_ms,
            canonical[0].feature.len(),
            count(&raw_trees),
            count(&canonical)
        );
    }
    // Our own tree on the same matrix (through the linfa API: frame, bins, fit).
    let t0 = Instant::now();
    let ours = DecisionTreeParams::new().max_depth(6).fit(&DatasetBase::new(x.clone(), targets)).unwrap();
    eprintln!(
        "churnflow tree through the linfa API: {:.3} s ({})",
        t0.elapsed().as_secs_f64(),
        ours.algorithm()
    );
}

#[test]
fn f32_class_weights_that_panic_linfa_trees_are_summed_exactly_as_integers() {
    // The premise: 20,000 rows, balanced class weights as f32, linfa-trees' default limits.
    // Subtracting row weights from the parent's f32 sum leaves a residual larger than its
    // minimum leaf weight, and `gini_impurity` asserts `n_samples > 0.0`.
    let (x, y) = dense_table(&synthetic(20_000, -1.0, 3), "churned");
    let w = balanced(&y);
    let targets: Array1<bool> = y.iter().map(|&l| l == 1).collect();
    let f32_weights: Array1<f32> = y.iter().map(|&l| w[usize::from(l)] as f32).collect();
    let dataset = DatasetBase::new(x.view(), targets).with_weights(f32_weights);
    let raw = linfa_trees::DecisionTree::<f64, bool>::params().max_depth(Some(6));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| raw.fit(&dataset)));
    assert!(outcome.is_err(), "linfa-trees no longer panics here: revisit the integer weights");
    // Ours: the same rows and class weights as integers, smallest leaves allowed.
    let prepared = lt::prepare(x.clone(), y.clone(), w).unwrap();
    let [a, b] = prepared.integer_weights;
    let positives = y.iter().filter(|&&l| l == 1).count() as u64;
    assert!(a * (y.len() as u64 - positives) + b * positives <= lt::EXACT_F32_TOTAL);
    assert!(((b as f64 / a as f64) / (w[1] / w[0]) - 1.0).abs() < 1e-4, "{a}:{b}");
    let fitted = lt::fit_linfa(&prepared, lt::LinfaTreeParams { max_depth: 6, min_samples_leaf: 1 }).unwrap();
    let converted = lt::convert(&fitted, &prepared, true).unwrap();
    assert!(converted.tree.feature.len() > 7 && converted.tree.cover.iter().all(|&c| c > 0.0));
}
