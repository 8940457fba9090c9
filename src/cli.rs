//! Command-line interface: arguments (clap), dispatch to commands, and the one place where
//! results become exit codes and errors become messages on stderr.
//!
//! Exit codes are decided here and nowhere else ([`exit_code`]): 0 ok, 1 a stage failed (or
//! the store/registry is damaged, or an I/O error while running), 2 bad input or usage
//! caught before any stage ran, 3 another churnflow holds the project lock, 130
//! interrupted. A broken pipe on stdout is success.
use crate::commands;
use crate::commands::dag::DagArgs;
use crate::commands::repro::ReproArgs;
use crate::compare::git::GitError;
use crate::error::{Error, Result};
use crate::exec::stage_call;
use crate::store::registry::RegistryError;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "churnflow",
    version,
    about = "A content-hashed stage graph for customer-churn machine learning"
)]
struct Cli {
    /// Run as if started in DIR (the project root).
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a project that runs at once: pipeline.yaml, params.yaml and data.
    Init {
        /// Where (created if missing; default: the current folder).
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "events")]
        example: commands::init::Example,
    },
    /// Run the stages that are not fresh (restoring from the store where possible).
    Repro(ReproArgs),
    /// Show every stale stage and why.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Show the stage graph.
    Dag(DagArgs),
    /// Restore the outs recorded in pipeline.lock from the store.
    Checkout {
        /// Only these stages (default: all).
        stages: Vec<String>,
    },
    /// Remove store objects that no lock, registry model or kept run record refers to.
    Gc {
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// The model registry: champions, history, rollback, verification.
    Models {
        #[command(subcommand)]
        command: commands::models::ModelsCommand,
    },
    /// Metrics files: show them, or compare them between git revisions and the workspace.
    Metrics {
        #[command(subcommand)]
        command: commands::metrics::MetricsCommand,
    },
    /// Params that stages declare, compared between git revisions and the workspace.
    Params {
        #[command(subcommand)]
        command: commands::params_diff::ParamsCommand,
    },
    /// Write one self-contained HTML report: metrics, plots, params, validation, model card.
    Report {
        /// The HTML file to write, relative to the project root.
        #[arg(long, value_name = "FILE", default_value = commands::report::DEFAULT_OUT)]
        out: PathBuf,
    },
    /// Write a synthetic telecom data set (customers, transactions, CDR, support tickets).
    Generate {
        #[arg(long)]
        customers: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Folder for the four CSV files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// No event after this day (YYYY-MM-DD; default 2024-06-30).
        #[arg(long, value_name = "DATE")]
        snapshot_date: Option<String>,
        /// Inject a few realistic faults (blank prices, a duplicated customer, an orphan ticket).
        #[arg(long)]
        defects: bool,
    },
    /// Score a table with a model: id, churn_probability, churn_prediction, risk_tier.
    Score {
        /// `registry:champion`, `registry:<hash prefix>`, or a model file.
        #[arg(long, default_value = "registry:champion")]
        model: String,
        /// CSV or Parquet (by extension).
        #[arg(long, value_name = "TABLE")]
        input: PathBuf,
        /// CSV or Parquet (by extension).
        #[arg(long, value_name = "TABLE")]
        output: PathBuf,
        /// Decision threshold (default: the one the model was promoted with, else its own).
        #[arg(long)]
        threshold: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    #[command(name = stage_call::SUBCOMMAND, hide = true)]
    Stage { call: PathBuf },
}

/// Runs churnflow with the process's arguments: the library's one public entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Error::Io { source, .. } = &e {
                if source.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    if let Command::Init { dir, example } = &cli.command {
        let base = match &cli.project {
            Some(p) => p.clone(),
            None => std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?,
        };
        let dir = dir.as_ref().map(|d| base.join(d)).unwrap_or(base);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        return commands::init::run(&dir, *example);
    }
    let root = match cli.project {
        Some(p) => p,
        None => std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?,
    };
    let root = root
        .canonicalize()
        .map_err(|e| Error::BadInput(format!("project folder {}: {e}", root.display())))?;
    match cli.command {
        Command::Repro(args) => commands::repro::run(&root, &args),
        Command::Status { json } => commands::status::run(&root, json),
        Command::Dag(args) => commands::dag::run(&root, &args),
        Command::Checkout { stages } => commands::checkout::run(&root, &stages),
        Command::Gc { dry_run, json } => commands::gc::run(&root, dry_run, json),
        Command::Models { command } => commands::models::run(&root, command),
        Command::Metrics { command } => commands::metrics::run(&root, command),
        Command::Params { command } => commands::params_diff::run(&root, command),
        Command::Report { out } => commands::report::run(&root, &out),
        Command::Stage { call } => Ok(stage_call::serve(&call)),
        Command::Init { .. } => Ok(0),
        Command::Score { model, input, output, threshold, json } => {
            commands::score::run(&root, &model, &input, &output, threshold, json)
        }
        Command::Generate { customers, seed, out, snapshot_date, defects } => {
            commands::generate::run(&root, customers, seed, &out, snapshot_date.as_deref(), defects)
        }
    }
}

/// The exit code of an error: the one place where this is decided.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Usage(_) | Error::BadInput(_) | Error::UnknownStage { .. } => 2,
        Error::Git(GitError::Run(_)) => 1,
        Error::Git(_) => 2,
        Error::Registry(r) => match r {
            RegistryError::NoChampion
            | RegistryError::UnknownModel(_)
            | RegistryError::AmbiguousModel(_)
            | RegistryError::NothingToRollBack
            | RegistryError::NoEarlierChampion
            | RegistryError::AlreadyChampion(_)
            | RegistryError::NoModelFile(_) => 2,
            _ => 1,
        },
        Error::Locked { .. } => 3,
        Error::Interrupted => 130,
        Error::StagesFailed { .. }
        | Error::GenerateFailed(_)
        | Error::CheckoutIncomplete(_)
        | Error::Io { .. } => 1,
    }
}
