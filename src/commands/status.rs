//! `churnflow status`: every stale stage and exactly why; `--json` for machines.
use crate::error::Result;
use crate::plan::freshness::reasons_json;
use crate::plan::predict::plan;
use crate::plan::project::Project;
use serde_json::{json, Value};
use std::path::Path;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow status\n  churnflow status --check   # in CI: exit 1 when a stage is stale"
)]
pub struct StatusArgs {
    /// Every stage with its state and reasons as JSON (`"schema": 1`, `"clean"`).
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when any stage is stale (for CI: the committed results match the code, data
    /// and params).
    #[arg(long)]
    pub check: bool,
    /// Instead: per stored out in pipeline.lock, whether the local store and this remote
    /// (the default one without NAME) have it.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", conflicts_with = "check")]
    pub remote: Option<String>,
}

/// The exit code of `status --check` when a stage is stale.
const STALE_EXIT: u8 = 1;

pub fn run(root: &Path, args: &StatusArgs) -> Result<u8> {
    if let Some(name) = &args.remote {
        let name = Some(name.as_str()).filter(|n| !n.is_empty());
        return crate::commands::transfer::remote_status(root, name, args.json);
    }
    let as_json = args.json;
    let failing = |clean: bool| if args.check && !clean { STALE_EXIT } else { 0 };
    let project = Project::load(root)?;
    let all = vec![true; project.pipeline.stages.len()];
    let planned = plan(&project, &all, false)?;
    if let Err(e) = project.state.save() {
        eprintln!("warning: could not save the hash cache: {e}");
    }
    if as_json {
        let stages: Vec<Value> = planned
            .iter()
            .map(|p| {
                json!({
                    "stage": p.stage,
                    "state": if p.fresh { "fresh" } else { "stale" },
                    "restorable": p.restorable,
                    "frozen": p.frozen,
                    "reasons": reasons_json(&p.reasons),
                })
            })
            .collect();
        let clean = planned.iter().all(|p| p.fresh);
        crate::commands::print_json(&json!({"schema": 1, "clean": clean, "stages": stages}))?;
        return Ok(failing(clean));
    }
    let mut any = false;
    for p in planned.iter().filter(|p| !p.fresh) {
        any = true;
        for r in &p.reasons {
            println!("{}: {r}", p.stage);
        }
        if p.restorable {
            println!("{}: (its outs for these inputs are in the store: repro restores them)", p.stage);
        }
    }
    if !any {
        println!("Everything is up to date.");
    }
    Ok(failing(!any))
}
