//! `churnflow init [DIR] [--example events|telco]`: scaffold a project that runs at once.
//!
//! The files are the ones this repository runs and tests (the root demo and
//! examples/telco), built into the binary so a fresh machine needs nothing else.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const EVENTS_PIPELINE: &str = include_str!("../../pipeline.yaml");
const EVENTS_PARAMS: &str = include_str!("../../params.yaml");
const TELCO_PIPELINE: &str = include_str!("../../examples/telco/pipeline.yaml");
const TELCO_PARAMS: &str = include_str!("../../examples/telco/params.yaml");
const TELCO_DATA: &[u8] = include_bytes!("../../examples/telco/data/telco.csv");

const GITIGNORE: &str = "\
# churnflow's store: objects, run records, logs, hash cache, project lock. Never in git.
/artifacts/
# Stage outputs that the store keeps (restore them with `churnflow checkout`).
/data/ingested/
/data/*.parquet
/models/
/reports/predictions.parquet
/reports/validation.*
# Written by hand, not by the pipeline: the HTML report, scores, the serving log, monitoring.
/reports/index.html
/scores.csv
/logs/
/reports/monitor/
";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Example {
    /// Synthetic telecom events (customers, transactions, CDR, tickets) made by `generate`.
    Events,
    /// The IBM Telco customer churn sample, one row per customer.
    Telco,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  churnflow init my-project\n  churnflow init telco --example telco")]
pub struct InitArgs {
    /// Where (created if missing; default: the current folder).
    pub dir: Option<PathBuf>,
    /// Which demo: synthetic telecom events, or the IBM Telco sample.
    #[arg(long, value_enum, default_value = "events")]
    pub example: Example,
}

/// Scaffolds the project in `args.dir`, relative to `base` (the `-C` folder or the current one).
pub fn run(base: &Path, args: &InitArgs) -> Result<u8> {
    let dir = args.dir.as_ref().map(|d| base.join(d)).unwrap_or_else(|| base.to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let dir = dir.as_path();
    let example = args.example;
    if dir.join("pipeline.yaml").exists() {
        return Err(Error::BadInput(format!(
            "{} already has a pipeline.yaml; init only scaffolds new projects",
            dir.display()
        )));
    }
    let write = |rel: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        crate::store::atomic::write(&path, bytes, false)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    };
    write(".gitignore", GITIGNORE.as_bytes())?;
    match example {
        Example::Events => {
            write("pipeline.yaml", EVENTS_PIPELINE.as_bytes())?;
            write("params.yaml", EVENTS_PARAMS.as_bytes())?;
            // As `churnflow generate --customers 2000 --seed 42 --out data/raw`.
            let out = dir.join("data/raw");
            crate::commands::generate_data(&churnflow_stages::GenerateOptions::new(2000, 42, &out))?;
        }
        Example::Telco => {
            write("pipeline.yaml", TELCO_PIPELINE.as_bytes())?;
            write("params.yaml", TELCO_PARAMS.as_bytes())?;
            write("data/telco.csv", TELCO_DATA)?;
        }
    }
    println!("created a churnflow project in {}", dir.display());
    if git_init(dir) {
        println!(
            "initialised a git repository there (metrics diff and params diff compare with its commits)"
        );
    }
    println!(
        "next: cd {} && churnflow repro && git add -A && git commit -m 'first run'\n      \
         then edit params.yaml, churnflow repro, churnflow metrics diff",
        dir.display()
    );
    Ok(0)
}

/// Runs `git init` in `dir` unless it is already inside a work tree or git is not installed.
/// Returns whether a repository was created.
fn git_init(dir: &Path) -> bool {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    !git(&["rev-parse", "--is-inside-work-tree"]) && git(&["init", "-q"])
}
