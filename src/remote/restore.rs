//! `repro --pull`, before anything runs: fetch what pipeline.lock refers to and put back the
//! stored outs the workspace lacks.
use super::Remote;
use crate::error::Result;
use crate::store::hashing::HashState;
use crate::store::human_bytes;
use crate::store::objects::{OutRecord, Store};
use indicatif::ProgressBar;
use std::collections::BTreeMap;
use std::path::Path;

/// Fetches `records` and the run records of `fingerprints`, then puts back each of `outs`
/// (stage, out path, record) that the workspace at `root` lacks (a fresh clone's) or holds in
/// an earlier stored version (after `git pull` brought a newer lock), so stages whose inputs
/// did not change are up to date instead of stale. An out whose content the store does not
/// know — a hand edit — is left alone: that is a change `repro` must see. Returns the line to
/// show when anything arrived or was put back.
pub(crate) fn restore_missing_outs(
    root: &Path,
    remote: &Remote,
    store: &Store,
    state: &HashState,
    records: &[OutRecord],
    fingerprints: &BTreeMap<String, String>,
    outs: &[(String, String, OutRecord)],
) -> Result<Option<String>> {
    let summary = remote.fetch(store, records, fingerprints, &ProgressBar::hidden())?;
    // One line, not one per object: after the probe these are objects the remote lacks or a
    // connection that broke mid-way, and the stages that needed them run here.
    if let Some(first) = summary.failed.first() {
        let n = summary.failed.len();
        let more = if n > 1 { format!(" ({} more like it)", n - 1) } else { String::new() };
        eprintln!(
            "warning: pull: {n} object(s) or run record(s) not fetched from '{}', so the stages needing \
             them run here: {first}{more}",
            remote.name
        );
    }
    let mut restored = 0;
    for (stage, path, record) in outs {
        let dest = root.join(path);
        if !store.can_restore(record) || !replaceable(store, state, &dest, &record.hash) {
            continue;
        }
        match store.restore(record, &dest) {
            Ok(()) => restored += 1,
            Err(e) => eprintln!("warning: {stage}: cannot restore {path}: {e}"),
        }
    }
    if summary.objects > 0 || restored > 0 {
        return Ok(Some(format!(
            "pull: received {} object(s) ({}) from '{}', put back {restored} missing out(s)",
            summary.objects,
            human_bytes(summary.bytes),
            remote.name
        )));
    }
    Ok(None)
}

/// Whether the out at `dest` may be replaced by the stored `hash`: it is missing, or its
/// content is itself a stored object (nothing is lost by replacing it).
fn replaceable(store: &Store, state: &HashState, dest: &Path, hash: &str) -> bool {
    match state.hash_path(dest) {
        Ok(None) => true,
        Ok(Some(current)) => current.hash() != hash && store.has(current.hash()),
        Err(_) => false,
    }
}
