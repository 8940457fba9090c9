//! `features` on the hand-made fixture: every value against numbers computed by hand
//! (see tests/fixtures/events_small/README.md for what each customer pins).

use crate::common::*;
use churnflow_stages::testing::features::EVENTS_FEATURE_COLUMNS;
use serde_json::json;

fn computed() -> polars::prelude::DataFrame {
    let p = Project::events_small();
    p.ingest_events().expect("ingest");
    p.validate(json!({ "min_rows": 1 })).expect("validate");
    p.features().expect("features");
    p.parquet("data/features.parquet")
}

#[test]
fn column_order_is_fixed_and_rows_are_sorted_by_customer_id() {
    let df = computed();
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(names, EVENTS_FEATURE_COLUMNS);
    let ids: Vec<String> = (0..df.height()).map(|i| str_at(&df, "customer_id", i)).collect();
    assert_eq!(ids, ["A001", "A002", "A003", "A004"]);
    assert_eq!(df.column("churned").unwrap().dtype(), &polars::prelude::DataType::Int32);
    assert_eq!(df.column("region").unwrap().dtype(), &polars::prelude::DataType::String);
}

fn assert_row(df: &polars::prelude::DataFrame, row: usize, expected: &[(&str, f64)]) {
    for (c, want) in expected {
        let got = f64_at(df, c, row);
        assert!(
            (got - want).abs() < 1e-9,
            "{}: {c} = {got}, expected {want}",
            str_at(df, "customer_id", row)
        );
    }
}

#[test]
fn ordinary_customer_has_hand_computed_features() {
    let df = computed();
    assert_eq!(str_at(&df, "contract_type", 0), "month-to-month");
    assert_row(
        &df,
        0,
        &[
            ("plan_monthly_eur", 49.9),
            ("recency_days", 0.0),
            ("frequency", 4.0),
            ("monetary_total", 100.0),
            ("monetary_avg", 25.0),
            ("monetary_std", (500.0f64 / 3.0).sqrt()),
            ("tenure_days", 181.0),
            ("recent_frequency", 2.0),
            ("recent_monetary", 70.0),
            ("activity_trend", 181.0 / 60.0),
            ("calls_count_30d", 3.0),
            ("calls_duration_avg_30d", 70.0),
            ("calls_duration_total_30d", 210.0),
            ("data_usage_gb_30d", 150.5 / 1024.0),
            ("international_calls_ratio", 1.0 / 3.0),
            ("peak_hour_ratio", 2.0 / 3.0),
            ("unique_contacts_30d", 2.0),
            ("support_tickets_90d", 2.0),
            ("support_escalations_90d", 1.0),
            ("avg_resolution_time_h", 15.0),
            ("complaint_ratio", 0.5),
            ("unresolved_tickets", 1.0),
            ("frustration_index", 0.6),
        ],
    );
    assert_eq!(f64_at(&df, "churned", 0), 1.0);
}

#[test]
fn single_transaction_and_no_cdr_give_zero_std_and_zero_call_features() {
    let df = computed();
    assert_row(
        &df,
        1,
        &[
            ("plan_monthly_eur", 30.0),
            ("recency_days", 131.0),
            ("frequency", 1.0),
            ("monetary_total", 15.5),
            ("monetary_avg", 15.5),
            ("monetary_std", 0.0),
            ("tenure_days", 131.0),
            ("recent_frequency", 0.0),
            ("recent_monetary", 0.0),
            ("activity_trend", 0.0),
            ("calls_count_30d", 0.0),
            ("calls_duration_avg_30d", 0.0),
            ("calls_duration_total_30d", 0.0),
            ("data_usage_gb_30d", 0.0),
            ("international_calls_ratio", 0.0),
            ("peak_hour_ratio", 0.0),
            ("unique_contacts_30d", 0.0),
            ("support_tickets_90d", 1.0),
            ("support_escalations_90d", 0.0),
            ("avg_resolution_time_h", 5.0),
            ("complaint_ratio", 0.0),
            ("unresolved_tickets", 0.0),
            ("frustration_index", 0.1),
        ],
    );
}

#[test]
fn customer_without_any_event_gets_zero_for_every_event_feature() {
    let df = computed();
    assert_eq!(str_at(&df, "customer_id", 2), "A003");
    assert_eq!(str_at(&df, "region", 2), "Capital District");
    assert_eq!(f64_at(&df, "plan_monthly_eur", 2), 80.5);
    for c in &EVENTS_FEATURE_COLUMNS[6..EVENTS_FEATURE_COLUMNS.len() - 1] {
        assert_eq!(f64_at(&df, c, 2), 0.0, "A003 {c}");
    }
}

#[test]
fn window_boundaries_include_both_ends_and_frustration_is_capped() {
    let df = computed();
    assert_eq!(str_at(&df, "region", 3), "Coast", "region is trimmed");
    assert_row(
        &df,
        3,
        &[
            ("recency_days", 30.0),
            ("frequency", 2.0),
            ("monetary_total", 12.0),
            ("monetary_avg", 6.0),
            ("monetary_std", 2.0f64.sqrt()),
            ("tenure_days", 31.0),
            // 2024-05-31 is S - 30 days: in; 2024-05-30: out.
            ("recent_frequency", 1.0),
            ("recent_monetary", 7.0),
            ("activity_trend", 31.0 / 60.0),
            ("calls_count_30d", 1.0),
            ("calls_duration_avg_30d", 200.0),
            ("calls_duration_total_30d", 200.0),
            ("data_usage_gb_30d", 10.0 / 1024.0),
            ("international_calls_ratio", 0.0),
            ("peak_hour_ratio", 0.0),
            ("unique_contacts_30d", 1.0),
            // 2024-04-01 is S - 90 days: in; 2024-03-31: out; 2024-06-30 (S itself): in.
            ("support_tickets_90d", 3.0),
            ("support_escalations_90d", 3.0),
            ("avg_resolution_time_h", (30.0 + 2.5 + 7.0) / 3.0),
            ("complaint_ratio", 1.0 / 3.0),
            ("unresolved_tickets", 3.0),
            // 2*3 + 5*3 + 3*3 = 30, capped at 20.
            ("frustration_index", 1.0),
        ],
    );
}

#[test]
fn events_after_the_snapshot_date_are_ignored_when_validation_only_warns() {
    let p = Project::events_small();
    p.append("raw/transactions.csv", "A003,2024-07-01,99");
    p.ingest_events().expect("ingest");
    p.validate(json!({ "min_rows": 1, "on_failure": "warn" })).expect("validate warns");
    assert_eq!(p.report().status, "warned");
    p.features().expect("features run after a warning");
    let df = p.parquet("data/features.parquet");
    assert_eq!(f64_at(&df, "frequency", 2), 0.0);
}

#[test]
fn failed_validation_stops_features() {
    let p = Project::events_small();
    p.ingest_events().expect("ingest");
    // min_rows defaults to 100: the 4-customer fixture fails.
    let err = p.validate(serde_json::Value::Null).expect_err("validation fails");
    assert!(err.message.contains("min_rows"), "{}", err.message);
    let err = p.features().expect_err("features refuses");
    assert!(err.message.contains("validation failed"), "{}", err.message);
    assert!(!p.path("data/features.parquet").exists());
}

#[test]
fn missing_snapshot_date_is_a_clear_error() {
    let p = Project::events_small();
    p.ingest_events().expect("ingest");
    p.validate(json!({ "min_rows": 1 })).expect("validate");
    let err = p
        .run(
            "features",
            json!({"input": "data/ingested", "validation_report": "reports/validation.json", "out": "f.parquet"}),
            serde_json::Value::Null,
        )
        .expect_err("needs a snapshot date");
    assert!(err.message.contains("features.snapshot_date"), "{}", err.message);
}

#[test]
fn header_only_event_tables_give_zero_features() {
    let p = Project::events_small();
    p.write("raw/transactions.csv", "customer_id,transaction_date,amount\n");
    p.write(
        "raw/cdr.csv",
        "call_id,customer_id,call_date,duration_seconds,data_usage_mb,is_international,is_peak_hour,called_number_hash\n",
    );
    p.write(
        "raw/support_tickets.csv",
        "ticket_id,customer_id,ticket_date,is_escalated,resolution_hours,is_complaint,is_resolved\n",
    );
    p.ingest_events().expect("header-only tables ingest");
    p.validate(json!({ "min_rows": 1 })).expect("validate");
    p.features().expect("features");
    let df = p.parquet("data/features.parquet");
    assert_eq!(df.height(), 4);
    for row in 0..4 {
        for c in &EVENTS_FEATURE_COLUMNS[6..EVENTS_FEATURE_COLUMNS.len() - 1] {
            assert_eq!(f64_at(&df, c, row), 0.0, "row {row} {c}");
        }
    }
}

/// Rows need not be grouped or ordered: reversed event tables (customers scattered, the
/// customers table out of order) give the same features.
#[test]
fn row_order_of_the_raw_tables_does_not_change_the_features() {
    let expected = computed();
    let p = Project::events_small();
    for table in ["customers.csv", "transactions.csv", "cdr.csv", "support_tickets.csv"] {
        let text = p.read(&format!("raw/{table}"));
        let mut lines: Vec<&str> = text.lines().collect();
        let header = lines.remove(0);
        lines.reverse();
        // Interleave so that no customer's rows stay adjacent.
        let (even, odd): (Vec<_>, Vec<_>) = lines.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let shuffled: Vec<&str> = even.into_iter().chain(odd).map(|(_, l)| *l).collect();
        p.write(&format!("raw/{table}"), &format!("{header}\n{}\n", shuffled.join("\n")));
    }
    p.ingest_events().expect("ingest");
    p.validate(json!({ "min_rows": 1 })).expect("validate");
    p.features().expect("features");
    let got = p.parquet("data/features.parquet");
    for c in EVENTS_FEATURE_COLUMNS.iter().filter(|c| {
        !["customer_id", "contract_type", "payment_method", "age_group", "region", "churned"].contains(c)
    }) {
        for row in 0..expected.height() {
            let (a, b) = (f64_at(&expected, c, row), f64_at(&got, c, row));
            assert!((a - b).abs() < 1e-9, "{c} row {row}: {a} vs {b}");
        }
    }
    assert_eq!(
        (0..got.height()).map(|i| str_at(&got, "customer_id", i)).collect::<Vec<_>>(),
        ["A001", "A002", "A003", "A004"]
    );
}
