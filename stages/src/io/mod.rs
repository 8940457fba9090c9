//! File I/O shared by every stage: the one table reader/writer ([`table`]), the column →
//! `Vec` conversions of the model stages ([`values`]), JSON files ([`json`]), the one
//! atomic writer ([`atomic`]) that every out goes through, the one HTML escaper ([`html`]) and
//! the prediction-log line that `serve` writes and `drift` reads ([`prediction_log`]).
//!
//! Layering: `io` knows files and polars frames, never a stage; it imports neither
//! `crate::data` nor `crate::model` (checked by `tests/layering.rs`).

pub(crate) mod atomic;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod prediction_log;
pub(crate) mod table;
pub(crate) mod values;

use crate::contract::StageError;
use std::path::Path;

/// blake3 of a file's bytes, hex.
pub(crate) fn hash_file(path: &Path) -> Result<String, StageError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, "read", &e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// "`path`: cannot `action`: `e`".
pub(crate) fn io_error(path: &Path, action: &str, e: &dyn std::fmt::Display) -> StageError {
    StageError::new(format!("{}: cannot {action}: {e}", path.display()))
}
