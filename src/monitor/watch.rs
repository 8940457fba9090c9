//! The monitoring loop and the retrain: `monitor --every` checks on a timer until SIGTERM or
//! Ctrl-C, optionally serving the latest gauges on its own /metrics; `--retrain` runs
//! `churnflow repro` (a child process of this binary, output passed through) when the dataset
//! drifted, and reads the registry's audit log to say what the promotion gates decided.
use crate::error::{Error, Result};
use crate::monitor::gauges::EOF;
use crate::monitor::{check, CheckOptions, WindowCheck};
use crate::store::registry::{EventAction, Registry};
use crate::store::short_hash;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a check is followed by.
#[derive(Debug, Clone)]
pub(crate) struct Followup {
    /// Run `repro` when the dataset drifted.
    pub retrain: bool,
    /// Print the report as JSON instead of a summary.
    pub json: bool,
}

/// What a retrain led to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Retrain {
    /// `repro`'s exit code.
    pub exit_code: i32,
    /// The audit-log events the run added: `promote <model>: <reason>` / `reject …`.
    pub events: Vec<String>,
}

/// One check, its report printed, and the retrain if asked for and needed.
pub(crate) fn check_once(
    root: &Path,
    options: &CheckOptions,
    followup: &Followup,
) -> Result<(WindowCheck, Option<Retrain>)> {
    let c = check(root, options)?;
    let retrain = if followup.retrain && c.report.dataset_drift { Some(retrain(root)?) } else { None };
    print(&c, retrain.as_ref(), options, followup.json)?;
    Ok((c, retrain))
}

fn print(c: &WindowCheck, retrain: Option<&Retrain>, options: &CheckOptions, json: bool) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(&c.report).map_err(|e| Error::BadInput(e.to_string()))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("checked_at".into(), humantime::format_rfc3339_seconds(c.at).to_string().into());
            map.insert("retrain".into(), serde_json::to_value(retrain).unwrap_or_default());
        }
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return Ok(());
    }
    println!(
        "{} {} predictions in the last {}: {}",
        humantime::format_rfc3339_seconds(c.at),
        c.report.current.rows,
        in_words(options.window),
        c.report.summary()
    );
    let drifted: Vec<&str> = c.report.columns.iter().filter(|d| d.drift).map(|d| d.column.as_str()).collect();
    if !drifted.is_empty() {
        println!("  drifted: {}", drifted.join(", "));
    }
    if let Some(line) = c.report.not_compared_line() {
        println!("  {line}");
    }
    println!("  report: {}", options.out.join("drift.html").display());
    if let Some(r) = retrain {
        if r.events.is_empty() {
            println!("  retrain: repro exited {}; the registry did not change", r.exit_code);
        }
        for e in &r.events {
            println!("  retrain: {e}");
        }
    }
    Ok(())
}

/// Runs `churnflow repro` in `root` and reads what it added to the audit log.
fn retrain(root: &Path) -> Result<Retrain> {
    let before = Registry::load(root)?.events().len();
    eprintln!("monitor: the dataset drifted: retraining (churnflow repro)");
    let exe = std::env::current_exe().map_err(|e| Error::io("cannot find churnflow itself", e))?;
    // repro's progress goes to stderr; its stdout too, so that monitor's own stdout stays
    // one report per check.
    let status = std::process::Command::new(exe)
        .arg("-C")
        .arg(root)
        .arg("repro")
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| Error::io("cannot start churnflow repro", e))?;
    let events = Registry::load(root)?
        .events()
        .into_iter()
        .skip(before)
        .map(|e| {
            let model = e.model.as_deref().map(short_hash).unwrap_or("-");
            let what = match e.action {
                EventAction::Promote => "promoted",
                EventAction::Reject => "not promoted",
                EventAction::Rollback => "rolled back to",
            };
            format!("{what} {model}: {}", e.reason)
        })
        .collect();
    Ok(Retrain { exit_code: status.code().unwrap_or(1), events })
}

/// Checks every `every` until SIGTERM or Ctrl-C; a failed check is reported and the loop goes
/// on (a quiet hour with no predictions is not a reason to stop watching).
pub(crate) fn watch(
    root: PathBuf,
    options: CheckOptions,
    followup: Followup,
    every: Duration,
    metrics_addr: Option<SocketAddr>,
) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("monitor")
        .build()
        .map_err(|e| Error::io("cannot start the monitor runtime", e))?;
    runtime.block_on(async move {
        let latest = Arc::new(Mutex::new(String::new()));
        if let Some(addr) = metrics_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Error::BadInput(format!("cannot listen on {addr}: {e}")))?;
            let bound = listener.local_addr().map_err(|e| Error::io("cannot read the bound address", e))?;
            println!("gauges on http://{bound}/metrics");
            let shared = latest.clone();
            let app = axum::Router::new().route(
                "/metrics",
                get(move || {
                    let text = shared.lock().map(|g| g.clone()).unwrap_or_default();
                    async move {
                        (
                            [(
                                header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            text + EOF,
                        )
                            .into_response()
                    }
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = crate::serve::shutdown_signal("monitor: stopped");
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut stop => return Ok(0),
            }
            let (root, options, followup) = (root.clone(), options.clone(), followup.clone());
            let checked = tokio::task::spawn_blocking(move || check_once(&root, &options, &followup)).await;
            match checked {
                Ok(Ok((c, _))) => {
                    if let Ok(mut g) = latest.lock() {
                        *g = c.gauges;
                    }
                }
                Ok(Err(e)) => eprintln!("monitor: check failed: {e}"),
                Err(e) => eprintln!("monitor: check failed: {e}"),
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
    })
}

/// A window as people write it: `7 days`, `36 hours`, `90 minutes`, `45 seconds` (the largest
/// unit that divides it).
fn in_words(window: std::time::Duration) -> String {
    let secs = window.as_secs();
    let (n, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| secs >= *size && secs % size == 0)
        .map_or((secs, "second"), |(size, unit)| (secs / size, unit));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::in_words;
    use std::time::Duration;

    #[test]
    fn a_window_is_written_in_its_largest_whole_unit() {
        let words = |s| in_words(Duration::from_secs(s));
        assert_eq!(words(7 * 86_400), "7 days");
        assert_eq!(words(86_400), "1 day");
        assert_eq!(words(36 * 3_600), "36 hours");
        assert_eq!(words(90 * 60), "90 minutes");
        assert_eq!(words(45), "45 seconds");
    }
}
