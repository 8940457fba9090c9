//! What `gc` keeps: every object a kept pipeline.lock or a registry model refers to. Which
//! locks are kept (the workspace's, every experiment record's, every kept git revision's) is
//! gathered above this layer (`experiments::record::kept_locks`); this file turns them into
//! object hashes.
use super::hashing::ManifestEntry;
use super::lockfile::LockFile;
use super::objects::OutRecord;
use super::registry::Registry;
use std::collections::BTreeSet;

/// Every object something kept refers to: the outs of every lock in `locks` (directories
/// with their manifest and files, read through `manifest`) and every model of `registry`.
pub(crate) fn kept_objects(
    locks: &[LockFile],
    registry: &Registry,
    manifest: &mut dyn FnMut(&str) -> Option<Vec<ManifestEntry>>,
) -> BTreeSet<String> {
    let mut keep: BTreeSet<String> = BTreeSet::new();
    for lock in locks {
        for stage in lock.stages.values() {
            for rec in stage.outs.values() {
                keep_record(rec, manifest, &mut keep);
            }
        }
    }
    for e in registry.events() {
        if let Some(m) = e.model {
            keep.insert(m);
        }
    }
    keep
}

/// Adds an out's object(s) to `keep`: a file's hash, or a directory's manifest and files.
pub(crate) fn keep_record(
    rec: &OutRecord,
    manifest: &mut dyn FnMut(&str) -> Option<Vec<ManifestEntry>>,
    keep: &mut BTreeSet<String>,
) {
    keep.insert(rec.hash.clone());
    if rec.is_dir() {
        if let Some(entries) = manifest(&rec.hash) {
            keep.extend(entries.into_iter().map(|e| e.hash));
        }
    }
}
