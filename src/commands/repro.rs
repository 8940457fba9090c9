//! `churnflow repro`: run what is stale, restore what the store has, skip what is fresh.
use crate::cli::ReproArgs;
use crate::commands::status::reasons_json;
use crate::error::Result;
use crate::exec::{self, ReproOptions};
use crate::plan::plan;
use crate::progress::Progress;
use crate::project::Project;
use crate::project_lock::ProjectLock;
use crate::store::Store;
use std::path::Path;

pub fn run(root: &Path, args: &ReproArgs) -> Result<u8> {
    if args.dry_run {
        return dry_run(root, args);
    }
    let _lock = ProjectLock::acquire(Store::new(root).dir())?;
    let mut project = Project::load(root)?;
    let opts = ReproOptions {
        targets: args.stages.clone(),
        force: args.force,
        jobs: args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)),
        keep_going: args.keep_going,
        downstream: args.downstream,
        single_item: args.single_item,
    };
    let progress = Progress::new(false);
    let summary = exec::repro(&mut project, &opts, &progress)?;
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
