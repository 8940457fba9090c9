//! Content hashes of files and directories, and the hash-state cache that avoids re-reading
//! unchanged files.
//!
//! A file's hash is blake3 of its bytes (large files in chunks with blake3's rayon path, so
//! peak memory stays small). A directory's hash is blake3 of its manifest: the sorted list of
//! relative path, content hash and size of every file below it; the manifest itself goes into
//! the store so a directory can be restored file by file.
//!
//! The cache (`artifacts/state`) maps a path to its hash, keyed by (size, mtime_ns, inode).
//! An entry whose mtime is not safely older than the moment it was hashed is not trusted
//! (the "racy git" problem: an edit within the same clock tick keeps the mtime), so such a
//! file is hashed again next time.
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// How much older than its hashing time a file's mtime must be for the cache to trust it.
/// Generous enough for filesystems with coarse timestamps.
const RACY_NS: i64 = 2_000_000_000;
/// Files up to this size are hashed in one read; larger ones in chunks on all cores.
const SMALL_FILE: u64 = 1 << 20;
const STATE_VERSION: u32 = 2;
/// Large files are mapped and hashed one window at a time, so peak memory stays at one
/// window however big the file is.
const WINDOW: u64 = 64 << 20;

/// The hash of a file or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathHash {
    File { hash: String, size: u64 },
    Dir { hash: String, size: u64, manifest: Vec<ManifestEntry> },
}

impl PathHash {
    pub fn hash(&self) -> &str {
        match self {
            PathHash::File { hash, .. } | PathHash::Dir { hash, .. } => hash,
        }
    }
}

/// One file of a directory manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    pub hash: String,
    pub size: u64,
}

/// The canonical bytes of a manifest (what its hash is over, and what the store keeps).
pub fn manifest_bytes(entries: &[ManifestEntry]) -> Vec<u8> {
    serde_json::to_vec(entries).unwrap_or_default()
}

pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Hashes a file's content without the cache.
pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut hasher = blake3::Hasher::new();
    if size <= SMALL_FILE {
        let mut buf = Vec::with_capacity(size as usize);
        file.read_to_end(&mut buf)?;
        hasher.update(&buf);
        return Ok((hasher.finalize().to_hex().to_string(), buf.len() as u64));
    }
    let mut offset = 0u64;
    while offset < size {
        let len = WINDOW.min(size - offset) as usize;
        // SAFETY: the map is read-only and dropped before the next window; if another process
        // truncates the file meanwhile we may fault, as any mmap reader may — the same risk
        // b3sum takes. The hash-state cache re-checks size and mtime after hashing.
        let map = unsafe { memmap2::MmapOptions::new().offset(offset).len(len).map(&file)? };
        hasher.update_rayon(&map);
        offset += len as u64;
    }
    Ok((hasher.finalize().to_hex().to_string(), size))
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

fn mtime_ns(meta: &Metadata) -> i64 {
    meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec())
}

#[derive(Debug, Clone)]
struct Entry {
    size: u64,
    mtime_ns: i64,
    ino: u64,
    hash: String,
    hashed_at_ns: i64,
}

/// On disk, one compact row per path: (path, size, mtime_ns, inode, hash, hashed_at_ns).
type Row = (String, u64, i64, u64, String, i64);

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    entries: Vec<Row>,
}

/// The hash-state cache: safe to share between threads.
pub struct HashState {
    file: Option<PathBuf>,
    entries: RwLock<HashMap<String, Entry>>,
    dirty: AtomicBool,
}

impl HashState {
    /// Loads the cache from `file`; a missing or unreadable cache is simply empty.
    pub fn load(file: PathBuf) -> HashState {
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<StateFile>(&b).ok())
            .filter(|s| s.version == STATE_VERSION)
            .map(|s| {
                s.entries
                    .into_iter()
                    .map(|(path, size, mtime_ns, ino, hash, hashed_at_ns)| {
                        (path, Entry { size, mtime_ns, ino, hash, hashed_at_ns })
                    })
                    .collect()
            })
            .unwrap_or_default();
        HashState { file: Some(file), entries: RwLock::new(entries), dirty: AtomicBool::new(false) }
    }

    /// The cache of a copy of the tree at `from` made at `to` with hard links (an experiment's
    /// scratch workspace): every entry under `from`, keyed under `to`, saved to `file`. A
    /// hard link has the same size, mtime and inode, so the copy is not hashed again.
    pub fn rebased(&self, from: &Path, to: &Path, file: PathBuf) -> HashState {
        let entries = match self.entries.read() {
            Ok(e) => e
                .iter()
                .filter_map(|(key, entry)| {
                    let rel = Path::new(key).strip_prefix(from).ok()?;
                    Some((to.join(rel).to_string_lossy().into_owned(), entry.clone()))
                })
                .collect(),
            Err(_) => HashMap::new(),
        };
        HashState { file: Some(file), entries: RwLock::new(entries), dirty: AtomicBool::new(true) }
    }

    /// A cache that is never saved.
    #[cfg(test)]
    pub fn in_memory() -> HashState {
        HashState { file: None, entries: RwLock::new(HashMap::new()), dirty: AtomicBool::new(false) }
    }

    /// Writes the cache back if anything changed (atomically; losing it only costs time).
    pub fn save(&self) -> io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let entries: Vec<Row> = match self.entries.read() {
            Ok(e) => e
                .iter()
                .map(|(p, e)| (p.clone(), e.size, e.mtime_ns, e.ino, e.hash.clone(), e.hashed_at_ns))
                .collect(),
            Err(_) => return Ok(()),
        };
        let bytes =
            serde_json::to_vec(&StateFile { version: STATE_VERSION, entries }).map_err(io::Error::other)?;
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::store::atomic::write(file, &bytes, false)
    }

    fn cached(&self, key: &str, meta: &Metadata) -> Option<String> {
        let entries = self.entries.read().ok()?;
        let e = entries.get(key)?;
        let m = mtime_ns(meta);
        (e.size == meta.len() && e.mtime_ns == m && e.ino == meta.ino() && m + RACY_NS <= e.hashed_at_ns)
            .then(|| e.hash.clone())
    }

    fn remember(&self, key: String, meta: &Metadata, hash: &str, hashed_at_ns: i64) {
        if let Ok(mut entries) = self.entries.write() {
            let entry = Entry {
                size: meta.len(),
                mtime_ns: mtime_ns(meta),
                ino: meta.ino(),
                hash: hash.to_string(),
                hashed_at_ns,
            };
            entries.insert(key, entry);
            self.dirty.store(true, Ordering::SeqCst);
        }
    }

    /// Records a hash known from elsewhere (e.g. a file just restored from the store).
    pub fn record(&self, path: &Path, hash: &str) {
        if let Ok(meta) = std::fs::metadata(path) {
            self.remember(path.to_string_lossy().into_owned(), &meta, hash, now_ns());
        }
    }

    /// The hash of one file, through the cache.
    pub fn file_hash(&self, path: &Path, meta: &Metadata) -> io::Result<String> {
        let key = path.to_string_lossy().into_owned();
        if let Some(h) = self.cached(&key, meta) {
            return Ok(h);
        }
        let started = now_ns();
        let (hash, _) = hash_file(path)?;
        // Stat again: if the file changed while we read it, don't cache the result.
        let after = std::fs::metadata(path)?;
        if after.len() == meta.len() && mtime_ns(&after) == mtime_ns(meta) {
            self.remember(key, &after, &hash, started);
        }
        Ok(hash)
    }

    /// The hash of a file or directory (symlinks are followed), or `None` if it is missing.
    pub fn hash_path(&self, path: &Path) -> io::Result<Option<PathHash>> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.is_file() {
            let hash = self.file_hash(path, &meta)?;
            return Ok(Some(PathHash::File { hash, size: meta.len() }));
        }
        if !meta.is_dir() {
            return Err(io::Error::other(format!("{} is neither a file nor a directory", path.display())));
        }
        let mut files = Vec::new();
        list_files(path, "", &mut files, 0)?;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        use rayon::prelude::*;
        let manifest: Vec<ManifestEntry> = files
            .par_iter()
            .with_min_len(256)
            .map(|(rel, full)| {
                let meta = std::fs::metadata(full)?;
                Ok(ManifestEntry { path: rel.clone(), hash: self.file_hash(full, &meta)?, size: meta.len() })
            })
            .collect::<io::Result<_>>()?;
        let size = manifest.iter().map(|e| e.size).sum();
        let hash = hash_bytes(&manifest_bytes(&manifest));
        Ok(Some(PathHash::Dir { hash, size, manifest }))
    }
}

/// Every file below `dir` as (relative path, full path). Symlinks are followed.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>, depth: usize) -> io::Result<()> {
    if depth > 64 {
        return Err(io::Error::other(format!("{} is nested too deeply (a symlink loop?)", dir.display())));
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let full = entry.path();
        // The directory entry's type needs no stat, except for symlinks.
        let mut kind = entry.file_type()?;
        if kind.is_symlink() {
            kind = std::fs::metadata(&full)?.file_type();
        }
        if kind.is_dir() {
            list_files(&full, &rel, out, depth + 1)?;
        } else if kind.is_file() {
            out.push((rel, full));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_hash_equals_one_shot_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..(2 * WINDOW as usize + 12345)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (h, size) = hash_file(&path).unwrap();
        assert_eq!(h, blake3::hash(&data).to_hex().to_string());
        assert_eq!(size, data.len() as u64);
    }

    #[test]
    fn racy_entries_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let state = HashState::in_memory();
        let meta = std::fs::metadata(&path).unwrap();
        let h1 = state.file_hash(&path, &meta).unwrap();
        // Same size, and (very likely) the same mtime tick: the cache must not answer.
        std::fs::write(&path, b"two").unwrap();
        let meta2 = std::fs::metadata(&path).unwrap();
        assert!(state.cached(&path.to_string_lossy(), &meta2).is_none());
        let h2 = state.file_hash(&path, &meta2).unwrap();
        assert_ne!(h1, h2);
    }

    #[test]
    fn old_entries_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"content").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let state = HashState::in_memory();
        state.remember(path.to_string_lossy().into_owned(), &meta, "cafe", mtime_ns(&meta) + RACY_NS);
        assert_eq!(state.file_hash(&path, &meta).unwrap(), "cafe");
    }

    #[test]
    fn directory_hash_depends_on_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d/sub")).unwrap();
        std::fs::write(dir.path().join("d/a"), b"1").unwrap();
        std::fs::write(dir.path().join("d/sub/b"), b"2").unwrap();
        let state = HashState::in_memory();
        let h1 = state.hash_path(&dir.path().join("d")).unwrap().unwrap();
        let PathHash::Dir { manifest, .. } = &h1 else { panic!("expected a directory") };
        assert_eq!(manifest.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), vec!["a", "sub/b"]);
        std::fs::rename(dir.path().join("d/a"), dir.path().join("d/c")).unwrap();
        let h2 = state.hash_path(&dir.path().join("d")).unwrap().unwrap();
        assert_ne!(h1.hash(), h2.hash());
    }
}
