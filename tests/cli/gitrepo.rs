//! Git helpers for the comparing tests: a project that is a git repository with history.
use crate::support::Project;
use std::process::Command;

/// Runs git in the project; panics with its output if it fails.
pub fn git(p: &Project, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(p.root())
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", p.root())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git init` with the store and counters ignored.
pub fn init(p: &Project) {
    p.write(".gitignore", "artifacts/\ncounts/\n");
    git(p, &["init", "-q"]);
}

/// Stages everything and commits it.
pub fn commit_all(p: &Project, message: &str) {
    git(p, &["add", "-A"]);
    git(p, &["commit", "-q", "-m", message]);
}
