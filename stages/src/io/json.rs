//! JSON files: pretty JSON with a final newline, written atomically; typed reads with errors
//! that name the file.

use crate::contract::StageError;
use crate::io::atomic::write_bytes_atomic;
use std::path::Path;

/// Writes pretty JSON (with a final newline) atomically.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), StageError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| StageError::internal(format!("{}: cannot encode JSON: {e}", path.display())))?;
    text.push('\n');
    write_text(path, &text)
}

/// Writes text atomically.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), StageError> {
    write_bytes_atomic(path, text.as_bytes())
}

/// Reads a JSON file written by an earlier stage; `what` names it in messages.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, StageError> {
    let bytes = std::fs::read(path).map_err(|e| super::io_error(path, "read", &e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| StageError::new(format!("{}: not a valid {what} file: {e}", path.display())))
}
