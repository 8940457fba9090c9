//! The executor: runs the selected stages in graph order, independent ones in parallel.
//!
//! Each stage is decided when its upstream stages are done: fresh (skip), restorable from a
//! run record (copy outs from the store), or run. A run deletes the stage's non-persistent
//! outs, runs the command (or the built-in kind in a child process of this binary) in its
//! own process group with output in `artifacts/logs/<stage>.log`, checks and hashes the outs,
//! stores them, writes the run record, and only then records the stage in pipeline.lock
//! (rewritten atomically after every stage, so a crash keeps earlier progress). A stage that
//! fails or is interrupted records nothing and its downstream stages do not start.
use crate::error::{Error, Result};
use crate::freshness::{assess, Assessment};
use crate::hashing::PathHash;
use crate::lockfile::{LockFile, StageLock};
use crate::pipeline::{Action, Stage};
use crate::process;
use crate::progress::Progress;
use crate::project::Project;
use crate::store::{remove_path, OutRecord, RunRecord};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Write};
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
}

/// What the engine hands to the child process that runs a built-in stage.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StageCall {
    pub kind: String,
    pub invocation: churnflow_stages::Invocation,
}

/// How one stage ended.
#[derive(Debug)]
enum Outcome {
    UpToDate,
    Restored(StageLock),
    Ran(StageLock),
    Failed,
    Interrupted,
}

/// Counts for the closing line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub ran: Vec<String>,
    pub restored: Vec<String>,
    pub up_to_date: Vec<String>,
    pub failed: Vec<String>,
    pub not_run: Vec<String>,
}

impl Summary {
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
        parts.join(", ")
    }
}

pub fn repro(project: &mut Project, opts: &ReproOptions, progress: &Progress) -> Result<Summary> {
    let selected = project.select(&opts.targets, opts.downstream, opts.single_item)?;
    process::install_interrupt_handler();
    let n = project.pipeline.stages.len();
    // The coordinator owns the lock from here; workers get a copy of their stage's entry.
    let mut lock = std::mem::take(&mut project.lock);
    let project: &Project = project;
    // Forget stages that pipeline.yaml no longer has.
    let names: Vec<String> = project.pipeline.stages.iter().map(|s| s.name.clone()).collect();
    lock.stages.retain(|k, _| names.contains(k));

    let mut pending: Vec<usize> =
        (0..n).map(|i| project.graph.upstream(i).into_iter().filter(|u| selected[*u]).count()).collect();
    let mut ready: VecDeque<usize> =
        project.graph.order().iter().copied().filter(|&i| selected[i] && pending[i] == 0).collect();
    let mut blocked = vec![false; n];
    let mut summary = Summary::default();
    let mut stop = false;
    let mut interrupted = false;
    let jobs = opts.jobs.max(1);

    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
        let mut running = 0usize;
        loop {
            while running < jobs && !stop && !process::interrupted() {
                let Some(i) = ready.pop_front() else { break };
                let tx = tx.clone();
                let lock_entry = lock.stages.get(&project.pipeline.stages[i].name).cloned();
                let force = opts.force;
                scope.spawn(move || {
                    let outcome = run_stage(project, i, lock_entry.as_ref(), force, progress);
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
                Outcome::UpToDate => {
                    summary.up_to_date.push(name);
                    true
                }
                Outcome::Restored(entry) => {
                    record(&mut lock, &project.root, &name, entry)?;
                    summary.restored.push(name);
                    true
                }
                Outcome::Ran(entry) => {
                    // A decision is applied to the registry before the stage is recorded: if
                    // applying fails the stage is not fresh and runs again; if churnflow dies
                    // between the two, the rerun re-applies the same decision, a no-op.
                    if let Some(decision) = &project.pipeline.stages[i].registry_decision {
                        match project.registry.apply_decision(&project.root, decision, &name) {
                            Ok(msg) => progress.line(&format!("{name}: {msg}")),
                            Err(e) => {
                                // Nothing recorded: the next repro re-evaluates and decides again.
                                progress.line(&format!("{name}: FAILED to update the registry: {e}"));
                                summary.failed.push(name.clone());
                                block_downstream(project, i, &selected, &mut blocked);
                                stop |= !opts.keep_going;
                                continue;
                            }
                        }
                    }
                    record(&mut lock, &project.root, &name, entry)?;
                    summary.ran.push(name);
                    true
                }
                Outcome::Failed => {
                    summary.failed.push(name);
                    stop |= !opts.keep_going;
                    false
                }
                Outcome::Interrupted => {
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
        progress.line(&format!("warning: could not save the hash cache: {e}"));
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
    if !summary.failed.is_empty() {
        let mut msg = format!("stage(s) failed: {}", summary.failed.join(", "));
        if !summary.not_run.is_empty() {
            msg.push_str(&format!("; not run: {}", summary.not_run.join(", ")));
        }
        progress.line(&summary.line());
        return Err(Error::StageFailed(msg));
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

fn run_stage(
    project: &Project,
    i: usize,
    lock: Option<&StageLock>,
    force: bool,
    progress: &Progress,
) -> Outcome {
    let stage = &project.pipeline.stages[i];
    let name = &stage.name;
    let a = match assess(&project.root, stage, lock, &project.state, &project.registry, force) {
        Ok(a) => a,
        Err(e) => return fail(progress, name, format!("cannot hash its files: {e}")),
    };
    if a.is_fresh() {
        progress.line(&format!("{name}: up to date"));
        return Outcome::UpToDate;
    }
    if stage.frozen {
        if let Some(lock) = lock {
            return restore_frozen(project, stage, lock, progress);
        }
    }
    let Some(fp) = a.fingerprint.clone() else {
        let missing: Vec<String> = a.reasons.iter().map(|r| r.to_string()).collect();
        return fail(progress, name, format!("cannot run: {}", missing.join("; ")));
    };
    if !force && stage.uses_run_records() && stage.outs.iter().all(|o| o.cache) {
        if let Some(run) = project.store.read_run(&fp) {
            match restore_run(project, stage, lock, &run, progress) {
                Ok(true) => {
                    progress.finish(name, &format!("{name}: restored from the store (run {})", &fp[..12]));
                    return Outcome::Restored(lock_entry(stage, &a, fp, run.outs));
                }
                Ok(false) => {}
                Err(msg) => progress.line(&format!("warning: {name}: {msg}; running it instead")),
            }
        }
    }
    let reasons: Vec<String> = a.reasons.iter().map(|r| r.to_string()).collect();
    progress.start(name, &format!("running ({})", reasons.join("; ")));
    let started = Instant::now();
    match execute(project, stage, lock, a.baseline.as_deref(), progress) {
        Ok(summary) => finish_run(project, stage, &a, fp, started, summary, progress),
        Err(ExecError::Interrupted) => {
            progress.finish(name, &format!("{name}: interrupted"));
            Outcome::Interrupted
        }
        Err(ExecError::Failed(msg)) => fail(progress, name, msg),
    }
}

fn fail(progress: &Progress, name: &str, msg: String) -> Outcome {
    progress.finish(name, &format!("{name}: FAILED: {msg}"));
    Outcome::Failed
}

enum ExecError {
    Failed(String),
    Interrupted,
}

fn lock_entry(
    stage: &Stage,
    a: &Assessment,
    fingerprint: String,
    outs: BTreeMap<String, OutRecord>,
) -> StageLock {
    let (cmd, uses, settings, code_version) = match &stage.action {
        Action::Cmd(c) => (Some(c.clone()), None, None, None),
        Action::Builtin { kind, settings, code_version, .. } => {
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

/// Before an out is replaced: content that neither the lock nor the store knows (a hand
/// edit) is saved into the store first, with a warning naming it.
fn save_hand_edit(
    project: &Project,
    stage: &Stage,
    lock: Option<&StageLock>,
    out: &str,
    progress: &Progress,
) {
    let path = project.root.join(out);
    let Ok(Some(current)) = project.state.hash_path(&path) else { return };
    let known = lock.and_then(|l| l.outs.get(out)).is_some_and(|r| r.hash == current.hash());
    if known || project.store.has(current.hash()) {
        return;
    }
    match project.store.put(&path, &current) {
        Ok(()) => progress.line(&format!(
            "warning: {}: out {out} was changed outside churnflow; its content is saved in the store as {} before it is replaced",
            stage.name,
            &current.hash()[..12]
        )),
        Err(e) => progress.line(&format!("warning: {}: out {out} was changed by hand and could not be saved ({e}); it is replaced", stage.name)),
    }
}

/// Restores every out of `run`. `Ok(false)`: some object is missing (run instead).
fn restore_run(
    project: &Project,
    stage: &Stage,
    lock: Option<&StageLock>,
    run: &RunRecord,
    progress: &Progress,
) -> std::result::Result<bool, String> {
    let mut records = Vec::new();
    for out in &stage.outs {
        match run.outs.get(&out.path) {
            Some(r) if project.store.can_restore(r) => records.push((out.path.as_str(), r)),
            _ => return Ok(false),
        }
    }
    progress.start(&stage.name, "restoring from the store");
    for (path, record) in records {
        let dest = project.root.join(path);
        if let Ok(Some(h)) = project.state.hash_path(&dest) {
            if h.hash() == record.hash {
                continue;
            }
        }
        save_hand_edit(project, stage, lock, path, progress);
        project.store.restore(record, &dest).map_err(|e| format!("cannot restore {path}: {e}"))?;
        if !record.is_dir() {
            project.state.record(&dest, &record.hash);
        }
    }
    Ok(true)
}

/// A frozen stage never reruns; missing or edited outs come back from the store.
fn restore_frozen(project: &Project, stage: &Stage, lock: &StageLock, progress: &Progress) -> Outcome {
    for out in &stage.outs {
        let Some(record) = lock.outs.get(&out.path) else { continue };
        let dest = project.root.join(&out.path);
        if let Ok(Some(h)) = project.state.hash_path(&dest) {
            if h.hash() == record.hash {
                continue;
            }
        }
        if !out.cache {
            return fail(
                progress,
                &stage.name,
                format!("frozen, and its uncached out {} changed; restore it from git", out.path),
            );
        }
        save_hand_edit(project, stage, Some(lock), &out.path, progress);
        if let Err(e) = project.store.restore(record, &dest) {
            return fail(
                progress,
                &stage.name,
                format!("frozen, and its out {} cannot be restored: {e}", out.path),
            );
        }
    }
    progress.line(&format!("{}: frozen, outs restored", stage.name));
    Outcome::Restored(lock.clone())
}

/// Runs the stage's action. Returns the built-in kind's one-line summary, if any.
fn execute(
    project: &Project,
    stage: &Stage,
    lock: Option<&StageLock>,
    baseline: Option<&str>,
    progress: &Progress,
) -> std::result::Result<Option<String>, ExecError> {
    let root = &project.root;
    for out in &stage.outs {
        let path = root.join(&out.path);
        if !out.persist {
            save_hand_edit(project, stage, lock, &out.path, progress);
            remove_path(&path)
                .map_err(|e| ExecError::Failed(format!("cannot remove old out {}: {e}", out.path)))?;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ExecError::Failed(format!("cannot create {}: {e}", parent.display())))?;
        }
    }
    let log_path = project.store.log_path(&stage.name);
    let log = std::fs::create_dir_all(log_path.parent().unwrap_or(root))
        .and_then(|_| std::fs::File::create(&log_path))
        .map_err(|e| ExecError::Failed(format!("cannot create its log {}: {e}", log_path.display())))?;
    let commands: Vec<std::process::Command> = match &stage.action {
        Action::Cmd(cmds) => cmds.iter().map(|c| process::shell(c, root)).collect(),
        Action::Builtin { kind, settings, params_section, .. } => {
            let invocation = churnflow_stages::Invocation {
                root: root.clone(),
                stage: stage.name.clone(),
                settings: settings.clone(),
                params: stage.params.get(params_section).cloned().unwrap_or(serde_json::Value::Null),
                baseline_model: baseline.and_then(|h| project.registry.model_path(h)),
            };
            let dir = project.store.dir().join("tmp");
            let file = std::fs::create_dir_all(&dir)
                .and_then(|_| {
                    tempfile::Builder::new()
                        .prefix(&format!("{}-", stage.name))
                        .suffix(".json")
                        .tempfile_in(&dir)
                })
                .and_then(|mut f| {
                    let call = StageCall { kind: kind.clone(), invocation };
                    serde_json::to_writer(&mut f, &call).map_err(std::io::Error::other)?;
                    f.flush()?;
                    Ok(f)
                })
                .map_err(|e| ExecError::Failed(format!("cannot write its invocation: {e}")))?;
            let exe = std::env::current_exe()
                .map_err(|e| ExecError::Failed(format!("cannot find churnflow itself: {e}")))?;
            let mut c = std::process::Command::new(exe);
            c.arg(crate::cli::STAGE_SUBCOMMAND).arg(file.path()).current_dir(root);
            // The temp file lives until the command below has run.
            return run_commands(vec![c], &stage.name, &log, &log_path).map(|_| {
                drop(file);
                read_summary(&log_path)
            });
        }
    };
    run_commands(commands, &stage.name, &log, &log_path).map(|_| None)
}

fn run_commands(
    commands: Vec<std::process::Command>,
    stage: &str,
    log: &std::fs::File,
    log_path: &std::path::Path,
) -> std::result::Result<(), ExecError> {
    for mut command in commands {
        command.env("CHURNFLOW_STAGE", stage);
        let status = match process::run_logged(command, log) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(ExecError::Interrupted),
            Err(e) => return Err(ExecError::Failed(format!("cannot start: {e}"))),
        };
        if process::interrupted() {
            return Err(ExecError::Interrupted);
        }
        if !status.success() {
            let code = status
                .code()
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "killed by a signal".into());
            return Err(ExecError::Failed(format!("{code}\n{}", log_tail(log_path, 20))));
        }
    }
    Ok(())
}

/// The last lines of a stage's log, indented, with where the whole log is.
fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    let mut out: String = tail.iter().map(|l| format!("    | {l}\n")).collect();
    out.push_str(&format!("    (full log: {})", path.display()));
    out
}

fn read_summary(path: &std::path::Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    std::io::BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .filter_map(|l| l.strip_prefix(crate::cli::SUMMARY_PREFIX).map(str::to_string))
        .last()
}

#[allow(clippy::too_many_arguments)]
fn finish_run(
    project: &Project,
    stage: &Stage,
    a: &Assessment,
    fp: String,
    started: Instant,
    summary: Option<String>,
    progress: &Progress,
) -> Outcome {
    let name = &stage.name;
    let mut outs = BTreeMap::new();
    for out in &stage.outs {
        let path = project.root.join(&out.path);
        let h: PathHash = match project.state.hash_path(&path) {
            Ok(Some(h)) => h,
            Ok(None) => {
                return fail(progress, name, format!("finished but did not write its out {}", out.path))
            }
            Err(e) => return fail(progress, name, format!("cannot hash its out {}: {e}", out.path)),
        };
        if out.cache {
            if let Err(e) = project.store.put(&path, &h) {
                return fail(progress, name, format!("cannot store its out {}: {e}", out.path));
            }
        }
        outs.insert(out.path.clone(), OutRecord::of(&h));
    }
    if stage.uses_run_records() && stage.outs.iter().all(|o| o.cache) {
        let run = RunRecord { stage: name.clone(), outs: outs.clone() };
        if let Err(e) = project.store.write_run(&fp, &run) {
            return fail(progress, name, format!("cannot write its run record: {e}"));
        }
    }
    let took = started.elapsed();
    let detail = summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
    progress.finish(name, &format!("{name}: done in {:.1}s{detail}", took.as_secs_f64()));
    Outcome::Ran(lock_entry(stage, a, fp, outs))
}
