//! Everything churnflow keeps on disk for itself, and how it is written.
//!
//! * [`objects`] — the content-addressed store in `artifacts/`: objects, run records, logs;
//! * [`hashing`] — blake3 of files and folders, and the hash cache (`artifacts/state`);
//! * [`lockfile`] — `pipeline.lock`, the committed record of what last ran;
//! * [`registry`] — `registry/`: champion models and the hash-chained audit log;
//! * [`model_ref`] — `registry:champion` or a path, resolved to a model file and its id;
//! * [`project_lock`] — the `flock` that lets one churnflow at a time change the project;
//! * [`run_claim`] — the `flock` that lets one workspace at a time compute a given stage run;
//! * [`atomic`] — the one atomic writer (temp file, mode, rename, optional fsync);
//! * [`reachable`] — what `gc` keeps: the objects of the kept locks and registry models;
//! * [`unfinished`] — the marker of a stage run not recorded yet, so an out an interrupted or
//!   failed run left is never taken for a hand edit.
//!
//! This layer knows files and hashes, not the pipeline: of the crate it imports only
//! `error`. Of the stages crate it uses a few plain types: the model file
//! (`churnflow_stages::Model`, for a champion's training data), the promotion `Decision`
//! the registry records, and the atomic writers' `TEMP_PREFIX`.
pub(crate) mod atomic;
pub(crate) mod hashing;
pub(crate) mod lockfile;
pub(crate) mod model_ref;
pub(crate) mod objects;
pub(crate) mod project_lock;
pub(crate) mod reachable;
pub(crate) mod registry;
pub(crate) mod run_claim;
pub(crate) mod unfinished;

/// The form in which hashes are shown to people: the first 12 hex digits (the whole hash if
/// it is shorter). JSON output and files always keep the full hash.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The form in which byte counts are shown to people: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
