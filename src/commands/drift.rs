//! `churnflow drift`: data drift of a table or the serving prediction log against the data
//! the champion was trained on (or any table); text, `--json` or an HTML page; exit 4 with
//! `--fail-on-drift` when the dataset drifted.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow drift --current data/next_month/features.parquet --html reports/drift.html\n  \
    churnflow drift --current logs/predictions --fail-on-drift   # exit 4 when the dataset drifted"
)]
pub struct DriftArgs {
    /// `registry:champion` (the data the champion was trained on), `registry:<hash prefix>`,
    /// or a table (Parquet/CSV).
    #[arg(long, default_value = "registry:champion", value_name = "TABLE|registry:MODEL")]
    pub reference: String,
    /// A table (Parquet/CSV) or a prediction-log folder (`serve --log-dir`).
    #[arg(long, value_name = "TABLE|LOG_DIR")]
    pub current: String,
    /// Also write the report as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the report as JSON (`"schema": 1`, full precision).
    #[arg(long)]
    pub json: bool,
    /// Exit 4 when the dataset drifted.
    #[arg(long)]
    pub fail_on_drift: bool,
}

/// The exit code of a dataset that drifted, with `--fail-on-drift`.
const DRIFT_EXIT: u8 = 4;

pub fn run(root: &Path, args: &DriftArgs) -> Result<u8> {
    let report = crate::drift::drift(root, &args.reference, &args.current, None)?;
    if let Some(html) = &args.html {
        let path = if html.is_absolute() { html.clone() } else { root.join(html) };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        crate::store::atomic::write(&path, report.html().as_bytes(), false)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    if args.json {
        let value = serde_json::to_value(&report).map_err(|e| Error::BadInput(e.to_string()))?;
        crate::commands::print_json(&value)?;
    } else {
        // written, not print!ed: `churnflow drift ... | head` is a broken pipe, not a panic
        use std::io::Write;
        let mut text = report.text();
        if let Some(html) = &args.html {
            text.push_str(&format!("html: {}\n", html.display()));
        }
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("cannot write to stdout", e))?;
    }
    Ok(if args.fail_on_drift && report.fails_check() { DRIFT_EXIT } else { 0 })
}
