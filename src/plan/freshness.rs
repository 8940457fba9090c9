//! Is a stage fresh, and if not, exactly why.
//!
//! Fresh = pipeline.lock holds the same fingerprint for the stage and every out exists with
//! the hash the lock records. Otherwise the reasons are typed ([`StaleReason`]) and each has
//! one sentence; `status` prints them and `--json` exposes them. The fingerprint is compared
//! first; only on a mismatch is the lock entry diffed to find the reasons.
use crate::pipeline::params;
use crate::pipeline::resolve::{Stage, StageAction, Template};
use crate::plan::fingerprint::fingerprint;
use crate::store::hashing::HashState;
use crate::store::lockfile::StageLock;
use crate::store::registry::Registry;
use crate::store::short_hash;
use crate::store::unfinished::{LeftBy, UnfinishedRun};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Why a stage is stale. `OutModified` is a person's change to an out; an out that a run of
/// the stage left unrecorded ([`crate::store::unfinished`]) is instead `OutHalfWritten`
/// (that run was interrupted: Ctrl-C, killed), `OutFromFailedRun` or `OutBeingWritten` (the
/// churnflow `pid` is running it now) — churnflow's own output, replaced without being saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StaleReason {
    NeverRun,
    Forced,
    AlwaysChanged,
    CmdChanged { old: Option<Vec<String>>, new: Vec<String> },
    KindChanged { old: Option<String>, new: String },
    SettingsChanged { keys: Vec<String> },
    CodeVersionChanged { old: Option<u32>, new: u32 },
    ParamChanged { key: String, old: Value, new: Value },
    ParamAdded { key: String, value: Value },
    ParamRemoved { key: String, old: Value },
    DepChanged { path: String },
    DepAdded { path: String },
    DepRemoved { path: String },
    DepMissing { path: String },
    OutsChanged,
    OutMissing { path: String },
    OutModified { path: String },
    OutHalfWritten { path: String, pid: u32 },
    OutFromFailedRun { path: String },
    OutBeingWritten { path: String, pid: u32 },
    UpstreamStale { stage: String },
    BaselineChanged { old: Option<String>, new: String },
    DefinitionChanged,
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use StaleReason::*;
        match self {
            NeverRun => write!(f, "never run"),
            Forced => write!(f, "forced"),
            AlwaysChanged => write!(f, "always_changed is set"),
            CmdChanged { .. } => write!(f, "cmd changed"),
            KindChanged { old, new } => {
                write!(f, "kind changed {} -> {new}", old.as_deref().unwrap_or("(cmd)"))
            }
            SettingsChanged { keys } if keys.is_empty() => write!(f, "settings changed"),
            SettingsChanged { keys } => write!(f, "settings changed: {}", keys.join(", ")),
            CodeVersionChanged { old, new } => write!(
                f,
                "stage code changed (version {} -> {new})",
                old.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
            ),
            ParamChanged { key, old, new } => write!(f, "param {key} {} -> {}", short(old), short(new)),
            ParamAdded { key, value } => write!(f, "param {key} added ({})", short(value)),
            ParamRemoved { key, .. } => write!(f, "param {key} no longer used"),
            DepChanged { path } => write!(f, "dep {path} changed"),
            DepAdded { path } => write!(f, "dep {path} added"),
            DepRemoved { path } => write!(f, "dep {path} removed"),
            DepMissing { path } => write!(f, "dep {path} is missing"),
            OutsChanged => write!(f, "declared outs changed"),
            OutMissing { path } => write!(f, "out {path} is missing"),
            OutModified { path } => write!(f, "out {path} was modified"),
            OutHalfWritten { path, pid } => write!(
                f,
                "out {path} was left half-written by an interrupted run (pid {pid}); repro replaces it"
            ),
            OutFromFailedRun { path } => {
                write!(f, "out {path} was left by a run that failed; repro replaces it")
            }
            OutBeingWritten { path, pid } => {
                write!(f, "out {path} is being written by a running churnflow (pid {pid})")
            }
            UpstreamStale { stage } => write!(f, "upstream {stage} is stale"),
            BaselineChanged { old, new } => write!(
                f,
                "baseline champion changed {} -> {}",
                old.as_deref().map(short_hash).unwrap_or("(none)"),
                short_hash(new)
            ),
            DefinitionChanged => write!(f, "stage definition changed"),
        }
    }
}

/// Reasons as JSON objects: the typed fields plus the sentence `status` prints (the
/// `reasons` of `status --json` and `repro --dry-run --json`).
pub fn reasons_json(reasons: &[StaleReason]) -> Vec<Value> {
    reasons
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert("message".into(), Value::String(r.to_string()));
            }
            v
        })
        .collect()
}

/// What was found about a stage's current inputs.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// `None` when a dep is missing (the fingerprint cannot be computed yet).
    pub fingerprint: Option<String>,
    pub deps: BTreeMap<String, String>,
    /// For a stage that reads the baseline champion: its model hash, or "none".
    pub baseline: Option<String>,
    pub reasons: Vec<StaleReason>,
}

impl Assessment {
    pub fn is_fresh(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Assesses `stage` against its lock entry, hashing deps and outs through `state`;
/// `unfinished` is the stage's run that was not recorded, if one left a marker.
pub fn assess(
    root: &Path,
    stage: &Stage,
    lock: Option<&StageLock>,
    unfinished: Option<&UnfinishedRun>,
    state: &HashState,
    registry: &Registry,
    force: bool,
) -> std::io::Result<Assessment> {
    let mut reasons = Vec::new();
    let mut deps = BTreeMap::new();
    let mut missing = false;
    for dep in &stage.deps {
        match state.hash_path(&root.join(&dep.value))? {
            Some(h) => {
                deps.insert(dep.value.clone(), h.hash().to_string());
            }
            None => {
                missing = true;
                reasons.push(StaleReason::DepMissing { path: dep.value.clone() });
            }
        }
    }
    // Which champion the stage compares with depends on the challenger it reads; while that
    // dep is missing (not built or restored yet) the baseline is unknown, not "the newest".
    let baseline = stage.baseline.as_ref().and_then(|b| {
        let challenger = match &b.challenger {
            Some(m) => Some(deps.get(m)?.as_str()),
            None => None,
        };
        Some(registry.baseline_for(challenger).unwrap_or_else(|| "none".to_string()))
    });
    if stage.frozen {
        if let Some(lock) = lock {
            // Frozen: never rerun. Only missing or edited outs are reported.
            check_outs(root, stage, lock, state, &mut reasons)?;
            reasons.retain(|r| matches!(r, StaleReason::OutMissing { .. } | StaleReason::OutModified { .. }));
            if let Some(run) = unfinished {
                left_unfinished(root, stage, Some(lock), run, state, &mut reasons)?;
            }
            return Ok(Assessment { fingerprint: Some(lock.fingerprint.clone()), deps, baseline, reasons });
        }
    }
    let fp = (!missing).then(|| fingerprint(stage, &deps, baseline.as_deref()));
    if force {
        reasons.push(StaleReason::Forced);
    }
    if stage.always_changed {
        reasons.push(StaleReason::AlwaysChanged);
    }
    match lock {
        None => reasons.push(StaleReason::NeverRun),
        Some(lock) => match &fp {
            Some(fp) if *fp == lock.fingerprint => check_outs(root, stage, lock, state, &mut reasons)?,
            _ => {
                let before = reasons.len();
                diff(stage, lock, &deps, baseline.as_deref(), &mut reasons);
                if reasons.len() == before && !missing {
                    reasons.push(StaleReason::DefinitionChanged);
                }
            }
        },
    }
    if let Some(run) = unfinished {
        left_unfinished(root, stage, lock, run, state, &mut reasons)?;
    }
    // A key declared both alone and inside its section is reported once.
    let mut unique: Vec<StaleReason> = Vec::with_capacity(reasons.len());
    for r in reasons {
        if !unique.contains(&r) {
            unique.push(r);
        }
    }
    Ok(Assessment { fingerprint: fp, deps, baseline, reasons: unique })
}

fn check_outs(
    root: &Path,
    stage: &Stage,
    lock: &StageLock,
    state: &HashState,
    reasons: &mut Vec<StaleReason>,
) -> std::io::Result<()> {
    for out in &stage.outs {
        let Some(record) = lock.outs.get(&out.path) else {
            reasons.push(StaleReason::OutMissing { path: out.path.clone() });
            continue;
        };
        match state.hash_path(&root.join(&out.path))? {
            None => reasons.push(StaleReason::OutMissing { path: out.path.clone() }),
            Some(h) if h.hash() != record.hash => {
                reasons.push(StaleReason::OutModified { path: out.path.clone() })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// An out that `run` (unrecorded) left, present and not what the lock records, is said to be
/// that run's — in place of "was modified", or besides the other reasons.
fn left_unfinished(
    root: &Path,
    stage: &Stage,
    lock: Option<&StageLock>,
    run: &UnfinishedRun,
    state: &HashState,
    reasons: &mut Vec<StaleReason>,
) -> std::io::Result<()> {
    for out in stage.outs.iter().filter(|o| run.covers(&o.path)) {
        let Some(current) = state.hash_path(&root.join(&out.path))? else { continue };
        let recorded = lock.and_then(|l| l.outs.get(&out.path)).map(|r| r.hash.as_str());
        if recorded == Some(current.hash()) {
            continue;
        }
        let path = out.path.clone();
        let reason = match run.left_by() {
            LeftBy::Running { pid } => StaleReason::OutBeingWritten { path, pid },
            LeftBy::Interrupted { pid } => StaleReason::OutHalfWritten { path, pid },
            LeftBy::Failed => StaleReason::OutFromFailedRun { path },
        };
        let modified =
            reasons.iter_mut().find(|r| matches!(r, StaleReason::OutModified { path } if *path == out.path));
        match modified {
            Some(slot) => *slot = reason,
            None => reasons.push(reason),
        }
    }
    Ok(())
}

fn diff(
    stage: &Stage,
    lock: &StageLock,
    deps: &BTreeMap<String, String>,
    baseline: Option<&str>,
    reasons: &mut Vec<StaleReason>,
) {
    // What the command/settings were with the recorded param values: if that is what the
    // lock holds, only params changed, and the param reasons below say which.
    let old_params = |k: &str| params::recorded_lookup(&lock.params, k);
    let mut used = std::collections::BTreeSet::new();
    let same_template = match &stage.template {
        Template::Cmd(raw) => {
            let old: Option<Vec<String>> =
                raw.iter().map(|c| params::interpolate_with(c, &old_params, &mut used).ok()).collect();
            old.is_some() && old == lock.cmd
        }
        Template::Settings(raw) => {
            let old = params::interpolate_value_with(raw, &old_params, &mut used)
                .ok()
                .map(|v| params::canonical(&v));
            old.is_some() && old == lock.settings
        }
    };
    match &stage.action {
        StageAction::Cmd(cmds) => {
            if lock.cmd.as_ref() != Some(cmds) && !(same_template && lock.uses.is_none()) {
                if lock.uses.is_some() {
                    reasons.push(StaleReason::KindChanged { old: lock.uses.clone(), new: "cmd".into() });
                } else {
                    reasons.push(StaleReason::CmdChanged { old: lock.cmd.clone(), new: cmds.clone() });
                }
            }
        }
        StageAction::Builtin { kind, settings, code_version, .. } => {
            if lock.uses.as_deref() != Some(kind.as_str()) {
                reasons.push(StaleReason::KindChanged { old: lock.uses.clone(), new: kind.clone() });
            } else {
                if lock.settings.as_ref() != Some(settings) && !same_template {
                    reasons.push(StaleReason::SettingsChanged {
                        keys: changed_keys(lock.settings.as_ref(), settings),
                    });
                }
                if lock.code_version != Some(*code_version) {
                    reasons
                        .push(StaleReason::CodeVersionChanged { old: lock.code_version, new: *code_version });
                }
            }
        }
    }
    for (key, value) in &stage.params {
        match lock.params.get(key) {
            None => reasons.push(StaleReason::ParamAdded { key: key.clone(), value: value.clone() }),
            Some(old) if old != value => param_changes(key, old, value, reasons),
            Some(_) => {}
        }
    }
    for (key, old) in &lock.params {
        if !stage.params.contains_key(key) {
            reasons.push(StaleReason::ParamRemoved { key: key.clone(), old: old.clone() });
        }
    }
    for (path, hash) in deps {
        match lock.deps.get(path) {
            None => reasons.push(StaleReason::DepAdded { path: path.clone() }),
            Some(old) if old != hash => reasons.push(StaleReason::DepChanged { path: path.clone() }),
            Some(_) => {}
        }
    }
    for path in lock.deps.keys() {
        if !stage.deps.iter().any(|d| &d.value == path) {
            reasons.push(StaleReason::DepRemoved { path: path.clone() });
        }
    }
    let mut declared: Vec<&str> = stage.outs.iter().map(|o| o.path.as_str()).collect();
    declared.sort_unstable();
    if declared != lock.outs.keys().map(String::as_str).collect::<Vec<_>>() {
        reasons.push(StaleReason::OutsChanged);
    }
    if let Some(new) = baseline {
        if lock.baseline.as_deref() != Some(new) {
            reasons.push(StaleReason::BaselineChanged { old: lock.baseline.clone(), new: new.to_string() });
        }
    }
}

/// A change inside a whole params section is reported key by key (`train.max_depth 6 -> 8`).
fn param_changes(key: &str, old: &Value, new: &Value, reasons: &mut Vec<StaleReason>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            for k in keys {
                let sub = format!("{key}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) if x != y => param_changes(&sub, x, y, reasons),
                    (Some(_), Some(_)) => {}
                    (None, Some(y)) => reasons.push(StaleReason::ParamAdded { key: sub, value: y.clone() }),
                    (Some(x), None) => reasons.push(StaleReason::ParamRemoved { key: sub, old: x.clone() }),
                    (None, None) => {}
                }
            }
        }
        _ => reasons.push(StaleReason::ParamChanged {
            key: key.to_string(),
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

fn changed_keys(old: Option<&Value>, new: &Value) -> Vec<String> {
    let (Some(Value::Object(a)), Value::Object(b)) = (old, new) else { return Vec::new() };
    let mut keys: Vec<String> =
        a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}
