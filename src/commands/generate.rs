//! `churnflow generate`: a synthetic telecom data set in the `events` layout (four CSV tables).
use crate::error::{Error, Result};
use churnflow_stages::GenerateOptions;
use std::path::Path;

pub fn run(
    root: &Path,
    customers: usize,
    seed: u64,
    out: &Path,
    snapshot_date: Option<&str>,
    defects: bool,
) -> Result<u8> {
    if customers == 0 {
        return Err(Error::BadInput("--customers must be at least 1".into()));
    }
    let out = if out.is_absolute() { out.to_path_buf() } else { root.join(out) };
    let mut opts = GenerateOptions::new(customers, seed, &out);
    if let Some(d) = snapshot_date {
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
