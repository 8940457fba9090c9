//! `churnflow monitor`'s check: the drift of the last window of served predictions (the
//! prediction log `serve --log-dir` writes) against the champion's training data (or a
//! table), written to one folder as `drift.json` (the `drift --json` report), `drift.html` and
//! `drift.prom` — the Prometheus gauges ([`gauges`]) that `serve`'s /metrics includes when both
//! run, and that `monitor --metrics-addr` serves on its own. Every file is written atomically,
//! so a reader never sees half a report.
pub(crate) mod gauges;
pub(crate) mod watch;

use crate::error::{Error, Result};
use churnflow_stages::DriftReport;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The gauges file in the output folder (what `serve --drift-gauges` reads).
pub(crate) const GAUGES_FILE: &str = "drift.prom";

/// What one check compares and where it writes.
#[derive(Debug, Clone)]
pub(crate) struct CheckOptions {
    /// `registry:champion`, `registry:<hash prefix>` or a table.
    pub reference: String,
    /// The prediction-log folder, as given.
    pub log: String,
    /// Only predictions this recent count.
    pub window: Duration,
    /// The output folder (absolute).
    pub out: PathBuf,
}

/// One check's outcome.
pub(crate) struct WindowCheck {
    pub report: DriftReport,
    pub at: SystemTime,
    /// The gauges as OpenMetrics text without `# EOF`.
    pub gauges: String,
}

/// Runs one check and writes its files.
pub(crate) fn check(root: &Path, options: &CheckOptions) -> Result<WindowCheck> {
    let at = SystemTime::now();
    let since = at.checked_sub(options.window).unwrap_or(SystemTime::UNIX_EPOCH);
    let since = humantime::format_rfc3339_millis(since).to_string();
    let report = crate::drift::drift(root, &options.reference, &options.log, Some(since))?;
    let gauges = gauges::render(&report, at);
    std::fs::create_dir_all(&options.out)
        .map_err(|e| Error::io(format!("cannot create {}", options.out.display()), e))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::BadInput(e.to_string()))? + "\n";
    for (name, bytes) in [
        ("drift.json", json.as_bytes()),
        ("drift.html", report.html().as_bytes()),
        (GAUGES_FILE, gauges.as_bytes()),
    ] {
        let path = options.out.join(name);
        crate::store::atomic::write(&path, bytes, false)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    Ok(WindowCheck { report, at, gauges })
}
