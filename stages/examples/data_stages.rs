//! Times generate → ingest → validate → features through the library.
//!
//! `cargo run --release -p churnflow-stages --example data_stages -- STEP N SEED DIR`
//! with STEP one of `all`, `generate`, `ingest`, `validate`, `features` prints one line per
//! step with its wall time. Run one step per process under `/usr/bin/time -v` for its peak
//! RSS (bench/data_stages.sh does).

use churnflow_stages::testing::features::{self, FeaturesParams, FeaturesSettings};
use churnflow_stages::testing::ingest::{self, IngestParams, IngestSettings};
use churnflow_stages::testing::validate::{self, ValidateSettings, ValidationParams};
use churnflow_stages::{generate, GenerateOptions};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let step = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let seed: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(42);
    let root = PathBuf::from(args.get(4).cloned().unwrap_or_else(|| "target/bench-data".into()));
    if !["all", "generate", "ingest", "validate", "features"].contains(&step.as_str()) {
        return Err(format!("unknown step '{step}' (all, generate, ingest, validate, features)").into());
    }
    let does = |s: &str| step == "all" || step == s;
    std::fs::create_dir_all(&root)?;

    if does("generate") {
        let t = Instant::now();
        let s = generate(&GenerateOptions::new(n, seed, root.join("raw")))?;
        println!(
            "generate  {:>8.2} s  {} customers, churn {:.1} %, {} transactions, {} cdr, {} tickets, {:.1} MB",
            t.elapsed().as_secs_f64(),
            s.customers,
            100.0 * s.churn_rate(),
            s.transactions,
            s.cdr,
            s.support_tickets,
            s.bytes as f64 / 1e6
        );
    }
    if does("ingest") {
        let t = Instant::now();
        let settings = IngestSettings::Events {
            customers: "raw/customers.csv".into(),
            transactions: "raw/transactions.csv".into(),
            cdr: "raw/cdr.csv".into(),
            support_tickets: "raw/support_tickets.csv".into(),
            out: "ingested".into(),
        };
        ingest::ingest(&root, &settings, &IngestParams::default())?;
        println!("ingest    {:>8.2} s", t.elapsed().as_secs_f64());
    }
    if does("validate") {
        let t = Instant::now();
        let vs = ValidateSettings {
            input: "ingested".into(),
            report: "reports/validation.json".into(),
            html: None,
            snapshot_date: Some("2024-06-30".into()),
        };
        let report = validate::validate(&root, &vs, &ValidationParams::default())?;
        println!("validate  {:>8.2} s  status {}", t.elapsed().as_secs_f64(), report.status);
        if report.status != "passed" {
            println!("{}", report.failure_summary());
        }
    }
    if does("features") {
        let t = Instant::now();
        let fs = FeaturesSettings {
            input: "ingested".into(),
            validation_report: "reports/validation.json".into(),
            out: "features.parquet".into(),
        };
        let fp = FeaturesParams { snapshot_date: Some("2024-06-30".into()) };
        let (rows, cols) = features::features(&root, &fs, &fp)?;
        println!("features  {:>8.2} s  {rows} x {cols}", t.elapsed().as_secs_f64());
    }
    Ok(())
}
