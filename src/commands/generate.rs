//! `churnflow generate`: a synthetic telecom data set in the `events` layout (four CSV tables).
use crate::error::{did_you_mean, Error, Result};
use churnflow_stages::{GenerateOptions, ShiftSpec};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow generate --customers 2000 --seed 42 --out data/raw\n  churnflow generate --customers 2000 --seed 43 --out data/raw --drift 'snapshot=+1m,price=+20%'"
)]
pub struct GenerateArgs {
    /// How many customers (one row each in customers.csv; their events follow).
    #[arg(long)]
    pub customers: usize,
    /// The random seed: the same seed and options give the same bytes.
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
    /// A later month: shifts applied inside the model of customers, e.g.
    /// --drift 'snapshot=+1m,usage=+30%,price=+20%,contract=month-to-month:+25pp'
    /// (the same as --drift snapshot,usage,price,contract)
    ///
    /// SPEC is comma-separated KEY=VALUE, or a bare KEY for its default (shown):
    ///   snapshot=+1m   move the snapshot date by Nd, Nw, Nm or Ny (a month end stays a
    ///                  month end), from --snapshot-date or its default
    ///   usage=+30%     minutes and data of each call from 30 days before the snapshot on
    ///                  (-90% to +300%)
    ///   price=+20%     plan prices, billed from 30 days before the snapshot on (-50% to +100%)
    ///   contract=month-to-month:+25pp
    ///                  customers switch to (with -Npp: away from) a contract type, keeping
    ///                  their history
    ///
    /// The history before those 30 days stays as it was; the churn label follows the
    /// shifted traits (higher prices, more month-to-month: more churn; more use: less).
    /// The columns of the features table that `churnflow drift` flags, at the defaults:
    ///   snapshot   none (the features are relative to the snapshot date: give the
    ///              features stage the new date)
    ///   usage      calls_duration_avg_30d, calls_duration_total_30d, data_usage_gb_30d
    ///   price      plan_monthly_eur, recent_monetary
    ///   contract   contract_type
    /// With --defects the drifted data gets the same faults.
    #[arg(long, value_name = "SPEC", verbatim_doc_comment)]
    pub drift: Option<String>,
}

/// Parses `--drift`, with a did-you-mean for a misspelt key or contract type.
fn parse_drift(text: &str) -> Result<ShiftSpec> {
    ShiftSpec::parse(text).map_err(|e| {
        let mut message = format!("--drift: {e}");
        if let Some(guess) = e.misspelt().and_then(|(word, known)| did_you_mean(word, known.iter().copied()))
        {
            message.push_str(&format!("\n  help: did you mean '{guess}'?"));
        }
        Error::BadInput(message)
    })
}

pub fn run(root: &Path, args: &GenerateArgs) -> Result<u8> {
    let GenerateArgs { customers, seed, out, snapshot_date, defects, drift } = args;
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
    if let Some(spec) = drift.as_deref() {
        opts.drift = parse_drift(spec)?;
    }
    crate::commands::generate_data(&opts)?;
    Ok(0)
}
