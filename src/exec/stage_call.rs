//! The `__stage` protocol: how the executor runs one built-in stage in a child process of
//! this binary, so a panicking or interrupted stage cannot take the engine with it.
//!
//! 1. The executor writes a call file ([`CallFile`]): JSON `{"kind", "invocation"}` in
//!    `artifacts/tmp/<stage>-*.json`, kept until the child has exited.
//! 2. It starts `churnflow __stage <call file>` ([`SUBCOMMAND`], hidden from `--help`) in
//!    the project root, with output going to the stage's log.
//! 3. The child ([`serve`]) runs the kind and prints its one-line summary as a line starting
//!    with `churnflow-summary: `; exit code 0 ok, 1 the stage failed, 2 unreadable call.
//! 4. The executor takes the last such line from the log ([`read_summary`]).
//!
//! Everything about the protocol is in this file; `cli` only names the subcommand.
use churnflow_stages::Invocation;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;

/// The hidden subcommand that runs one built-in stage in a child process.
pub(crate) const SUBCOMMAND: &str = "__stage";
/// Prefix of the line in which a built-in stage reports its one-line summary.
const SUMMARY_PREFIX: &str = "churnflow-summary: ";

/// What the engine hands to the child process that runs a built-in stage.
#[derive(Debug, Serialize, Deserialize)]
struct StageCall {
    kind: String,
    invocation: Invocation,
}

/// A written call file; it is deleted when dropped, so keep it until the child has exited.
pub(crate) struct CallFile(tempfile::NamedTempFile);

impl CallFile {
    /// Writes the call for `kind` into a new temp file in `dir`.
    pub(crate) fn write(dir: &Path, kind: &str, invocation: Invocation) -> std::io::Result<CallFile> {
        std::fs::create_dir_all(dir)?;
        let mut f = tempfile::Builder::new()
            .prefix(&format!("{}-", invocation.stage))
            .suffix(".json")
            .tempfile_in(dir)?;
        let call = StageCall { kind: kind.to_string(), invocation };
        serde_json::to_writer(&mut f, &call).map_err(std::io::Error::other)?;
        f.flush()?;
        Ok(CallFile(f))
    }

    /// The call file's name without extension: unique among the calls in its folder.
    pub(crate) fn stem(&self) -> String {
        self.0.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// The command that runs this call: this very binary with [`SUBCOMMAND`].
    pub(crate) fn command(&self, exe: &Path, root: &Path) -> Command {
        let mut c = Command::new(exe);
        c.arg(SUBCOMMAND).arg(self.0.path()).current_dir(root);
        c
    }
}

/// The summary the child printed last, read back from the stage's log.
pub(crate) fn read_summary(log: &Path) -> Option<String> {
    let file = std::fs::File::open(log).ok()?;
    std::io::BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .filter_map(|l| l.strip_prefix(SUMMARY_PREFIX).map(str::to_string))
        .last()
}

/// The child side, `churnflow __stage CALL.json`: runs the kind, prints its summary line,
/// and returns the exit code.
pub(crate) fn serve(call: &Path) -> u8 {
    let call: StageCall = match std::fs::read(call)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read the stage call {}: {e}", call.display());
            return 2;
        }
    };
    match churnflow_stages::run(&call.kind, &call.invocation) {
        Ok(outcome) => {
            if !outcome.summary.is_empty() {
                println!("{SUMMARY_PREFIX}{}", outcome.summary);
            }
            0
        }
        Err(e) => {
            eprintln!("error: stage '{}' ({}): {e}", call.invocation.stage, call.kind);
            1
        }
    }
}
