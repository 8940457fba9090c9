//! `churnflow gc`: drop store objects nothing refers to.
//!
//! Kept: everything the workspace pipeline.lock and every experiment record refer to, every pipeline.lock at git HEAD,
//! branches and tags, every registry model, and the run records all of whose objects are
//! kept (with those objects). Directory outs keep their manifest and every file in it.
use crate::error::{Error, Result};
use crate::experiments::record::kept_locks;
use crate::remote::config::RemoteConfig;
use crate::remote::Remote;
use crate::store::hashing::ManifestEntry;
use crate::store::human_bytes;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use crate::store::reachable::{self, keep_record};
use crate::store::registry::Registry;
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
    /// Collect on a remote store instead (the default remote when no NAME is given): only
    /// lists what would go unless --yes.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub remote: Option<String>,
    /// With --remote: delete what nothing refers to (without it, a dry run).
    #[arg(long, requires = "remote")]
    pub yes: bool,
}

pub fn run(root: &Path, args: &GcArgs) -> Result<u8> {
    if let Some(name) = &args.remote {
        return remote_gc(
            root,
            Some(name.as_str()).filter(|n| !n.is_empty()),
            !args.yes || args.dry_run,
            args.json,
        );
    }
    let (dry_run, as_json) = (args.dry_run, args.json);
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let keep = kept_objects(root, &mut |hash| store.manifest(hash).ok())?;
    if !dry_run {
        leftovers(&store);
    }
    let mut runs_removed = 0;
    for (fp, run) in store.runs() {
        let mut objects = BTreeSet::new();
        for r in run.outs.values() {
            keep_record(r, &mut |hash| store.manifest(hash).ok(), &mut objects);
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

/// `gc --remote`: the same rule on a remote — objects no kept lock or registry model (this
/// copy's or the remote's registry) refers to go, and run records whose objects are not all kept. Manifests are read from the local
/// store, else from the remote. Under the project lock, so no local `repro` pushes meanwhile;
/// a colleague's concurrent `push` of objects this run does not know can still lose them,
/// which is why it is a dry run unless `--yes`.
fn remote_gc(root: &Path, name: Option<&str>, dry_run: bool, as_json: bool) -> Result<u8> {
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let config = RemoteConfig::load(root)?;
    let (name, entry) = config.pick(name)?;
    let remote = Remote::open(root, &name, &entry)?;
    let mut manifest = |hash: &str| store.manifest(hash).ok().or_else(|| remote.manifest(hash));
    let mut keep = kept_objects(root, &mut manifest)?;
    // Models the remote's registry names, including events this copy has not pulled.
    keep.extend(remote.registry_events()?.into_iter().filter_map(|e| e.model));
    let mut runs_removed = Vec::new();
    for fp in remote.run_fingerprints()? {
        let record = match remote.run_record(&fp) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                eprintln!("warning: {e}; kept");
                continue;
            }
        };
        let mut objects = BTreeSet::new();
        for r in record.outs.values() {
            keep_record(r, &mut manifest, &mut objects);
        }
        if !objects.iter().all(|o| keep.contains(o)) {
            runs_removed.push(fp);
        }
    }
    let (mut removed, mut freed, mut kept) = (Vec::new(), 0u64, 0u64);
    for (hash, size) in remote.objects()? {
        if keep.contains(&hash) {
            kept += 1;
        } else {
            removed.push(hash);
            freed += size;
        }
    }
    let failed = if dry_run { Vec::new() } else { remote.delete(&removed, &runs_removed) };
    if as_json {
        crate::commands::print_json(&json!({
            "schema": 1, "remote": name, "dry_run": dry_run, "objects_removed": removed.len(),
            "bytes_freed": freed, "objects_kept": kept, "run_records_removed": runs_removed.len(),
            "failed": failed,
        }))?;
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        println!(
            "remote '{name}': {verb} {} object(s) ({}) and {} run record(s); kept {kept} object(s){}",
            removed.len(),
            human_bytes(freed),
            runs_removed.len(),
            if dry_run { " (dry run: add --yes to delete)" } else { "" }
        );
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(Error::Remote(format!("gc --remote: could not delete:\n  {}", failed.join("\n  "))))
    }
}

/// Every object something kept refers to (see [`crate::store::reachable`]).
fn kept_objects(
    root: &Path,
    manifest: &mut dyn FnMut(&str) -> Option<Vec<ManifestEntry>>,
) -> Result<BTreeSet<String>> {
    let locks = kept_locks(root)?;
    let registry = Registry::load(root)?;
    Ok(reachable::kept_objects(&locks, &registry, manifest))
}

/// What experiments leave behind when they are killed: scratch workspaces in
/// `artifacts/tmp/exp-*` and claim files. Under the project lock no experiment is running.
fn leftovers(store: &Store) {
    if let Ok(entries) = std::fs::read_dir(store.dir().join("tmp")) {
        for e in entries.filter_map(|e| e.ok()) {
            if e.file_name().to_string_lossy().starts_with("exp-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(store.shared_dir().join("claims"));
}
