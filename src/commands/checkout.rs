//! `churnflow checkout`: put the outs recorded in pipeline.lock back into the workspace.
use crate::error::{Error, Result};
use crate::plan::project::Project;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use std::path::Path;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow checkout          # every out recorded in pipeline.lock\n  churnflow checkout train    # only the outs of `train`"
)]
pub struct CheckoutArgs {
    /// Only these stages (default: all).
    pub stages: Vec<String>,
}

pub fn run(root: &Path, args: &CheckoutArgs) -> Result<u8> {
    let targets = &args.stages;
    let _lock = ProjectLock::acquire(Store::new(root).dir())?;
    let project = Project::load(root)?;
    let selected = project.select(targets, false, true)?;
    let mut restored = 0;
    let mut problems = Vec::new();
    for &i in project.graph.order() {
        if !selected[i] {
            continue;
        }
        let stage = &project.pipeline.stages[i];
        let Some(entry) = project.lock.stages.get(&stage.name) else {
            if !targets.is_empty() {
                problems.push(format!(
                    "{}: not in pipeline.lock (never run); run 'churnflow repro {}'",
                    stage.name, stage.name
                ));
            }
            continue;
        };
        for out in &stage.outs {
            let Some(record) = entry.outs.get(&out.path) else { continue };
            let dest = root.join(&out.path);
            let current = project
                .state
                .hash_path(&dest)
                .map_err(|e| Error::io(format!("cannot hash {}", dest.display()), e))?;
            if current.as_ref().map(|h| h.hash()) == Some(record.hash.as_str()) {
                continue;
            }
            if !out.cache {
                problems.push(format!(
                    "{}: {} is not stored (cache: false); restore it with 'git checkout -- {}'",
                    stage.name, out.path, out.path
                ));
                continue;
            }
            let saved = project.store.save_hand_edit(&project.state, &dest, Some(&record.hash));
            if let Some(warning) = saved.warning(&stage.name, &out.path) {
                eprintln!("{warning}");
            }
            match project.store.restore(record, &dest) {
                Ok(()) => {
                    crate::exec::progress::info(&format!("{}: restored {}", stage.name, out.path));
                    restored += 1;
                }
                Err(e) => problems.push(format!(
                    "{}: cannot restore {}: {e}; run 'churnflow repro {}' to recreate it",
                    stage.name, out.path, stage.name
                )),
            }
        }
    }
    let _ = project.state.save();
    crate::exec::progress::info(&format!("{restored} out(s) restored"));
    if problems.is_empty() {
        Ok(0)
    } else {
        Err(Error::CheckoutIncomplete(problems))
    }
}
