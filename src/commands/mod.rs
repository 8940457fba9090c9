//! One module per command, on top of every layer: each owns its clap Args, turns them into
//! the options its layer takes, and returns the exit code (errors carry their own; `cli`
//! maps them). Nothing below `cli`/`commands` imports from here.
pub(crate) mod checkout;
pub(crate) mod dag;
pub(crate) mod drift;
pub(crate) mod exp;
pub(crate) mod gc;
pub(crate) mod generate;
pub(crate) mod init;
pub(crate) mod metrics;
pub(crate) mod models;
pub(crate) mod monitor;
pub(crate) mod params_diff;
pub(crate) mod remote;
pub(crate) mod report;
pub(crate) mod repro;
pub(crate) mod score;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod table;
pub(crate) mod transfer;

/// Prints a JSON value to stdout (pretty, with a trailing newline).
pub(crate) fn print_json(value: &serde_json::Value) -> crate::error::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    writeln!(out, "{text}").map_err(|e| crate::error::Error::io("cannot write to stdout", e))
}
