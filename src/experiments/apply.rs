//! `exp apply`: an experiment becomes the workspace — its params written into params.yaml
//! (in place, comments kept), its pipeline.lock, and its outs checked out from the store.
//!
//! Stages an experiment does not run (promotion) keep their entry of the workspace's lock,
//! so the next `repro` runs exactly those: the promotion gate decides on the applied model.
use crate::compare::metrics::{flatten, Flat};
use crate::error::{Error, Result};
use crate::exec::checkout::{restore_outs, CheckedOut};
use crate::experiments::record::{ExpRecord, Status};
use crate::pipeline::params::{Params, PARAMS_FILE};
use crate::pipeline::params_edit::set_in_text;
use crate::plan::project::Project;
use crate::store::lockfile::LockFile;
use serde_json::Value;
use std::path::Path;

/// What applying changed.
pub struct Applied {
    /// (key, value before, value now) for every param that changed.
    pub params: Vec<(String, Option<Value>, Value)>,
    /// params.yaml had to be written whole (a changed value spans several lines), so its
    /// comments are gone.
    pub rewritten: bool,
    pub checkout: CheckedOut,
}

/// Applies `record` to the project at `root` (the caller holds the project lock).
pub fn apply(root: &Path, record: &ExpRecord) -> Result<Applied> {
    let Some(exp_lock) = record.lock.as_ref().filter(|_| record.status == Status::Succeeded) else {
        return Err(Error::BadInput(format!(
            "experiment '{}' failed, so it has no results to apply; `churnflow exp show` lists the others",
            record.name
        )));
    };
    let path = root.join(PARAMS_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let current = Params::parse(&text).map_err(Error::usage)?;
    let (mut before, mut after) = (Flat::new(), Flat::new());
    flatten("", current.root(), &mut before);
    flatten("", &record.params, &mut after);
    let changes: Vec<(String, Value)> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let same_keys = before.keys().eq(after.keys());
    let edited = if changes.is_empty() {
        None
    } else if same_keys {
        set_in_text(&text, &changes)
    } else {
        None
    };
    let rewritten = !changes.is_empty() && edited.is_none();
    if !changes.is_empty() {
        let new_text = match edited {
            Some(t) => t,
            None => serde_yaml::to_string(&record.params)
                .map_err(|e| Error::BadInput(format!("cannot write params.yaml: {e}")))?,
        };
        crate::store::atomic::write(&path, new_text.as_bytes(), true)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }

    let previous = LockFile::load(root)?;
    let project = Project::load(root)?;
    let mut lock = exp_lock.clone();
    for stage in &project.pipeline.stages {
        if !exp_lock.stages.contains_key(&stage.name) || stage.registry_decision.is_some() {
            match previous.stages.get(&stage.name) {
                Some(entry) => lock.stages.insert(stage.name.clone(), entry.clone()),
                None => lock.stages.remove(&stage.name),
            };
        }
    }
    lock.stages.retain(|name, _| project.pipeline.index_of(name).is_some());
    let selected = vec![true; project.pipeline.stages.len()];
    let checkout = restore_outs(&project, &lock, &previous, &selected, true, false)?;
    lock.save(root)?;
    let params = changes.into_iter().map(|(k, v)| (k.clone(), before.get(&k).cloned(), v)).collect();
    Ok(Applied { params, rewritten, checkout })
}
