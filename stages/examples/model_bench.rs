//! Model-stage benchmark: training time per algorithm on N synthetic customers (default
//! 100,000) and `score` throughput on M rows (default 2,100,000), plus peak RSS.
//!
//! `cargo run --release -p churnflow-stages --example model_bench -- [N] [M]`
//! (bench/model_stages.sh wraps it).

use churnflow_stages::testing::metrics;
use churnflow_stages::testing::model::Algorithm;
use churnflow_stages::testing::train::{train_frame, TrainParams};
use polars::prelude::*;
use std::path::Path;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A features-like table: 20 numeric columns (some with nulls), 4 categorical, `churned`.
fn synthetic(n: usize, seed: u64) -> PolarsResult<DataFrame> {
    let mut rng = Rng(seed);
    let contracts = ["month-to-month", "one-year", "two-year"];
    let payments = ["electronic_check", "mailed_check", "bank_transfer", "credit_card"];
    let ages = ["18-25", "26-35", "36-50", "51-65", "65+"];
    let regions = ["north", "south", "east", "west", "central", "islands"];
    let mut numeric: Vec<Vec<Option<f64>>> = (0..20).map(|_| Vec::with_capacity(n)).collect();
    let mut cats: Vec<Vec<&str>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    let mut ids = Vec::with_capacity(n);
    let mut churned = Vec::with_capacity(n);
    for i in 0..n {
        let c = (rng.next() % 3) as usize;
        let pay = (rng.next() % 4) as usize;
        let mut logit = -1.2 + [1.2, 0.0, -1.0][c] + if pay == 0 { 0.5 } else { 0.0 };
        for (j, col) in numeric.iter_mut().enumerate() {
            let x = rng.unit() * (j + 1) as f64 * 10.0;
            if j < 6 {
                logit += [0.04, -0.03, 0.02, -0.02, 0.01, 0.015][j] * (x - (j + 1) as f64 * 5.0)
                    / (j + 1) as f64
                    * 2.0;
            }
            col.push(if j % 5 == 4 && i % 31 == 0 { None } else { Some(x) });
        }
        cats[0].push(contracts[c]);
        cats[1].push(payments[pay]);
        cats[2].push(ages[(rng.next() % 5) as usize]);
        cats[3].push(regions[(rng.next() % 6) as usize]);
        ids.push(format!("CUST{i:08}"));
        churned.push(i32::from(rng.unit() < 1.0 / (1.0 + (-logit).exp())));
    }
    let mut cols = vec![Column::new("customer_id".into(), ids)];
    for (j, col) in numeric.into_iter().enumerate() {
        cols.push(Column::new(format!("num_{j:02}").into(), col));
    }
    for (name, col) in ["contract_type", "payment_method", "age_group", "region"].iter().zip(cats) {
        cols.push(Column::new((*name).into(), col));
    }
    cols.push(Column::new("churned".into(), churned));
    DataFrame::new(n, cols)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let m: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2_100_000);
    let dir = tempfile::tempdir()?;
    let train = synthetic(n, 1)?;
    let test = synthetic(n / 4, 2)?;
    let y_test: Vec<u8> = test.column("churned")?.i32()?.iter().map(|v| v.unwrap_or(0) as u8).collect();
    println!("threads: {}", rayon::current_num_threads());
    let configs = [
        ("logistic_regression", TrainParams::default()),
        ("decision_tree", TrainParams { algorithm: Algorithm::DecisionTree, ..TrainParams::default() }),
        (
            "random_forest_100",
            TrainParams { algorithm: Algorithm::RandomForest, n_trees: 100, ..TrainParams::default() },
        ),
        (
            "gradient_boosting_100",
            TrainParams { algorithm: Algorithm::GradientBoosting, ..TrainParams::default() },
        ),
    ];
    let mut models = Vec::new();
    for (name, params) in configs {
        let t = Instant::now();
        let model = train_frame(&train, Path::new("bench"), "bench".into(), &params)?;
        let secs = t.elapsed().as_secs_f64();
        let p = model.predict_table(&test, Path::new("bench"))?;
        let auc = metrics::auc_roc(&y_test, &p).unwrap_or(f64::NAN);
        let path = dir.path().join(format!("{name}.json"));
        model.save(&path)?;
        let size = std::fs::metadata(&path)?.len();
        println!("train {name}: {n} rows in {secs:.3} s, test AUC {auc:.4}, model file {size} bytes");
        models.push((name, path));
    }
    // Scoring input: M rows as Parquet.
    let mut big = synthetic(m, 3)?;
    let input = dir.path().join("score_in.parquet");
    ParquetWriter::new(std::fs::File::create(&input)?).finish(&mut big)?;
    drop(big);
    for (name, path) in &models {
        if *name == "decision_tree" {
            continue;
        }
        let output = dir.path().join("scores.parquet");
        let t = Instant::now();
        let s = churnflow_stages::score(path, &input, &output)?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "score {name}: {} rows in {secs:.3} s = {:.0} rows/s (read + encode + predict + write)",
            s.rows,
            s.rows as f64 / secs
        );
    }
    println!("peak RSS: {:.0} MB", peak_rss_mb());
    Ok(())
}
