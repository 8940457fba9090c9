//! `validate`: each expectation fails on the data fault it exists for and passes on clean data.

use crate::common::*;
use churnflow_stages::testing::validate::ExpectationResult;
use serde_json::{json, Value};

/// Ingests the fixture after `edit`, validates with `params` (min_rows 1 unless given).
fn validated(edit: impl FnOnce(&Project), params: Value) -> (Project, Result<String, String>) {
    let p = Project::events_small();
    edit(&p);
    p.ingest_events().expect("ingest");
    let mut params = params;
    if params.get("min_rows").is_none() {
        params["min_rows"] = json!(1);
    }
    let r = p.validate(params).map(|o| o.summary).map_err(|e| e.message);
    (p, r)
}

fn find<'a>(
    report: &'a [ExpectationResult],
    table: &str,
    column: Option<&str>,
    kind: &str,
) -> &'a ExpectationResult {
    report
        .iter()
        .find(|e| e.table == table && e.column.as_deref() == column && e.expectation == kind)
        .unwrap_or_else(|| panic!("no expectation {kind} on {table}.{column:?}"))
}

#[test]
fn clean_fixture_passes_every_expectation_and_writes_json_and_html() {
    let (p, r) = validated(|_| {}, json!({}));
    let summary = r.expect("passes");
    assert!(summary.contains("validation passed"), "{summary}");
    let report = p.report();
    assert_eq!(report.status, "passed");
    assert!(report.expectations.iter().all(|e| e.passed));
    for kind in [
        "min_rows",
        "max_null_ratio",
        "unique",
        "allowed_values",
        "range",
        "references",
        "not_after_snapshot",
        "label_present",
        "label_two_valued",
    ] {
        assert!(report.expectations.iter().any(|e| e.expectation == kind), "{kind} missing from report");
    }
    assert!(p.read("reports/validation.html").contains("<table>"));
}

#[test]
fn min_rows() {
    let (p, r) = validated(|_| {}, json!({ "min_rows": 5 }));
    let e = r.expect_err("4 customers < 5");
    assert!(e.contains("customers: min_rows 5 (observed 4)"), "{e}");
    assert!(!find(&p.report().expectations, "customers", None, "min_rows").passed);
    let (p, r) = validated(|_| {}, json!({ "min_rows": 4 }));
    r.expect("4 customers >= 4");
    assert!(find(&p.report().expectations, "customers", None, "min_rows").passed);
}

#[test]
fn max_null_ratio_default_and_per_column() {
    let blank = |p: &Project| p.edit("raw/customers.csv", ",30,0", ",,0");
    let (p, r) = validated(blank, json!({}));
    let e = r.expect_err("a blank price fails the default 0.0");
    assert!(e.contains("customers.plan_monthly_eur: max_null_ratio"), "{e}");
    assert!(e.contains("row 2"), "{e}");
    let report = p.report();
    let x = find(&report.expectations, "customers", Some("plan_monthly_eur"), "max_null_ratio");
    assert_eq!(x.observed, json!(0.25));
    assert_eq!(x.examples[0].row, 2);
    let (_, r) =
        validated(blank, json!({ "max_null_ratio_columns": { "customers.plan_monthly_eur": 0.25 } }));
    r.expect("per-column override allows one blank in four");
    let (_, r) = validated(blank, json!({ "max_null_ratio": 0.3 }));
    r.expect("default override allows it too");
}

#[test]
fn unique_customer_ids() {
    let dup =
        |p: &Project| p.append("raw/customers.csv", "A002,2023-03-01,one-year,credit_card,36-50,South,30,0");
    let (p, r) = validated(dup, json!({}));
    let e = r.expect_err("duplicated customer");
    assert!(e.contains("customers.customer_id: unique"), "{e}");
    assert!(e.contains("row 2 'A002'") && e.contains("row 5 'A002'"), "{e}");
    let report = p.report();
    let x = find(&report.expectations, "customers", Some("customer_id"), "unique");
    assert_eq!(x.failing_rows, 2);
    let (p, _) = validated(|_| {}, json!({}));
    assert!(find(&p.report().expectations, "customers", Some("customer_id"), "unique").passed);
}

#[test]
fn allowed_values_default_domains_and_params() {
    let (_, r) = validated(|p| p.edit("raw/customers.csv", "one-year", "annual"), json!({}));
    let e = r.expect_err("contract type outside the domain");
    assert!(e.contains("customers.contract_type: allowed_values") && e.contains("row 2 'annual'"), "{e}");
    let (_, r) = validated(
        |p| p.edit("raw/cdr.csv", "K1,A001,2024-06-29,120,100,0,1", "K1,A001,2024-06-29,120,100,0,2"),
        json!({}),
    );
    let e = r.expect_err("flag 2");
    assert!(e.contains("cdr.is_peak_hour") && e.contains("row 1 '2'"), "{e}");
    let (_, r) = validated(|_| {}, json!({ "allowed_values": { "region": ["North", "South"] } }));
    let e = r.expect_err("region not in the given list");
    assert!(e.contains("customers.region: allowed_values") && e.contains("'Coast'"), "{e}");
    let (_, r) = validated(
        |_| {},
        json!({ "allowed_values": { "customers.region": ["North", "South", "Coast", "Capital District"] } }),
    );
    r.expect("all regions allowed");
}

#[test]
fn negative_amount_and_ranges() {
    let (_, r) = validated(
        |p| p.edit("raw/transactions.csv", "A002,2024-02-20,15.5", "A002,2024-02-20,-15.5"),
        json!({}),
    );
    let e = r.expect_err("negative amount");
    assert!(e.contains("transactions.amount: range") && e.contains("row 5 '-15.5'"), "{e}");
    let (_, r) =
        validated(|p| p.edit("raw/cdr.csv", "K5,A004,2024-05-31,200", "K5,A004,2024-05-31,-1"), json!({}));
    r.expect_err("negative duration");
    let (_, r) =
        validated(|_| {}, json!({ "ranges": { "customers.plan_monthly_eur": { "min": 0, "max": 50 } } }));
    let e = r.expect_err("price above max");
    assert!(e.contains("'80.5'"), "{e}");
    let (_, r) =
        validated(|_| {}, json!({ "ranges": { "customers.plan_monthly_eur": { "min": 0, "max": 100 } } }));
    r.expect("prices within range");
}

#[test]
fn events_must_reference_known_customers() {
    let (p, r) = validated(|p| p.append("raw/support_tickets.csv", "T9,Z999,2024-06-01,0,1,0,1"), json!({}));
    let e = r.expect_err("orphan ticket");
    assert!(e.contains("support_tickets.customer_id: references") && e.contains("row 9 'Z999'"), "{e}");
    assert!(e.contains("raw/support_tickets.csv"), "{e}");
    let (_, r) = validated(
        |p| p.append("raw/support_tickets.csv", "T9,Z999,2024-06-01,0,1,0,1"),
        json!({ "referential_integrity": false }),
    );
    r.expect("check switched off");
    let (p2, _) = validated(|_| {}, json!({}));
    assert!(find(&p2.report().expectations, "cdr", Some("customer_id"), "references").passed);
    drop(p);
}

#[test]
fn events_after_the_snapshot_date_fail() {
    let (p, r) = validated(|p| p.append("raw/cdr.csv", "K9,A002,2024-07-01,10,1,0,0,h1"), json!({}));
    let e = r.expect_err("call after S");
    assert!(e.contains("cdr.call_date: not_after_snapshot") && e.contains("row 7 '2024-07-01'"), "{e}");
    assert!(
        find(&p.report().expectations, "transactions", Some("transaction_date"), "not_after_snapshot").passed
    );
    let (_, r) = validated(|p| p.append("raw/cdr.csv", "K9,A002,2024-06-30,10,1,0,0,h1"), json!({}));
    r.expect("a call on S itself is fine");
}

#[test]
fn label_must_be_present() {
    let (_, r) = validated(
        |p| p.edit("raw/customers.csv", "80.5,0", "80.5,"),
        json!({ "max_null_ratio_columns": { "churned": 0.5 } }),
    );
    let e = r.expect_err("blank label");
    assert!(e.contains("customers.churned: label_present") && e.contains("row 4"), "{e}");
}

#[test]
fn label_must_be_two_valued() {
    let all_zero = |p: &Project| {
        p.edit("raw/customers.csv", "49.9,1", "49.9,0");
        p.edit("raw/customers.csv", "25.25,1", "25.25,0");
    };
    let (p, r) = validated(all_zero, json!({}));
    let e = r.expect_err("one class only");
    assert!(e.contains("customers.churned: label_two_valued"), "{e}");
    assert_eq!(
        find(&p.report().expectations, "customers", Some("churned"), "label_two_valued").observed["values"],
        json!([0])
    );
}

#[test]
fn on_failure_warn_reports_but_succeeds() {
    let (p, r) = validated(|_| {}, json!({ "min_rows": 10, "on_failure": "warn" }));
    let s = r.expect("warn does not fail");
    assert!(s.contains("1 of"), "{s}");
    assert_eq!(p.report().status, "warned");
}

#[test]
fn failure_writes_the_report_before_failing() {
    let (p, r) = validated(|_| {}, json!({ "min_rows": 10 }));
    r.expect_err("fails");
    assert_eq!(p.report().status, "failed");
    assert_eq!(p.report().expectations_failed, 1);
}

#[test]
fn unknown_params_key_and_bad_ratio_are_settings_errors() {
    let s = json!({"input": "i", "report": "r.json"});
    let e = churnflow_stages::describe("validate", &s, &json!({"min_row": 3})).expect_err("typo");
    assert!(e.message.contains("min_row"), "{}", e.message);
    let e = churnflow_stages::describe("validate", &s, &json!({"max_null_ratio": 2})).expect_err("ratio");
    assert!(e.message.contains("between 0 and 1"), "{}", e.message);
    let e = churnflow_stages::describe(
        "validate",
        &json!({"input": "i", "report": "r.json", "snapshot_date": "30/06/2024"}),
        &Value::Null,
    )
    .expect_err("date");
    assert!(e.message.contains("YYYY-MM-DD"), "{}", e.message);
    let io = churnflow_stages::describe(
        "validate",
        &json!({"input": "i", "report": "r.json", "html": "r.html"}),
        &Value::Null,
    )
    .unwrap();
    assert_eq!(io.outs.len(), 2);
    assert_eq!(io.params_section, "validation");
}

/// Validate decides most expectations from ingest's profile; reading the data instead must
/// give the same report, for clean data and for every kind of defect.
#[test]
fn the_profile_and_the_data_give_the_same_report() {
    type Edit = Box<dyn Fn(&Project)>;
    let defects: Vec<(&str, Edit, Value)> = vec![
        ("clean", Box::new(|_: &Project| {}), json!({})),
        ("blank price", Box::new(|p: &Project| p.edit("raw/customers.csv", ",30,0", ",,0")), json!({})),
        (
            "duplicate customer",
            Box::new(|p: &Project| {
                p.append("raw/customers.csv", "A002,2023-03-01,one-year,credit_card,36-50,South,30,0")
            }),
            json!({}),
        ),
        (
            "unknown contract",
            Box::new(|p: &Project| p.edit("raw/customers.csv", "one-year", "annual")),
            json!({}),
        ),
        ("flag 2", Box::new(|p: &Project| p.edit("raw/cdr.csv", "120,100,0,1", "120,100,0,2")), json!({})),
        (
            "negative amount",
            Box::new(|p: &Project| p.edit("raw/transactions.csv", "15.5", "-15.5")),
            json!({}),
        ),
        (
            "orphan ticket",
            Box::new(|p: &Project| p.append("raw/support_tickets.csv", "T9,Z999,2024-06-01,0,1,0,1")),
            json!({}),
        ),
        ("late call", Box::new(|p: &Project| p.edit("raw/cdr.csv", "2024-06-29", "2024-07-01")), json!({})),
        (
            "user range",
            Box::new(|_: &Project| {}),
            json!({ "ranges": { "customers.plan_monthly_eur": { "max": 40 } } }),
        ),
        (
            "user allowed",
            Box::new(|_: &Project| {}),
            json!({ "allowed_values": { "region": ["North", "South"] } }),
        ),
        (
            "user unique",
            Box::new(|_: &Project| {}),
            json!({ "unique": ["transactions.customer_id", "cdr.call_id"] }),
        ),
    ];
    for (name, edit, params) in defects {
        let (p, _) = validated(|p| edit(p), params.clone());
        let from_profile = p.read("reports/validation.json");
        std::fs::remove_file(p.path("data/ingested/profile.json")).expect("ingest writes a profile");
        let mut params = params;
        params["min_rows"] = json!(1);
        let _ = p.validate(params);
        assert_eq!(from_profile, p.read("reports/validation.json"), "{name}: profile and data disagree");
    }
}
