//! `churnflow status`: every stale stage and exactly why; `--json` for machines.
use crate::error::Result;
use crate::plan::freshness::reasons_json;
use crate::plan::predict::plan;
use crate::plan::project::Project;
use crate::remote::Remote;
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
        return remote_status(root, name, args.json);
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

/// `status --remote`: per stored out in pipeline.lock, whether the local store and the remote
/// can each restore it.
fn remote_status(root: &Path, name: Option<&str>, as_json: bool) -> Result<u8> {
    let project = Project::load(root)?;
    let remote = Remote::configured(root, name)?;
    let there = remote.object_hashes()?;
    let mut rows = Vec::new();
    for stage in &project.pipeline.stages {
        let Some(entry) = project.lock.stages.get(&stage.name) else { continue };
        for out in stage.outs.iter().filter(|o| o.cache) {
            let Some(record) = entry.outs.get(&out.path) else { continue };
            let local = project.store.can_restore(record);
            let on_remote = there.contains(&record.hash)
                && (!record.is_dir()
                    || project
                        .store
                        .manifest(&record.hash)
                        .ok()
                        .or_else(|| remote.manifest(&record.hash))
                        .is_some_and(|m| m.iter().all(|e| there.contains(&e.hash))));
            rows.push((stage.name.clone(), out.path.clone(), local, on_remote));
        }
    }
    let to_push = rows.iter().filter(|r| r.2 && !r.3).count();
    let to_fetch = rows.iter().filter(|r| !r.2 && r.3).count();
    if as_json {
        let outs: Vec<_> = rows
            .iter()
            .map(|(stage, out, local, on_remote)| {
                serde_json::json!({"stage": stage, "out": out, "local": local, "remote": on_remote})
            })
            .collect();
        crate::commands::print_json(&serde_json::json!({
            "schema": 1, "remote": remote.name, "outs": outs, "to_push": to_push, "to_fetch": to_fetch,
        }))?;
        return Ok(0);
    }
    let yes_no = |b: bool| if b { "yes" } else { "missing" };
    let width = rows.iter().map(|r| r.1.len()).max().unwrap_or(3).max(3);
    let stage_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
    println!("remote '{}' ({})", remote.name, remote.url);
    println!("  {:stage_width$}  {:width$}  {:7}  remote", "stage", "out", "local");
    for (stage, out, local, on_remote) in &rows {
        println!("  {stage:stage_width$}  {out:width$}  {:7}  {}", yes_no(*local), yes_no(*on_remote));
    }
    match (to_push, to_fetch) {
        (0, 0) => println!("in step: every stored out is on both sides (or on neither)"),
        _ => println!("{to_push} out(s) to push ('churnflow push'), {to_fetch} to fetch ('churnflow pull')"),
    }
    Ok(0)
}
