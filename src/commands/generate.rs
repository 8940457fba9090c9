//! `churnflow generate`: a synthetic telecom data set in the `events` layout (four CSV tables).
use crate::error::{Error, Result};
use churnflow_stages::GenerateOptions;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct GenerateArgs {
    #[arg(long)]
    pub customers: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder for the four CSV files.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// No event after this day (YYYY-MM-DD; default 2024-06-30).
    #[arg(long, value_name = "DATE")]
    pub snapshot_date: Option<String>,
    /// Inject a few realistic faults (blank prices, a duplicated customer, an orphan ticket).
    #[arg(long)]
    pub defects: bool,
}

pub fn run(root: &Path, args: &GenerateArgs) -> Result<u8> {
    let GenerateArgs { customers, seed, out, snapshot_date, defects } = args;
    let (customers, seed, defects) = (*customers, *seed, *defects);
    if customers == 0 {
        return Err(Error::BadInput("--customers must be at least 1".into()));
    }
    let out = if out.is_absolute() { out.to_path_buf() } else { root.join(out) };
    let mut opts = GenerateOptions::new(customers, seed, &out);
    if let Some(d) = snapshot_date.as_deref() {
        opts.snapshot_date = churnflow_stages::table::parse_date(d)
            .map_err(|e| Error::BadInput(format!("--snapshot-date: {e}")))?;
    }
    opts.defects = defects;
    let summary = churnflow_stages::generate(&opts).map_err(|e| Error::GenerateFailed(e.to_string()))?;
    println!(
        "generated {} customers ({:.1} % churned), {} transactions, {} CDR rows, {} support tickets in {} ({:.1} MB)",
        summary.customers,
        100.0 * summary.churn_rate(),
        summary.transactions,
        summary.cdr,
        summary.support_tickets,
        out.display(),
        summary.bytes as f64 / 1e6
    );
    Ok(0)
}
