//! The project lock: one `repro`, `checkout`, `gc` or registry change at a time.
//!
//! An `flock` on `artifacts/lock`, so the kernel releases it when the holder dies (no stale
//! pid files). The holder writes its pid into the file, only to name it in the message a
//! second churnflow prints before exiting with code 3.
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

#[derive(Debug)]
pub struct ProjectLock {
    _file: File,
}

impl ProjectLock {
    /// Takes the lock or fails at once with [`Error::Locked`].
    pub fn acquire(store_dir: &Path) -> Result<ProjectLock> {
        std::fs::create_dir_all(store_dir)
            .map_err(|e| Error::io(format!("cannot create {}", store_dir.display()), e))?;
        let path = store_dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = holder.trim().to_string();
            return Err(Error::Locked {
                pid: if pid.is_empty() { "unknown".into() } else { pid },
                path: path.display().to_string(),
            });
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(ProjectLock { _file: file })
    }
}
