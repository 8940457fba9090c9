//! How far a stage has got: work done of a known total, in rows or bytes.
//!
//! A built-in stage runs as a child process; the engine names a file in the environment
//! ([`PROGRESS_ENV`]) and draws what the stage writes there as a bar with rate and ETA on a
//! terminal. The stage overwrites the file (temp file + rename, so a reader never sees half a
//! line) at most every [`EVERY`]; without the variable, reporting costs an atomic add. An
//! in-process caller (`score`) passes a callback instead.
//!
//! The file is one line: `UNIT DONE TOTAL`, e.g. `bytes 1048576 9663676416`.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The variable naming the progress file of a stage's run.
pub const PROGRESS_ENV: &str = "CHURNFLOW_PROGRESS";

/// The least time between two writes of the file.
pub(crate) const EVERY: Duration = Duration::from_millis(100);

/// What the work is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Rows,
    Bytes,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Rows => "rows",
            Unit::Bytes => "bytes",
        }
    }
}

/// One reading of the progress file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub unit: Unit,
    pub done: u64,
    pub total: u64,
}

impl Snapshot {
    fn line(&self) -> String {
        format!("{} {} {}\n", self.unit.name(), self.done, self.total)
    }

    fn parse(text: &str) -> Option<Snapshot> {
        let mut parts = text.split_whitespace();
        let unit = match parts.next()? {
            "rows" => Unit::Rows,
            "bytes" => Unit::Bytes,
            _ => return None,
        };
        let done = parts.next()?.parse().ok()?;
        let total = parts.next()?.parse().ok()?;
        Some(Snapshot { unit, done, total })
    }
}

/// The last progress a stage wrote to `path`; `None` before it wrote any (or if the file is
/// not a progress file).
pub fn read(path: &Path) -> Option<Snapshot> {
    Snapshot::parse(&std::fs::read_to_string(path).ok()?)
}

type Callback<'a> = &'a (dyn Fn(Snapshot) + Sync);

/// Counts work done and tells whoever watches. Shared by reference across threads.
pub struct Reporter<'a> {
    unit: Unit,
    total: u64,
    done: AtomicU64,
    sink: Sink<'a>,
    last: Mutex<Option<Instant>>,
}

enum Sink<'a> {
    None,
    File(PathBuf),
    Callback(Callback<'a>),
}

impl Reporter<'static> {
    /// Reports to the file the engine named in [`PROGRESS_ENV`], if it named one.
    pub fn from_env(unit: Unit, total: u64) -> Reporter<'static> {
        let sink = std::env::var_os(PROGRESS_ENV).map_or(Sink::None, |p| Sink::File(PathBuf::from(p)));
        Reporter::with(unit, total, sink)
    }

    /// Counts, and tells no one.
    pub fn silent() -> Reporter<'static> {
        Reporter::with(Unit::Rows, 0, Sink::None)
    }
}

impl<'a> Reporter<'a> {
    /// Reports to `callback` (at most every [`EVERY`], and once at the end).
    pub fn to_callback(unit: Unit, total: u64, callback: Callback<'a>) -> Reporter<'a> {
        Reporter::with(unit, total, Sink::Callback(callback))
    }

    fn with(unit: Unit, total: u64, sink: Sink<'a>) -> Reporter<'a> {
        Reporter { unit, total, done: AtomicU64::new(0), sink, last: Mutex::new(None) }
    }

    /// `n` more units done.
    pub fn add(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if matches!(self.sink, Sink::None) {
            return;
        }
        let finished = done >= self.total;
        // Told under the lock, with the count as it is then, so a slow writer never puts an
        // older count over a newer one. Only the last add waits for the lock.
        let mut last = if finished {
            self.last.lock().unwrap_or_else(|p| p.into_inner())
        } else {
            let Ok(last) = self.last.try_lock() else { return };
            last
        };
        let now = Instant::now();
        if !finished && last.is_some_and(|t| now.duration_since(t) < EVERY) {
            return;
        }
        *last = Some(now);
        self.tell(self.done.load(Ordering::Relaxed));
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    fn tell(&self, done: u64) {
        let snapshot = Snapshot { unit: self.unit, done: done.min(self.total), total: self.total };
        match &self.sink {
            Sink::None => {}
            Sink::Callback(f) => f(snapshot),
            // Progress is advice: a file that cannot be written is not worth failing a stage.
            Sink::File(path) => {
                let _ = crate::io::atomic::write_bytes_atomic(path, snapshot.line().as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_latest_count_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let r = Reporter::with(Unit::Bytes, 100, Sink::File(path.clone()));
        assert_eq!(read(&path), None);
        r.add(10);
        assert_eq!(read(&path), Some(Snapshot { unit: Unit::Bytes, done: 10, total: 100 }));
        r.add(20); // within EVERY of the last write: not written
        assert_eq!(read(&path).unwrap().done, 10);
        r.add(70); // the end is always written
        assert_eq!(read(&path), Some(Snapshot { unit: Unit::Bytes, done: 100, total: 100 }));
        assert_eq!(r.done(), 100);
    }

    #[test]
    fn anything_else_in_the_file_is_no_progress() {
        for text in ["", "rows", "rows 1", "lines 1 2", "rows x 2"] {
            assert_eq!(Snapshot::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_callback_hears_the_first_and_the_last_count() {
        let seen = Mutex::new(Vec::new());
        let f = |s: Snapshot| seen.lock().unwrap().push(s.done);
        let r = Reporter::to_callback(Unit::Rows, 3, &f);
        r.add(1);
        r.add(1);
        r.add(1);
        assert_eq!(*seen.lock().unwrap(), vec![1, 3]);
    }
}
