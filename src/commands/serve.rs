//! `churnflow serve`: the champion over HTTP (see [`crate::serve`] and docs/serving.md).
use crate::error::{Error, Result};
use crate::serve::{self, ServeOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  churnflow serve --features data/features.parquet --log-dir logs/predictions\n  \
    curl -s localhost:8000/predict -H 'Content-Type: application/json' -d '{\"customer_id\": \"C000042\"}'"
)]
pub struct ServeArgs {
    /// `registry:champion` (followed as it changes), `registry:<hash prefix>`, or a model file.
    #[arg(long, default_value = "registry:champion")]
    pub model: String,
    /// Address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// A features table (Parquet or CSV) to look customers up by id: then
    /// `{"customer_id": "…"}` alone is enough to score a customer.
    #[arg(long, value_name = "TABLE")]
    pub features: Option<PathBuf>,
    /// Append every answered prediction to JSON-lines files in this folder (read by `drift`).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Start a new prediction log file when the current one reaches this many bytes.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub log_rotate_bytes: u64,
    /// Log lines waiting to be written at most; more are dropped and counted in /metrics.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub log_queue: usize,
    /// Customers per `/predict/batch` call at most.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_batch: usize,
    /// Request bodies over this many bytes are refused with 413.
    #[arg(long, default_value_t = 32 << 20, value_name = "BYTES")]
    pub body_limit: usize,
    /// A request that takes longer is answered 503.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// How often to check whether the model spec names another model (SIGHUP checks at once).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub reload_interval: Duration,
    /// Reasons per prediction unless the request says otherwise (`?top_k=N`, `?reasons=false`).
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub top_k: usize,
    /// The gauges file of `churnflow monitor` (its `--out` folder's drift.prom): /metrics
    /// includes its `churnflow_drift_*` gauges whenever it exists.
    #[arg(long, default_value = "reports/monitor/drift.prom", value_name = "FILE")]
    pub drift_gauges: PathBuf,
}

pub fn run(root: &Path, args: &ServeArgs) -> Result<u8> {
    if args.max_batch == 0 {
        return Err(Error::BadInput("--max-batch must be at least 1".into()));
    }
    if args.reload_interval.is_zero() || args.timeout.is_zero() {
        return Err(Error::BadInput("--timeout and --reload-interval must be longer than 0".into()));
    }
    serve::run(
        root,
        ServeOptions {
            model: args.model.clone(),
            addr: args.addr,
            features: args.features.clone(),
            log_dir: args.log_dir.clone(),
            log_rotate_bytes: args.log_rotate_bytes,
            log_queue: args.log_queue,
            max_batch: args.max_batch,
            body_limit: args.body_limit,
            timeout: args.timeout,
            reload_interval: args.reload_interval,
            top_k: args.top_k,
            drift_gauges: if args.drift_gauges.is_absolute() {
                args.drift_gauges.clone()
            } else {
                root.join(&args.drift_gauges)
            },
        },
    )
}
