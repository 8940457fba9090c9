//! The executor: runs the selected stages in graph order, independent ones in parallel.
//!
//! Each stage is decided when its upstream stages are done: fresh (skip), restorable from a
//! run record (copy outs from the store), or run. A run deletes the stage's non-persistent
//! outs, runs the command (or the built-in kind in a child process of this binary) in its
//! own process group with output in `artifacts/logs/<stage>.log`, checks and hashes the outs,
//! stores them, writes the run record, and only then records the stage in pipeline.lock
//! (rewritten atomically after every stage, so a crash keeps earlier progress). A stage that
//! fails or is interrupted records nothing and its downstream stages do not start.
//! Before a run touches its outs it leaves a marker ([`crate::store::unfinished`]), removed
//! once the stage is recorded: the outs of a run that was interrupted or failed are then
//! known for churnflow's own, and the next repro replaces them without saving them as a hand
//! edit.
//! On a store shared with other workspaces (an experiment's), a stage about to run first
//! claims its run ([`crate::store::run_claim`]); one that another workspace computed
//! meanwhile is restored instead.
//! Why a stage failed is a [`StageFailure`], printed as `<stage>: FAILED: <error>`.
use crate::error::{Error, Result};
use crate::exec::checkout::{before_replace, in_place, put_back};
use crate::exec::process;
use crate::exec::progress::Progress;
use crate::exec::stage_call::{self, CallFile};
use crate::pipeline::resolve::{Stage, StageAction};
use crate::plan::freshness::{assess, Assessment};
use crate::plan::project::Project;
use crate::plan::restorable;
use crate::remote::transfer::objects_of;
use crate::remote::Remote;
use crate::store::hashing::PathHash;
use crate::store::lockfile::{LockFile, StageLock};
use crate::store::objects::{remove_path, OutRecord, RestoreError, RunRecord};
use crate::store::run_claim::RunClaim;
use crate::store::short_hash;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct ReproOptions {
    pub targets: Vec<String>,
    pub force: bool,
    pub jobs: usize,
    pub keep_going: bool,
    pub downstream: bool,
    pub single_item: bool,
    /// `repro --pull`: a stale stage whose run record is on this remote is restored from it.
    pub pull: Option<std::sync::Arc<Remote>>,
    /// `repro --push`: each stage's results go to this remote as soon as the stage has run.
    pub push: Option<std::sync::Arc<Remote>>,
}

/// How one stage ended.
#[derive(Debug)]
enum StageOutcome {
    UpToDate,
    Restored(StageLock),
    Ran(StageLock),
    Failed,
    Interrupted,
}

/// Counts for the closing line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub ran: Vec<String>,
    pub restored: Vec<String>,
    pub up_to_date: Vec<String>,
    pub failed: Vec<String>,
    pub not_run: Vec<String>,
    /// Wall time of the whole run.
    pub wall: std::time::Duration,
}

impl RunSummary {
    pub fn line(&self) -> String {
        let mut parts = vec![
            format!("{} ran", self.ran.len()),
            format!("{} restored", self.restored.len()),
            format!("{} up to date", self.up_to_date.len()),
        ];
        if !self.failed.is_empty() {
            parts.push(format!("{} failed", self.failed.len()));
        }
        if !self.not_run.is_empty() {
            parts.push(format!("{} not run", self.not_run.len()));
        }
        format!("{} in {:.1}s", parts.join(", "), self.wall.as_secs_f64())
    }
}

pub fn repro(project: &mut Project, opts: &ReproOptions, progress: &Progress) -> Result<RunSummary> {
    let started = Instant::now();
    let selected = project.select(&opts.targets, opts.downstream, opts.single_item)?;
    process::install_interrupt_handler();
    let n = project.pipeline.stages.len();
    // The coordinator owns the lock from here; workers get a copy of their stage's entry.
    let mut lock = std::mem::take(&mut project.lock);
    let project: &Project = project;
    // Forget stages that pipeline.yaml no longer has.
    let names: Vec<String> = project.pipeline.stages.iter().map(|s| s.name.clone()).collect();
    lock.stages.retain(|k, _| names.contains(k));
    for gone in project.unfinished.stages().filter(|s| !names.iter().any(|n| n == s)) {
        if let Err(e) = project.store.run_recorded(gone) {
            progress.warn(&format!("warning: cannot remove the unfinished-run marker of '{gone}': {e}"));
        }
    }

    let mut pending: Vec<usize> =
        (0..n).map(|i| project.graph.upstream(i).into_iter().filter(|u| selected[*u]).count()).collect();
    let mut ready: VecDeque<usize> =
        project.graph.order().iter().copied().filter(|&i| selected[i] && pending[i] == 0).collect();
    let mut blocked = vec![false; n];
    let mut summary = RunSummary::default();
    let mut stop = false;
    let mut interrupted = false;
    let jobs = opts.jobs.max(1);
    progress.set_total(selected.iter().filter(|&&x| x).count());

    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel::<(usize, StageOutcome)>();
        let mut running = 0usize;
        loop {
            while running < jobs && !stop && !process::interrupted() {
                let Some(i) = ready.pop_front() else { break };
                let tx = tx.clone();
                let lock_entry = lock.stages.get(&project.pipeline.stages[i].name).cloned();
                let force = opts.force;
                let remotes = Remotes { pull: opts.pull.as_deref(), push: opts.push.as_deref() };
                scope.spawn(move || {
                    // A bug that panics in one stage's worker fails that stage; the run goes
                    // on to record the others instead of waiting for an answer forever.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_stage(project, i, lock_entry.as_ref(), force, remotes, progress)
                    }))
                    .unwrap_or(StageOutcome::Failed);
                    let _ = tx.send((i, outcome));
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok((i, outcome)) = rx.recv() else { break };
            running -= 1;
            let name = project.pipeline.stages[i].name.clone();
            let succeeded = match outcome {
                StageOutcome::UpToDate => {
                    if project.unfinished.get(&name).is_some() {
                        recorded(project, &name, progress);
                    }
                    summary.up_to_date.push(name);
                    true
                }
                StageOutcome::Restored(entry) => {
                    record(&mut lock, &project.root, &name, entry)?;
                    if project.unfinished.get(&name).is_some() {
                        recorded(project, &name, progress);
                    }
                    summary.restored.push(name);
                    true
                }
                StageOutcome::Ran(entry) => {
                    // A decision is applied to the registry before the stage is recorded: if
                    // applying fails the stage is not fresh and runs again; if churnflow dies
                    // between the two, the rerun re-applies the same decision, a no-op.
                    if let Some(decision) = &project.pipeline.stages[i].registry_decision {
                        match project.registry.apply_decision(&project.root, decision, &name) {
                            Ok(msg) => progress.line(&format!("{name}: {msg}")),
                            Err(e) => {
                                // Nothing recorded: the next repro re-evaluates and decides again.
                                progress.warn(&format!("{name}: FAILED to update the registry: {e}"));
                                failed_run(project, &name, progress);
                                summary.failed.push(name.clone());
                                block_downstream(project, i, &selected, &mut blocked);
                                stop |= !opts.keep_going;
                                continue;
                            }
                        }
                    }
                    record(&mut lock, &project.root, &name, entry)?;
                    recorded(project, &name, progress);
                    summary.ran.push(name);
                    true
                }
                StageOutcome::Failed => {
                    summary.failed.push(name);
                    stop |= !opts.keep_going;
                    false
                }
                StageOutcome::Interrupted => {
                    interrupted = true;
                    stop = true;
                    false
                }
            };
            if succeeded {
                for d in project.graph.downstream(i) {
                    if selected[d] && !blocked[d] {
                        pending[d] -= 1;
                        if pending[d] == 0 {
                            ready.push_back(d);
                        }
                    }
                }
            } else {
                block_downstream(project, i, &selected, &mut blocked);
            }
        }
        Ok(())
    })?;

    if let Err(e) = project.state.save() {
        progress.warn(&format!("warning: could not save the hash cache: {e}"));
    }
    let done: Vec<&String> = summary
        .ran
        .iter()
        .chain(&summary.restored)
        .chain(&summary.up_to_date)
        .chain(&summary.failed)
        .collect();
    summary.not_run = project
        .graph
        .order()
        .iter()
        .filter(|&&i| selected[i])
        .map(|&i| project.pipeline.stages[i].name.clone())
        .filter(|s| !done.contains(&s))
        .collect();
    if interrupted || process::interrupted() {
        return Err(Error::Interrupted);
    }
    summary.wall = started.elapsed();
    if !summary.failed.is_empty() {
        progress.line(&summary.line());
        return Err(Error::StagesFailed { failed: summary.failed, not_run: summary.not_run });
    }
    Ok(summary)
}

fn block_downstream(project: &Project, i: usize, selected: &[bool], blocked: &mut [bool]) {
    let reach = project.graph.closure(&[i], true);
    for (d, r) in reach.into_iter().enumerate() {
        if r && d != i && selected[d] {
            blocked[d] = true;
        }
    }
}

fn record(lock: &mut LockFile, root: &std::path::Path, name: &str, entry: StageLock) -> Result<()> {
    lock.stages.insert(name.to_string(), entry);
    lock.save(root)
}

/// `name` is in pipeline.lock as its outs are: no run of it is unfinished any more.
fn recorded(project: &Project, name: &str, progress: &Progress) {
    if let Err(e) = project.store.run_recorded(name) {
        progress.warn(&format!("warning: {name}: cannot remove its unfinished-run marker: {e}"));
    }
}

/// The run of `name` this process started failed: its marker says so, and its outs stay.
fn failed_run(project: &Project, name: &str, progress: &Progress) {
    if let Err(e) = project.store.run_failed(name) {
        progress.warn(&format!("warning: {name}: cannot mark its run failed: {e}"));
    }
}

/// Why one stage failed (or stopped), as the line after `<stage>: FAILED: ` says it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StageFailure {
    #[error("cannot hash its files: {0}")]
    Hash(#[source] std::io::Error),
    /// A dep is missing, so there is no fingerprint to run with.
    #[error("cannot run: {}", .0.join("; "))]
    Blocked(Vec<String>),
    #[error("cannot record that it starts writing its outs: {0}")]
    MarkUnfinished(#[source] std::io::Error),
    #[error("cannot remove old out {out}: {source}")]
    RemoveOut { out: String, source: std::io::Error },
    #[error("cannot create {}: {source}", .dir.display())]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot create its log {}: {source}", .path.display())]
    CreateLog { path: PathBuf, source: std::io::Error },
    #[error("cannot write its invocation: {0}")]
    WriteCall(#[source] std::io::Error),
    #[error("cannot find churnflow itself: {0}")]
    FindSelf(#[source] std::io::Error),
    #[error("cannot start: {0}")]
    Start(#[source] std::io::Error),
    /// The command exited non-zero (`code`: `None` when a signal killed it); `log_tail`
    /// holds the last lines of its log.
    #[error("{}\n{log_tail}", exit_text(*.code))]
    Exited { code: Option<i32>, log_tail: String },
    #[error("finished but did not write its out {0}")]
    OutNotWritten(String),
    #[error("cannot hash its out {out}: {source}")]
    HashOut { out: String, source: std::io::Error },
    #[error("cannot store its out {out}: {source}")]
    StoreOut { out: String, source: std::io::Error },
    #[error("cannot claim its run in the shared store: {0}")]
    Claim(#[source] std::io::Error),
    #[error("cannot write its run record: {0}")]
    WriteRun(#[source] std::io::Error),
    #[error("cannot restore {out}: {source}")]
    Restore { out: String, source: RestoreError },
    #[error("frozen, and its uncached out {0} changed; restore it from git")]
    FrozenUncached(String),
    #[error("frozen, and its out {out} cannot be restored: {source}")]
    FrozenRestore { out: String, source: RestoreError },
    #[error("cannot read the baseline champion's model {}: {message}", .path.display())]
    BaselineModel { path: PathBuf, message: String },
    #[error(
        "the data the champion {champion} was trained on (store object {data}) is gone: `churnflow gc` \
         removes objects no pipeline.lock refers to. Run `churnflow repro` with the pipeline and params \
         that trained it to write it again, or compare against a table (`reference: <path>`)"
    )]
    BaselineDataGone { champion: String, data: String },
    #[error("interrupted")]
    Interrupted,
}

fn exit_text(code: Option<i32>) -> String {
    code.map(|c| format!("exit code {c}")).unwrap_or_else(|| "killed by a signal".into())
}

fn run_stage(
    project: &Project,
    i: usize,
    lock: Option<&StageLock>,
    force: bool,
    remotes: Remotes<'_>,
    progress: &Progress,
) -> StageOutcome {
    let stage = &project.pipeline.stages[i];
    let name = &stage.name;
    let unfinished = project.unfinished.get(name);
    let a = match assess(&project.root, stage, lock, unfinished, &project.state, &project.registry, force) {
        Ok(a) => a,
        Err(e) => return fail(progress, name, StageFailure::Hash(e)),
    };
    if a.is_fresh() {
        progress.skipped(&format!("{name}: up to date"));
        return StageOutcome::UpToDate;
    }
    if stage.frozen {
        if let Some(lock) = lock {
            return match restore_frozen(project, stage, lock, progress) {
                Ok(()) => {
                    progress.skipped(&format!("{}: frozen, outs restored", stage.name));
                    StageOutcome::Restored(lock.clone())
                }
                Err(e) => fail(progress, name, e),
            };
        }
    }
    let Some(fp) = a.fingerprint.clone() else {
        return fail(
            progress,
            name,
            StageFailure::Blocked(a.reasons.iter().map(|r| r.to_string()).collect()),
        );
    };
    if !force {
        let mut from = "the store".to_string();
        if let Some(remote) = remotes.pull {
            if stage.uses_run_records() && restorable::run_record(&project.store, stage, &fp).is_none() {
                progress
                    .start(name, &format!("looking for run {} on remote '{}'", short_hash(&fp), remote.name));
                match remote.fetch_run(&project.store, &fp, &indicatif::ProgressBar::hidden()) {
                    Ok(s) if s.failed.is_empty() => {
                        if s.runs > 0 {
                            from = format!("remote '{}'", remote.name);
                        }
                    }
                    Ok(s) => progress.warn(&format!("warning: {name}: {}", s.failed.join("; "))),
                    Err(e) => progress.warn(&format!("warning: {name}: {e}")),
                }
            }
        }
        if let Some(outcome) = restore_from_record(project, stage, lock, &a, &fp, &from, progress) {
            return outcome;
        }
    }
    // A workspace sharing this store (another experiment of a sweep) may be computing this
    // very run: wait for it, then restore its results rather than compute them twice.
    let _claim = if stage.uses_run_records() && project.store.is_shared() {
        let claim = RunClaim::take(&project.store, &fp, || {
            progress.detail(&format!("{name}: waiting for run {} computed elsewhere", short_hash(&fp)))
        });
        match claim {
            Ok(claim) => {
                if !force {
                    let from = "the store".to_string();
                    if let Some(outcome) = restore_from_record(project, stage, lock, &a, &fp, &from, progress)
                    {
                        return outcome;
                    }
                }
                Some(claim)
            }
            Err(e) => return fail(progress, name, StageFailure::Claim(e)),
        }
    } else {
        None
    };
    let reasons: Vec<String> = a.reasons.iter().map(|r| r.to_string()).collect();
    progress.start(name, &format!("running ({})", reasons.join("; ")));
    let started = Instant::now();
    let ran = execute(project, stage, lock, a.baseline.as_deref(), progress)
        .and_then(|summary| finish_run(project, stage, &fp, summary));
    match ran {
        Ok((outs, summary)) => {
            let took = started.elapsed();
            let detail = summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
            progress.finish(name, &format!("{name}: done in {:.1}s{detail}", took.as_secs_f64()));
            if let Some(remote) = remotes.push {
                share(project, stage, remote, &fp, &outs, progress);
            }
            StageOutcome::Ran(lock_entry(stage, &a, fp, outs))
        }
        Err(StageFailure::Interrupted) => {
            progress.finish_failed(name, &format!("{name}: interrupted"));
            StageOutcome::Interrupted
        }
        Err(e) => {
            failed_run(project, name, progress);
            fail(progress, name, e)
        }
    }
}

/// Restores the stage from its run record for `fp`, if the store has a complete one; `None`
/// when it has not, or when restoring failed (then the stage runs).
fn restore_from_record(
    project: &Project,
    stage: &Stage,
    lock: Option<&StageLock>,
    a: &Assessment,
    fp: &str,
    from: &str,
    progress: &Progress,
) -> Option<StageOutcome> {
    let name = &stage.name;
    let run = restorable::run_record(&project.store, stage, fp)?;
    progress.start(name, &format!("restoring from {from}"));
    match restore_run(project, stage, lock, &run, progress) {
        Ok(()) => {
            progress.finish(name, &format!("{name}: restored from {from} (run {})", short_hash(fp)));
            Some(StageOutcome::Restored(lock_entry(stage, a, fp.to_string(), run.outs)))
        }
        Err(e) => {
            progress.warn(&format!("warning: {name}: {e}; running it instead"));
            None
        }
    }
}

/// The remotes a `repro` uses, if any.
#[derive(Clone, Copy)]
struct Remotes<'a> {
    pull: Option<&'a Remote>,
    push: Option<&'a Remote>,
}

/// `repro --push`: sends what a stage just produced (its stored outs and run record). A
/// failure is a warning: the results are safe in the local store and the push at the end of
/// the run, or `churnflow push`, sends them later.
fn share(
    project: &Project,
    stage: &Stage,
    remote: &Remote,
    fingerprint: &str,
    outs: &std::collections::BTreeMap<String, OutRecord>,
    progress: &Progress,
) {
    let records: Vec<OutRecord> =
        stage.outs.iter().filter(|o| o.cache).filter_map(|o| outs.get(&o.path).cloned()).collect();
    let objects = objects_of(&project.store, &records);
    let runs: Vec<_> =
        project.store.read_run(fingerprint).map(|r| (fingerprint.to_string(), r)).into_iter().collect();
    match remote.push(&project.store, &objects, &runs, &indicatif::ProgressBar::hidden()) {
        Ok(s) if s.failed.is_empty() => {
            progress.detail(&format!("{}: pushed {} object(s) to '{}'", stage.name, s.objects, remote.name))
        }
        Ok(s) => progress.warn(&format!("warning: {}: not all pushed: {}", stage.name, s.failed.join("; "))),
        Err(e) => progress.warn(&format!("warning: {}: not pushed: {e}", stage.name)),
    }
}

fn fail(progress: &Progress, name: &str, e: StageFailure) -> StageOutcome {
    progress.finish_failed(name, &format!("{name}: FAILED: {e}"));
    StageOutcome::Failed
}

fn lock_entry(
    stage: &Stage,
    a: &Assessment,
    fingerprint: String,
    outs: BTreeMap<String, OutRecord>,
) -> StageLock {
    let (cmd, uses, settings, code_version) = match &stage.action {
        StageAction::Cmd(c) => (Some(c.clone()), None, None, None),
        StageAction::Builtin { kind, settings, code_version, .. } => {
            (None, Some(kind.clone()), Some(settings.clone()), Some(*code_version))
        }
    };
    StageLock {
        fingerprint,
        cmd,
        uses,
        settings,
        code_version,
        deps: a.deps.clone(),
        params: stage.params.clone(),
        outs,
        baseline: a.baseline.clone(),
    }
}

/// Restores every out of `run` (which [`restorable::run_record`] found complete).
fn restore_run(
    project: &Project,
    stage: &Stage,
    lock: Option<&StageLock>,
    run: &RunRecord,
    progress: &Progress,
) -> Result<(), StageFailure> {
    for out in &stage.outs {
        let Some(record) = run.outs.get(&out.path) else { continue };
        if matches!(in_place(project, &project.root.join(&out.path), record), Ok(true)) {
            continue;
        }
        let known = lock.and_then(|l| l.outs.get(&out.path)).map(|r| r.hash.as_str());
        put_back(project, &stage.name, &out.path, record, known, &|w| progress.warn(w))
            .map_err(|source| StageFailure::Restore { out: out.path.clone(), source })?;
    }
    Ok(())
}

/// A frozen stage never reruns; missing or edited outs come back from the store.
fn restore_frozen(
    project: &Project,
    stage: &Stage,
    lock: &StageLock,
    progress: &Progress,
) -> Result<(), StageFailure> {
    for out in &stage.outs {
        let Some(record) = lock.outs.get(&out.path) else { continue };
        if matches!(in_place(project, &project.root.join(&out.path), record), Ok(true)) {
            continue;
        }
        if !out.cache {
            return Err(StageFailure::FrozenUncached(out.path.clone()));
        }
        let known = Some(record.hash.as_str());
        put_back(project, &stage.name, &out.path, record, known, &|w| progress.warn(w))
            .map_err(|source| StageFailure::FrozenRestore { out: out.path.clone(), source })?;
    }
    Ok(())
}

/// Runs the stage's action. Returns the built-in kind's one-line summary, if any.
fn execute(
    project: &Project,
    stage: &Stage,
    lock: Option<&StageLock>,
    baseline: Option<&str>,
    progress: &Progress,
) -> Result<Option<String>, StageFailure> {
    let root = &project.root;
    // First a hand edit of an out is saved (or a previous unfinished run's output dropped),
    // then the marker says that this run is writing the outs, then they are removed: a run
    // stopped at any point leaves no hand edit unsaved and no partial out unmarked.
    let replaced: Vec<String> = stage.outs.iter().filter(|o| !o.persist).map(|o| o.path.clone()).collect();
    for out in &replaced {
        let known = lock.and_then(|l| l.outs.get(out)).map(|r| r.hash.as_str());
        before_replace(project, &stage.name, out, known, &|w| progress.warn(w));
    }
    project.store.run_starts(&stage.name, replaced).map_err(StageFailure::MarkUnfinished)?;
    for out in &stage.outs {
        let path = root.join(&out.path);
        if !out.persist {
            remove_path(&path).map_err(|source| StageFailure::RemoveOut { out: out.path.clone(), source })?;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| StageFailure::CreateDir { dir: parent.to_path_buf(), source })?;
        }
    }
    let log_path = project.store.log_path(&stage.name);
    let what = match &stage.action {
        StageAction::Cmd(cmds) => cmds.join(" && "),
        StageAction::Builtin { kind, .. } => format!("built-in kind {kind}"),
    };
    progress.detail(&format!("{}: runs {what}; log {}", stage.name, log_path.display()));
    let log = std::fs::create_dir_all(log_path.parent().unwrap_or(root))
        .and_then(|_| std::fs::File::create(&log_path))
        .map_err(|source| StageFailure::CreateLog { path: log_path.clone(), source })?;
    match &stage.action {
        StageAction::Cmd(cmds) => {
            let commands = cmds.iter().map(|c| process::shell(c, root)).collect();
            run_commands(commands, &stage.name, &log, &log_path).map(|_| None)
        }
        StageAction::Builtin { kind, settings, params_section, .. } => {
            let baseline_model = baseline.and_then(|h| project.registry.model_path(h));
            let baseline_training_data = match (&stage.baseline, &baseline_model) {
                (Some(b), Some(model)) if b.training_data => Some(training_data(project, model)?),
                _ => None,
            };
            let invocation = churnflow_stages::Invocation {
                root: root.clone(),
                stage: stage.name.clone(),
                settings: settings.clone(),
                params: stage.params.get(params_section).cloned().unwrap_or(serde_json::Value::Null),
                baseline_model,
                baseline_training_data,
            };
            let tmp = project.store.dir().join("tmp");
            let call = CallFile::write(&tmp, kind, invocation).map_err(StageFailure::WriteCall)?;
            let exe = std::env::current_exe().map_err(StageFailure::FindSelf)?;
            // What the stage has done so far, for its bar (see churnflow_stages::Reporter).
            let meter = tmp.join(format!("{}.progress", call.stem()));
            let mut command = call.command(&exe, root);
            command.env(churnflow_stages::PROGRESS_ENV, &meter);
            progress.watch(&stage.name, meter.clone());
            // The call file lives until the command below has run.
            let ran = run_commands(vec![command], &stage.name, &log, &log_path);
            let _ = std::fs::remove_file(&meter);
            drop(call);
            ran?;
            Ok(stage_call::read_summary(&log_path))
        }
    }
}

/// The data the baseline champion (its registry model file) was trained on: an object in
/// the store, named by the model's lineage.
fn training_data(project: &Project, model: &Path) -> Result<PathBuf, StageFailure> {
    let loaded = churnflow_stages::load_model(model)
        .map_err(|e| StageFailure::BaselineModel { path: model.to_path_buf(), message: e.message })?;
    project.store.training_data(&loaded).map_err(|data| {
        let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        StageFailure::BaselineDataGone {
            champion: short_hash(&stem).to_string(),
            data: short_hash(&data).to_string(),
        }
    })
}

fn run_commands(
    commands: Vec<std::process::Command>,
    stage: &str,
    log: &std::fs::File,
    log_path: &Path,
) -> Result<(), StageFailure> {
    for mut command in commands {
        command.env("CHURNFLOW_STAGE", stage);
        let status = match process::run_logged(command, log) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(StageFailure::Interrupted),
            Err(e) => return Err(StageFailure::Start(e)),
        };
        if process::interrupted() {
            return Err(StageFailure::Interrupted);
        }
        if !status.success() {
            return Err(StageFailure::Exited { code: status.code(), log_tail: log_tail(log_path, 20) });
        }
    }
    Ok(())
}

/// The last lines of a stage's log, indented, with where the whole log is.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    let mut out: String = tail.iter().map(|l| format!("    | {l}\n")).collect();
    out.push_str(&format!("    (full log: {})", path.display()));
    out
}

/// After a successful run: checks, hashes and stores the outs and writes the run record.
fn finish_run(
    project: &Project,
    stage: &Stage,
    fp: &str,
    summary: Option<String>,
) -> Result<(BTreeMap<String, OutRecord>, Option<String>), StageFailure> {
    let mut outs = BTreeMap::new();
    for out in &stage.outs {
        let path = project.root.join(&out.path);
        let h: PathHash = match project.state.hash_path(&path) {
            Ok(Some(h)) => h,
            Ok(None) => return Err(StageFailure::OutNotWritten(out.path.clone())),
            Err(source) => return Err(StageFailure::HashOut { out: out.path.clone(), source }),
        };
        if out.cache {
            project
                .store
                .put(&path, &h)
                .map_err(|source| StageFailure::StoreOut { out: out.path.clone(), source })?;
        }
        outs.insert(out.path.clone(), OutRecord::of(&h));
    }
    if stage.uses_run_records() {
        let run = RunRecord { stage: stage.name.clone(), outs: outs.clone() };
        project.store.write_run(fp, &run).map_err(StageFailure::WriteRun)?;
    }
    Ok((outs, summary))
}
