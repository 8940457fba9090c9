//! One module per command; each takes the project root and parsed arguments and returns
//! the exit code (errors carry their own).
pub mod checkout;
pub mod dag;
pub mod gc;
pub mod generate;
pub mod init;
pub mod metrics;
pub mod models;
pub mod params_diff;
pub mod report;
pub mod repro;
pub mod score;
pub mod stage;
pub mod status;

/// Prints a JSON value to stdout (pretty, with a trailing newline).
pub(crate) fn print_json(value: &serde_json::Value) -> crate::error::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    writeln!(out, "{text}").map_err(|e| crate::error::Error::io("cannot write to stdout", e))
}
