//! The one atomic writer of the crate: every file a stage writes goes through [`AtomicFile`].
//!
//! Invariants: a file is written in full into a temp file in its destination's directory
//! (created if missing), flushed, given mode 0644 (temp files are created 0600; an out must
//! look the same whether a stage wrote it or `churnflow checkout` restored it from the store)
//! and only then renamed over the destination. A reader never sees half a file, and an
//! interrupted stage leaves the previous file (or nothing) behind. Its errors are classed by
//! the I/O error ([`crate::contract::Classify`]): a full disk is
//! [`ErrorClass::Io`](crate::contract::ErrorClass::Io), not the user's input.

use crate::contract::StageError;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How every atomic writer (this crate's and the engine's) names its temp file beside the
/// target; whoever walks a workspace skips such names (a crash can leave one behind).
pub const TEMP_PREFIX: &str = ".churnflow-tmp-";

/// A file being written beside its destination; [`AtomicFile::commit`] moves it into place.
/// Dropped without a commit, the temp file is removed.
pub(crate) struct AtomicFile {
    file: File,
    pending: PendingRename,
}

/// The rename half of an [`AtomicFile`], for writers that own the [`File`] while they write
/// (e.g. a Parquet writer over a `BufWriter<File>`) and hand it back at the end.
pub(crate) struct PendingRename {
    tmp: tempfile::TempPath,
    target: PathBuf,
}

impl AtomicFile {
    /// A temp file (name ending in `suffix`) in the directory of `target`.
    pub(crate) fn create(target: &Path, suffix: &str) -> Result<AtomicFile, StageError> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            StageError::classified(format!("{}: cannot create the directory: {e}", dir.display()), &e)
        })?;
        let (file, tmp) = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(suffix)
            .tempfile_in(&dir)
            .map_err(|e| {
                StageError::classified(format!("{}: cannot create a temp file: {e}", dir.display()), &e)
            })?
            .into_parts();
        Ok(AtomicFile { file, pending: PendingRename { tmp, target: target.to_path_buf() } })
    }

    pub(crate) fn as_file(&self) -> &File {
        &self.file
    }

    pub(crate) fn as_file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// The open temp file and the rename still to do.
    pub(crate) fn into_parts(self) -> (File, PendingRename) {
        (self.file, self.pending)
    }

    /// Flushes, sets mode 0644 and renames the finished file over its destination.
    pub(crate) fn commit(mut self) -> Result<(), StageError> {
        let target = &self.pending.target;
        self.file
            .flush()
            .map_err(|e| StageError::classified(format!("{}: cannot write: {e}", target.display()), &e))?;
        self.pending.commit(&self.file)
    }
}

impl PendingRename {
    /// Sets mode 0644 on the finished (flushed) `file` and renames it over the destination.
    pub(crate) fn commit(self, file: &File) -> Result<(), StageError> {
        let target = &self.target;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| {
                StageError::classified(format!("{}: cannot set permissions: {e}", target.display()), &e)
            })?;
        }
        #[cfg(not(unix))]
        let _ = file;
        self.tmp.persist(target).map_err(|e| {
            StageError::classified(
                format!("{}: cannot move the finished file into place: {e}", target.display()),
                &e.error,
            )
        })
    }
}

/// Creates a temp file next to `path`, lets `write` fill it, then moves it into place.
pub(crate) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), StageError>,
) -> Result<(), StageError> {
    let mut file = AtomicFile::create(path, "")?;
    write(file.as_file_mut())?;
    file.commit()
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), StageError> {
    write_atomic_with(path, |file| {
        file.write_all(bytes)
            .map_err(|e| StageError::classified(format!("{}: cannot write: {e}", path.display()), &e))
    })
}
