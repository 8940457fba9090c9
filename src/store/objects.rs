//! The content-addressed store in `artifacts/`: objects by blake3 hash, run records, logs.
//!
//! Layout: `objects/ab/cdef…` (content, read-only), `runs/<fingerprint>.json` (which outs a
//! stage run produced), `claims/` (who is computing which run, see [`crate::store::run_claim`]),
//! `logs/<stage>.log`, `state` (hash cache), `lock` (the project lock).
//!
//! An experiment's scratch workspace has a store of its own for logs, state and lock, and
//! shares objects, run records and claims with the project's ([`Store::sharing`]): what one
//! experiment computes, every other one and the workspace can restore.
//!
//! Objects are written to a temp file and renamed into place, hashing while copying so a
//! file that changes under us is never stored under the wrong name; they are not fsync'd
//! (every restore verifies the hash). Restores copy (never hardlink, so a hand edit can't
//! corrupt an object) into a temp file next to the target, verify, then rename. A corrupt
//! object is reported, removed, and never used.
use crate::store::atomic;
use crate::store::hashing::{hash_bytes, manifest_bytes, HashState, ManifestEntry, PathHash};
use crate::store::short_hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub const STORE_DIR: &str = "artifacts";

/// A restore that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("object {0} is not in the store")]
    Missing(String),
    #[error("object {hash} is corrupt (its content hashes to {actual}); it was removed from the store")]
    Corrupt { hash: String, actual: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What a stage run produced for one out: enough to restore it and to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutRecord {
    pub hash: String,
    pub size: u64,
    /// Set for directories: the number of files in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
}

impl OutRecord {
    pub fn of(h: &PathHash) -> OutRecord {
        match h {
            PathHash::File { hash, size } => OutRecord { hash: hash.clone(), size: *size, files: None },
            PathHash::Dir { hash, size, manifest } => {
                OutRecord { hash: hash.clone(), size: *size, files: Some(manifest.len() as u64) }
            }
        }
    }
    pub fn is_dir(&self) -> bool {
        self.files.is_some()
    }
}

/// A run record: the outs a stage produced for one fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub stage: String,
    pub outs: BTreeMap<String, OutRecord>,
}

#[derive(Debug, Clone)]
pub struct Store {
    /// This workspace's part: logs, hash cache, project lock, temp files.
    dir: PathBuf,
    /// Objects, run records and claims: `dir` itself, or the project's store when this is an
    /// experiment's scratch workspace.
    shared: PathBuf,
}

impl Store {
    pub fn new(project_root: &Path) -> Store {
        let dir = project_root.join(STORE_DIR);
        Store { shared: dir.clone(), dir }
    }

    /// The store of a scratch workspace at `root` whose objects, run records and claims are
    /// those of `project`.
    pub fn sharing(root: &Path, project: &Store) -> Store {
        Store { dir: root.join(STORE_DIR), shared: project.shared.clone() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether objects and run records are another workspace's (an experiment's store).
    pub fn is_shared(&self) -> bool {
        self.shared != self.dir
    }

    /// Where objects, run records and claims live (`dir()` unless shared).
    pub fn shared_dir(&self) -> &Path {
        &self.shared
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.shared.join("objects")
    }

    pub fn object_path(&self, hash: &str) -> PathBuf {
        let (a, b) = hash.split_at(2.min(hash.len()));
        self.shared.join("objects").join(a).join(b)
    }

    /// Where the claim on computing the run `fingerprint` is taken.
    pub fn claim_path(&self, fingerprint: &str) -> PathBuf {
        self.shared.join("claims").join(fingerprint)
    }

    /// The data `model` was trained on: the store object its lineage names
    /// (`training_data_blake3`), or `Err` with that hash when the store no longer has it
    /// (`gc` removes objects no pipeline.lock refers to). For `drift`'s `registry:` side and a
    /// stage's champion baseline.
    pub fn training_data(&self, model: &churnflow_stages::Model) -> Result<PathBuf, String> {
        let data = &model.lineage.training_data_blake3;
        if self.has(data) {
            Ok(self.object_path(data))
        } else {
            Err(data.clone())
        }
    }

    pub fn has(&self, hash: &str) -> bool {
        self.object_path(hash).is_file()
    }

    pub fn log_path(&self, stage: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{stage}.log"))
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn run_path(&self, fingerprint: &str) -> PathBuf {
        self.shared.join("runs").join(format!("{fingerprint}.json"))
    }

    /// Puts a file into the store under `expected` (its hash, computed just before).
    pub fn put_file(&self, src: &Path, expected: &str) -> io::Result<()> {
        let dest = self.object_path(expected);
        if dest.is_file() {
            return Ok(());
        }
        fs::create_dir_all(dest.parent().unwrap_or(&self.shared))?;
        let mut staged = atomic::stage(&dest)?;
        let actual = copy_hashing(&mut File::open(src)?, staged.file())?;
        if actual != expected {
            return Err(io::Error::other(format!(
                "{} changed while it was being stored; run again",
                src.display()
            )));
        }
        staged.commit(&dest, atomic::OBJECT_MODE, false)
    }

    /// Puts bytes into the store; returns their hash.
    pub fn put_bytes(&self, bytes: &[u8]) -> io::Result<String> {
        let hash = hash_bytes(bytes);
        let dest = self.object_path(&hash);
        if !dest.is_file() {
            fs::create_dir_all(dest.parent().unwrap_or(&self.shared))?;
            let mut staged = atomic::stage(&dest)?;
            staged.file().write_all(bytes)?;
            staged.commit(&dest, atomic::OBJECT_MODE, false)?;
        }
        Ok(hash)
    }

    /// Puts a file or directory (already hashed as `h`) into the store.
    pub fn put(&self, path: &Path, h: &PathHash) -> io::Result<()> {
        match h {
            PathHash::File { hash, .. } => self.put_file(path, hash),
            PathHash::Dir { hash, manifest, .. } => {
                for e in manifest {
                    self.put_file(&path.join(&e.path), &e.hash)?;
                }
                let stored = self.put_bytes(&manifest_bytes(manifest))?;
                if &stored != hash {
                    return Err(io::Error::other("directory manifest hash mismatch"));
                }
                Ok(())
            }
        }
    }

    /// Reads an object, verifying it. A corrupt object is removed.
    pub fn read_verified(&self, hash: &str) -> Result<Vec<u8>, RestoreError> {
        let path = self.object_path(hash);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RestoreError::Missing(hash.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let actual = hash_bytes(&bytes);
        if actual != hash {
            let _ = fs::remove_file(&path);
            return Err(RestoreError::Corrupt { hash: hash.to_string(), actual });
        }
        Ok(bytes)
    }

    /// The manifest of a stored directory.
    pub fn manifest(&self, hash: &str) -> Result<Vec<ManifestEntry>, RestoreError> {
        let bytes = self.read_verified(hash)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| RestoreError::Io(io::Error::other(format!("bad manifest {hash}: {e}"))))
    }

    /// Every object needed to restore `record` is present (and the manifest readable).
    pub fn can_restore(&self, record: &OutRecord) -> bool {
        if !record.is_dir() {
            return self.has(&record.hash);
        }
        match self.manifest(&record.hash) {
            Ok(m) => m.iter().all(|e| self.has(&e.hash)),
            Err(_) => false,
        }
    }

    /// Copies an object to `dest` (atomically, verifying the hash on the way).
    pub fn restore_file(&self, hash: &str, dest: &Path) -> Result<(), RestoreError> {
        let obj = self.object_path(hash);
        let mut src = match File::open(&obj) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RestoreError::Missing(hash.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        fs::create_dir_all(dest.parent().unwrap_or(Path::new(".")))?;
        let mut staged = atomic::stage(dest)?;
        let actual = copy_hashing(&mut src, staged.file())?;
        if actual != hash {
            let _ = fs::remove_file(&obj);
            return Err(RestoreError::Corrupt { hash: hash.to_string(), actual });
        }
        if fs::symlink_metadata(dest).map(|m| m.is_dir()).unwrap_or(false) {
            fs::remove_dir_all(dest)?;
        }
        staged.commit(dest, atomic::WORKSPACE_MODE, false)?;
        Ok(())
    }

    /// Restores a file or directory out. A directory is built next to `dest` and swapped in,
    /// so it ends up with exactly the recorded files.
    pub fn restore(&self, record: &OutRecord, dest: &Path) -> Result<(), RestoreError> {
        if !record.is_dir() {
            return self.restore_file(&record.hash, dest);
        }
        let manifest = self.manifest(&record.hash)?;
        let parent = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent)?;
        let staging = tempfile::Builder::new().prefix(churnflow_stages::TEMP_PREFIX).tempdir_in(parent)?;
        for e in &manifest {
            self.restore_file(&e.hash, &staging.path().join(&e.path))?;
        }
        remove_path(dest)?;
        let staged = staging.keep();
        fs::rename(&staged, dest)?;
        Ok(())
    }

    /// Starts receiving object `hash` from elsewhere (a remote store): the bytes go to a temp
    /// file next to the object's place and enter the store only if they hash to `hash`.
    pub fn incoming(&self, hash: &str) -> io::Result<Incoming> {
        let dest = self.object_path(hash);
        fs::create_dir_all(dest.parent().unwrap_or(&self.shared))?;
        let staged = atomic::stage(&dest)?;
        Ok(Incoming { staged, hasher: blake3::Hasher::new(), dest, expected: hash.to_string() })
    }

    pub fn write_run(&self, fingerprint: &str, record: &RunRecord) -> io::Result<()> {
        let path = self.run_path(fingerprint);
        fs::create_dir_all(path.parent().unwrap_or(&self.shared))?;
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        atomic::write(&path, &bytes, true)
    }

    pub fn read_run(&self, fingerprint: &str) -> Option<RunRecord> {
        let bytes = fs::read(self.run_path(fingerprint)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Every run record as (fingerprint, record); unreadable ones are skipped.
    pub fn runs(&self) -> Vec<(String, RunRecord)> {
        let Ok(entries) = fs::read_dir(self.shared.join("runs")) else { return Vec::new() };
        let mut out: Vec<(String, RunRecord)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let fp = name.strip_suffix(".json")?.to_string();
                let rec = serde_json::from_slice(&fs::read(e.path()).ok()?).ok()?;
                Some((fp, rec))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn remove_run(&self, fingerprint: &str) -> io::Result<()> {
        fs::remove_file(self.run_path(fingerprint))
    }

    /// Every object as (hash, size in bytes).
    pub fn objects(&self) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let Ok(shards) = fs::read_dir(self.objects_dir()) else { return Ok(out) };
        for shard in shards {
            let shard = shard?;
            let prefix = shard.file_name().to_string_lossy().into_owned();
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for obj in fs::read_dir(shard.path())? {
                let obj = obj?;
                let name = obj.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                out.push((format!("{prefix}{name}"), obj.metadata()?.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn remove_object(&self, hash: &str) -> io::Result<()> {
        fs::remove_file(self.object_path(hash))
    }
}

/// What [`Store::save_hand_edit`] found and did.
#[derive(Debug)]
pub(crate) enum HandEdit {
    /// Nothing there, or content that the lock or the store already knows.
    Known,
    /// Unknown content, now in the store under this hash.
    Saved(String),
    /// Unknown content that could not be stored; it will be replaced all the same.
    NotSaved(io::Error),
}

impl HandEdit {
    /// The warning to print before `out` of `stage` is replaced, if any.
    pub(crate) fn warning(&self, stage: &str, out: &str) -> Option<String> {
        match self {
            HandEdit::Known => None,
            HandEdit::Saved(hash) => Some(format!(
                "warning: {stage}: out {out} was changed outside churnflow; its content is saved in the store as {} before it is replaced",
                short_hash(hash)
            )),
            HandEdit::NotSaved(e) => Some(format!(
                "warning: {stage}: out {out} was changed by hand and could not be saved ({e}); it is replaced"
            )),
        }
    }
}

impl Store {
    /// Before an out at `path` is replaced: content that neither `known` (the hash the lock
    /// records for it) nor the store knows — a hand edit — is saved into the store first,
    /// so it is never silently lost. The one place that decides this.
    pub(crate) fn save_hand_edit(&self, state: &HashState, path: &Path, known: Option<&str>) -> HandEdit {
        let Ok(Some(current)) = state.hash_path(path) else { return HandEdit::Known };
        if known == Some(current.hash()) || self.has(current.hash()) {
            return HandEdit::Known;
        }
        match self.put(path, &current) {
            Ok(()) => HandEdit::Saved(current.hash().to_string()),
            Err(e) => HandEdit::NotSaved(e),
        }
    }
}

/// An object being received; see [`Store::incoming`]. Dropped without
/// [`Incoming::commit`], it leaves nothing behind.
pub struct Incoming {
    staged: atomic::Staged,
    hasher: blake3::Hasher,
    dest: PathBuf,
    expected: String,
}

impl Incoming {
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.staged.file().write_all(bytes)
    }

    /// Puts the object in the store if its content hashes to the expected hash.
    pub fn commit(self) -> Result<(), RestoreError> {
        let actual = self.hasher.finalize().to_hex().to_string();
        if actual != self.expected {
            return Err(RestoreError::Corrupt { hash: self.expected, actual });
        }
        self.staged.commit(&self.dest, atomic::OBJECT_MODE, false)?;
        Ok(())
    }
}

/// Removes a file or directory without following symlinks; missing is fine.
pub fn remove_path(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn copy_hashing(src: &mut File, dest: &mut File) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dest.write_all(&buf[..n])?;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_flipped_byte_in_an_object_is_detected_and_never_restored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let src = dir.path().join("out.txt");
        fs::write(&src, b"precious").unwrap();
        let h = HashState::in_memory().hash_path(&src).unwrap().unwrap();
        store.put(&src, &h).unwrap();
        let obj = store.object_path(h.hash());
        fs::set_permissions(&obj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&obj, b"precioua").unwrap();
        let dest = dir.path().join("restored.txt");
        let err = store.restore(&OutRecord::of(&h), &dest).unwrap_err();
        assert!(matches!(err, RestoreError::Corrupt { .. }), "{err}");
        assert!(!dest.exists(), "a corrupt object must not reach the workspace");
        assert!(!store.has(h.hash()), "the corrupt object is removed");
    }

    #[test]
    fn a_restored_directory_has_exactly_the_recorded_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let out = dir.path().join("d");
        fs::create_dir_all(out.join("s")).unwrap();
        fs::write(out.join("a"), b"1").unwrap();
        fs::write(out.join("s/b"), b"2").unwrap();
        let h = HashState::in_memory().hash_path(&out).unwrap().unwrap();
        store.put(&out, &h).unwrap();
        fs::write(out.join("extra"), b"junk").unwrap();
        fs::write(out.join("a"), b"edited").unwrap();
        store.restore(&OutRecord::of(&h), &out).unwrap();
        let again = HashState::in_memory().hash_path(&out).unwrap().unwrap();
        assert_eq!(again, h);
        assert!(!out.join("extra").exists());
    }
}
