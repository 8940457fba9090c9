//! The one atomic writer: a temp file in the target's directory, filled, given its mode,
//! optionally fsync'd, then renamed over the target.
//!
//! A crash at any moment leaves either the old file or the new one, never a torn mix.
//! Workspace files (outs restored from the store, pipeline.lock, run records, the registry,
//! reports) are written [`WORKSPACE_MODE`] 0644 whoever the umask says; store objects are
//! [`OBJECT_MODE`] 0444. With `durable`, the data and the directory entry are fsync'd (lock
//! file, run records, registry).
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The mode of every file churnflow writes into the workspace.
pub(crate) const WORKSPACE_MODE: u32 = 0o644;
/// The mode of store objects: read-only, so a stray write fails loudly.
pub(crate) const OBJECT_MODE: u32 = 0o444;

/// A file being written next to its final place; dropped without [`Staged::commit`], it
/// disappears.
pub(crate) struct Staged(tempfile::NamedTempFile);

/// Starts writing the file that will replace `path`.
pub(crate) fn stage(path: &Path) -> io::Result<Staged> {
    let tmp = tempfile::Builder::new().prefix(churnflow_stages::TEMP_PREFIX).tempfile_in(parent(path))?;
    Ok(Staged(tmp))
}

impl Staged {
    pub(crate) fn file(&mut self) -> &mut File {
        self.0.as_file_mut()
    }

    /// Gives the file its mode and renames it over `path`.
    pub(crate) fn commit(self, path: &Path, mode: u32, durable: bool) -> io::Result<()> {
        self.0.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
        if durable {
            self.0.as_file().sync_all()?;
        }
        self.0.persist(path).map_err(|e| e.error)?;
        if durable {
            sync_dir(parent(path))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically, mode 0644.
pub(crate) fn write(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let mut staged = stage(path)?;
    staged.file().write_all(bytes)?;
    staged.commit(path, WORKSPACE_MODE, durable)
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// fsyncs a directory so a rename inside it survives a power loss.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
