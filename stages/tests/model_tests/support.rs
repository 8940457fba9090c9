//! Shared helpers: a seeded synthetic churn table, Parquet/CSV writers, temp projects.

#![allow(dead_code)]

use polars::prelude::*;
use std::fs::File;
use std::path::Path;

/// SplitMix64 for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A churn table like the features stage writes: customer_id first, numeric (with nulls) and
/// string columns, `churned` Int32 last. `bias` moves the churn rate (−2.5 ≈ 10 %, +2.5 ≈ 90 %).
pub fn synthetic(n: usize, bias: f64, seed: u64) -> DataFrame {
    let mut rng = Rng(seed);
    let contracts = ["month-to-month", "one-year", "two-year"];
    let regions = ["north", "south", "east", "west"];
    let (mut ids, mut tenure, mut monthly, mut calls, mut contract, mut region, mut churned) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let c = contracts[(rng.next_u64() % 3) as usize];
        let r = regions[(rng.next_u64() % 4) as usize];
        let t = (rng.unit() * 72.0).floor();
        let m = 20.0 + rng.unit() * 90.0;
        let k = (rng.unit() * 6.0).floor() as i64;
        let logit =
            bias + if c == "month-to-month" {
                1.5
            } else if c == "one-year" {
                0.0
            } else {
                -1.0
            } - 0.05 * (t - 36.0)
                + 0.02 * (m - 65.0)
                + 0.35 * (k as f64 - 2.5)
                + 0.5 * rng.normal();
        let p = 1.0 / (1.0 + (-logit).exp());
        ids.push(format!("C{i:06}"));
        tenure.push(if i % 17 == 3 { None } else { Some(t) });
        monthly.push(m);
        calls.push(k);
        contract.push(if i % 23 == 5 { None } else { Some(c.to_string()) });
        region.push(r.to_string());
        churned.push(i32::from(rng.unit() < p));
    }
    DataFrame::new(
        n,
        vec![
            Column::new("customer_id".into(), ids),
            Column::new("tenure_months".into(), tenure),
            Column::new("monthly_charges".into(), monthly),
            Column::new("support_calls".into(), calls),
            Column::new("contract_type".into(), contract),
            Column::new("region".into(), region),
            Column::new("churned".into(), churned),
        ],
    )
    .unwrap()
}

pub fn write_parquet(path: &Path, df: &DataFrame) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut df = df.clone();
    ParquetWriter::new(File::create(path).unwrap()).finish(&mut df).unwrap();
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(File::open(path).unwrap()).finish().unwrap()
}

pub fn labels(df: &DataFrame, name: &str) -> Vec<u8> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(|v| v.unwrap() as u8)
        .collect()
}

pub fn floats(df: &DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

pub fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
}

pub fn head(df: &DataFrame, n: usize) -> DataFrame {
    df.slice(0, n)
}

pub fn tail_from(df: &DataFrame, start: usize) -> DataFrame {
    df.slice(start as i64, df.height() - start)
}
