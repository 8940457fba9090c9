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

use crate::contract::{Classify, StageError};
use std::path::Path;

/// blake3 of a file's bytes, hex.
pub(crate) fn hash_file(path: &Path) -> Result<String, StageError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, "read", &e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// "`path`: cannot `action`: `e`", classed as `e` is (a missing file is the input's fault, a
/// full disk the system's: [`crate::contract::Classify`]).
pub(crate) fn io_error<E: Classify + std::fmt::Display>(path: &Path, action: &str, e: &E) -> StageError {
    StageError::classified(format!("{}: cannot {action}: {e}", path.display()), e)
}

#[cfg(test)]
mod tests {
    use super::io_error;
    use crate::contract::{ErrorClass, StageError};
    use std::path::Path;

    /// A full disk is the system's fault, a missing file the input's: `io_error` (and so every
    /// file helper of the crate) tells them apart by the I/O error's kind.
    #[test]
    fn io_errors_are_classed_by_their_kind() {
        let missing = std::fs::read("/nonexistent/churnflow/x.csv").unwrap_err();
        assert_eq!(io_error(Path::new("x.csv"), "read", &missing).class, ErrorClass::Input);
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::FileTooLarge,
            std::io::ErrorKind::PermissionDenied,
        ] {
            let e = std::io::Error::from(kind);
            assert_eq!(io_error(Path::new("o.csv"), "write", &e).class, ErrorClass::Io, "{kind:?}");
            assert_eq!(StageError::from(e).class, ErrorClass::Io, "{kind:?}");
        }
        let bug = StageError::internal("x");
        assert_eq!(bug.class, ErrorClass::Internal);
        assert!(bug.message.contains("this is a bug in churnflow"), "{}", bug.message);
        assert_eq!(StageError::new("bad data").class, ErrorClass::Input);
    }

    /// /dev/full answers every write with ENOSPC (Linux, any user): a real full disk, through
    /// polars' CSV writer as `score` writes its output, comes out as [`ErrorClass::Io`].
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_under_polars_is_an_io_error() {
        use polars::prelude::*;
        use std::io::Write;
        let mut full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let e = full.write_all(b"x").and_then(|_| full.flush()).unwrap_err();
        assert_eq!(io_error(Path::new("/dev/full"), "write", &e).class, ErrorClass::Io);
        let mut df = df!("a" => (0..100_000).collect::<Vec<i64>>()).unwrap();
        let mut writer = std::io::BufWriter::new(full);
        let e = CsvWriter::new(&mut writer).finish(&mut df).and_then(|_| Ok(writer.flush()?)).unwrap_err();
        let err = crate::io::table::polars_err("/dev/full", "cannot write")(e);
        assert_eq!(err.class, ErrorClass::Io, "{}", err.message);
    }
}
