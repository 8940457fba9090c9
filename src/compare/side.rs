//! The two sides of a comparison: the workspace or a git revision, each with the pipeline,
//! params and lock as they were there, and the content of the files its stages declare.
//!
//! `metrics diff`, `params diff` and `report` read everything through a [`Side`], so a file
//! is found the same way whatever the revision:
//!
//! * the workspace reads pipeline.yaml, params.yaml and pipeline.lock from disk and outs
//!   from the workspace;
//! * a revision reads them with `git show REV:path`; which files are metrics or plots comes
//!   from that revision's pipeline.yaml; an out kept in git (`cache: false`) is read from
//!   git, a cached one (`cache: true`) from the store, by the hash that revision's
//!   pipeline.lock records for it.
//!
//! Problems name the revision and file (`HEAD~1:pipeline.lock: ...`) and say what to do.
use crate::compare::git::{self, GitError};
use crate::error::{Diagnostic, Error, Result};
use crate::pipeline::params::{Params, PARAMS_FILE};
use crate::pipeline::resolve::{self, Out, Pipeline};
use crate::pipeline::spec::{self, PIPELINE_FILE};
use crate::store::lockfile::{LockFile, LOCK_FILE};
use crate::store::objects::{RestoreError, Store};
use crate::store::short_hash;
use std::path::{Path, PathBuf};

/// Which state of the project one side of a comparison shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rev {
    Workspace,
    /// A git revision as the user wrote it, and the commit it names.
    Commit {
        name: String,
        id: String,
    },
}

impl Rev {
    /// Resolves a revision the user named; an unknown one is a usage error (exit 2).
    pub fn commit(root: &Path, name: &str) -> Result<Rev, GitError> {
        let id = git::verify_rev(root, name)?;
        Ok(Rev::Commit { name: name.to_string(), id })
    }

    /// How the side is named in tables and messages: `workspace` or the revision as written.
    pub fn label(&self) -> &str {
        match self {
            Rev::Workspace => "workspace",
            Rev::Commit { name, .. } => name,
        }
    }

    /// The commit id, or `None` for the workspace.
    pub fn id(&self) -> Option<&str> {
        match self {
            Rev::Workspace => None,
            Rev::Commit { id, .. } => Some(id),
        }
    }

    /// How a project file at this side is named in messages (`HEAD~1:params.yaml`).
    pub fn origin(&self, rel: &str) -> String {
        match self {
            Rev::Workspace => rel.to_string(),
            Rev::Commit { name, .. } => format!("{name}:{rel}"),
        }
    }

    /// JSON description of the side: `{"rev": "HEAD", "commit": "abc…"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"rev": self.label(), "commit": self.id()})
    }
}

/// The old and new sides from zero, one or two revisions: none = HEAD vs the workspace,
/// one = that revision vs the workspace, two = the first vs the second.
pub fn sides(root: &Path, revs: &[String]) -> Result<(Rev, Rev)> {
    match revs {
        [] => {
            let head = Rev::commit(root, "HEAD").map_err(|e| match e {
                GitError::UnknownRevision(_) => GitError::NoCommitYet,
                other => other,
            })?;
            Ok((head, Rev::Workspace))
        }
        [a] => Ok((Rev::commit(root, a)?, Rev::Workspace)),
        [a, b] => Ok((Rev::commit(root, a)?, Rev::commit(root, b)?)),
        _ => Err(Error::BadInput("give at most two revisions: [REV_A [REV_B]]".into())),
    }
}

/// One side, loaded: its pipeline (if it has one), params and lock.
pub struct Side {
    pub rev: Rev,
    root: PathBuf,
    /// `None` when the revision has no pipeline.yaml (the project did not exist yet).
    pub pipeline: Option<Pipeline>,
    pub params: Params,
    lock: Option<LockFile>,
}

/// What reading a declared out at one side gave.
#[derive(Debug)]
pub enum Content {
    Bytes(Vec<u8>),
    /// Not there, and that is not an error (never produced, or not declared at this side).
    Absent(String),
    /// Should be readable but is not; the message says what to do.
    Unreadable(String),
}

impl Side {
    /// Loads one side. `with_lock`: also read pipeline.lock (for cached outs); a lock from a
    /// newer churnflow is then a usage error, as everywhere else.
    pub fn load(root: &Path, rev: Rev, with_lock: bool) -> Result<Side> {
        let text = |rel: &str| -> Result<Option<String>> {
            match &rev {
                Rev::Workspace => match std::fs::read_to_string(root.join(rel)) {
                    Ok(t) => Ok(Some(t)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(format!("cannot read {}", root.join(rel).display()), e)),
                },
                Rev::Commit { id, .. } => Ok(git::show(root, id, rel)?),
            }
        };
        let retag = |mut d: Diagnostic| {
            if rev != Rev::Workspace {
                d.file = rev.origin(&d.file);
            }
            d
        };
        let (pipeline, params) = match &rev {
            Rev::Workspace => {
                let params = Params::load(root).map_err(Error::usage)?;
                (Some(Pipeline::load(root)?), params)
            }
            Rev::Commit { .. } => {
                let params = match text(PARAMS_FILE)? {
                    Some(t) => Params::parse(&t).map_err(|d| Error::usage(retag(d)))?,
                    None => Params::default(),
                };
                let pipeline = match text(PIPELINE_FILE)? {
                    None => None,
                    Some(t) => {
                        let spec = spec::parse(&t)
                            .map_err(|ds| Error::Usage(ds.into_iter().map(retag).collect()))?;
                        let p = resolve::resolve_at_revision(root, &spec, &params)
                            .map_err(|ds| Error::Usage(ds.into_iter().map(retag).collect()))?;
                        Some(p)
                    }
                };
                (pipeline, params)
            }
        };
        let lock = if with_lock {
            match text(LOCK_FILE)? {
                Some(t) => Some(LockFile::parse(&t, &rev.origin(LOCK_FILE)).map_err(Error::usage)?),
                None => None,
            }
        } else {
            None
        };
        Ok(Side { rev, root: root.to_path_buf(), pipeline, params, lock })
    }

    /// Every declared out matching `pick`, as (stage name, out), in pipeline order.
    pub fn outs<'a>(&'a self, pick: impl Fn(&Out) -> bool + 'a) -> Vec<(&'a str, &'a Out)> {
        let Some(p) = &self.pipeline else { return Vec::new() };
        p.stages
            .iter()
            .flat_map(|s| s.outs.iter().map(move |o| (s.name.as_str(), o)))
            .filter(|(_, o)| pick(o))
            .collect()
    }

    /// The content of the out `out` of `stage` at this side.
    pub fn read_out(&self, stage: &str, out: &Out) -> Result<Content> {
        let path = &out.path;
        match &self.rev {
            Rev::Workspace => {
                let full = self.root.join(path);
                match std::fs::read(&full) {
                    Ok(b) => Ok(Content::Bytes(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Content::Absent(format!(
                        "{path} does not exist in the workspace (run 'churnflow repro {stage}'{})",
                        if out.cache { ", or 'churnflow checkout' if it was produced before" } else { "" }
                    ))),
                    Err(e) if e.kind() == std::io::ErrorKind::IsADirectory || full.is_dir() => {
                        Ok(Content::Unreadable(format!(
                            "{path} is a directory; metrics and plots must be files"
                        )))
                    }
                    Err(e) => Err(Error::io(format!("cannot read {}", full.display()), e)),
                }
            }
            Rev::Commit { name, id } => {
                if !out.cache {
                    return Ok(match git::show(&self.root, id, path)? {
                        Some(t) => Content::Bytes(t.into_bytes()),
                        None => Content::Absent(format!(
                            "{path} is not committed at {name} (it is 'cache: false', so it lives in git; \
                             was it produced and committed there?)"
                        )),
                    });
                }
                let record =
                    self.lock.as_ref().and_then(|l| l.stages.get(stage)).and_then(|s| s.outs.get(path));
                let Some(record) = record else {
                    return Ok(Content::Absent(format!(
                        "{path} is cached (not in git) and {name}:{LOCK_FILE} records no hash for it \
                         (stage '{stage}' had not run there)"
                    )));
                };
                if record.is_dir() {
                    return Ok(Content::Unreadable(format!(
                        "{path} at {name} is a directory; metrics and plots must be files"
                    )));
                }
                if record.hash.is_empty() || !record.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Ok(Content::Unreadable(format!(
                        "{name}:{LOCK_FILE} records '{}' as the hash of {path}, which is not a hash; \
                         rerun 'churnflow repro {stage}' at {name}",
                        record.hash
                    )));
                }
                let short = short_hash(&record.hash);
                match Store::new(&self.root).read_verified(&record.hash) {
                    Ok(b) => Ok(Content::Bytes(b)),
                    Err(RestoreError::Missing(_)) => Ok(Content::Unreadable(format!(
                        "{path} at {name} is cached (not in git) and its object {short} is not in this store; \
                         get it with 'git checkout {name} && churnflow checkout {stage}' (or 'churnflow repro \
                         {stage}' at {name}), then come back to your branch"
                    ))),
                    Err(e) => Ok(Content::Unreadable(format!("{path} at {name}: {e}; rerun 'churnflow repro {stage}' at {name}"))),
                }
            }
        }
    }
}
