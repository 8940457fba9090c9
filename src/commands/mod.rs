//! One module per command, on top of every layer: each owns its clap Args, turns them into
//! the options its layer takes, and returns the exit code (errors carry their own; `cli`
//! maps them). Nothing below `cli`/`commands` imports from here.
//!
//! A command never uses another command's file (`tests/layering.rs`): what two commands
//! share is a layer function, or, when it is only output, one of the helpers here
//! ([`print_json`], [`generate_data`]) or the tables of [`table`] (not a command).
pub(crate) mod checkout;
pub(crate) mod dag;
pub(crate) mod drift;
pub(crate) mod exp;
pub(crate) mod gc;
pub(crate) mod generate;
pub(crate) mod init;
pub(crate) mod metrics;
pub(crate) mod models;
pub(crate) mod monitor;
pub(crate) mod params_diff;
pub(crate) mod remote;
pub(crate) mod report;
pub(crate) mod repro;
pub(crate) mod score;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod table;
pub(crate) mod transfer;

/// Prints a JSON value to stdout (pretty, with a trailing newline).
pub(crate) fn print_json(value: &serde_json::Value) -> crate::error::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    writeln!(out, "{text}").map_err(|e| crate::error::Error::io("cannot write to stdout", e))
}

/// Generates the synthetic data set `opts` describes and prints what was made (`generate`,
/// and `init` for the events example).
pub(crate) fn generate_data(opts: &churnflow_stages::GenerateOptions) -> crate::error::Result<()> {
    use churnflow_stages::ShiftSpec;
    let summary =
        churnflow_stages::generate(opts).map_err(|e| crate::error::Error::GenerateFailed(e.to_string()))?;
    println!(
        "generated {} customers ({:.1} % churned), {} transactions, {} CDR rows, {} support tickets in {} ({:.1} MB)",
        summary.customers,
        100.0 * summary.churn_rate(),
        summary.transactions,
        summary.cdr,
        summary.support_tickets,
        opts.out.display(),
        summary.bytes as f64 / 1e6
    );
    if !opts.drift.is_empty() {
        let mut line = format!("shifted: {}", opts.drift);
        let d = &opts.drift;
        if d.usage.is_some() || d.price.is_some() || d.contract.is_some() {
            if let Some(first) = ShiftSpec::first_day(summary.snapshot_date) {
                line.push_str(&format!("; in effect from {first}"));
            }
        }
        line.push_str(&format!("; snapshot date {}", summary.snapshot_date));
        if d.snapshot.is_some() {
            line.push_str(&format!(
                " (give the features stage snapshot_date: \"{}\")",
                summary.snapshot_date
            ));
        }
        println!("{line}");
    }
    Ok(())
}
