//! The claim on computing one stage run: an `flock` on `artifacts/claims/<fingerprint>`.
//!
//! Workspaces that share a store (the scratch workspaces of a sweep's experiments) may reach
//! the same stale stage with the same fingerprint at the same moment. The first to claim it
//! runs it; the others wait for the claim, then find its run record and restore instead, so
//! no stage run is computed twice. The kernel drops the claim when its holder dies, so a
//! killed experiment never blocks the others. Claim files are empty and stay (deleting one a
//! waiter holds open would let a third process claim a new file); `gc` removes them. Only
//! workspaces on a shared store claim runs: a plain `repro` holds the project lock, so no one
//! else computes in its store.
use crate::store::objects::Store;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

/// A held claim; dropping it releases the claim.
#[derive(Debug)]
pub struct RunClaim {
    _file: File,
}

impl RunClaim {
    /// Takes the claim on `fingerprint`, waiting while someone else holds it; `waiting` is
    /// called once, before the wait, if there is one.
    pub fn take(store: &Store, fingerprint: &str, waiting: impl FnOnce()) -> io::Result<RunClaim> {
        let path = store.claim_path(fingerprint);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().write(true).create(true).truncate(false).open(&path)?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(RunClaim { _file: file });
        }
        waiting();
        loop {
            // SAFETY: as above.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(RunClaim { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_waits_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let first = RunClaim::take(&store, "abc", || panic!("nobody holds it yet")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = store.clone();
        let waiter = std::thread::spawn(move || {
            let mut waited = false;
            let _second = RunClaim::take(&shared, "abc", || waited = true).unwrap();
            tx.send(()).unwrap();
            waited
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "taken while held");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("taken once released");
        assert!(waiter.join().unwrap(), "the waiter was told it had to wait");
        // Another fingerprint is independent.
        RunClaim::take(&store, "abd", || panic!("a different run")).unwrap();
    }
}
