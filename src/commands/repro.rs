//! `churnflow repro`: run what is stale, restore what the store has, skip what is fresh.
use crate::error::Result;
use crate::exec::progress::Progress;
use crate::exec::scheduler::{self, ReproOptions};
use crate::plan::freshness::reasons_json;
use crate::plan::predict::plan;
use crate::plan::project::Project;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use clap::Args;
use std::path::Path;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  churnflow repro                  # everything that is stale\n  churnflow repro train --dry-run  # what running `train` (and what it needs) would do, and why\n  churnflow repro -j 2 --keep-going"
)]
pub struct ReproArgs {
    /// Stages to reproduce, with their upstream stages (default: all).
    pub stages: Vec<String>,
    /// Run the selected stages even if they are fresh.
    #[arg(short, long)]
    pub force: bool,
    /// Print what would run and why, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the plan as JSON.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// Stages run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// After a failure, go on with the stages that do not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
    /// Run the named stages and everything downstream of them (not upstream).
    #[arg(long)]
    pub downstream: bool,
    /// Run only the named stages, not their upstream stages.
    #[arg(short, long)]
    pub single_item: bool,
}

impl ReproArgs {
    /// The options the executor takes.
    fn options(&self) -> ReproOptions {
        ReproOptions {
            targets: self.stages.clone(),
            force: self.force,
            jobs: self
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
            keep_going: self.keep_going,
            downstream: self.downstream,
            single_item: self.single_item,
        }
    }
}

pub fn run(root: &Path, args: &ReproArgs) -> Result<u8> {
    if args.dry_run {
        return dry_run(root, args);
    }
    let _lock = ProjectLock::acquire(Store::new(root).dir())?;
    let mut project = Project::load(root)?;
    let progress = Progress::new(false);
    let summary = scheduler::repro(&mut project, &args.options(), &progress)?;
    progress.line(&summary.line());
    Ok(0)
}

fn dry_run(root: &Path, args: &ReproArgs) -> Result<u8> {
    let project = Project::load(root)?;
    let selected = project.select(&args.stages, args.downstream, args.single_item)?;
    let planned = plan(&project, &selected, args.force)?;
    if args.json {
        let stages: Vec<serde_json::Value> = planned
            .iter()
            .map(|p| {
                let stage = &project.pipeline.stages[p.index];
                serde_json::json!({
                    "stage": p.stage,
                    "action": if p.fresh { "skip" } else if p.restorable { "restore" } else { "run" },
                    "command": stage.action_text(),
                    "upstream": project.graph.upstream(p.index).iter().map(|u| project.pipeline.stages[*u].name.clone()).collect::<Vec<_>>(),
                    "reasons": reasons_json(&p.reasons),
                })
            })
            .collect();
        crate::commands::print_json(&serde_json::json!({"schema": 1, "stages": stages}))?;
        return Ok(0);
    }
    for p in &planned {
        let stage = &project.pipeline.stages[p.index];
        if p.fresh {
            println!("{}: up to date", p.stage);
            continue;
        }
        let why: Vec<String> = p.reasons.iter().map(|r| r.to_string()).collect();
        let what = if p.restorable { "would restore from the store" } else { "would run" };
        println!("{}: {what} ({})", p.stage, why.join("; "));
        if !p.restorable {
            println!("    {}", stage.action_text());
        }
    }
    Ok(0)
}
