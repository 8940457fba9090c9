//! `ingest`: typing, bad data (file, row and column in the message), settings errors, and the
//! Telco snapshot table.

use crate::common::*;
use churnflow_stages::describe;
use churnflow_stages::testing::snapshot::{clean_snapshot, SnapshotSpec};
use polars::prelude::*;
use serde_json::{json, Value};

#[test]
fn events_are_typed_and_manifest_is_written() {
    let p = Project::events_small();
    let out = p.ingest_events().expect("ingest");
    assert!(out.summary.contains("customers 4 rows"), "{}", out.summary);
    let c = p.parquet("data/ingested/customers.parquet");
    assert_eq!(c.column("signup_date").unwrap().dtype(), &DataType::Date);
    assert_eq!(c.column("plan_monthly_eur").unwrap().dtype(), &DataType::Float64);
    assert_eq!(c.column("churned").unwrap().dtype(), &DataType::Int32);
    let cdr = p.parquet("data/ingested/cdr.parquet");
    assert_eq!(cdr.height(), 6);
    assert_eq!(cdr.column("is_peak_hour").unwrap().dtype(), &DataType::Int32);
    let manifest: Value = serde_json::from_str(&p.read("data/ingested/ingest.json")).unwrap();
    assert_eq!(manifest["layout"], "events");
}

#[test]
fn whitespace_only_numeric_cell_becomes_null() {
    let p = Project::events_small();
    p.edit("raw/customers.csv", ",30,0", ",   ,0");
    p.ingest_events().expect("blank is a missing value, not an error");
    let c = p.parquet("data/ingested/customers.parquet");
    assert_eq!(c.column("plan_monthly_eur").unwrap().null_count(), 1);
}

#[test]
fn missing_column_names_file_and_column() {
    let p = Project::events_small();
    p.edit("raw/cdr.csv", "duration_seconds", "duration");
    let e = ingest_error(&p);
    assert!(e.contains("raw/cdr.csv"), "{e}");
    assert!(e.contains("column 'duration_seconds'"), "{e}");
    assert!(e.contains("header"), "{e}");
}

#[test]
fn wrong_type_names_file_row_and_column() {
    let p = Project::events_small();
    // Data row 4 of transactions.csv.
    p.edit("raw/transactions.csv", "A001,2024-06-10,30.0", "A001,2024-06-10,thirty");
    let e = ingest_error(&p);
    assert!(e.contains("raw/transactions.csv: row 4"), "{e}");
    assert!(e.contains("column 'amount'"), "{e}");
    assert!(e.contains("'thirty' is not a number"), "{e}");
}

#[test]
fn bad_date_names_file_row_and_column() {
    let p = Project::events_small();
    p.edit("raw/support_tickets.csv", "T2,A001,2024-05-01", "T2,A001,01/05/2024");
    let e = ingest_error(&p);
    assert!(e.contains("raw/support_tickets.csv: row 2"), "{e}");
    assert!(e.contains("column 'ticket_date'"), "{e}");
    assert!(e.contains("YYYY-MM-DD"), "{e}");
}

#[test]
fn non_integer_flag_names_file_row_and_column() {
    let p = Project::events_small();
    p.edit("raw/cdr.csv", "K3,A001,2024-06-01,30,0,0,1,h1", "K3,A001,2024-06-01,30,0,no,1,h1");
    let e = ingest_error(&p);
    assert!(e.contains("raw/cdr.csv: row 3"), "{e}");
    assert!(e.contains("column 'is_international'"), "{e}");
}

#[test]
fn nan_in_a_numeric_column_is_bad_data() {
    let p = Project::events_small();
    p.edit("raw/cdr.csv", "K2,A001,2024-06-15,60,50.5", "K2,A001,2024-06-15,60,NaN");
    let e = ingest_error(&p);
    assert!(e.contains("raw/cdr.csv: row 2"), "{e}");
    assert!(e.contains("column 'data_usage_mb'"), "{e}");
    assert!(e.contains("NaN or infinite"), "{e}");
}

#[test]
fn infinity_in_a_numeric_column_is_bad_data() {
    let p = Project::events_small();
    p.edit("raw/transactions.csv", "A002,2024-02-20,15.5", "A002,2024-02-20,inf");
    let e = ingest_error(&p);
    assert!(e.contains("row 5") && e.contains("column 'amount'") && e.contains("infinite"), "{e}");
}

#[test]
fn empty_file_is_reported() {
    let p = Project::events_small();
    p.write("raw/support_tickets.csv", "");
    let e = ingest_error(&p);
    assert!(e.contains("raw/support_tickets.csv"), "{e}");
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn missing_file_is_reported() {
    let p = Project::events_small();
    std::fs::remove_file(p.path("raw/cdr.csv")).unwrap();
    let e = ingest_error(&p);
    assert!(e.contains("raw/cdr.csv") && e.contains("cannot read"), "{e}");
}

#[test]
fn parquet_input_gives_the_same_tables_as_csv() {
    let p = Project::events_small();
    p.ingest_events().expect("csv ingest");
    let from_csv = p.parquet("data/ingested/transactions.parquet");
    // Use the typed Parquet as a raw input.
    std::fs::copy(p.path("data/ingested/transactions.parquet"), p.path("raw/tx.parquet")).unwrap();
    p.run(
        "ingest",
        json!({"layout": "events", "customers": "raw/customers.csv", "transactions": "raw/tx.parquet",
               "cdr": "raw/cdr.csv", "support_tickets": "raw/support_tickets.csv", "out": "data/ing2"}),
        Value::Null,
    )
    .expect("parquet ingest");
    assert!(p.parquet("data/ing2/transactions.parquet").equals_missing(&from_csv));
}

#[test]
fn unknown_layout_is_a_settings_error() {
    let e = describe("ingest", &json!({"layout": "wide", "table": "t.csv", "out": "o"}), &Value::Null)
        .expect_err("unknown layout");
    assert!(
        e.message.contains("wide") && e.message.contains("events") && e.message.contains("snapshot"),
        "{}",
        e.message
    );
}

#[test]
fn missing_or_unknown_settings_are_settings_errors() {
    let e = describe("ingest", &json!({"layout": "events", "customers": "c.csv", "out": "o"}), &Value::Null)
        .expect_err("missing tables");
    assert!(e.message.contains("transactions"), "{}", e.message);
    let e = describe(
        "ingest",
        &json!({"layout": "snapshot", "table": "t.csv", "id_column": "id", "label_column": "y",
                "positive_label": "1", "out": "o", "colour": "blue"}),
        &Value::Null,
    )
    .expect_err("unknown key");
    assert!(e.message.contains("colour"), "{}", e.message);
    let e = describe(
        "ingest",
        &json!({"layout": "snapshot", "table": "t.csv", "id_column": "id", "label_column": "y",
                "positive_label": true, "out": "o"}),
        &Value::Null,
    )
    .expect_err("boolean label");
    assert!(e.message.contains("quote"), "{}", e.message);
}

#[test]
fn describe_derives_deps_and_outs() {
    let io = describe(
        "ingest",
        &json!({"layout": "events", "customers": "a.csv", "transactions": "b.csv", "cdr": "c.csv",
                "support_tickets": "d.csv", "out": "data/ingested"}),
        &Value::Null,
    )
    .unwrap();
    assert_eq!(io.deps, ["a.csv", "b.csv", "c.csv", "d.csv"]);
    assert_eq!(io.outs.len(), 1);
    assert_eq!(io.outs[0].path, "data/ingested");
    assert_eq!(io.params_section, "ingest");
}

fn telco_project() -> Project {
    let p = Project::empty();
    p.write("data/telco.csv", &std::fs::read_to_string(fixtures().join("telco.csv")).unwrap());
    p.run(
        "ingest",
        json!({"layout": "snapshot", "table": "data/telco.csv", "id_column": "customerID",
               "label_column": "Churn", "positive_label": "Yes", "out": "data/ingested"}),
        Value::Null,
    )
    .expect("telco ingest");
    p
}

#[test]
fn telco_ingests_with_blank_total_charges_as_null_and_churn_rate_26_3_percent() {
    let p = telco_project();
    let t = p.parquet("data/ingested/table.parquet");
    assert_eq!(t.height(), 3663);
    let names: Vec<String> = t.get_column_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(names.first().map(String::as_str), Some("customer_id"));
    assert_eq!(names.last().map(String::as_str), Some("churned"));
    assert!(!names.contains(&"customerID".to_string()) && !names.contains(&"Churn".to_string()));
    assert_eq!(t.column("TotalCharges").unwrap().dtype(), &DataType::Float64);
    assert_eq!(t.column("TotalCharges").unwrap().null_count(), 7);
    assert_eq!(t.column("tenure").unwrap().dtype(), &DataType::Float64);
    assert_eq!(t.column("Contract").unwrap().dtype(), &DataType::String);
    assert_eq!(t.column("churned").unwrap().dtype(), &DataType::Int32);
    let churned: i64 = t.column("churned").unwrap().as_materialized_series().sum().unwrap();
    let rate = churned as f64 / 3663.0;
    assert!((rate - 0.263).abs() < 0.0005, "churn rate {rate}");
    let spec: SnapshotSpec = serde_json::from_str(&p.read("data/ingested/snapshot.json")).unwrap();
    assert!(spec.numeric_columns.contains(&"TotalCharges".to_string()));
    assert!(spec.numeric_columns.contains(&"SeniorCitizen".to_string()));
    assert!(!spec.numeric_columns.contains(&"gender".to_string()));
    assert_eq!(spec.label_values, ["No", "Yes"]);
}

#[test]
fn telco_validates_and_features_keep_cleaned_columns_sorted() {
    let p = telco_project();
    p.run("validate", json!({"input": "data/ingested", "report": "reports/validation.json"}), Value::Null)
        .expect("default validation accepts the Telco table");
    p.features().expect("features");
    let f = p.parquet("data/features.parquet");
    assert_eq!(f.height(), 3663);
    let first = str_at(&f, "customer_id", 0);
    let second = str_at(&f, "customer_id", 1);
    assert!(first < second);
    assert_eq!(f.get_column_names().last().unwrap().as_str(), "churned");
}

#[test]
fn clean_snapshot_applies_to_a_raw_table_without_label_and_with_extra_columns() {
    let p = telco_project();
    let spec: SnapshotSpec = serde_json::from_str(&p.read("data/ingested/snapshot.json")).unwrap();
    let raw = df!(
        "customerID" => ["X-1", "X-2"],
        "extra" => ["a", "b"],
    )
    .unwrap();
    // Build a raw table with every spec column as text, TotalCharges blank in row 2.
    let mut raw = raw;
    for c in &spec.columns {
        let v = if c == "TotalCharges" { vec!["12.5", " "] } else { vec!["1", "2"] };
        raw.with_column(Column::new(c.as_str().into(), v)).unwrap();
    }
    let clean = clean_snapshot(raw.clone(), &spec, "score-input.csv").expect("clean");
    assert_eq!(clean.get_column_names()[0].as_str(), "customer_id");
    assert!(clean.column("churned").is_err(), "no label in, no label out");
    assert!(clean.column("extra").is_err());
    assert_eq!(clean.column("TotalCharges").unwrap().null_count(), 1);

    // A non-numeric value in a numeric column names the file, row and column.
    let mut bad = raw;
    bad.with_column(Column::new("MonthlyCharges".into(), ["1", "lots"])).unwrap();
    let e = clean_snapshot(bad, &spec, "score-input.csv").expect_err("bad cell");
    assert!(
        e.message.contains("score-input.csv: row 2") && e.message.contains("'MonthlyCharges'"),
        "{}",
        e.message
    );
}

#[test]
fn numeric_positive_label_matches_numbers_written_either_way() {
    let p = Project::empty();
    p.write("t.csv", "id,x,label\na,1.5,1\nb,2,0\nc,,1.0\nd,4, 0 \n");
    p.run(
        "ingest",
        json!({"layout": "snapshot", "table": "t.csv", "id_column": "id", "label_column": "label",
               "positive_label": 1, "out": "ing"}),
        Value::Null,
    )
    .expect("ingest");
    let t = p.parquet("ing/table.parquet");
    let labels: Vec<Option<i32>> = t.column("churned").unwrap().i32().unwrap().iter().collect();
    assert_eq!(labels, [Some(1), Some(0), Some(1), Some(0)]);
    assert_eq!(t.column("x").unwrap().null_count(), 1);
}

#[test]
fn nan_in_a_snapshot_numeric_column_is_bad_data() {
    let p = Project::empty();
    p.write("t.csv", "id,x,label\na,1.5,Yes\nb,NaN,No\n");
    let e = p
        .run(
            "ingest",
            json!({"layout": "snapshot", "table": "t.csv", "id_column": "id", "label_column": "label",
                   "positive_label": "Yes", "out": "ing"}),
            Value::Null,
        )
        .expect_err("NaN");
    assert!(e.message.contains("t.csv: row 2") && e.message.contains("column 'x'"), "{}", e.message);
}

#[test]
fn fast_typed_read_and_careful_text_read_agree() {
    use churnflow_stages::testing::ingest::EVENTS_SCHEMA;
    use churnflow_stages::testing::table;
    let p = Project::events_small();
    for (name, schema) in EVENTS_SCHEMA {
        let path = p.path(&format!("raw/{name}.csv"));
        let fast = table::read_typed(&path, name, schema).expect("typed read");
        let careful = table::parse_columns(table::read_raw_strings(&path, name).unwrap(), name, schema)
            .expect("text read");
        assert!(fast.equals_missing(&careful), "{name}:\n{fast}\n{careful}");
    }
}
