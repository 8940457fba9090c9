//! The model registry in `registry/` (committed to git): champion models and an append-only,
//! hash-chained audit log of every decision.
//!
//! * `registry/models/<blake3>.model` — the bytes of every model that was ever champion, so
//!   `registry:champion` works on a fresh clone without the store.
//! * `registry/audit.jsonl` — one event per line: promote, reject, rollback. Each event holds
//!   the hash of the one before it and its own hash, so an edit anywhere breaks the chain and
//!   `churnflow models verify` reports where.
//!
//! The champion is derived from the log (the newest promote or rollback), never stored twice.
//! The registry is not a stage out: checkout and run records never rewind it. A promote
//! stage's decision is applied by the engine under the project lock, only if the baseline the
//! challenger was compared against is still the baseline (compare-and-swap), and applying
//! the same decision twice is a no-op.
use crate::store::atomic;
use crate::store::hashing::{hash_bytes, hash_file};
use crate::store::short_hash;
use churnflow_stages::Decision;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub const REGISTRY_DIR: &str = "registry";
const LOG_FILE: &str = "audit.jsonl";
/// The newest promotion decision file (`reports/promotion.json`) this build applies.
const DECISION_SCHEMA: u32 = 1;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why the registry could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(
        "{}:{line}: not a registry event ({source}); the audit log was edited by hand — restore it from git",
        .path.display()
    )]
    BadEvent { path: PathBuf, line: usize, source: serde_json::Error },
    #[error("{path}: not a promotion decision: {source}")]
    BadDecision { path: String, source: serde_json::Error },
    #[error(
        "{path}: promotion decision schema {schema} is newer than this churnflow reads; upgrade churnflow"
    )]
    NewerDecision { path: String, schema: u32 },
    /// Compare-and-swap failed: another champion was promoted after the evaluation.
    #[error(
        "the registry changed since this challenger was evaluated (baseline now {}, evaluated against {}); run 'churnflow repro' again",
        .now.as_deref().map(short_hash).unwrap_or("none"),
        .evaluated.as_deref().map(short_hash).unwrap_or("none")
    )]
    BaselineMoved { now: Option<String>, evaluated: Option<String> },
    /// The log failed verification when something was to be appended to it.
    #[error("the registry audit log failed verification: {0}; restore registry/ from git")]
    Tampered(VerifyError),
    /// `models verify` found a problem.
    #[error("registry verification failed: {0}")]
    VerifyFailed(VerifyError),
    /// The registry failed verification before it was to be shared (`push --registry`).
    #[error("the local registry failed verification: {0}; restore registry/ from git")]
    LocalUnverified(VerifyError),
    #[error("cannot encode a registry event: {0}")]
    Encode(serde_json::Error),
    #[error("registry lock poisoned")]
    Poisoned,
    #[error("the registry has no champion yet; run 'churnflow repro' to train and promote one")]
    NoChampion,
    #[error("no model '{0}' in the registry (see 'churnflow models list')")]
    UnknownModel(String),
    #[error("'{0}' matches several models; give more of the hash")]
    AmbiguousModel(String),
    #[error("the registry has no champion to roll back")]
    NothingToRollBack,
    #[error("there is no earlier champion to roll back to")]
    NoEarlierChampion,
    #[error("model {} is already the champion", short_hash(.0))]
    AlreadyChampion(String),
    #[error("the registry has no model file for {}; restore registry/ from git", short_hash(.0))]
    NoModelFile(String),
    #[error("model file {0} does not exist (use a path, or registry:champion for the registry's champion)")]
    NoSuchModelFile(String),
}

impl RegistryError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RegistryError::Io { context: context.into(), source }
    }
}

/// The first problem [`Registry::verify`] finds in the audit log or the model files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error("event {index} has sequence number {seq} (events were removed or reordered)")]
    Sequence { index: usize, seq: u64 },
    #[error("event {seq} does not follow event {previous} (the chain is broken)")]
    ChainBroken { seq: u64, previous: usize },
    #[error("event {0} was modified after it was written")]
    EventModified(u64),
    #[error("event {seq}: the model file {model}.model is missing")]
    ModelMissing { seq: u64, model: String },
    #[error("event {seq}: the model file {model}.model was modified")]
    ModelModified { seq: u64, model: String },
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// What an audit-log event did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EventAction {
    Promote,
    Reject,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub prev: String,
    pub action: EventAction,
    /// The model this event is about (blake3 of its file).
    pub model: Option<String>,
    /// The champion the model was compared against.
    pub baseline: Option<String>,
    /// blake3 of the decision file this event applied (makes re-applying a no-op).
    pub decision: Option<String>,
    pub stage: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub gates: Value,
    #[serde(default)]
    pub metrics: Value,
    pub who: String,
    pub when: String,
    pub hash: String,
}

impl Event {
    fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        hash_bytes(&serde_json::to_vec(&unhashed).unwrap_or_default())
    }

    pub fn sets_champion(&self) -> bool {
        matches!(self.action, EventAction::Promote | EventAction::Rollback)
    }
}

#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    events: RwLock<Vec<Event>>,
}

impl Registry {
    /// Reads the registry of the project at `root` (an absent registry is empty).
    pub fn load(root: &Path) -> Result<Registry> {
        let dir = root.join(REGISTRY_DIR);
        let path = dir.join(LOG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(RegistryError::io(format!("cannot read {}", path.display()), e)),
        };
        let mut events = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let event: Event = serde_json::from_str(line).map_err(|source| RegistryError::BadEvent {
                path: path.clone(),
                line: n + 1,
                source,
            })?;
            events.push(event);
        }
        Ok(Registry { dir, events: RwLock::new(events) })
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.read().map(|e| e.clone()).unwrap_or_default()
    }

    /// Model hashes that have been champion, oldest first (one per promote/rollback event).
    fn champions(&self) -> Vec<String> {
        self.events().into_iter().filter(|e| e.sets_champion()).filter_map(|e| e.model).collect()
    }

    pub fn champion(&self) -> Option<String> {
        self.champions().pop()
    }

    /// The newest champion that is not `challenger` itself.
    pub fn baseline_for(&self, challenger: Option<&str>) -> Option<String> {
        self.champions().into_iter().rev().find(|m| Some(m.as_str()) != challenger)
    }

    /// Where the registry keeps a champion's model bytes (if it has them).
    pub fn model_path(&self, hash: &str) -> Option<PathBuf> {
        let p = self.dir.join("models").join(format!("{hash}.model"));
        p.is_file().then_some(p)
    }

    /// Finds a model by `champion` or a hash prefix.
    pub fn resolve(&self, name: &str) -> Result<String> {
        if name == "champion" {
            return self.champion().ok_or(RegistryError::NoChampion);
        }
        let mut found: Vec<String> =
            self.events().into_iter().filter_map(|e| e.model).filter(|m| m.starts_with(name)).collect();
        found.sort();
        found.dedup();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(RegistryError::UnknownModel(name.to_string())),
            _ => Err(RegistryError::AmbiguousModel(name.to_string())),
        }
    }

    /// The decision threshold recorded when `model` was last promoted (or rolled back to), if
    /// the promotion carried one.
    pub fn promoted_threshold(&self, model: &str) -> Option<f64> {
        self.events()
            .iter()
            .rev()
            .filter(|e| e.model.as_deref() == Some(model))
            .find_map(|e| e.metrics.get("threshold").and_then(|t| t.as_f64()))
    }

    /// Checks the hash chain and the champions' model files. Returns the number of events.
    pub fn verify(&self) -> Result<usize, VerifyError> {
        let events = self.events();
        Self::check_chain(&events)?;
        for e in events.iter().filter(|e| e.sets_champion()) {
            if let Some(m) = &e.model {
                let model = m.clone();
                match self.model_path(m) {
                    None => return Err(VerifyError::ModelMissing { seq: e.seq, model }),
                    Some(p) => match hash_file(&p) {
                        Ok((h, _)) if &h == m => {}
                        _ => return Err(VerifyError::ModelModified { seq: e.seq, model }),
                    },
                }
            }
        }
        Ok(events.len())
    }

    /// Checks that `events` form one unbroken chain from the start (sequence numbers, `prev`
    /// links, each event's own hash) — for events that come from elsewhere (a remote).
    pub(crate) fn check_chain(events: &[Event]) -> Result<(), VerifyError> {
        let mut prev = GENESIS.to_string();
        for (i, e) in events.iter().enumerate() {
            if e.seq != i as u64 + 1 {
                return Err(VerifyError::Sequence { index: i + 1, seq: e.seq });
            }
            if e.prev != prev {
                return Err(VerifyError::ChainBroken { seq: e.seq, previous: i });
            }
            if e.compute_hash() != e.hash {
                return Err(VerifyError::EventModified(e.seq));
            }
            prev = e.hash.clone();
        }
        Ok(())
    }

    /// Stores a champion's model bytes (`registry/models/<hash>.model`) if they hash to `hash`.
    pub(crate) fn store_model(&self, hash: &str, bytes: &[u8]) -> Result<()> {
        if hash_bytes(bytes) != hash {
            return Err(RegistryError::io(
                format!("model {} does not match its hash", short_hash(hash)),
                std::io::Error::other("corrupt model bytes"),
            ));
        }
        let dest = self.dir.join("models").join(format!("{hash}.model"));
        std::fs::create_dir_all(self.dir.join("models"))
            .map_err(|e| RegistryError::io(format!("cannot create {}", self.dir.display()), e))?;
        atomic::write(&dest, bytes, true)
            .map_err(|e| RegistryError::io(format!("cannot write {}", dest.display()), e))
    }

    /// Replaces the audit log with `events` (a chain that [`Registry::check_chain`] accepts and
    /// whose champions' models are already stored), atomically.
    pub(crate) fn replace_events(&self, events: Vec<Event>) -> Result<()> {
        Self::check_chain(&events).map_err(RegistryError::VerifyFailed)?;
        let mut current = self.events.write().map_err(|_| RegistryError::Poisoned)?;
        self.write_log(&events)?;
        *current = events;
        Ok(())
    }

    /// Writes `events` as the audit log, one JSON line each, atomically and durably.
    fn write_log(&self, events: &[Event]) -> Result<()> {
        let mut text = String::new();
        for e in events {
            text.push_str(&serde_json::to_string(e).map_err(RegistryError::Encode)?);
            text.push('\n');
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| RegistryError::io(format!("cannot create {}", self.dir.display()), e))?;
        let path = self.dir.join(LOG_FILE);
        atomic::write(&path, text.as_bytes(), true)
            .map_err(|e| RegistryError::io(format!("cannot write {}", path.display()), e))
    }

    fn append(&self, mut event: Event) -> Result<Event> {
        self.verify().map_err(RegistryError::Tampered)?;
        let mut events = self.events.write().map_err(|_| RegistryError::Poisoned)?;
        event.seq = events.len() as u64 + 1;
        event.prev = events.last().map(|e| e.hash.clone()).unwrap_or_else(|| GENESIS.to_string());
        event.hash = event.compute_hash();
        events.push(event.clone());
        if let Err(e) = self.write_log(&events) {
            events.pop();
            return Err(e);
        }
        Ok(event)
    }

    fn new_event(action: EventAction, reason: String) -> Event {
        Event {
            seq: 0,
            prev: String::new(),
            action,
            model: None,
            baseline: None,
            decision: None,
            stage: None,
            reason,
            gates: Value::Null,
            metrics: Value::Null,
            who: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            when: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            hash: String::new(),
        }
    }

    /// Applies a promote stage's decision file. Returns a sentence for the log.
    pub fn apply_decision(&self, root: &Path, decision_rel: &str, stage: &str) -> Result<String> {
        let path = root.join(decision_rel);
        let bytes = std::fs::read(&path)
            .map_err(|e| RegistryError::io(format!("cannot read {}", path.display()), e))?;
        let decision: Decision = serde_json::from_slice(&bytes)
            .map_err(|source| RegistryError::BadDecision { path: decision_rel.to_string(), source })?;
        if decision.schema_version > DECISION_SCHEMA {
            return Err(RegistryError::NewerDecision {
                path: decision_rel.to_string(),
                schema: decision.schema_version,
            });
        }
        let model_path = root.join(&decision.model);
        let (model_hash, _) = hash_file(&model_path)
            .map_err(|e| RegistryError::io(format!("cannot read model {}", model_path.display()), e))?;
        // The same decision about the same model is applied once.
        let decision_hash = hash_bytes(&[bytes.as_slice(), model_hash.as_bytes()].concat());
        if self.events().iter().any(|e| e.decision.as_deref() == Some(&decision_hash)) {
            return Ok("decision already recorded in the registry".into());
        }
        let current = self.baseline_for(Some(&model_hash));
        if current != decision.baseline_model_blake3 {
            return Err(RegistryError::BaselineMoved {
                now: current,
                evaluated: decision.baseline_model_blake3,
            });
        }
        if decision.promote && self.champion().as_deref() == Some(model_hash.as_str()) {
            return Ok(format!("model {} is already the champion", short_hash(&model_hash)));
        }
        let action = if decision.promote { EventAction::Promote } else { EventAction::Reject };
        if decision.promote {
            let dest = self.dir.join("models").join(format!("{model_hash}.model"));
            if !dest.is_file() {
                let bytes = std::fs::read(&model_path).map_err(|e| {
                    RegistryError::io(format!("cannot read model {}", model_path.display()), e)
                })?;
                std::fs::create_dir_all(self.dir.join("models"))
                    .map_err(|e| RegistryError::io("cannot create registry/models".to_string(), e))?;
                atomic::write(&dest, &bytes, true)
                    .map_err(|e| RegistryError::io(format!("cannot write {}", dest.display()), e))?;
            }
        }
        let mut event = Registry::new_event(action, decision.reason.clone());
        event.model = Some(model_hash.clone());
        event.baseline = decision.baseline_model_blake3.clone();
        event.decision = Some(decision_hash);
        event.stage = Some(stage.to_string());
        event.gates = serde_json::to_value(&decision.gates).map_err(RegistryError::Encode)?;
        event.metrics = Value::Object(decision.metrics);
        self.append(event)?;
        Ok(if decision.promote {
            format!("promoted model {} to champion ({})", short_hash(&model_hash), decision.reason)
        } else {
            format!("challenger {} not promoted: {}", short_hash(&model_hash), decision.reason)
        })
    }

    /// Makes the previous champion the champion again (itself an audited event).
    pub fn rollback(&self, to: Option<&str>, reason: &str) -> Result<Event> {
        let current = self.champion().ok_or(RegistryError::NothingToRollBack)?;
        let target = match to {
            Some(name) => self.resolve(name)?,
            None => self.baseline_for(Some(&current)).ok_or(RegistryError::NoEarlierChampion)?,
        };
        if target == current {
            return Err(RegistryError::AlreadyChampion(target));
        }
        if self.model_path(&target).is_none() {
            return Err(RegistryError::NoModelFile(target));
        }
        let mut event = Registry::new_event(EventAction::Rollback, reason.to_string());
        event.model = Some(target);
        event.baseline = Some(current);
        self.append(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn decide(root: &Path, model: &[u8], promote: bool, baseline: Option<&str>) -> Result<String> {
        write(root, "models/model.bin", model);
        let decision = json!({
            "schema_version": 1, "promote": promote, "reason": "gates", "gates": [],
            "model": "models/model.bin", "model_blake3": hash(model), "baseline_model_blake3": baseline,
            "algorithm": null, "threshold": null, "comparison_status": "compared", "metrics": {}
        });
        write(root, "reports/promotion.json", decision.to_string().as_bytes());
        Registry::load(root)?.apply_decision(root, "reports/promotion.json", "promote")
    }

    fn hash(b: &[u8]) -> String {
        hash_bytes(b)
    }

    #[test]
    fn a_promotion_makes_the_model_champion_and_keeps_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"model A", true, None).unwrap();
        let reg = Registry::load(root).unwrap();
        assert_eq!(reg.champion(), Some(hash(b"model A")));
        assert_eq!(std::fs::read(reg.model_path(&hash(b"model A")).unwrap()).unwrap(), b"model A");
        assert_eq!(reg.verify(), Ok(1));
    }

    #[test]
    fn the_baseline_of_a_challenger_is_the_newest_champion_that_is_not_itself() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        decide(root, b"B", true, Some(&hash(b"A"))).unwrap();
        let reg = Registry::load(root).unwrap();
        assert_eq!(
            reg.baseline_for(Some(&hash(b"B"))),
            Some(hash(b"A")),
            "B's own promotion must not change its baseline"
        );
        assert_eq!(reg.baseline_for(Some(&hash(b"C"))), Some(hash(b"B")));
    }

    #[test]
    fn applying_the_same_decision_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        let again =
            Registry::load(root).unwrap().apply_decision(root, "reports/promotion.json", "promote").unwrap();
        assert!(again.contains("already recorded"), "{again}");
        assert_eq!(Registry::load(root).unwrap().events().len(), 1);
    }

    #[test]
    fn a_decision_against_a_stale_baseline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        // Evaluated when there was no champion, but A became champion meanwhile.
        let err = decide(root, b"B", true, None).unwrap_err();
        assert!(matches!(err, RegistryError::BaselineMoved { now: Some(_), evaluated: None }), "{err}");
        assert!(err.to_string().contains("registry changed since this challenger was evaluated"), "{err}");
        assert_eq!(Registry::load(root).unwrap().champion(), Some(hash(b"A")));
    }

    #[test]
    fn a_rejection_is_recorded_but_does_not_change_the_champion() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        let msg = decide(root, b"B", false, Some(&hash(b"A"))).unwrap();
        assert!(msg.contains("not promoted"), "{msg}");
        let reg = Registry::load(root).unwrap();
        assert_eq!(reg.champion(), Some(hash(b"A")));
        assert_eq!(reg.events()[1].action, EventAction::Reject);
    }

    #[test]
    fn rollback_is_an_audited_event_that_restores_the_previous_champion() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        decide(root, b"B", true, Some(&hash(b"A"))).unwrap();
        let event = Registry::load(root).unwrap().rollback(None, "B misbehaves").unwrap();
        assert_eq!(event.action, EventAction::Rollback);
        let reg = Registry::load(root).unwrap();
        assert_eq!(reg.champion(), Some(hash(b"A")));
        assert_eq!(reg.verify(), Ok(3));
    }

    #[test]
    fn verify_reports_an_edited_event() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        decide(root, b"B", false, Some(&hash(b"A"))).unwrap();
        let log = root.join("registry/audit.jsonl");
        let text =
            std::fs::read_to_string(&log).unwrap().replace("\"reason\":\"gates\"", "\"reason\":\"forged\"");
        std::fs::write(&log, text).unwrap();
        let err = Registry::load(root).unwrap().verify().unwrap_err();
        assert_eq!(err, VerifyError::EventModified(1));
        assert_eq!(err.to_string(), "event 1 was modified after it was written");
        // And nothing more is appended to a tampered log.
        assert!(decide(root, b"C", false, Some(&hash(b"A"))).is_err());
    }

    #[test]
    fn verify_reports_a_removed_event() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        decide(root, b"B", true, Some(&hash(b"A"))).unwrap();
        let log = root.join("registry/audit.jsonl");
        let text = std::fs::read_to_string(&log).unwrap();
        let second_only: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        std::fs::write(&log, second_only).unwrap();
        let err = Registry::load(root).unwrap().verify().unwrap_err();
        assert_eq!(err, VerifyError::Sequence { index: 1, seq: 2 });
    }
}
