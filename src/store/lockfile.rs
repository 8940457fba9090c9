//! pipeline.lock: per stage, the fingerprint it last ran with, its dep and out hashes and
//! its param values.
//!
//! The file is canonical — sorted keys, no timestamps, hostnames or absolute paths — so it
//! diffs and merges sanely in git. Directory manifests live in the store, not here. It is
//! rewritten atomically (temp file, fsync, rename) after each stage that succeeds.
use crate::error::{Diagnostic, Error, Result};
use crate::store::objects::OutRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub const LOCK_FILE: &str = "pipeline.lock";
/// The lock format this churnflow writes and the newest it reads.
pub const LOCK_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub schema: u32,
    #[serde(default)]
    pub stages: BTreeMap<String, StageLock>,
}

impl Default for LockFile {
    fn default() -> Self {
        LockFile { schema: LOCK_SCHEMA, stages: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageLock {
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<u32>,
    /// Dep path -> content hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deps: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    #[serde(default)]
    pub outs: BTreeMap<String, OutRecord>,
    /// The registry champion this stage compared against (evaluate), or "none".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

impl LockFile {
    /// Reads pipeline.lock from `root`; a missing file is an empty lock.
    pub fn load(root: &Path) -> Result<LockFile> {
        match std::fs::read_to_string(root.join(LOCK_FILE)) {
            Ok(text) => LockFile::parse(&text, LOCK_FILE).map_err(Error::usage),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(e) => Err(Error::io(format!("cannot read {}", root.join(LOCK_FILE).display()), e)),
        }
    }

    /// Parses lock text; `origin` names it in messages (e.g. `HEAD:pipeline.lock`).
    pub fn parse(text: &str, origin: &str) -> Result<LockFile, Diagnostic> {
        if text.trim().is_empty() {
            return Ok(LockFile::default());
        }
        let fix = "pipeline.lock is written by churnflow: restore it with 'git checkout pipeline.lock', or delete it (stages will then be restored or rerun)";
        let probe: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
            Diagnostic::new(
                origin,
                e.location().map(|l| (l.line(), l.column())),
                format!("invalid lock file: {e}"),
            )
            .hint(fix)
        })?;
        let schema = probe.get("schema").and_then(|v| v.as_u64());
        match schema {
            Some(s) if s > LOCK_SCHEMA as u64 => {
                return Err(Diagnostic::new(
                    origin,
                    None,
                    format!("written by a newer churnflow (lock schema {s}; this churnflow reads up to {LOCK_SCHEMA})"),
                )
                .hint("upgrade churnflow to read this lock file"))
            }
            None => return Err(Diagnostic::new(origin, None, "not a churnflow lock file (no 'schema')").hint(fix)),
            _ => {}
        }
        serde_yaml::from_str(text).map_err(|e| {
            Diagnostic::new(
                origin,
                e.location().map(|l| (l.line(), l.column())),
                format!("invalid lock file: {e}"),
            )
            .hint(fix)
        })
    }

    pub fn to_text(&self) -> String {
        let body = serde_yaml::to_string(self).unwrap_or_default();
        format!("# Written by churnflow repro. Commit it; do not edit it by hand.\n{body}")
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let path = root.join(LOCK_FILE);
        crate::store::atomic::write(&path, self.to_text().as_bytes(), true)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_from_a_newer_format_is_refused_with_advice() {
        let err = LockFile::parse("schema: 99\nstages: {}\n", LOCK_FILE).unwrap_err();
        assert!(err.message.contains("newer churnflow"), "{err}");
    }

    #[test]
    fn the_lock_round_trips_and_is_sorted() {
        let mut lock = LockFile::default();
        for name in ["zeta", "alpha"] {
            lock.stages.insert(
                name.into(),
                StageLock {
                    fingerprint: "f".into(),
                    cmd: Some(vec!["echo".into()]),
                    uses: None,
                    settings: None,
                    code_version: None,
                    deps: BTreeMap::new(),
                    params: BTreeMap::new(),
                    outs: BTreeMap::new(),
                    baseline: None,
                },
            );
        }
        let text = lock.to_text();
        assert!(text.find("alpha").unwrap() < text.find("zeta").unwrap());
        assert_eq!(LockFile::parse(&text, LOCK_FILE).unwrap(), lock);
    }
}
