//! Reading project files as they were at a git revision (for `gc`, `metrics diff`, `params diff`).
//!
//! The project may be a subfolder of the repository, so paths are taken relative to the
//! project root and prefixed with its place in the repository.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a revision could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("{} is not in a git repository, so revision '{rev}' cannot be read", .root.display())]
    NotARepo { root: PathBuf, rev: String },
    #[error("unknown git revision '{0}' (try 'git log --oneline' for valid ones)")]
    UnknownRevision(String),
    /// HEAD was asked for (the default side of a comparison) and there is no commit yet.
    #[error(
        "this repository has no commit yet (HEAD does not exist), so there is nothing to compare with; \
         commit first, or name two revisions"
    )]
    NoCommitYet,
    #[error("cannot run git: {0}")]
    Run(#[source] std::io::Error),
}

type Result<T> = std::result::Result<T, GitError>;

fn git(root: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("git").arg("-C").arg(root).args(args).output()
}

/// Is `root` inside a git work tree?
pub fn is_repo(root: &Path) -> bool {
    git(root, &["rev-parse", "--is-inside-work-tree"]).map(|o| o.status.success()).unwrap_or(false)
}

/// The project's folder inside the repository ("" at the top, else "sub/dir/").
fn prefix(root: &Path) -> Result<String> {
    let out = git(root, &["rev-parse", "--show-prefix"]).map_err(GitError::Run)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Checks that `rev` names a commit; a clear usage error if not.
pub fn verify_rev(root: &Path, rev: &str) -> Result<String> {
    if !is_repo(root) {
        return Err(GitError::NotARepo { root: root.to_path_buf(), rev: rev.to_string() });
    }
    let spec = format!("{rev}^{{commit}}");
    let out = git(root, &["rev-parse", "--verify", "--quiet", &spec]).map_err(GitError::Run)?;
    if !out.status.success() {
        return Err(GitError::UnknownRevision(rev.to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The text of the project file `rel` at `rev`, or `None` if it did not exist there.
pub fn show(root: &Path, rev: &str, rel: &str) -> Result<Option<String>> {
    let object = format!("{rev}:{}{rel}", prefix(root)?);
    let out = git(root, &["show", &object]).map_err(GitError::Run)?;
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// HEAD, every branch and every tag, as commit ids (empty outside a repository).
pub fn kept_revisions(root: &Path) -> Vec<String> {
    if !is_repo(root) {
        return Vec::new();
    }
    let mut revs = Vec::new();
    if let Ok(out) = git(root, &["rev-parse", "--verify", "--quiet", "HEAD"]) {
        if out.status.success() {
            revs.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
    }
    if let Ok(out) = git(root, &["for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags"]) {
        revs.extend(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()));
    }
    revs.sort();
    revs.dedup();
    revs
}
