//! `generate`: determinism, the documented schema and volumes, churn rate, no future events,
//! defects that validation catches, and clean data that the default validation accepts.

use crate::common::*;
use churnflow_stages::generate::{generate, GenerateOptions};
use serde_json::json;

fn files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    ["customers.csv", "transactions.csv", "cdr.csv", "support_tickets.csv"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).expect("generated file"))
        .collect()
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_differs() {
    let p = Project::empty();
    generate(&GenerateOptions::new(3000, 7, p.path("a"))).unwrap();
    generate(&GenerateOptions::new(3000, 7, p.path("b"))).unwrap();
    generate(&GenerateOptions::new(3000, 8, p.path("c"))).unwrap();
    let (a, b, c) = (files(&p.path("a")), files(&p.path("b")), files(&p.path("c")));
    assert!(a == b, "same seed, different bytes");
    for i in 0..4 {
        assert_ne!(a[i], c[i], "file {i} identical for another seed");
    }
}

#[test]
fn headers_volumes_and_churn_rate_match_the_contract() {
    let p = Project::empty();
    let s = generate(&GenerateOptions::new(5000, 42, p.path("raw"))).unwrap();
    assert_eq!(s.customers, 5000);
    let rate = s.churn_rate();
    assert!((0.20..=0.30).contains(&rate), "churn rate {rate}");
    let per = |n: u64| n as f64 / 5000.0;
    assert!(
        (34.0..=46.0).contains(&per(s.transactions)),
        "transactions per customer {}",
        per(s.transactions)
    );
    assert!((52.0..=68.0).contains(&per(s.cdr)), "cdr rows per customer {}", per(s.cdr));
    assert!((0.7..=1.3).contains(&per(s.support_tickets)), "tickets per customer {}", per(s.support_tickets));
    let customers = p.read("raw/customers.csv");
    assert!(customers.starts_with(
        "customer_id,signup_date,contract_type,payment_method,age_group,region,plan_monthly_eur,churned\n"
    ));
    assert_eq!(customers.lines().count(), 5001);
}

#[test]
fn clean_data_passes_default_validation_and_no_event_is_after_the_snapshot() {
    let p = Project::empty();
    generate(&GenerateOptions::new(1200, 3, p.path("raw"))).unwrap();
    p.ingest_events().expect("ingest");
    p.validate(serde_json::Value::Null).expect("default validation accepts clean generated data");
    let r = p.report();
    assert!(r.expectations.iter().any(|e| e.expectation == "not_after_snapshot" && e.passed));
    p.features().expect("features");
    let f = p.parquet("data/features.parquet");
    assert_eq!(f.height(), 1200);
}

#[test]
fn defects_are_caught_by_default_validation() {
    let p = Project::empty();
    let mut o = GenerateOptions::new(1200, 3, p.path("raw"));
    o.defects = true;
    generate(&o).unwrap();
    p.ingest_events().expect("defects are typed fine; validation catches them");
    let e = p.validate(json!({})).expect_err("validation fails").message;
    eprintln!("{e}");
    assert!(e.contains("customers.plan_monthly_eur: max_null_ratio"), "{e}");
    assert!(e.contains("customers.customer_id: unique"), "{e}");
    assert!(e.contains("support_tickets.customer_id: references"), "{e}");
}

#[test]
fn snapshot_date_moves_every_date() {
    let p = Project::empty();
    let mut o = GenerateOptions::new(300, 1, p.path("raw"));
    o.snapshot_date = chrono::NaiveDate::from_ymd_opt(2023, 12, 31).unwrap();
    generate(&o).unwrap();
    for f in ["transactions.csv", "cdr.csv", "support_tickets.csv", "customers.csv"] {
        let text = p.read(&format!("raw/{f}"));
        let max = text
            .lines()
            .skip(1)
            .flat_map(|l| {
                l.split(',').filter(|c| c.len() == 10 && c.as_bytes()[4] == b'-').map(str::to_string)
            })
            .max()
            .unwrap();
        assert!(max.as_str() <= "2023-12-31", "{f}: {max}");
    }
}

#[test]
fn summary_line_reports_counts_and_churn_rate() {
    let p = Project::empty();
    let s = generate(&GenerateOptions::new(50, 1, p.path("raw"))).unwrap();
    let line = s.to_string();
    assert!(line.starts_with("generated 50 customers (churn rate "), "{line}");
    assert!(line.contains(&format!("{} transactions", s.transactions)), "{line}");
}
