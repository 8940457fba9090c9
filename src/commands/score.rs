//! `churnflow score`: batch predictions with a registry model or a model file.
use crate::error::{Error, Result};
use crate::store::model_ref::ModelSpec;
use churnflow_stages::ScoreOptions;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow score --input data/features.parquet --output scores.csv\n  churnflow score --model models/model.json --input new.csv --output scores.parquet --json"
)]
pub struct ScoreArgs {
    /// `registry:champion`, `registry:<hash prefix>`, or a model file.
    #[arg(long, default_value = "registry:champion")]
    pub model: String,
    /// CSV or Parquet (by extension).
    #[arg(long, value_name = "TABLE")]
    pub input: PathBuf,
    /// CSV or Parquet (by extension).
    #[arg(long, value_name = "TABLE")]
    pub output: PathBuf,
    /// Decision threshold (default: the one the model was promoted with, else its own).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Print the summary (rows, tiers, threshold, model) as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(root: &Path, args: &ScoreArgs) -> Result<u8> {
    let ScoreArgs { model, input, output, threshold, json: as_json } = args;
    let (threshold, as_json) = (*threshold, *as_json);
    let located = ModelSpec::parse(root, model).locate()?;
    let (model_path, promoted_threshold, shown) = (located.path, located.promoted_threshold, located.shown);
    let input = if input.is_absolute() { input.to_path_buf() } else { root.join(input) };
    let output = if output.is_absolute() { output.to_path_buf() } else { root.join(output) };
    if !input.is_file() {
        return Err(Error::BadInput(format!("input table {} does not exist", input.display())));
    }
    let m = churnflow_stages::load_model(&model_path)?;
    let opts = ScoreOptions { threshold: threshold.or(promoted_threshold) };
    let started = std::time::Instant::now();
    let meter = crate::exec::progress::Meter::new("scoring");
    let s = churnflow_stages::score_watched(&m, &input, &output, &opts, &|p| meter.update(p))?;
    drop(meter);
    let secs = started.elapsed().as_secs_f64();
    if as_json {
        crate::commands::print_json(&json!({
            "schema": 1, "model": shown, "output": output.display().to_string(), "rows": s.rows,
            "predicted_churners": s.predicted_churners, "threshold": s.threshold,
            "tiers": {"high": s.high, "medium": s.medium, "low": s.low},
            "mean_probability": s.mean_probability, "seconds": secs,
        }))?;
    } else {
        println!(
            "scored {} rows with {shown} in {secs:.2}s: {} predicted churners at threshold {:.3} (high {}, medium {}, low {}) -> {}",
            s.rows,
            s.predicted_churners,
            s.threshold,
            s.high,
            s.medium,
            s.low,
            output.display()
        );
    }
    Ok(0)
}
