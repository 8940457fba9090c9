//! `churnflow score`: batch predictions with a registry model or a model file.
use crate::error::{Error, Result};
use crate::store::registry::Registry;
use crate::store::short_hash;
use churnflow_stages::ScoreOptions;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where the model comes from, and the decision threshold it was promoted with (if any).
fn resolve_model(root: &Path, spec: &str) -> Result<(PathBuf, Option<f64>, String)> {
    if let Some(name) = spec.strip_prefix("registry:") {
        let registry = Registry::load(root)?;
        let hash = registry.resolve(name)?;
        let path = registry.model_path(&hash).ok_or_else(|| {
            Error::BadInput(format!(
                "the registry has no model file for {}; restore registry/ from git",
                short_hash(&hash)
            ))
        })?;
        // The operating point chosen at evaluation (e.g. max_profit) travels with the promotion.
        let threshold = registry
            .events()
            .iter()
            .rev()
            .filter(|e| e.model.as_deref() == Some(hash.as_str()))
            .find_map(|e| e.metrics.get("threshold").and_then(|t| t.as_f64()));
        return Ok((path, threshold, format!("registry model {}", short_hash(&hash))));
    }
    let path = if Path::new(spec).is_absolute() { PathBuf::from(spec) } else { root.join(spec) };
    if !path.is_file() {
        return Err(Error::BadInput(format!(
            "model file {spec} does not exist (use a path, or registry:champion for the registry's champion)"
        )));
    }
    Ok((path, None, spec.to_string()))
}

#[derive(clap::Args)]
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
    #[arg(long)]
    pub json: bool,
}

pub fn run(root: &Path, args: &ScoreArgs) -> Result<u8> {
    let ScoreArgs { model, input, output, threshold, json: as_json } = args;
    let (threshold, as_json) = (*threshold, *as_json);
    let (model_path, promoted_threshold, shown) = resolve_model(root, model)?;
    let input = if input.is_absolute() { input.to_path_buf() } else { root.join(input) };
    let output = if output.is_absolute() { output.to_path_buf() } else { root.join(output) };
    if !input.is_file() {
        return Err(Error::BadInput(format!("input table {} does not exist", input.display())));
    }
    let m = churnflow_stages::load_model(&model_path).map_err(|e| Error::BadInput(e.to_string()))?;
    let opts = ScoreOptions { threshold: threshold.or(promoted_threshold) };
    let started = std::time::Instant::now();
    let s = churnflow_stages::score_with(&m, &input, &output, &opts)
        .map_err(|e| Error::BadInput(e.to_string()))?;
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
