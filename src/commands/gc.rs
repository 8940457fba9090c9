//! `churnflow gc`: drop store objects nothing refers to.
//!
//! Kept: everything the workspace pipeline.lock refers to, every pipeline.lock at git HEAD,
//! branches and tags, every registry model, and the run records all of whose objects are
//! kept (with those objects). Directory outs keep their manifest and every file in it.
use crate::compare::git;
use crate::error::{Error, Result};
use crate::store::lockfile::{LockFile, LOCK_FILE};
use crate::store::objects::{OutRecord, Store};
use crate::store::project_lock::ProjectLock;
use crate::store::registry::Registry;
use crate::store::short_hash;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow gc --dry-run   # what would go and how much space it frees\n  churnflow gc"
)]
pub struct GcArgs {
    /// List what would be removed and how much space it frees; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was (or would be) removed as JSON (`"schema": 1`).
    #[arg(long)]
    pub json: bool,
}

pub fn run(root: &Path, args: &GcArgs) -> Result<u8> {
    let (dry_run, as_json) = (args.dry_run, args.json);
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let mut locks = vec![LockFile::load(root)?];
    for rev in git::kept_revisions(root) {
        if let Some(text) = git::show(root, &rev, LOCK_FILE)? {
            // A lock at some revision that this churnflow can't read keeps nothing; say so.
            match LockFile::parse(&text, &format!("{}:{LOCK_FILE}", short_hash(&rev))) {
                Ok(l) => locks.push(l),
                Err(d) => eprintln!("warning: {d}"),
            }
        }
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    for lock in &locks {
        for stage in lock.stages.values() {
            for rec in stage.outs.values() {
                keep_record(&store, rec, &mut keep);
            }
        }
    }
    let registry = Registry::load(root)?;
    for e in registry.events() {
        if let Some(m) = e.model {
            keep.insert(m);
        }
    }
    let mut runs_removed = 0;
    for (fp, run) in store.runs() {
        let mut objects = BTreeSet::new();
        for r in run.outs.values() {
            keep_record(&store, r, &mut objects);
        }
        if objects.iter().all(|o| keep.contains(o)) {
            continue;
        }
        runs_removed += 1;
        if !dry_run {
            store.remove_run(&fp).map_err(|e| Error::io(format!("cannot remove run record {fp}"), e))?;
        }
    }
    let mut removed = 0u64;
    let mut freed = 0u64;
    let mut kept = 0u64;
    for (hash, size) in store.objects().map_err(|e| Error::io("cannot list the store", e))? {
        if keep.contains(&hash) {
            kept += 1;
            continue;
        }
        removed += 1;
        freed += size;
        if !dry_run {
            store.remove_object(&hash).map_err(|e| Error::io(format!("cannot remove object {hash}"), e))?;
        }
    }
    if as_json {
        crate::commands::print_json(&json!({
            "schema": 1, "dry_run": dry_run, "objects_removed": removed, "bytes_freed": freed,
            "objects_kept": kept, "run_records_removed": runs_removed,
        }))?;
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        println!(
            "{verb} {removed} object(s) ({}) and {runs_removed} run record(s); kept {kept} object(s)",
            human_bytes(freed)
        );
    }
    Ok(0)
}

/// Adds an out's object(s) to `keep`: a file's hash, or a directory's manifest and files.
fn keep_record(store: &Store, rec: &OutRecord, keep: &mut BTreeSet<String>) {
    keep.insert(rec.hash.clone());
    if rec.is_dir() {
        if let Ok(manifest) = store.manifest(&rec.hash) {
            keep.extend(manifest.into_iter().map(|e| e.hash));
        }
    }
}

pub fn human_bytes(n: u64) -> String {
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
