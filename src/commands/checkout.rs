//! `churnflow checkout`: put the outs recorded in pipeline.lock back into the workspace.
use crate::error::{Error, Result};
use crate::exec::checkout::restore_outs;
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
    let done = restore_outs(&project, &project.lock, &project.lock, &selected, false, !targets.is_empty())?;
    let (restored, problems) = (done.restored, done.problems);
    crate::exec::progress::info(&format!("{restored} out(s) restored"));
    if problems.is_empty() {
        Ok(0)
    } else {
        Err(Error::CheckoutIncomplete(problems))
    }
}
