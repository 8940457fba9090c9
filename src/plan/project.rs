//! A loaded project: its root, resolved pipeline, graph, lock, store, hash cache and
//! registry — everything a plan is made over and the executor works on.
use crate::error::{did_you_mean, Error, Result};
use crate::pipeline::graph::Graph;
use crate::pipeline::resolve::Pipeline;
use crate::pipeline::spec::PIPELINE_FILE;
use crate::store::hashing::HashState;
use crate::store::lockfile::LockFile;
use crate::store::objects::{OutRecord, Store};
use crate::store::registry::Registry;
use crate::store::unfinished::UnfinishedRuns;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub struct Project {
    pub root: PathBuf,
    pub pipeline: Pipeline,
    pub graph: Graph,
    pub lock: LockFile,
    pub store: Store,
    pub state: HashState,
    /// Champions and their history: the baseline that `evaluate` compares to.
    pub registry: Registry,
    /// The stage runs that had not been recorded when the project was loaded: their outs
    /// are churnflow's own partial output, not hand edits.
    pub unfinished: UnfinishedRuns,
}

/// The project a command started in `start` works on: the nearest folder from `start` up that
/// holds a pipeline.yaml, as git finds its repository from a subfolder. The search stops at
/// the root of a git repository (the folder holding `.git`). `start` itself when no folder
/// qualifies, so the command reports the missing pipeline.yaml there.
pub fn find_root(start: &Path) -> PathBuf {
    for dir in start.ancestors() {
        if dir.join(PIPELINE_FILE).is_file() {
            return dir.to_path_buf();
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    start.to_path_buf()
}

impl Project {
    pub fn load(root: &Path) -> Result<Project> {
        let store = Store::new(root);
        let state = HashState::load(store.state_path());
        Project::load_with(root, store, state)
    }

    /// The project at `root` working on `store` with the hash cache `state`: an experiment's
    /// scratch workspace, whose store shares the project's objects and run records.
    pub fn load_with(root: &Path, store: Store, state: HashState) -> Result<Project> {
        let pipeline = Pipeline::load(root)?;
        let graph = Graph::build(&pipeline)?;
        let lock = LockFile::load(root)?;
        let registry = Registry::load(root)?;
        let unfinished = UnfinishedRuns::load(&store);
        Ok(Project { root: root.to_path_buf(), pipeline, graph, lock, store, state, registry, unfinished })
    }

    /// Which stages a command acts on: all, or `targets` with their upstream stages
    /// (`downstream`: with their downstream stages instead; `single`: only the targets).
    pub fn select(&self, targets: &[String], downstream: bool, single: bool) -> Result<Vec<bool>> {
        let n = self.pipeline.stages.len();
        if targets.is_empty() {
            return Ok(vec![true; n]);
        }
        let mut indices = Vec::new();
        for t in targets {
            match self.pipeline.index_of(t) {
                Some(i) => indices.push(i),
                None => {
                    let names = self.pipeline.stages.iter().map(|s| s.name.as_str());
                    let suggestion = did_you_mean(t, names).map(str::to_string);
                    return Err(Error::UnknownStage { name: t.clone(), suggestion });
                }
            }
        }
        if single {
            let mut keep = vec![false; n];
            for i in indices {
                keep[i] = true;
            }
            return Ok(keep);
        }
        Ok(self.graph.closure(&indices, downstream))
    }
}

/// What the selected stages' locks refer to, for `push`, `fetch` and `repro --pull/--push`:
/// stored outs, and run-record fingerprint → stage.
pub struct Selection {
    pub records: Vec<OutRecord>,
    pub fingerprints: BTreeMap<String, String>,
}

impl Project {
    /// The stored outs and run records of `stages` (all when empty, with their upstream
    /// stages) in pipeline.lock, then in each of `more_locks` (`--all-commits`: every kept
    /// lock but the workspace's). An out of such a lock that the pipeline no longer has counts
    /// if the store has it.
    pub fn transfer_selection(&self, stages: &[String], more_locks: &[LockFile]) -> Result<Selection> {
        let selected = self.select(stages, false, true)?;
        let mut selection = Selection { records: Vec::new(), fingerprints: BTreeMap::new() };
        let mut stored_paths = BTreeSet::new();
        for (i, stage) in self.pipeline.stages.iter().enumerate() {
            if !selected[i] {
                continue;
            }
            let Some(entry) = self.lock.stages.get(&stage.name) else { continue };
            for out in stage.outs.iter().filter(|o| o.cache) {
                stored_paths.insert(out.path.clone());
                if let Some(record) = entry.outs.get(&out.path) {
                    selection.records.push(record.clone());
                }
            }
            if stage.uses_run_records() {
                selection.fingerprints.insert(entry.fingerprint.clone(), stage.name.clone());
            }
        }
        if !more_locks.is_empty() {
            let names: BTreeSet<&str> = self
                .pipeline
                .stages
                .iter()
                .enumerate()
                .filter(|(i, _)| selected[*i])
                .map(|(_, s)| s.name.as_str())
                .collect();
            for lock in more_locks {
                for (name, entry) in lock.stages.iter().filter(|(n, _)| names.contains(n.as_str())) {
                    // Outs stored today; an out the pipeline no longer has counts if it was stored.
                    for (path, record) in &entry.outs {
                        if stored_paths.contains(path) || self.store.has(&record.hash) {
                            selection.records.push(record.clone());
                        }
                    }
                    selection.fingerprints.insert(entry.fingerprint.clone(), name.clone());
                }
            }
        }
        Ok(selection)
    }

    /// Every stored (`cache`) out that pipeline.lock records: (stage, out path, record).
    pub fn stored_outs(&self) -> Vec<(String, String, OutRecord)> {
        let mut outs = Vec::new();
        for stage in &self.pipeline.stages {
            let Some(entry) = self.lock.stages.get(&stage.name) else { continue };
            for out in stage.outs.iter().filter(|o| o.cache) {
                if let Some(record) = entry.outs.get(&out.path) {
                    outs.push((stage.name.clone(), out.path.clone(), record.clone()));
                }
            }
        }
        outs
    }
}
