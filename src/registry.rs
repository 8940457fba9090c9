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
use crate::atomic;
use crate::error::{Error, Result};
use crate::hashing::{hash_bytes, hash_file};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub const REGISTRY_DIR: &str = "registry";
const LOG_FILE: &str = "audit.jsonl";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Promote,
    Reject,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub prev: String,
    pub action: Action,
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
        matches!(self.action, Action::Promote | Action::Rollback)
    }
}

/// What a promote stage decided (written by the built-in `promote` kind).
#[derive(Debug, Clone, Deserialize)]
struct Decision {
    promote: bool,
    #[serde(default)]
    reason: String,
    /// Project-relative path of the challenger model file.
    model: String,
    /// The baseline champion the challenger was compared against, if any.
    #[serde(default, alias = "baseline_model_blake3")]
    baseline_hash: Option<String>,
    #[serde(default)]
    gates: Value,
    #[serde(default)]
    metrics: Value,
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
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let mut events = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let event: Event = serde_json::from_str(line).map_err(|e| {
                Error::Runtime(format!(
                    "{}:{}: not a registry event ({e}); the audit log was edited by hand — restore it from git",
                    path.display(),
                    n + 1
                ))
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
            return self.champion().ok_or_else(|| {
                Error::BadInput(
                    "the registry has no champion yet; run 'churnflow repro' to train and promote one".into(),
                )
            });
        }
        let mut found: Vec<String> =
            self.events().into_iter().filter_map(|e| e.model).filter(|m| m.starts_with(name)).collect();
        found.sort();
        found.dedup();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::BadInput(format!(
                "no model '{name}' in the registry (see 'churnflow models list')"
            ))),
            _ => Err(Error::BadInput(format!("'{name}' matches several models; give more of the hash"))),
        }
    }

    /// Checks the hash chain. Returns the first broken event's description.
    pub fn verify(&self) -> std::result::Result<usize, String> {
        let events = self.events();
        let mut prev = GENESIS.to_string();
        for (i, e) in events.iter().enumerate() {
            if e.seq != i as u64 + 1 {
                return Err(format!(
                    "event {} has sequence number {} (events were removed or reordered)",
                    i + 1,
                    e.seq
                ));
            }
            if e.prev != prev {
                return Err(format!("event {} does not follow event {} (the chain is broken)", e.seq, i));
            }
            if e.compute_hash() != e.hash {
                return Err(format!("event {} was modified after it was written", e.seq));
            }
            if e.sets_champion() {
                if let Some(m) = &e.model {
                    match self.model_path(m) {
                        None => return Err(format!("event {}: the model file {m}.model is missing", e.seq)),
                        Some(p) => match hash_file(&p) {
                            Ok((h, _)) if &h == m => {}
                            _ => {
                                return Err(format!("event {}: the model file {m}.model was modified", e.seq))
                            }
                        },
                    }
                }
            }
            prev = e.hash.clone();
        }
        Ok(events.len())
    }

    fn append(&self, mut event: Event) -> Result<Event> {
        self.verify().map_err(|e| {
            Error::Runtime(format!(
                "the registry audit log failed verification: {e}; restore registry/ from git"
            ))
        })?;
        let mut events = self.events.write().map_err(|_| Error::Runtime("registry lock poisoned".into()))?;
        event.seq = events.len() as u64 + 1;
        event.prev = events.last().map(|e| e.hash.clone()).unwrap_or_else(|| GENESIS.to_string());
        event.hash = event.compute_hash();
        let mut text = String::new();
        for e in events.iter().chain(std::iter::once(&event)) {
            text.push_str(&serde_json::to_string(e).map_err(|e| Error::Runtime(e.to_string()))?);
            text.push('\n');
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("cannot create {}", self.dir.display()), e))?;
        let path = self.dir.join(LOG_FILE);
        atomic::write(&path, text.as_bytes(), true)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        events.push(event.clone());
        Ok(event)
    }

    fn new_event(action: Action, reason: String) -> Event {
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
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let decision: Decision = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Runtime(format!("{decision_rel}: not a promotion decision: {e}")))?;
        let model_path = root.join(&decision.model);
        let (model_hash, _) = hash_file(&model_path)
            .map_err(|e| Error::io(format!("cannot read model {}", model_path.display()), e))?;
        // The same decision about the same model is applied once.
        let decision_hash = hash_bytes(&[bytes.as_slice(), model_hash.as_bytes()].concat());
        if self.events().iter().any(|e| e.decision.as_deref() == Some(&decision_hash)) {
            return Ok("decision already recorded in the registry".into());
        }
        let current = self.baseline_for(Some(&model_hash));
        if current != decision.baseline_hash {
            return Err(Error::Runtime(format!(
                "the registry changed since this challenger was evaluated (baseline now {}, evaluated against {}); run 'churnflow repro' again",
                current.as_deref().map(|h| &h[..12.min(h.len())]).unwrap_or("none"),
                decision.baseline_hash.as_deref().map(|h| &h[..12.min(h.len())]).unwrap_or("none"),
            )));
        }
        if decision.promote && self.champion().as_deref() == Some(model_hash.as_str()) {
            return Ok(format!("model {} is already the champion", &model_hash[..12]));
        }
        let action = if decision.promote { Action::Promote } else { Action::Reject };
        if decision.promote {
            let dest = self.dir.join("models").join(format!("{model_hash}.model"));
            if !dest.is_file() {
                let bytes = std::fs::read(&model_path)
                    .map_err(|e| Error::io(format!("cannot read model {}", model_path.display()), e))?;
                std::fs::create_dir_all(self.dir.join("models"))
                    .map_err(|e| Error::io("cannot create registry/models".to_string(), e))?;
                atomic::write(&dest, &bytes, true)
                    .map_err(|e| Error::io(format!("cannot write {}", dest.display()), e))?;
            }
        }
        let mut event = Registry::new_event(action, decision.reason.clone());
        event.model = Some(model_hash.clone());
        event.baseline = decision.baseline_hash.clone();
        event.decision = Some(decision_hash);
        event.stage = Some(stage.to_string());
        event.gates = decision.gates;
        event.metrics = decision.metrics;
        self.append(event)?;
        Ok(if decision.promote {
            format!("promoted model {} to champion ({})", &model_hash[..12], decision.reason)
        } else {
            format!("challenger {} not promoted: {}", &model_hash[..12], decision.reason)
        })
    }

    /// Makes the previous champion the champion again (itself an audited event).
    pub fn rollback(&self, to: Option<&str>, reason: &str) -> Result<Event> {
        let current = self
            .champion()
            .ok_or_else(|| Error::BadInput("the registry has no champion to roll back".into()))?;
        let target = match to {
            Some(name) => self.resolve(name)?,
            None => self
                .baseline_for(Some(&current))
                .ok_or_else(|| Error::BadInput("there is no earlier champion to roll back to".into()))?,
        };
        if target == current {
            return Err(Error::BadInput(format!("model {} is already the champion", &target[..12])));
        }
        if self.model_path(&target).is_none() {
            return Err(Error::BadInput(format!("the registry has no model file for {}", &target[..12])));
        }
        let mut event = Registry::new_event(Action::Rollback, reason.to_string());
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
        let decision = json!({"promote": promote, "reason": "gates", "model": "models/model.bin", "baseline_hash": baseline});
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
        assert_eq!(reg.events()[1].action, Action::Reject);
    }

    #[test]
    fn rollback_is_an_audited_event_that_restores_the_previous_champion() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        decide(root, b"A", true, None).unwrap();
        decide(root, b"B", true, Some(&hash(b"A"))).unwrap();
        let event = Registry::load(root).unwrap().rollback(None, "B misbehaves").unwrap();
        assert_eq!(event.action, Action::Rollback);
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
        assert!(err.contains("event 1 was modified"), "{err}");
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
        assert!(Registry::load(root).unwrap().verify().is_err());
    }
}
