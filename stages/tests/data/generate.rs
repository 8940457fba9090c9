//! `generate`: determinism, the documented schema and volumes, churn rate, no future events,
//! defects that validation catches, and clean data that the default validation accepts.

use crate::common::*;
use churnflow_stages::{generate, GenerateOptions};
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

/// The features of a generated data set (many streaming batches per table, customers'
/// calls continuing from one batch into the next) against a plain in-memory polars
/// group-by of the ingested tables by customer_id; and computed twice, the same bytes.
#[test]
fn features_of_generated_data_match_a_plain_group_by_of_the_ingested_tables() {
    use polars::prelude::*;
    let p = Project::empty();
    generate(&GenerateOptions::new(12_000, 11, p.path("raw"))).unwrap();
    p.ingest_events().expect("ingest");
    p.validate(json!({})).expect("validate");
    p.features().expect("features");
    let bytes = std::fs::read(p.path("data/features.parquet")).unwrap();
    p.features().expect("features again");
    assert!(
        bytes == std::fs::read(p.path("data/features.parquet")).unwrap(),
        "the same inputs give the same bytes"
    );
    let features = p.parquet("data/features.parquet");
    let s = (chrono::NaiveDate::parse_from_str(SNAPSHOT_DATE, "%Y-%m-%d").unwrap()
        - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
    .num_days() as i32;
    let scan = |table: &str| p.parquet(&format!("data/ingested/{table}.parquet")).lazy();
    let day = |c: &str| col(c).cast(DataType::Int32);
    let within = |c: &str, days: i32| day(c).gt_eq(lit(s - days)).and(day(c).lt_eq(lit(s)));
    let calls = scan("cdr").filter(within("call_date", 30)).group_by([col("customer_id")]).agg([
        len().cast(DataType::Float64).alias("calls_count_30d"),
        col("duration_seconds").mean().alias("calls_duration_avg_30d"),
        (col("data_usage_mb").sum() / lit(1024.0)).alias("data_usage_gb_30d"),
        col("called_number_hash").n_unique().cast(DataType::Float64).alias("unique_contacts_30d"),
    ]);
    let transactions = scan("transactions")
        .filter(day("transaction_date").lt_eq(lit(s)))
        .group_by([col("customer_id")])
        .agg([
            len().cast(DataType::Float64).alias("frequency"),
            col("amount").sum().alias("monetary_total"),
            col("amount").std(1).fill_null(lit(0.0)).alias("monetary_std"),
        ]);
    let tickets = scan("support_tickets")
        .filter(within("ticket_date", 90))
        .group_by([col("customer_id")])
        .agg([len().cast(DataType::Float64).alias("support_tickets_90d")]);
    let names = [
        "calls_count_30d",
        "calls_duration_avg_30d",
        "data_usage_gb_30d",
        "unique_contacts_30d",
        "frequency",
        "monetary_total",
        "monetary_std",
        "support_tickets_90d",
    ];
    let left = |lf: LazyFrame, other: LazyFrame| {
        lf.join(other, [col("customer_id")], [col("customer_id")], JoinArgs::new(JoinType::Left))
    };
    let expected =
        left(left(left(features.clone().lazy().select([col("customer_id")]), calls), transactions), tickets)
            .with_columns(names.iter().map(|n| col(*n).fill_null(lit(0.0))).collect::<Vec<_>>())
            .collect()
            .unwrap();
    assert_eq!(expected.height(), 12_000);
    assert!(
        f64_at(&expected, "unique_contacts_30d", 0) > 0.0
            || f64_at(&expected, "unique_contacts_30d", 1) > 0.0
    );
    for name in names {
        for row in 0..expected.height() {
            let (want, got) = (f64_at(&expected, name, row), f64_at(&features, name, row));
            assert!(
                (want - got).abs() <= 1e-9 * want.abs().max(1.0),
                "{name} row {row}: expected {want}, got {got}"
            );
        }
    }
}

/// Per day-relative-to-the-snapshot regime (before / from the first day of the drifted
/// month), the mean of `value(row)` over the rows of `file`.
fn means_before_and_after(
    p: &Project,
    file: &str,
    date_col: usize,
    first_day: &str,
    value: impl Fn(&[&str]) -> f64,
) -> (f64, f64) {
    let text = p.read(file);
    let (mut before, mut after) = ((0.0, 0.0), (0.0, 0.0));
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let side = if cells[date_col] >= first_day { &mut after } else { &mut before };
        side.0 += value(&cells);
        side.1 += 1.0;
    }
    (before.0 / before.1, after.0 / after.1)
}

/// A price shift is billed from the first day of the drifted month (30 days before the
/// snapshot) and a usage shift lengthens the calls from then on; what came before is as it was.
#[test]
fn drift_shifts_start_on_the_first_day_of_the_drifted_month() {
    let p = Project::empty();
    let mut o = GenerateOptions::new(3000, 4, p.path("raw"));
    o.drift = churnflow_stages::ShiftSpec::parse("price=+20%,usage=+30%").unwrap();
    let s = generate(&o).unwrap();
    assert_eq!(s.snapshot_date.to_string(), "2024-06-30");
    let first_day = churnflow_stages::ShiftSpec::first_day(s.snapshot_date).unwrap().to_string();
    assert_eq!(first_day, "2024-05-31");
    let plan: std::collections::HashMap<String, f64> = p
        .read("raw/customers.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[6].parse().unwrap())
        })
        .collect();
    // A payment is 0.32 × the price billed × a log-normal of mean e^(0.35²/2): 0.340 of the
    // listed (new) price from the first day, 0.340 / 1.2 = 0.283 before it.
    let (before, after) = means_before_and_after(&p, "raw/transactions.csv", 1, &first_day, |c| {
        c[2].parse::<f64>().unwrap() / plan[c[0]]
    });
    assert!((after - 0.340).abs() < 0.01, "billed from the first day: {after}");
    assert!((before - 0.340 / 1.2).abs() < 0.005, "the old price before: {before}");
    // Calls: exponential durations, mean 150 s (240 s international), 30 % longer from then on.
    let (before, after) =
        means_before_and_after(&p, "raw/cdr.csv", 2, &first_day, |c| c[3].parse::<f64>().unwrap());
    assert!((after / before - 1.3).abs() < 0.05, "calls 30 % longer: {before} -> {after}");
    // No shift: the same before and after.
    let mut o = GenerateOptions::new(3000, 4, p.path("plain"));
    o.drift = churnflow_stages::ShiftSpec::default();
    generate(&o).unwrap();
    let (before, after) =
        means_before_and_after(&p, "plain/cdr.csv", 2, &first_day, |c| c[3].parse::<f64>().unwrap());
    assert!((after / before - 1.0).abs() < 0.05, "unshifted: {before} -> {after}");
}
