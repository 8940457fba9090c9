//! Time of explaining one customer with a model file, without HTTP: the share of `serve`'s
//! latency that reasons cost.
//!
//!   cargo run --release -p churnflow-stages --example explain_speed -- MODEL ROWS.json [REPEATS]
//!
//! ROWS.json is a JSON array of customers (objects with the model's fields). Prints the
//! median and p99 microseconds per customer over REPEATS passes (default 5), one thread.
use churnflow_stages::{load_model, ExplainScratch};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(rows)) = (args.get(1), args.get(2)) else {
        return Err("usage: explain_speed MODEL ROWS.json [REPEATS]".into());
    };
    let repeats: usize = args.get(3).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let model = load_model(std::path::Path::new(model))?;
    let started = Instant::now();
    model.prepare_explanations()?;
    println!("prepare: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&std::fs::read_to_string(rows)?)?;
    let customers = rows
        .iter()
        .map(|r| model.customer(r).map_err(|p| format!("{p:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut scratch = ExplainScratch::default();
    let mut micros = Vec::new();
    for _ in 0..repeats {
        for c in &customers {
            let t = Instant::now();
            let e = model.explain(c, &mut scratch)?;
            std::hint::black_box(e);
            micros.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
    println!("{} explanations: median {:.1} µs, p99 {:.1} µs", micros.len(), at(0.5), at(0.99));
    Ok(())
}
