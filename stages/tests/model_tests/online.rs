//! One customer at a time (serving): the same probability as a table row, contributions that
//! add up to the model's output, and every field problem reported at once.
use crate::support::*;
use churnflow_stages::testing::model::Algorithm;
use churnflow_stages::testing::train::{train_frame, TrainParams};
use churnflow_stages::{ExplainScratch, Model, OutputSpace};
use polars::prelude::*;
use serde_json::{json, Map, Value};
use std::path::Path;

fn trained(algorithm: Algorithm) -> (Model, DataFrame) {
    let df = synthetic(1500, 0.0, 5);
    let p = TrainParams {
        algorithm,
        n_trees: 25,
        max_depth: Some(6),
        min_samples_leaf: 5,
        ..TrainParams::default()
    };
    (train_frame(&df, Path::new("train.parquet"), "h".into(), &p).unwrap(), df)
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

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[test]
fn one_customer_gets_bit_for_bit_the_probability_of_its_table_row() {
    for algorithm in [
        Algorithm::LogisticRegression,
        Algorithm::DecisionTree,
        Algorithm::RandomForest,
        Algorithm::GradientBoosting,
    ] {
        let (model, df) = trained(algorithm);
        let batch = model.predict_table(&df, Path::new("t.parquet")).unwrap();
        for i in (0..df.height()).step_by(7) {
            let customer = model.customer(&row(&df, i)).unwrap_or_else(|p| panic!("{p:?}"));
            assert_eq!(model.probability(&customer).to_bits(), batch[i].to_bits(), "{algorithm:?} row {i}");
        }
    }
}

#[test]
fn contributions_plus_the_base_value_equal_the_model_output_for_every_model_kind() {
    let mut scratch = ExplainScratch::default();
    for algorithm in [
        Algorithm::LogisticRegression,
        Algorithm::DecisionTree,
        Algorithm::RandomForest,
        Algorithm::GradientBoosting,
    ] {
        let (model, df) = trained(algorithm);
        let expected_space =
            if matches!(algorithm, Algorithm::LogisticRegression | Algorithm::GradientBoosting) {
                OutputSpace::LogOdds
            } else {
                OutputSpace::Probability
            };
        for i in (0..df.height()).step_by(11) {
            let customer = model.customer(&row(&df, i)).unwrap();
            let p = model.probability(&customer);
            let e = model.explain(&customer, &mut scratch).unwrap();
            assert_eq!(e.space, expected_space, "{algorithm:?}");
            let total = e.base_value + e.contributions.iter().map(|c| c.contribution).sum::<f64>();
            let output = match e.space {
                OutputSpace::LogOdds => logit(p),
                OutputSpace::Probability => p,
            };
            assert!((total - output).abs() < 1e-9, "{algorithm:?} row {i}: {total} vs {output}");
            assert!((e.output - output).abs() < 1e-9);
            assert_eq!(e.contributions.len(), model.features.len());
        }
    }
}

#[test]
fn logistic_contributions_are_centred_on_the_training_rows() {
    // Centred terms: over the training rows every feature's contributions average to zero, so
    // the base value is the log-odds of the average input.
    let (model, df) = trained(Algorithm::LogisticRegression);
    let mut scratch = ExplainScratch::default();
    let mut sums = vec![0.0; model.features.len()];
    for i in 0..df.height() {
        let e = model.explain(&model.customer(&row(&df, i)).unwrap(), &mut scratch).unwrap();
        for (s, c) in sums.iter_mut().zip(&e.contributions) {
            *s += c.contribution;
        }
    }
    for (s, f) in sums.iter().zip(&model.features) {
        assert!(
            (s / df.height() as f64).abs() < 1e-9,
            "{}: mean contribution {}",
            f.name(),
            s / df.height() as f64
        );
    }
}

#[test]
fn every_field_problem_of_a_customer_is_reported_at_once() {
    let (model, df) = trained(Algorithm::LogisticRegression);
    let mut object = row(&df, 0);
    object.remove("tenure_months");
    object.insert("monthly_charges".into(), json!("a lot"));
    object.insert("contract_type".into(), json!("ten-year"));
    object.insert("support_calls".into(), json!(-3));
    object.insert("region".into(), json!(true));
    let problems = model.customer(&object).unwrap_err();
    let text: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.problem)).collect();
    assert_eq!(
        text,
        [
            "tenure_months: missing field",
            "monthly_charges: expected a number, got the string 'a lot'",
            "support_calls: -3 is out of range: must be ≥ 0",
            "contract_type: unknown value 'ten-year' (allowed: month-to-month, one-year, two-year)",
            "region: expected a string, got a boolean",
        ]
    );
    // null and blank strings are missing values, imputed as in training.
    let mut object = row(&df, 0);
    object.insert("tenure_months".into(), Value::Null);
    object.insert("contract_type".into(), json!(" "));
    assert!(model.customer(&object).is_ok());
}

#[test]
fn the_input_schema_lists_every_field_with_its_type_categories_and_minimum() {
    let (model, _) = trained(Algorithm::RandomForest);
    let schema = serde_json::to_value(model.input_schema()).unwrap();
    assert_eq!(schema["id_field"], "customer_id");
    let fields = schema["fields"].as_array().unwrap();
    let contract = fields.iter().find(|f| f["name"] == "contract_type").unwrap();
    assert_eq!(contract["type"], "category");
    assert_eq!(contract["values"], json!(["month-to-month", "one-year", "two-year"]));
    let tenure = fields.iter().find(|f| f["name"] == "tenure_months").unwrap();
    assert_eq!(tenure["type"], "number");
    assert_eq!(tenure["minimum"], 0.0);
}
