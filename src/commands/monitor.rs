//! `churnflow monitor`: the drift of the last window of served predictions against the
//! champion's training data — once (exit 0 no drift, 4 drift) or every `--every` until
//! stopped — written as a report and Prometheus gauges, with `repro` on drift (`--retrain`).
use crate::error::{Error, Result};
use crate::monitor::watch::{check_once, watch, Followup};
use crate::monitor::CheckOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    churnflow monitor --log logs/predictions --window 7d            # once: exit 0 no drift, 4 drift\n  \
    churnflow monitor --every 1h --retrain --metrics-addr 127.0.0.1:9464\n\n\
    Writes drift.json, drift.html and drift.prom to --out; `churnflow serve` includes drift.prom \
    (reports/monitor/drift.prom by default) in its /metrics.")]
pub struct MonitorArgs {
    /// The prediction-log folder (`serve --log-dir`).
    #[arg(long, default_value = "logs/predictions", value_name = "DIR")]
    pub log: String,
    /// `registry:champion` (the data the champion was trained on), `registry:<hash prefix>`,
    /// or a table.
    #[arg(long, default_value = "registry:champion", value_name = "TABLE|registry:MODEL")]
    pub reference: String,
    /// Only predictions this recent are compared (e.g. 24h, 7d).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub window: Duration,
    /// Check again every DURATION until SIGTERM or Ctrl-C (a failed check is reported and
    /// the loop goes on). Without it: one check, exit 0 (no drift) or 4 (drift).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub every: Option<Duration>,
    /// Run `churnflow repro` when the dataset drifted (the new data must already be where
    /// the pipeline reads it; the promotion gates decide).
    #[arg(long)]
    pub retrain: bool,
    /// Folder for drift.json, drift.html and drift.prom.
    #[arg(long, default_value = "reports/monitor", value_name = "DIR")]
    pub out: PathBuf,
    /// With --every: serve the latest gauges at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Print each check's report as JSON (with `checked_at` and `retrain`).
    #[arg(long)]
    pub json: bool,
}

/// The exit code of a check that found dataset drift.
const DRIFT_EXIT: u8 = 4;

pub fn run(root: &Path, args: &MonitorArgs) -> Result<u8> {
    if args.window.is_zero() {
        return Err(Error::BadInput("--window must be longer than 0".into()));
    }
    if args.every.is_some_and(|e| e.is_zero()) {
        return Err(Error::BadInput("--every must be longer than 0".into()));
    }
    if args.metrics_addr.is_some() && args.every.is_none() {
        return Err(Error::BadInput(
            "--metrics-addr serves the gauges of a running monitor: add --every (one check writes \
             drift.prom, which `churnflow serve` includes in its /metrics)"
                .into(),
        ));
    }
    let options = CheckOptions {
        reference: args.reference.clone(),
        log: args.log.clone(),
        window: args.window,
        out: if args.out.is_absolute() { args.out.clone() } else { root.join(&args.out) },
    };
    let followup = Followup { retrain: args.retrain, json: args.json };
    match args.every {
        Some(every) => watch(root.to_path_buf(), options, followup, every, args.metrics_addr),
        None => {
            let (check, retrain) = check_once(root, &options, &followup)?;
            match retrain {
                Some(r) if r.exit_code != 0 => Ok(u8::try_from(r.exit_code).unwrap_or(1)),
                _ => Ok(if check.report.fails_check() { DRIFT_EXIT } else { 0 }),
            }
        }
    }
}
