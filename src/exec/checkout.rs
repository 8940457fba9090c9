//! Putting the outs a lock records back into the workspace from the store: `checkout`, and
//! `exp apply` (which checks out an experiment's lock, uncached outs included).
use crate::error::{Error, Result};
use crate::plan::project::Project;
use crate::store::lockfile::LockFile;
use crate::store::objects::{OutRecord, RestoreError, Store};
use crate::store::project_lock::ProjectLock;
use std::path::Path;

/// Whether the workspace file or folder at `dest` already holds `record`'s content.
pub(crate) fn in_place(project: &Project, dest: &Path, record: &OutRecord) -> std::io::Result<bool> {
    Ok(project.state.hash_path(dest)?.as_ref().map(|h| h.hash()) == Some(record.hash.as_str()))
}

/// Before `out` of `stage` is replaced (by a run of the stage or from the store), by a caller
/// holding the project lock: a hand edit there — content neither `known` (what the lock the
/// workspace was written under records) nor the store knows — is saved into the store first
/// and `warn` is told ([`crate::store::objects::Store::save_hand_edit`]). Content that a run
/// of the stage left unfinished ([`crate::store::unfinished`]: interrupted or failed) is
/// churnflow's own partial output: it is not saved, and `warn` is told that it is replaced.
pub(crate) fn before_replace(
    project: &Project,
    stage: &str,
    out: &str,
    known: Option<&str>,
    warn: &dyn Fn(&str),
) {
    let dest = project.root.join(out);
    if let Some(run) = project.unfinished.get(stage).filter(|r| r.covers(out)) {
        let current = project.state.hash_path(&dest).ok().flatten();
        if current.is_some_and(|h| known != Some(h.hash()) && !project.store.has(h.hash())) {
            warn(&format!("{stage}: out {out} was {}; it is replaced, not saved", run.left_text()));
        }
        return;
    }
    let saved = project.store.save_hand_edit(&project.state, &dest, known);
    if let Some(warning) = saved.warning(stage, out) {
        warn(&warning);
    }
}

/// The one way an out is put back from the store (`repro` restoring a run or a frozen stage,
/// `checkout`, `exp apply`): what is at `out` is dealt with by [`before_replace`] (a hand
/// edit is saved into the store first); then `record` is restored there and, for a file, its
/// hash cached.
pub(crate) fn put_back(
    project: &Project,
    stage: &str,
    out: &str,
    record: &OutRecord,
    known: Option<&str>,
    warn: &dyn Fn(&str),
) -> std::result::Result<(), RestoreError> {
    let dest = project.root.join(out);
    before_replace(project, stage, out, known, warn);
    project.store.restore(record, &dest)?;
    if !record.is_dir() {
        project.state.record(&dest, &record.hash);
    }
    Ok(())
}

/// `churnflow checkout` (and the second half of `pull`): under the project lock, the outs
/// pipeline.lock records for `targets` (all when empty) back into the workspace at `root`.
/// An out that could not be restored makes it an error listing them all.
pub fn checkout(root: &Path, targets: &[String]) -> Result<()> {
    let _lock = ProjectLock::acquire(Store::new(root).dir())?;
    let project = Project::load(root)?;
    let selected = project.select(targets, false, true)?;
    let done = restore_outs(&project, &project.lock, &project.lock, &selected, false, !targets.is_empty())?;
    let (restored, problems) = (done.restored, done.problems);
    crate::exec::progress::info(&format!("{restored} out(s) restored"));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckoutIncomplete(problems))
    }
}

/// What a checkout did.
#[derive(Debug, Default)]
pub struct CheckedOut {
    pub restored: usize,
    /// One line per out that could not be restored, with what to do.
    pub problems: Vec<String>,
}

/// Restores every out that `lock` records for the `selected` stages and that differs on
/// disk. `previous` is the lock the workspace's files were written under: a file matching
/// neither is a hand edit, saved into the store first. `uncached`: outs marked `cache:
/// false` are restored too (an experiment stored them); otherwise they are reported. With
/// `named`, a selected stage the lock lacks is a problem too. A stage whose outs are all as
/// `lock` records afterwards loses its unfinished-run marker (the partial outs are gone).
pub fn restore_outs(
    project: &Project,
    lock: &LockFile,
    previous: &LockFile,
    selected: &[bool],
    uncached: bool,
    named: bool,
) -> Result<CheckedOut> {
    let mut done = CheckedOut::default();
    for &i in project.graph.order() {
        if !selected[i] {
            continue;
        }
        let stage = &project.pipeline.stages[i];
        let Some(entry) = lock.stages.get(&stage.name) else {
            if named {
                done.problems.push(format!(
                    "{}: not in pipeline.lock (never run); run 'churnflow repro {}'",
                    stage.name, stage.name
                ));
            }
            continue;
        };
        let problems_before = done.problems.len();
        for out in &stage.outs {
            let Some(record) = entry.outs.get(&out.path) else { continue };
            let dest = project.root.join(&out.path);
            if in_place(project, &dest, record)
                .map_err(|e| Error::io(format!("cannot hash {}", dest.display()), e))?
            {
                continue;
            }
            if !out.cache && !uncached {
                done.problems.push(format!(
                    "{}: {} is not stored (cache: false); restore it with 'git checkout -- {}'",
                    stage.name, out.path, out.path
                ));
                continue;
            }
            let known =
                previous.stages.get(&stage.name).and_then(|e| e.outs.get(&out.path)).map(|r| r.hash.as_str());
            let warn = |w: &str| crate::exec::progress::warn(w);
            match put_back(project, &stage.name, &out.path, record, known.or(Some(&record.hash)), &warn) {
                Ok(()) => {
                    crate::exec::progress::info(&format!("{}: restored {}", stage.name, out.path));
                    done.restored += 1;
                }
                Err(e) => done.problems.push(format!(
                    "{}: cannot restore {}: {e}; run 'churnflow repro {}' to recreate it",
                    stage.name, out.path, stage.name
                )),
            }
        }
        let every_out = stage.outs.iter().all(|o| entry.outs.contains_key(&o.path));
        if done.problems.len() == problems_before
            && every_out
            && project.unfinished.get(&stage.name).is_some()
        {
            project.store.run_recorded(&stage.name).map_err(|e| {
                Error::io(format!("{}: cannot remove its unfinished-run marker", stage.name), e)
            })?;
        }
    }
    let _ = project.state.save();
    Ok(done)
}
