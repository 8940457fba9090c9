//! `churnflow __stage CALL.json`: runs one built-in stage; started by the executor as a
//! child process, so a panicking or interrupted stage cannot take the engine with it.
use crate::cli::SUMMARY_PREFIX;
use crate::exec::StageCall;
use std::path::Path;

pub fn run(call: &Path) -> u8 {
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
