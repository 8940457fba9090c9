//! The model registry on a remote: `push --registry` and `pull --registry`.
//!
//! Layout: `registry/events/<seq, 8 digits>.json`, one audit-log event per object, and the
//! champions' model bytes as ordinary objects (`objects/…`, their name is their blake3).
//! Every event is written with create-if-absent (S3 `If-None-Match: *`, a hard link on a
//! folder, GCS/Azure preconditions), which is the compare-and-swap: when two machines push a
//! different event #n at once, exactly one is created and the other push is told who won.
//! The events carry their predecessor's hash, so the remote holds one chain and never a fork.
use super::Remote;
use crate::error::{Error, Result};
use crate::store::registry::{Event, Registry, RegistryError};
use crate::store::short_hash;
use futures::StreamExt;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::path::Path;

/// How the local and the remote audit log relate.
pub(crate) enum Relation {
    /// Same events.
    Same,
    /// The remote has these events after the local ones.
    RemoteAhead(Vec<Event>),
    /// The local log has these events after the remote's.
    LocalAhead(Vec<Event>),
    /// They differ from event `seq` on: the remote's events from there, and the local ones.
    Diverged { seq: u64, remote: Vec<Event>, local: Vec<Event> },
}

pub(crate) fn relate(local: &[Event], remote: &[Event]) -> Relation {
    let common = local.iter().zip(remote).take_while(|(l, r)| l.hash == r.hash).count();
    match (common == local.len(), common == remote.len()) {
        (true, true) => Relation::Same,
        (true, false) => Relation::RemoteAhead(remote[common..].to_vec()),
        (false, true) => Relation::LocalAhead(local[common..].to_vec()),
        (false, false) => Relation::Diverged {
            seq: common as u64 + 1,
            remote: remote[common..].to_vec(),
            local: local[common..].to_vec(),
        },
    }
}

/// One line about an event, for messages.
pub(crate) fn describe(e: &Event) -> String {
    let model = e.model.as_deref().map(short_hash).unwrap_or("-");
    let action =
        serde_json::to_value(&e.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    format!("#{} {action} of model {model} by {} at {}", e.seq, e.who, e.when)
}

impl Remote {
    fn event_path(&self, seq: u64) -> object_store::path::Path {
        self.prefix.clone().join("registry").join("events").join(format!("{seq:08}.json"))
    }

    /// The remote's audit log, checked to be one unbroken chain.
    pub(crate) fn registry_events(&self) -> Result<Vec<Event>> {
        let names = self.runtime.block_on(self.list_names("registry/events", 1))?;
        let mut seqs: Vec<u64> =
            names.iter().filter_map(|(n, _)| n.strip_suffix(".json")?.parse().ok()).collect();
        seqs.sort_unstable();
        let events: Vec<std::result::Result<Event, String>> = self.runtime.block_on(
            futures::stream::iter(seqs)
                .map(|seq| async move {
                    let got = self
                        .store
                        .get(&self.event_path(seq))
                        .await
                        .map_err(|e| format!("event {seq}: {e}"))?;
                    let bytes = got.bytes().await.map_err(|e| format!("event {seq}: {e}"))?;
                    serde_json::from_slice::<Event>(&bytes)
                        .map_err(|e| format!("event {seq} is unreadable: {e}"))
                })
                .buffered(8)
                .collect(),
        );
        let events = events
            .into_iter()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Remote(format!("remote '{}': registry {e}", self.name)))?;
        Registry::check_chain(&events).map_err(|e| {
            Error::Remote(format!(
                "remote '{}': its registry audit log is broken: {e}; nothing was changed",
                self.name
            ))
        })?;
        Ok(events)
    }

    /// Creates the remote event `e.seq` unless it exists. `Ok(None)` when it was created or
    /// the remote already holds this very event; `Ok(Some(winner))` when another event #seq
    /// got there first.
    pub(crate) fn create_event(&self, e: &Event) -> Result<Option<Event>> {
        let bytes = serde_json::to_vec(e)
            .map_err(|err| Error::Remote(format!("registry: cannot encode event #{}: {err}", e.seq)))?;
        let path = self.event_path(e.seq);
        let put = self.runtime.block_on(self.store.put_opts(
            &path,
            PutPayload::from(bytes),
            PutOptions::from(PutMode::Create),
        ));
        match put {
            Ok(_) => Ok(None),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let there = self.registry_events()?;
                match there.into_iter().find(|t| t.seq == e.seq) {
                    Some(t) if t.hash == e.hash => Ok(None),
                    Some(t) => Ok(Some(t)),
                    None => Err(Error::Remote(format!(
                        "remote '{}': registry event #{} was refused as existing but cannot be read",
                        self.name, e.seq
                    ))),
                }
            }
            Err(e) => Err(self.failed("cannot write a registry event".into(), e)),
        }
    }

    /// The bytes of object `hash`, verified; `None` when the remote does not have it.
    pub(crate) fn read_object(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let got = self.runtime.block_on(async {
            match self.store.get(&self.object_path(hash)).await {
                Ok(g) => g.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match got {
            Ok(Some(bytes)) if blake3::hash(&bytes).to_hex().as_str() == hash => Ok(Some(bytes.to_vec())),
            Ok(Some(_)) => Err(Error::Remote(format!(
                "remote '{}': object {} is corrupt; it was not used — push it again from a machine that has it",
                self.name,
                short_hash(hash)
            ))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.failed(format!("cannot read object {}", short_hash(hash)), e)),
        }
    }

    /// Sends bytes as object `hash` unless the remote has it (one HEAD request to know).
    pub(crate) fn put_object_bytes(&self, hash: &str, bytes: Vec<u8>) -> Result<bool> {
        match self.runtime.block_on(self.store.head(&self.object_path(hash))) {
            Ok(_) => return Ok(false),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.failed(format!("cannot look up object {}", short_hash(hash)), e)),
        }
        self.runtime
            .block_on(self.store.put(&self.object_path(hash), PutPayload::from(bytes)))
            .map_err(|e| self.failed(format!("cannot send object {}", short_hash(hash)), e))?;
        Ok(true)
    }
}

/// `push --registry`: the local audit-log events the remote lacks, each created only if
/// absent (see [`crate::remote::registry`]), after the champions' models.
/// Returns the line to show.
pub(crate) fn push(root: &Path, remote: &Remote) -> Result<String> {
    let registry = Registry::load(root)?;
    registry.verify().map_err(RegistryError::LocalUnverified)?;
    let local = registry.events();
    let there = remote.registry_events()?;
    let ahead = match relate(&local, &there) {
        Relation::Same => {
            return Ok(format!("registry: in step with '{}' ({} event(s))", remote.name, local.len()));
        }
        Relation::LocalAhead(events) => events,
        Relation::RemoteAhead(events) => {
            return Err(Error::Remote(format!(
                "registry: remote '{}' has {} event(s) this copy lacks (newest: {}); run 'churnflow pull --registry' first",
                remote.name,
                events.len(),
                events.last().map(describe).unwrap_or_default()
            )))
        }
        Relation::Diverged { seq, remote: theirs, local: ours } => return Err(diverged(remote, seq, &theirs, &ours)),
    };
    for e in ahead.iter().filter(|e| e.sets_champion()) {
        let Some(model) = &e.model else { continue };
        let path = registry.model_path(model).ok_or_else(|| RegistryError::NoModelFile(model.clone()))?;
        let bytes =
            std::fs::read(&path).map_err(|err| Error::io(format!("cannot read {}", path.display()), err))?;
        remote.put_object_bytes(model, bytes)?;
    }
    for e in &ahead {
        if let Some(winner) = remote.create_event(e)? {
            return Err(Error::Remote(format!(
                "registry: another machine pushed event #{} first ({}); yours was not sent. Run \
                 'churnflow pull --registry --take-remote', then 'churnflow repro' to evaluate against the new champion",
                e.seq,
                describe(&winner)
            )));
        }
    }
    Ok(format!("registry: sent {} event(s) to '{}'", ahead.len(), remote.name))
}

/// `fetch --registry`: the remote's newer events and their champions' models. Returns the
/// line to show, if any.
pub(crate) fn pull(root: &Path, remote: &Remote, take_remote: bool) -> Result<Option<String>> {
    let registry = Registry::load(root)?;
    let local = registry.events();
    let there = remote.registry_events()?;
    match relate(&local, &there) {
        Relation::Same => return Ok(None),
        Relation::LocalAhead(events) => {
            return Ok(Some(format!(
                "registry: this copy has {} event(s) remote '{}' lacks; send them with 'churnflow push --registry'",
                events.len(),
                remote.name
            )));
        }
        Relation::Diverged { seq, remote: theirs, local: ours } if !take_remote => {
            return Err(diverged(remote, seq, &theirs, &ours))
        }
        Relation::Diverged { local: ours, .. } => {
            for e in &ours {
                eprintln!("registry: dropping this copy's unshared event {}", describe(e));
            }
        }
        Relation::RemoteAhead(_) => {}
    }
    for e in there.iter().filter(|e| e.sets_champion()) {
        let Some(model) = &e.model else { continue };
        if registry.model_path(model).is_some() {
            continue;
        }
        let bytes = remote.read_object(model)?.ok_or_else(|| {
            Error::Remote(format!(
                "registry: remote '{}' lacks the model {} of event #{}; push it with 'churnflow push --registry' from a machine that has it",
                remote.name,
                short_hash(model),
                e.seq
            ))
        })?;
        registry.store_model(model, &bytes)?;
    }
    let count = there.len();
    registry.replace_events(there)?;
    registry.verify().map_err(|e| Error::Remote(format!("registry: after the pull: {e}")))?;
    Ok(Some(format!("registry: now {count} event(s), as on '{}'", remote.name)))
}

fn diverged(remote: &Remote, seq: u64, theirs: &[Event], ours: &[Event]) -> Error {
    Error::Remote(format!(
        "registry: this copy and remote '{}' differ from event #{seq} on: the remote has {}, this copy has {}. \
         Another machine promoted first; run 'churnflow pull --registry --take-remote' (this copy's events from #{seq} \
         were never shared and are dropped), then 'churnflow repro' to evaluate against the new champion",
        remote.name,
        theirs.first().map(describe).unwrap_or_default(),
        ours.first().map(describe).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::registry::EventAction;

    fn chain(hashes: &[&str]) -> Vec<Event> {
        hashes
            .iter()
            .enumerate()
            .map(|(i, h)| Event {
                seq: i as u64 + 1,
                prev: String::new(),
                action: EventAction::Promote,
                model: None,
                baseline: None,
                decision: None,
                stage: None,
                reason: String::new(),
                gates: serde_json::Value::Null,
                metrics: serde_json::Value::Null,
                who: "t".into(),
                when: "now".into(),
                hash: h.to_string(),
            })
            .collect()
    }

    fn hashes(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.hash.as_str()).collect()
    }

    #[test]
    fn two_audit_logs_are_the_same_one_ahead_or_diverged_from_the_first_differing_event() {
        let (a, ab, abc, abd) =
            (chain(&["a"]), chain(&["a", "b"]), chain(&["a", "b", "c"]), chain(&["a", "b", "d"]));
        assert!(matches!(relate(&ab, &ab), Relation::Same));
        assert!(matches!(relate(&[], &[]), Relation::Same));
        match relate(&a, &abc) {
            Relation::RemoteAhead(e) => assert_eq!(hashes(&e), ["b", "c"]),
            _ => panic!("remote ahead"),
        }
        match relate(&abc, &a) {
            Relation::LocalAhead(e) => assert_eq!(hashes(&e), ["b", "c"]),
            _ => panic!("local ahead"),
        }
        match relate(&abd, &abc) {
            Relation::Diverged { seq, remote, local } => {
                assert_eq!(seq, 3);
                assert_eq!((hashes(&remote), hashes(&local)), (vec!["c"], vec!["d"]));
            }
            _ => panic!("diverged"),
        }
    }
}
