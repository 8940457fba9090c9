//! Unfinished runs: which stages' outs in this workspace a run of churnflow may have left
//! half-written, so that churnflow never takes its own partial output for a hand edit.
//!
//! Before a stage's command (or built-in kind) starts writing its outs — after a hand edit
//! of them was saved into the store, before the old outs are removed — the executor writes
//! `artifacts/unfinished/<stage>.json` (atomically, fsync'd): the stage, its non-persistent
//! outs, the pid of the churnflow running it (with the process's start time, so a reused pid
//! is not taken for it) and when it started. The marker is removed once the stage is
//! recorded in pipeline.lock (ran, restored or found fresh). A stage that fails keeps it,
//! marked `failed` (its outs stay in the workspace to be looked at); one that is interrupted
//! — Ctrl-C, SIGKILL, a crash — keeps it as written.
//!
//! While a marker exists, those outs hold what that run wrote, not what a person did:
//! `status` says so (a distinct [`LeftBy`]), and `repro`, `checkout` and `exp apply` replace
//! them without saving them into the store. A marker whose process is alive belongs to a
//! running repro; under the project lock every marker is a leftover (its writer held the
//! lock). Markers live in the workspace's own store folder (`Store::dir`), never in the part
//! a scratch workspace shares, and `artifacts/` is never mirrored into one.
//!
//! Persistent outs (`persist: true`) are not listed: a stage updates them in place and they
//! are never replaced.
use crate::store::atomic;
use crate::store::objects::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

/// The folder of the markers, in the workspace's store folder.
const UNFINISHED_DIR: &str = "unfinished";

/// One stage run that has not been recorded in pipeline.lock (yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfinishedRun {
    pub stage: String,
    /// The stage's non-persistent outs, as declared when it started.
    pub outs: Vec<String>,
    /// The churnflow process that runs (or ran) it.
    pub pid: u32,
    /// That process's start time (clock ticks since boot, from `/proc`), when known: a pid
    /// reused by another process does not look alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// When the run started (RFC 3339, seconds).
    pub started: String,
    /// The stage failed (rather than being interrupted).
    #[serde(default)]
    pub failed: bool,
}

/// Who left an out of an unfinished run as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftBy {
    /// The churnflow that runs the stage is still alive: it is writing the out now.
    Running { pid: u32 },
    /// That churnflow is gone without recording the stage: interrupted or killed.
    Interrupted { pid: u32 },
    /// The stage failed; its outs were left for inspection.
    Failed,
}

impl UnfinishedRun {
    /// Whether `out` (a declared out path) is one of this run's outs.
    pub fn covers(&self, out: &str) -> bool {
        self.outs.iter().any(|o| o == out)
    }

    /// How the run ended, as far as can be told now.
    pub fn left_by(&self) -> LeftBy {
        if self.failed {
            LeftBy::Failed
        } else if self.pid != std::process::id() && alive(self.pid, self.pid_start) {
            LeftBy::Running { pid: self.pid }
        } else {
            LeftBy::Interrupted { pid: self.pid }
        }
    }

    /// What left the out, for a sentence: "left half-written by an interrupted run (pid 42)".
    /// Only for a caller holding the project lock, for whom the run cannot be running.
    pub fn left_text(&self) -> String {
        if self.failed {
            "left by a run that failed".to_string()
        } else {
            format!("left half-written by an interrupted run (pid {})", self.pid)
        }
    }
}

/// The markers of one workspace, as they were when read.
#[derive(Debug, Clone, Default)]
pub struct UnfinishedRuns {
    runs: BTreeMap<String, UnfinishedRun>,
}

impl UnfinishedRuns {
    /// Reads every marker of `store`'s workspace; an unreadable one is skipped.
    pub fn load(store: &Store) -> UnfinishedRuns {
        let mut runs = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(store.dir().join(UNFINISHED_DIR)) else {
            return UnfinishedRuns { runs };
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") {
                continue;
            }
            let Ok(bytes) = std::fs::read(entry.path()) else { continue };
            if let Ok(run) = serde_json::from_slice::<UnfinishedRun>(&bytes) {
                runs.insert(run.stage.clone(), run);
            }
        }
        UnfinishedRuns { runs }
    }

    pub fn get(&self, stage: &str) -> Option<&UnfinishedRun> {
        self.runs.get(stage)
    }

    /// The stages that have a marker.
    pub fn stages(&self) -> impl Iterator<Item = &str> {
        self.runs.keys().map(String::as_str)
    }
}

impl Store {
    fn unfinished_path(&self, stage: &str) -> PathBuf {
        self.dir().join(UNFINISHED_DIR).join(format!("{stage}.json"))
    }

    /// Records, durably, that this process starts writing `outs` of `stage`.
    pub fn run_starts(&self, stage: &str, outs: Vec<String>) -> io::Result<()> {
        let pid = std::process::id();
        let run = UnfinishedRun {
            stage: stage.to_string(),
            outs,
            pid,
            pid_start: process_start(pid),
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            failed: false,
        };
        self.write_unfinished(&run)
    }

    /// The run of `stage` that this process started failed: its marker says so. A marker
    /// another process left is not touched.
    pub fn run_failed(&self, stage: &str) -> io::Result<()> {
        let path = self.unfinished_path(stage);
        let Ok(bytes) = std::fs::read(&path) else { return Ok(()) };
        let Ok(mut run) = serde_json::from_slice::<UnfinishedRun>(&bytes) else { return Ok(()) };
        if run.pid != std::process::id() || run.failed {
            return Ok(());
        }
        run.failed = true;
        self.write_unfinished(&run)
    }

    /// `stage` is recorded in pipeline.lock (or its outs are as the lock records): its
    /// marker, if any, goes.
    pub fn run_recorded(&self, stage: &str) -> io::Result<()> {
        match std::fs::remove_file(self.unfinished_path(stage)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn write_unfinished(&self, run: &UnfinishedRun) -> io::Result<()> {
        let path = self.unfinished_path(&run.stage);
        std::fs::create_dir_all(self.dir().join(UNFINISHED_DIR))?;
        let bytes = serde_json::to_vec_pretty(run).map_err(io::Error::other)?;
        atomic::write(&path, &bytes, true)
    }
}

/// Whether process `pid` exists and is not a zombie, and, when `start` is known and `/proc`
/// tells, started at that moment.
fn alive(pid: u32, start: Option<u64>) -> bool {
    let Ok(raw) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let exists =
        unsafe { libc::kill(raw, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match proc_stat(pid) {
        Some((state, now_start)) => !matches!(state, 'Z' | 'X') && start.is_none_or(|s| s == now_start),
        None => true,
    }
}

/// When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22).
fn process_start(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, start)| start)
}

/// The state letter and start time of `pid` from `/proc/<pid>/stat`; `None` without `/proc`.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid …": the command name may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_running_while_its_process_lives_and_interrupted_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let run = UnfinishedRun {
            stage: "s".into(),
            outs: vec!["out".into()],
            pid,
            pid_start: process_start(pid),
            started: "2026-01-01T00:00:00Z".into(),
            failed: false,
        };
        store.write_unfinished(&run).unwrap();
        let loaded = UnfinishedRuns::load(&store);
        assert_eq!(loaded.get("s"), Some(&run));
        assert_eq!(run.left_by(), LeftBy::Running { pid });
        let reused = UnfinishedRun { pid_start: run.pid_start.map(|s| s + 1), ..run.clone() };
        assert_eq!(reused.left_by(), LeftBy::Interrupted { pid }, "a reused pid is not the writer");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(run.left_by(), LeftBy::Interrupted { pid });
        store.run_recorded("s").unwrap();
        store.run_recorded("s").unwrap();
        assert!(UnfinishedRuns::load(&store).get("s").is_none());
    }

    #[test]
    fn only_the_process_that_started_a_run_marks_it_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.run_starts("mine", vec!["a".into()]).unwrap();
        store.run_failed("mine").unwrap();
        assert_eq!(UnfinishedRuns::load(&store).get("mine").unwrap().left_by(), LeftBy::Failed);
        let other = UnfinishedRun {
            stage: "other".into(),
            outs: vec![],
            pid: u32::MAX,
            pid_start: None,
            started: "2026-01-01T00:00:00Z".into(),
            failed: false,
        };
        store.write_unfinished(&other).unwrap();
        store.run_failed("other").unwrap();
        assert!(!UnfinishedRuns::load(&store).get("other").unwrap().failed);
    }
}
