//! Experiment records: `artifacts/exps/<name>.json`, one per experiment, written atomically.
//!
//! A record holds what `exp show`, `exp diff` and `exp apply` need without the experiment's
//! workspace, which is gone once it has run: the base git commit, the overrides, every
//! param, the metrics, the stages that ran, and the experiment's pipeline.lock, whose outs
//! are all in the store (uncached ones included), so `gc` keeps them while the record lives.
use crate::compare::git;
use crate::error::{did_you_mean, Error, Result};
use crate::store::lockfile::{LockFile, LOCK_FILE};
use crate::store::objects::Store;
use crate::store::short_hash;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The record format this churnflow writes and the newest it reads.
pub const RECORD_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
}

/// Which stages ran, were restored, or were already up to date in the experiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCounts {
    pub ran: Vec<String>,
    pub restored: Vec<String>,
    pub up_to_date: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpRecord {
    pub schema: u32,
    pub name: String,
    pub status: Status,
    /// When it started (RFC 3339, UTC).
    pub created: String,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// `git rev-parse HEAD` when it ran, if the project is in a git repository.
    #[serde(default)]
    pub base_commit: Option<String>,
    /// The `-S` values, in the order given.
    pub overrides: serde_json::Map<String, Value>,
    /// Every param the experiment ran with (params.yaml with the overrides).
    pub params: Value,
    /// Metrics file → flattened values.
    #[serde(default)]
    pub metrics: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(default)]
    pub stages: StageCounts,
    /// The experiment's pipeline.lock (as far as it got).
    #[serde(default)]
    pub lock: Option<LockFile>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The records of one project.
pub struct Records {
    dir: PathBuf,
}

impl Records {
    pub fn new(store: &Store) -> Records {
        Records { dir: store.shared_dir().join("exps") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).is_file()
    }

    /// Every record, oldest first. A record that cannot be read is an error naming it.
    pub fn list(&self) -> Result<Vec<ExpRecord>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("cannot read {}", self.dir.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("json") {
                out.push(read(&path)?);
            }
        }
        out.sort_by(|a, b| (a.created.as_str(), a.name.as_str()).cmp(&(b.created.as_str(), b.name.as_str())));
        Ok(out)
    }

    /// The record named `name`, or an error with a suggestion.
    pub fn get(&self, name: &str) -> Result<ExpRecord> {
        let path = self.path(name);
        if valid_name(name).is_ok() && path.is_file() {
            return read(&path);
        }
        let all = self.list()?;
        let hint = match did_you_mean(name, all.iter().map(|r| r.name.as_str())) {
            Some(s) => format!(" (did you mean '{s}'?)"),
            None if all.is_empty() => " (there are none yet; run `churnflow exp run`)".into(),
            None => " (`churnflow exp show` lists them)".into(),
        };
        Err(Error::BadInput(format!("no experiment named '{name}'{hint}")))
    }

    /// Every out of the record's lock (all of them are in the store while it lives).
    pub fn outs(record: &ExpRecord) -> Vec<crate::store::objects::OutRecord> {
        let Some(lock) = &record.lock else { return Vec::new() };
        lock.stages.values().flat_map(|s| s.outs.values().cloned()).collect()
    }

    pub fn write(&self, record: &ExpRecord) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("cannot create {}", self.dir.display()), e))?;
        let bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        let path = self.path(&record.name);
        crate::store::atomic::write(&path, &bytes, true)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }

    /// The bytes of the record `name`, as stored (to send elsewhere).
    pub fn read_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.path(name);
        std::fs::read(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
    }

    /// Stores a record received from elsewhere, after checking that it is one and that its
    /// name is `name`.
    pub fn insert_bytes(&self, name: &str, bytes: &[u8]) -> Result<ExpRecord> {
        let record: ExpRecord = serde_json::from_slice(bytes)
            .map_err(|e| Error::BadInput(format!("experiment record {name} is unreadable: {e}")))?;
        if record.name != name || valid_name(name).is_err() || record.schema > RECORD_SCHEMA {
            return Err(Error::BadInput(format!(
                "experiment record {name} is not a record this churnflow can keep"
            )));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("cannot create {}", self.dir.display()), e))?;
        let path = self.path(name);
        crate::store::atomic::write(&path, bytes, true)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(record)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        std::fs::remove_file(&path).map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))
    }

    /// The next free `exp-N`.
    pub fn next_number(&self) -> Result<usize> {
        let used =
            self.list()?.iter().filter_map(|r| r.name.strip_prefix("exp-")?.parse::<usize>().ok()).max();
        Ok(used.map_or(1, |n| n + 1))
    }
}

fn read(path: &Path) -> Result<ExpRecord> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let record: ExpRecord = serde_json::from_slice(&bytes).map_err(|e| {
        Error::BadInput(format!(
            "{}: not an experiment record ({e}); remove it or restore it",
            path.display()
        ))
    })?;
    if record.schema > RECORD_SCHEMA {
        return Err(Error::BadInput(format!(
            "{} was written by a newer churnflow (schema {}); upgrade churnflow",
            path.display(),
            record.schema
        )));
    }
    Ok(record)
}

/// Names are file names and command-line words: letters, digits, `-`, `_` and `.`, not
/// starting with `.` or `-`, and not `workspace` (the row for the workspace itself).
pub fn valid_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['.', '-'])
        && name != "workspace";
    if ok {
        Ok(())
    } else {
        Err(Error::BadInput(format!(
            "'{name}' cannot name an experiment: use letters, digits, '-', '_' and '.' (not 'workspace')"
        )))
    }
}

/// The pipeline.lock of the workspace, of every experiment record and of every kept git
/// revision (HEAD, branches, tags): what `gc` keeps and `push --all-commits` sends. Here
/// because this is the lowest layer that knows both experiment records and git.
pub(crate) fn kept_locks(root: &Path) -> Result<Vec<LockFile>> {
    let mut locks = vec![LockFile::load(root)?];
    // Each experiment's outs, until its record is removed (`exp remove`, `exp gc`).
    locks.extend(Records::new(&Store::new(root)).list()?.into_iter().filter_map(|r| r.lock));
    for rev in git::kept_revisions(root) {
        if let Some(text) = git::show(root, &rev, LOCK_FILE)? {
            // A lock at some revision that this churnflow can't read keeps nothing; say so.
            match LockFile::parse(&text, &format!("{}:{LOCK_FILE}", short_hash(&rev))) {
                Ok(l) => locks.push(l),
                Err(d) => eprintln!("warning: {d}"),
            }
        }
    }
    Ok(locks)
}
