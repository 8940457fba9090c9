//! Predicting what `repro` will do: per stage, fresh or stale and why, and whether a stale
//! stage could be restored from a run record instead of running. Used by `status` and
//! `repro --dry-run`; `repro` itself decides each stage again once its upstream is done.
use crate::error::{Error, Result};
use crate::plan::freshness::{assess, StaleReason};
use crate::plan::project::Project;
use crate::plan::restorable::run_record;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStage {
    pub stage: String,
    #[serde(skip)]
    pub index: usize,
    pub fresh: bool,
    /// A run record for the new fingerprint exists and the store has its objects.
    pub restorable: bool,
    pub frozen: bool,
    pub reasons: Vec<StaleReason>,
}

/// Plans the `selected` stages in graph order.
pub fn plan(project: &Project, selected: &[bool], force: bool) -> Result<Vec<PlannedStage>> {
    let mut planned: Vec<PlannedStage> = Vec::new();
    let mut stale = vec![false; project.pipeline.stages.len()];
    for &i in project.graph.order() {
        if !selected[i] {
            continue;
        }
        let stage = &project.pipeline.stages[i];
        let upstream_stale: Vec<usize> =
            project.graph.upstream(i).into_iter().filter(|u| stale[*u]).collect();
        let a = assess(
            &project.root,
            stage,
            project.lock.stages.get(&stage.name),
            project.unfinished.get(&stage.name),
            &project.state,
            &project.registry,
            force,
        )
        .map_err(|e| Error::io(format!("cannot hash the files of stage '{}'", stage.name), e))?;
        let mut reasons: Vec<StaleReason> = upstream_stale
            .iter()
            .map(|u| StaleReason::UpstreamStale { stage: project.pipeline.stages[*u].name.clone() })
            .collect();
        let upstream = !reasons.is_empty();
        reasons.extend(a.reasons.into_iter().filter(|r| {
            // What an upstream rerun will change anyway is not a reason of its own.
            !(upstream
                && matches!(
                    r,
                    StaleReason::DepChanged { .. }
                        | StaleReason::DepMissing { .. }
                        | StaleReason::DefinitionChanged
                ))
        }));
        let restorable = !upstream
            && !force
            && !reasons.is_empty()
            && a.fingerprint.as_deref().and_then(|fp| run_record(&project.store, stage, fp)).is_some();
        stale[i] = !reasons.is_empty();
        planned.push(PlannedStage {
            stage: stage.name.clone(),
            index: i,
            fresh: reasons.is_empty(),
            restorable,
            frozen: stage.frozen,
            reasons,
        });
    }
    Ok(planned)
}
