//! `churnflow repro`: run what is stale, restore what the store has, skip what is fresh.
use crate::error::{Error, Result};
use crate::exec::progress::{info, transfer_bar, warn, Progress};
use crate::exec::scheduler::{self, ReproOptions};
use crate::plan::freshness::reasons_json;
use crate::plan::predict::plan;
use crate::plan::project::Project;
use crate::remote::config::RemoteConfig;
use crate::remote::restore::restore_missing_outs;
use crate::remote::transfer::push_set;
use crate::remote::Remote;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use clap::Args;
use std::path::Path;
use std::sync::Arc;

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
    /// Restore stale stages from the remote's run records instead of running them, where the
    /// remote has them (default remote, or --remote). Also `repro: {pull: true}` in
    /// .churnflow/config.yaml.
    #[arg(long)]
    pub pull: bool,
    /// Afterwards, push the stored outs and run records to the remote (only what it lacks).
    /// Also `repro: {push: true}` in .churnflow/config.yaml.
    #[arg(long)]
    pub push: bool,
    /// The remote for --pull and --push.
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Pull (as --pull) if the remote can be reached; when it cannot (no or wrong credentials,
    /// server down, none configured), warn and go on without it instead of failing before any
    /// stage runs. Also skips the push of --push then.
    #[arg(long)]
    pub allow_missing_remote: bool,
}

impl ReproArgs {
    /// The options the executor takes.
    fn options(&self, pull: Option<Arc<Remote>>, push: Option<Arc<Remote>>) -> ReproOptions {
        ReproOptions {
            pull,
            push,
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
    let config = RemoteConfig::load(root)?;
    let optional = args.allow_missing_remote;
    let (want_pull, want_push) = (args.pull || optional || config.repro.pull, args.push || config.repro.push);
    // The remote is opened and asked once before anything runs, so a typo, a missing secret or
    // a server that is down does not cost a whole run (or a silent full recompute).
    let remote = if want_pull || want_push {
        let opened = config.pick(args.remote.as_deref()).and_then(|(name, entry)| {
            let remote = Remote::open(root, &name, &entry)?;
            remote.probe()?;
            Ok(Arc::new(remote))
        });
        match opened {
            Ok(remote) => Some(remote),
            Err(e) if optional => {
                warn(&format!(
                    "warning: {e}\n  going on without the remote (--allow-missing-remote): nothing is \
                     pulled or pushed, stale stages run here"
                ));
                None
            }
            // Nothing ran: exit 2, whatever kept the remote from being used.
            Err(e) => {
                return Err(Error::BadInput(format!(
                    "{e}\n  help: nothing ran; 'churnflow repro --allow-missing-remote' goes on without \
                     the remote (stale stages then run here)"
                )))
            }
        }
    } else {
        None
    };
    let pull = remote.clone().filter(|_| want_pull);
    let push = remote.clone().filter(|_| want_push);
    let result = {
        let _lock = ProjectLock::acquire(Store::new(root).dir())?;
        if let Some(remote) = &pull {
            let project = Project::load(root)?;
            let selection = project.transfer_selection(&args.stages, &[])?;
            let (store, state) = (&project.store, &project.state);
            let outs = project.stored_outs();
            let (records, fingerprints) = (&selection.records, &selection.fingerprints);
            if let Some(line) =
                restore_missing_outs(root, remote, store, state, records, fingerprints, &outs)?
            {
                info(&line);
            }
        }
        let mut project = Project::load(root)?;
        let progress = Progress::new(false);
        let result = scheduler::repro(&mut project, &args.options(pull, push.clone()), &progress);
        if let Ok(summary) = &result {
            progress.line(&summary.line());
        }
        result
    };
    // Each stage pushed as it finished; this sends what was restored rather than run, and
    // retries what a stage could not send. Also when a stage failed.
    if let Some(remote) = push {
        // As `churnflow push`: every stored out in pipeline.lock and its run records.
        let project = Project::load(root)?;
        let selection = project.transfer_selection(&[], &[])?;
        let (objects, runs) = push_set(&project.store, &selection.records, &selection.fingerprints, false);
        let bar = transfer_bar(&format!("push to {}", remote.name));
        let before = remote.pushed();
        let last = remote.push(&project.store, &objects, &runs, &bar)?;
        bar.finish_and_clear();
        // The whole run's total: what the stages pushed as they finished, and this push.
        let summary = remote.run_total(&before, last, &objects);
        info(&summary.line("push", "sent", "to", &remote.name));
        summary.outcome("push")?;
    }
    result.map(|_| 0)
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
