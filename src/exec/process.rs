//! Child processes: each stage runs in its own process group, killed as a group on Ctrl-C
//! or when it fails, with stdout and stderr captured to its log file.
//!
//! Ctrl-C is caught once per process: it sets a flag that the executor polls and sends
//! SIGTERM (then SIGKILL after a grace period) to every running stage's process group.
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// Installs the Ctrl-C handler (idempotent).
pub fn install_interrupt_handler() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            signal_all(libc::SIGTERM);
            std::thread::spawn(|| {
                std::thread::sleep(Duration::from_secs(3));
                signal_all(libc::SIGKILL);
            });
        });
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn signal_all(signal: i32) {
    if let Ok(groups) = RUNNING.lock() {
        for &pgid in groups.iter() {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe { libc::killpg(pgid, signal) };
        }
    }
}

fn kill_group(pgid: i32) {
    // Whatever the stage left running in its group goes with it. ESRCH is fine.
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
}

/// Runs `command` in a new process group with output appended to `log`.
pub fn run_logged(mut command: Command, log: &File) -> std::io::Result<ExitStatus> {
    command.process_group(0).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log.try_clone()?);
    if interrupted() {
        return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted"));
    }
    let mut child = command.spawn()?;
    let pgid = child.id() as i32;
    if let Ok(mut g) = RUNNING.lock() {
        g.push(pgid);
    }
    let status = child.wait();
    if let Ok(mut g) = RUNNING.lock() {
        g.retain(|p| *p != pgid);
    }
    if !matches!(&status, Ok(s) if s.success()) || interrupted() {
        kill_group(pgid);
    }
    status
}

/// A shell command run by `/bin/sh -c` from `dir`.
pub fn shell(cmd: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(cmd).current_dir(dir);
    c
}
