//! Running experiments: each in its own scratch workspace that shares the project's store,
//! several at once.
//!
//! An experiment is `repro` of every stage but promotion (and what follows it) in a scratch
//! workspace whose params.yaml carries the overrides. Stages the overrides do not reach are
//! fresh there (their outs are hard links to the project's); the others are restored from a
//! run record when any workspace sharing the store computed them, else run. Two experiments
//! reaching the same run at once do not both compute it: the scheduler claims each run
//! ([`crate::store::run_claim`]) and the second restores what the first stored. In a
//! scratch workspace every out is stored ([`crate::pipeline::resolve::Stage::cache_every_out`]),
//! so every stage but promotion shares its runs, and `exp apply` can restore all outs.
use crate::compare::metric_files;
use crate::compare::side::{Rev, Side};
use crate::error::{Error, Result};
use crate::exec::process;
use crate::exec::progress::Progress;
use crate::exec::scheduler::{self, ReproOptions};
use crate::experiments::overrides::{self, describe, Point};
use crate::experiments::record::{ExpRecord, Records, StageCounts, Status, RECORD_SCHEMA};
use crate::experiments::scratch::Scratch;
use crate::pipeline::params::{Params, PARAMS_FILE};
use crate::plan::project::Project;
use crate::store::hashing::HashState;
use crate::store::lockfile::LockFile;
use crate::store::objects::Store;
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// One experiment to run: its name and overrides.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub name: String,
    pub point: Point,
}

/// What every experiment of a sweep shares: the project, read once.
pub struct Sweep {
    root: PathBuf,
    store: Store,
    state: HashState,
    params: Params,
    base_commit: Option<String>,
    /// The stages an experiment runs: every one but promotion and what depends on it
    /// (empty: all).
    targets: Vec<String>,
    /// The stages it never runs.
    pub skipped: Vec<String>,
    /// `persist: true` outs, copied into a scratch workspace rather than linked.
    copy: BTreeSet<String>,
    /// Outs an unfinished run left in the project (`store::unfinished`), not mirrored: an
    /// experiment restores or reruns them rather than take them for hand edits.
    leave_out: BTreeSet<String>,
    /// Experiments at once, and stages at once within each.
    jobs: usize,
    stage_jobs: usize,
}

impl Sweep {
    /// Reads the project at `root` for a sweep running `jobs` experiments at once.
    pub fn prepare(root: &Path, jobs: usize) -> Result<Sweep> {
        let project = Project::load(root)?;
        let params = Params::load(root).map_err(Error::usage)?;
        let n = project.pipeline.stages.len();
        let promoting: Vec<usize> =
            (0..n).filter(|&i| project.pipeline.stages[i].registry_decision.is_some()).collect();
        let skip = project.graph.closure(&promoting, true);
        let names = |keep: bool| -> Vec<String> {
            (0..n).filter(|&i| skip[i] != keep).map(|i| project.pipeline.stages[i].name.clone()).collect()
        };
        let skipped = names(false);
        let targets = if skipped.is_empty() { Vec::new() } else { names(true) };
        let copy = project
            .pipeline
            .stages
            .iter()
            .flat_map(|s| s.outs.iter().filter(|o| o.persist).map(|o| o.path.clone()))
            .collect();
        let leave_out = project
            .pipeline
            .stages
            .iter()
            .filter_map(|s| project.unfinished.get(&s.name).map(|run| (s, run)))
            .flat_map(|(s, run)| s.outs.iter().filter(|o| run.covers(&o.path)).map(|o| o.path.clone()))
            .collect();
        warm_hash_cache(&project);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let jobs = jobs.max(1);
        let base_commit = crate::compare::git::is_repo(root)
            .then(|| crate::compare::git::verify_rev(root, "HEAD").ok())
            .flatten();
        Ok(Sweep {
            root: root.to_path_buf(),
            store: project.store,
            state: project.state,
            params,
            base_commit,
            targets,
            skipped,
            copy,
            leave_out,
            jobs,
            stage_jobs: (cores / jobs).max(1),
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Runs `experiments`, `jobs` at a time, writing each one's record as soon as it ends.
    /// Returns the records in the order given; an interrupt stops the sweep (finished
    /// experiments keep their records).
    pub fn run(&self, experiments: Vec<Experiment>, progress: &Progress) -> Result<Vec<ExpRecord>> {
        process::install_interrupt_handler();
        let records = Records::new(&self.store);
        let order: Vec<String> = experiments.iter().map(|e| e.name.clone()).collect();
        progress.set_total(experiments.len());
        let queue = Mutex::new(experiments.into_iter().collect::<VecDeque<_>>());
        let done = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs {
                scope.spawn(|| loop {
                    if stop.load(Ordering::SeqCst) || process::interrupted() {
                        break;
                    }
                    let Some(exp) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                        break;
                    };
                    progress.start(&exp.name, &format!("running ({})", describe(&exp.point)));
                    let Ok(record) = self.run_one(&exp) else {
                        stop.store(true, Ordering::SeqCst);
                        progress.finish_failed(&exp.name, &format!("{}: interrupted", exp.name));
                        break;
                    };
                    match records.write(&record) {
                        Err(e) => {
                            progress.finish_failed(&exp.name, &format!("{}: not recorded: {e}", exp.name))
                        }
                        Ok(()) if record.status == Status::Succeeded => {
                            progress.finish(&exp.name, &summary_line(&record))
                        }
                        Ok(()) => progress.finish_failed(&exp.name, &summary_line(&record)),
                    }
                    done.lock().unwrap_or_else(|e| e.into_inner()).push(record);
                });
            }
        });
        if stop.load(Ordering::SeqCst) || process::interrupted() {
            return Err(Error::Interrupted);
        }
        let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
        done.sort_by_key(|r| order.iter().position(|n| *n == r.name));
        Ok(done)
    }

    /// Runs one experiment to its record (failed or not); `Err` only when interrupted.
    fn run_one(&self, exp: &Experiment) -> Result<ExpRecord> {
        let started = Instant::now();
        let params = overrides::apply(&self.params, &exp.point);
        let mut record = ExpRecord {
            schema: RECORD_SCHEMA,
            name: exp.name.clone(),
            status: Status::Failed,
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            seconds: 0.0,
            base_commit: self.base_commit.clone(),
            overrides: exp.point.iter().cloned().collect(),
            params,
            metrics: Default::default(),
            stages: StageCounts::default(),
            lock: None,
            error: None,
        };
        let result = self.attempt(exp, &mut record);
        record.seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => record.status = Status::Succeeded,
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => record.error = Some(e.to_string()),
        }
        Ok(record)
    }

    fn attempt(&self, exp: &Experiment, record: &mut ExpRecord) -> Result<()> {
        let io = |what: &str| {
            let what = what.to_string();
            move |e| Error::io(what, e)
        };
        let scratch = Scratch::create(&self.root, self.store.dir(), &exp.name, &self.copy, &self.leave_out)
            .map_err(io("cannot make the experiment's workspace"))?;
        let text = serde_yaml::to_string(&record.params)
            .map_err(|e| Error::BadInput(format!("cannot write the experiment's params: {e}")))?;
        scratch.write(PARAMS_FILE, &text).map_err(io("cannot write the experiment's params.yaml"))?;
        let store = Store::sharing(scratch.root(), &self.store);
        let state = self.state.rebased(&self.root, scratch.root(), store.state_path());
        let mut project = Project::load_with(scratch.root(), store, state)?;
        for stage in &mut project.pipeline.stages {
            stage.cache_every_out();
        }
        let options =
            ReproOptions { targets: self.targets.clone(), jobs: self.stage_jobs, ..Default::default() };
        let ran = scheduler::repro(&mut project, &options, &Progress::nested(&exp.name));
        record.lock = LockFile::load(scratch.root()).ok();
        let summary = match ran {
            Ok(summary) => summary,
            Err(Error::StagesFailed { failed, not_run }) => {
                let logs = self.keep_logs(&project, &exp.name, &failed);
                return Err(Error::BadInput(format!(
                    "stage(s) failed: {}{}; log(s) in {}",
                    failed.join(", "),
                    if not_run.is_empty() {
                        String::new()
                    } else {
                        format!("; not run: {}", not_run.join(", "))
                    },
                    logs.display()
                )));
            }
            Err(e) => return Err(e),
        };
        record.stages =
            StageCounts { ran: summary.ran, restored: summary.restored, up_to_date: summary.up_to_date };
        store_every_out(&project, record.lock.as_ref())?;
        let side = Side::load(scratch.root(), Rev::Workspace, false)?;
        record.metrics = metric_files::collect(&side, "experiment")?.files;
        Ok(())
    }

    /// Keeps the logs of an experiment's failed stages (its workspace is deleted) in
    /// `artifacts/exps/<name>.logs/`; returns that folder.
    fn keep_logs(&self, project: &Project, name: &str, failed: &[String]) -> PathBuf {
        let dir = self.store.shared_dir().join("exps").join(format!("{name}.logs"));
        let _ = std::fs::create_dir_all(&dir);
        for stage in failed {
            let _ = std::fs::copy(project.store.log_path(stage), dir.join(format!("{stage}.log")));
        }
        dir
    }
}

/// Brings the project's hash cache up to date for every dep and out, and saves it: each
/// experiment starts from a copy of it, so a file the cache does not trust yet (written just
/// before it was hashed) is hashed once here instead of once per experiment.
fn warm_hash_cache(project: &Project) {
    for stage in &project.pipeline.stages {
        let paths = stage.deps.iter().map(|d| &d.value).chain(stage.outs.iter().map(|o| &o.path));
        for path in paths {
            let _ = project.state.hash_path(&project.root.join(path));
        }
    }
    let _ = project.state.save();
}

/// Puts every out the experiment's lock names into the store, so the record can be applied
/// and shared: the stages that ran stored theirs, but a stage fresh in the scratch workspace
/// may have `cache: false` outs (reports, metrics) that only the workspace held.
fn store_every_out(project: &Project, lock: Option<&LockFile>) -> Result<()> {
    let Some(lock) = lock else { return Ok(()) };
    for (stage, entry) in &lock.stages {
        for (path, out) in &entry.outs {
            if project.store.can_restore(out) {
                continue;
            }
            let full = project.root.join(path);
            let stored = match project.state.hash_path(&full) {
                Ok(Some(h)) if h.hash() == out.hash => project.store.put(&full, &h),
                Ok(_) => Err(std::io::Error::other("it changed since the stage recorded it")),
                Err(e) => Err(e),
            };
            stored.map_err(|e| Error::io(format!("{stage}: cannot store {path}"), e))?;
        }
    }
    Ok(())
}

/// The line printed when an experiment ends.
fn summary_line(r: &ExpRecord) -> String {
    let point: Point = r.overrides.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match r.status {
        Status::Succeeded => format!(
            "{}: done in {:.1}s ({}): ran {}{}",
            r.name,
            r.seconds,
            describe(&point),
            if r.stages.ran.is_empty() { "nothing".into() } else { r.stages.ran.join(", ") },
            if r.stages.restored.is_empty() {
                String::new()
            } else {
                format!("; restored {}", r.stages.restored.join(", "))
            }
        ),
        Status::Failed => {
            format!(
                "{}: FAILED ({}): {}",
                r.name,
                describe(&point),
                r.error.as_deref().unwrap_or("unknown error")
            )
        }
    }
}
