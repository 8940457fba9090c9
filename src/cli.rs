//! Command-line interface: arguments (clap), dispatch to commands, and the one place where
//! results become exit codes and errors become messages on stderr.
//!
//! Exit codes are decided here and nowhere else ([`exit_code`]): 0 ok, 1 a stage failed (or
//! the store/registry is damaged, or an I/O error while running, or a bug), 2 bad input or
//! usage caught before any stage ran, 3 another churnflow holds the project lock, 4 the data
//! drifted (`drift --fail-on-drift`, returned by the command as its result, not an error), 130
//! interrupted. A broken pipe on stdout is success.
use crate::commands;
use crate::commands::checkout::CheckoutArgs;
use crate::commands::dag::DagArgs;
use crate::commands::drift::DriftArgs;
use crate::commands::gc::GcArgs;
use crate::commands::generate::GenerateArgs;
use crate::commands::init::InitArgs;
use crate::commands::monitor::MonitorArgs;
use crate::commands::report::ReportArgs;
use crate::commands::repro::ReproArgs;
use crate::commands::score::ScoreArgs;
use crate::commands::serve::ServeArgs;
use crate::commands::status::StatusArgs;
use crate::compare::git::GitError;
use crate::error::{Error, Result};
use crate::exec::stage_call;
use crate::store::registry::RegistryError;
use churnflow_stages::ErrorClass;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "churnflow",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CHURNFLOW_GIT_COMMIT"), ")"),
    about = "A content-hashed stage graph for customer-churn machine learning"
)]
struct Cli {
    /// Run as if started in DIR (the project root). Without it, the project is the nearest
    /// folder from here up holding a pipeline.yaml (up to the git repository's root).
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Say more on stderr: what each stage runs and where its log is.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Say less on stderr: only warnings and failures (results on stdout are unchanged).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a project that runs at once: pipeline.yaml, params.yaml and data.
    Init(InitArgs),
    /// Run the stages that are not fresh (restoring from the store where possible).
    Repro(ReproArgs),
    /// Show every stale stage and why.
    Status(StatusArgs),
    /// Show the stage graph.
    Dag(DagArgs),
    /// Restore the outs recorded in pipeline.lock from the store.
    Checkout(CheckoutArgs),
    /// Remove store objects that no lock, registry model or kept run record refers to.
    Gc(GcArgs),
    /// The model registry: champions, history, rollback, verification.
    #[command(after_help = "Examples:\n  churnflow models list\n  churnflow models show champion\n  \
        churnflow models rollback --reason 'recall dropped in production'\n  churnflow models verify")]
    Models {
        #[command(subcommand)]
        command: commands::models::ModelsCommand,
    },
    /// Metrics files: show them, or compare them between git revisions and the workspace.
    #[command(after_help = "Examples:\n  churnflow metrics show\n  churnflow metrics diff --md\n  \
        churnflow metrics diff origin/main --fail-on 'auc_roc:-0.01'")]
    Metrics {
        #[command(subcommand)]
        command: commands::metrics::MetricsCommand,
    },
    /// Params that stages declare, compared between git revisions and the workspace.
    #[command(after_help = "Examples:\n  churnflow params diff\n  churnflow params diff HEAD~1 HEAD --md")]
    Params {
        #[command(subcommand)]
        command: commands::params_diff::ParamsCommand,
    },
    /// Experiments: run the pipeline with params overridden (sweeps, N at once), compare
    /// them, apply one to the workspace.
    Exp {
        #[command(subcommand)]
        command: commands::exp::ExpCommand,
    },
    /// Write one self-contained HTML report: metrics, plots, params, validation, model card.
    Report(ReportArgs),
    /// Write a synthetic telecom data set (customers, transactions, CDR, support tickets).
    Generate(GenerateArgs),
    /// Score a table with a model: id, churn_probability, churn_prediction, risk_tier.
    Score(ScoreArgs),
    /// Serve the champion over HTTP: predictions with reasons, metrics, hot model swaps.
    Serve(ServeArgs),
    /// Data drift of a table or the prediction log against the champion's training data.
    Drift(DriftArgs),
    /// Watch the served predictions for drift: a report, Prometheus gauges, retrain on drift.
    Monitor(MonitorArgs),
    /// The project's remote stores (.churnflow/config.yaml): add, list, remove, default.
    #[command(after_help = "Examples:\n  churnflow remote add team s3://ml-artifacts/churn --default\n  \
        churnflow remote add minio s3://churn/store --endpoint-url http://127.0.0.1:9000\n  churnflow remote list")]
    Remote {
        #[command(subcommand)]
        command: commands::remote::RemoteCommand,
    },
    /// Send stored outs and run records to a remote (only what it lacks).
    Push(commands::transfer::PushArgs),
    /// Receive the stored outs and run records pipeline.lock refers to from a remote.
    #[command(after_help = commands::transfer::FETCH_EXAMPLES)]
    Fetch(commands::transfer::FetchArgs),
    /// Fetch from a remote, then check the outs out into the workspace.
    #[command(after_help = commands::transfer::PULL_EXAMPLES)]
    Pull(commands::transfer::FetchArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  churnflow completions bash > ~/.local/share/bash-completion/completions/churnflow\n  \
        churnflow completions zsh > ~/.zfunc/_churnflow"
    )]
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
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
    use crate::exec::progress::{set_verbosity, Verbosity};
    set_verbosity(match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    });
    if let Command::Completions { shell } = &cli.command {
        use clap::CommandFactory;
        clap_complete::generate(*shell, &mut Cli::command(), "churnflow", &mut std::io::stdout());
        return Ok(0);
    }
    if let Command::Init(args) = &cli.command {
        let base = match &cli.project {
            Some(p) => p.clone(),
            None => std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?,
        };
        return commands::init::run(&base, args);
    }
    // Without -C, the project is found from a subfolder as git finds its repository; path
    // arguments are then relative to the project root, as with -C.
    let root = match cli.project {
        Some(p) => p,
        None => std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?,
    };
    let root = root
        .canonicalize()
        .map_err(|e| Error::BadInput(format!("project folder {}: {e}", root.display())))?;
    let root = crate::plan::project::find_root(&root);
    match cli.command {
        Command::Repro(args) => commands::repro::run(&root, &args),
        Command::Status(args) => commands::status::run(&root, &args),
        Command::Dag(args) => commands::dag::run(&root, &args),
        Command::Checkout(args) => commands::checkout::run(&root, &args),
        Command::Gc(args) => commands::gc::run(&root, &args),
        Command::Models { command } => commands::models::run(&root, command),
        Command::Metrics { command } => commands::metrics::run(&root, command),
        Command::Params { command } => commands::params_diff::run(&root, command),
        Command::Exp { command } => commands::exp::run(&root, command),
        Command::Report(args) => commands::report::run(&root, &args),
        Command::Generate(args) => commands::generate::run(&root, &args),
        Command::Score(args) => commands::score::run(&root, &args),
        Command::Serve(args) => commands::serve::run(&root, &args),
        Command::Drift(args) => commands::drift::run(&root, &args),
        Command::Monitor(args) => commands::monitor::run(&root, &args),
        Command::Remote { command } => commands::remote::run(&root, command),
        Command::Push(args) => commands::transfer::push(&root, &args),
        Command::Fetch(args) => commands::transfer::fetch(&root, &args),
        Command::Pull(args) => commands::transfer::pull(&root, &args),
        Command::Stage { call } => Ok(stage_call::serve(&call)),
        Command::Init(_) | Command::Completions { .. } => Ok(0),
    }
}

/// The exit code of an error: the one place where this is decided.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Usage(_) | Error::BadInput(_) | Error::UnknownStage { .. } => 2,
        Error::Stage(e) => match e.class {
            ErrorClass::Input => 2,
            ErrorClass::Io | ErrorClass::Internal => 1,
        },
        Error::Git(GitError::Run(_)) => 1,
        Error::Git(_) => 2,
        Error::Registry(r) => match r {
            RegistryError::NoChampion
            | RegistryError::UnknownModel(_)
            | RegistryError::AmbiguousModel(_)
            | RegistryError::NothingToRollBack
            | RegistryError::NoEarlierChampion
            | RegistryError::AlreadyChampion(_)
            | RegistryError::NoSuchModelFile(_) => 2,
            // Damage to churnflow's own registry (an edited log, a missing or modified model
            // file), whichever command meets it: not the user's input.
            RegistryError::NoModelFile(_)
            | RegistryError::LocalUnverified(_)
            | RegistryError::Tampered(_)
            | RegistryError::VerifyFailed(_)
            | RegistryError::BadEvent { .. } => 1,
            _ => 1,
        },
        Error::Locked { .. } => 3,
        Error::Interrupted => 130,
        Error::Remote(_) => 1,
        Error::StagesFailed { .. }
        | Error::GenerateFailed(_)
        | Error::CheckoutIncomplete(_)
        | Error::Io { .. } => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every command a user can call, with its subcommands.
    fn commands(c: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        for sub in c.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            let name = format!("{path} {}", sub.get_name()).trim().to_string();
            out.push((name.clone(), sub.clone()));
            commands(sub, name, out);
        }
    }

    #[test]
    fn every_flag_and_argument_has_help_and_every_command_an_example() {
        let mut all = Vec::new();
        commands(&Cli::command(), String::new(), &mut all);
        assert!(all.len() > 15, "{}", all.len());
        let mut missing = Vec::new();
        for (name, c) in &all {
            for arg in c
                .get_arguments()
                .filter(|a| !a.is_hide_set() && !["help", "version"].contains(&a.get_id().as_str()))
            {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("`churnflow {name}`: {} has no help text", arg.get_id()));
                }
            }
            let leaf = c.get_subcommands().next().is_none();
            let parent_has =
                all.iter().any(|(n, p)| name.starts_with(&format!("{n} ")) && p.get_after_help().is_some());
            if leaf && c.get_after_help().is_none() && !parent_has {
                missing.push(format!("`churnflow {name}` has no example in its --help"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
