//! `churnflow push`, `fetch` and `pull`: the store's objects and run records to and from a
//! remote (see [`crate::remote`]).
//!
//! What moves: for each selected stage in pipeline.lock, its stored outs (directory outs with
//! their manifest and files) and its run record, so a fresh clone can `checkout` the outs
//! and `repro` can restore the stage. `--all-commits` adds the pipeline.lock of every
//! branch and tag (as `gc` keeps them); `push --run-records` adds every local run record
//! (experiments, earlier params) with its objects. `pull` is `fetch` then `checkout`.
use crate::commands::checkout::{self, CheckoutArgs};
use crate::commands::gc::{human_bytes, kept_locks};
use crate::error::{Error, Result};
use crate::exec::progress::{info, transfer_bar};
use crate::experiments::record::{ExpRecord, Records};
use crate::plan::project::Project;
use crate::remote::config::RemoteConfig;
use crate::remote::records::Sent;
use crate::remote::registry::{describe, relate, Relation};
use crate::remote::transfer::{objects_of, Summary};
use crate::remote::Remote;
use crate::store::objects::{OutRecord, Store};
use crate::store::project_lock::ProjectLock;
use crate::store::registry::{Event, Registry};
use crate::store::short_hash;
use indicatif::ProgressBar;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  churnflow push                 # every stored out in pipeline.lock\n  \
    churnflow push train evaluate  # only these stages\n  churnflow push --all-commits --run-records\n  \
    churnflow pull                 # fetch, then checkout\n  churnflow fetch --remote team --json")]
pub struct TransferArgs {
    /// Only these stages (default: all).
    pub stages: Vec<String>,
    /// The remote (default: the default remote in .churnflow/config.yaml).
    #[arg(long)]
    pub remote: Option<String>,
    /// Also what the pipeline.lock of every branch and tag refers to.
    #[arg(long)]
    pub all_commits: bool,
    /// Print what was moved as JSON (`"schema": 1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow push\n  churnflow push --run-records --remote team\n  churnflow push --registry"
)]
pub struct PushArgs {
    #[command(flatten)]
    pub common: TransferArgs,
    /// Also every local run record and its objects (earlier params, experiments).
    #[arg(long)]
    pub run_records: bool,
    /// Also the registry: new audit-log events and champion models. Refused when the remote
    /// has events this copy lacks (another machine promoted): pull them first.
    #[arg(long)]
    pub registry: bool,
    /// Also every experiment record (`churnflow exp`) and the objects its outs need.
    #[arg(long)]
    pub exps: bool,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  churnflow pull\n  churnflow fetch --registry\n  \
    churnflow pull --registry --take-remote   # after another machine promoted first")]
pub struct FetchArgs {
    #[command(flatten)]
    pub common: TransferArgs,
    /// Also the registry: the remote's newer audit-log events and champion models.
    #[arg(long)]
    pub registry: bool,
    /// With --registry, when the two audit logs differ from some event on: take the remote's
    /// and drop this copy's later events (they were never shared; re-run repro to evaluate
    /// against the new champion).
    #[arg(long, requires = "registry")]
    pub take_remote: bool,
    /// Also the remote's experiment records this copy lacks, with their objects (then `exp
    /// show` lists them and `exp apply` works).
    #[arg(long)]
    pub exps: bool,
}

/// What the selected locks refer to: stored outs, and run-record fingerprint → stage.
struct Selection {
    records: Vec<OutRecord>,
    fingerprints: BTreeMap<String, String>,
}

fn select(root: &Path, args: &TransferArgs) -> Result<(Project, Selection)> {
    let project = Project::load(root)?;
    let selected = project.select(&args.stages, false, true)?;
    let mut selection = Selection { records: Vec::new(), fingerprints: BTreeMap::new() };
    let mut stored_paths = BTreeSet::new();
    for (i, stage) in project.pipeline.stages.iter().enumerate() {
        if !selected[i] {
            continue;
        }
        let Some(entry) = project.lock.stages.get(&stage.name) else { continue };
        for out in stage.outs.iter().filter(|o| o.cache) {
            stored_paths.insert(out.path.clone());
            if let Some(record) = entry.outs.get(&out.path) {
                selection.records.push(record.clone());
            }
        }
        if stage.uses_run_records() {
            selection.fingerprints.insert(entry.fingerprint.clone(), stage.name.clone());
        }
    }
    if args.all_commits {
        let names: BTreeSet<&str> = project
            .pipeline
            .stages
            .iter()
            .enumerate()
            .filter(|(i, _)| selected[*i])
            .map(|(_, s)| s.name.as_str())
            .collect();
        // The first kept lock is the workspace's, handled above.
        for lock in kept_locks(root)?.into_iter().skip(1) {
            for (name, entry) in lock.stages.iter().filter(|(n, _)| names.contains(n.as_str())) {
                // Outs stored today; an out the pipeline no longer has counts if it was stored.
                for (path, record) in &entry.outs {
                    if stored_paths.contains(path) || project.store.has(&record.hash) {
                        selection.records.push(record.clone());
                    }
                }
                selection.fingerprints.insert(entry.fingerprint.clone(), name.clone());
            }
        }
    }
    Ok((project, selection))
}

fn open(root: &Path, name: Option<&str>) -> Result<Remote> {
    let config = RemoteConfig::load(root)?;
    let (name, entry) = config.pick(name)?;
    Remote::open(&name, &entry)
}

pub fn push(root: &Path, args: &PushArgs) -> Result<u8> {
    let (project, selection) = select(root, &args.common)?;
    let remote = open(root, args.common.remote.as_deref())?;
    let store = &project.store;
    let mut objects = objects_of(store, &selection.records);
    let mut runs: Vec<_> =
        selection.fingerprints.keys().filter_map(|fp| store.read_run(fp).map(|r| (fp.clone(), r))).collect();
    if args.run_records {
        for (fp, record) in store.runs() {
            objects.extend(objects_of(store, &record.outs.values().cloned().collect::<Vec<_>>()));
            runs.push((fp, record));
        }
        runs.sort_by(|a, b| a.0.cmp(&b.0));
        runs.dedup_by(|a, b| a.0 == b.0);
    }
    let exps = if args.exps { Records::new(store).list()? } else { Vec::new() };
    for record in &exps {
        objects.extend(objects_of(store, &Records::outs(record)));
    }
    let bar = transfer_bar(&format!("push to {}", remote.name));
    let mut summary = remote.push(store, &objects, &runs, &bar)?;
    bar.finish_and_clear();
    // A record goes only once the objects it names are there.
    if summary.failed.is_empty() {
        let records = Records::new(store);
        for record in &exps {
            match remote.put_record(&record.name, records.read_bytes(&record.name)?)? {
                Sent::Created => summary.records += 1,
                Sent::AlreadyThere => {}
                Sent::NameTaken => summary.failed.push(format!(
                    "experiment {0}: remote '{1}' has another experiment named {0}; rename yours \
                     (artifacts/exps/{0}.json and the name inside) and push again",
                    record.name, remote.name
                )),
            }
        }
    }
    let code = report("push", "sent", "to", &remote, &summary, args.common.json)?;
    if args.registry {
        push_registry(root, &remote)?;
    }
    Ok(code)
}

pub fn fetch(root: &Path, args: &FetchArgs) -> Result<u8> {
    let (project, selection) = select(root, &args.common)?;
    let remote = open(root, args.common.remote.as_deref())?;
    let _lock = ProjectLock::acquire(project.store.dir())?;
    let bar = transfer_bar(&format!("fetch from {}", remote.name));
    let mut summary = remote.fetch(&project.store, &selection.records, &selection.fingerprints, &bar)?;
    if args.exps {
        fetch_records(&remote, &project.store, &bar, &mut summary)?;
    }
    bar.finish_and_clear();
    let code = report("fetch", "received", "from", &remote, &summary, args.common.json)?;
    if args.registry {
        pull_registry(root, &remote, args.take_remote)?;
    }
    Ok(code)
}

pub fn pull(root: &Path, args: &FetchArgs) -> Result<u8> {
    fetch(root, args)?;
    checkout::run(root, &CheckoutArgs { stages: args.common.stages.clone() })
}

/// `fetch --exps`: the remote's experiment records this copy lacks, each kept once all the
/// objects of its outs arrived.
fn fetch_records(remote: &Remote, store: &Store, bar: &ProgressBar, summary: &mut Summary) -> Result<()> {
    let records = Records::new(store);
    let missing: Vec<String> = remote.record_names()?.into_iter().filter(|n| !records.exists(n)).collect();
    for (name, bytes) in remote.read_records(&missing)? {
        let record: ExpRecord = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                summary.failed.push(format!("experiment {name}: the remote's record is unreadable: {e}"));
                continue;
            }
        };
        let outs = Records::outs(&record);
        let got = remote.fetch(store, &outs, &BTreeMap::new(), bar)?;
        summary.objects += got.objects;
        summary.bytes += got.bytes;
        summary.already_there += got.already_there;
        if !got.failed.is_empty() || !outs.iter().all(|o| store.can_restore(o)) {
            summary.failed.extend(got.failed);
            summary.failed.push(format!("experiment {name}: not all its objects arrived; not kept"));
            continue;
        }
        match records.insert_bytes(&name, &bytes) {
            Ok(_) => summary.records += 1,
            Err(e) => summary.failed.push(format!("experiment {name}: {e}")),
        }
    }
    Ok(())
}

/// `push --registry`: the local audit-log events the remote lacks, each created only if
/// absent (see [`crate::remote::registry`]), after the champions' models.
fn push_registry(root: &Path, remote: &Remote) -> Result<()> {
    let registry = Registry::load(root)?;
    registry.verify().map_err(|e| {
        Error::BadInput(format!("the local registry failed verification: {e}; restore registry/ from git"))
    })?;
    let local = registry.events();
    let there = remote.registry_events()?;
    let ahead = match relate(&local, &there) {
        Relation::Same => {
            info(&format!("registry: in step with '{}' ({} event(s))", remote.name, local.len()));
            return Ok(());
        }
        Relation::LocalAhead(events) => events,
        Relation::RemoteAhead(events) => {
            return Err(Error::Remote(format!(
                "registry: remote '{}' has {} event(s) this copy lacks (newest: {}); run 'churnflow pull --registry' first",
                remote.name,
                events.len(),
                events.last().map(describe).unwrap_or_default()
            )))
        }
        Relation::Diverged { seq, remote: theirs, local: ours } => return Err(diverged(remote, seq, &theirs, &ours)),
    };
    for e in ahead.iter().filter(|e| e.sets_champion()) {
        let Some(model) = &e.model else { continue };
        let path = registry.model_path(model).ok_or_else(|| {
            Error::BadInput(format!(
                "registry: the model of event #{} is missing from registry/models",
                e.seq
            ))
        })?;
        let bytes =
            std::fs::read(&path).map_err(|err| Error::io(format!("cannot read {}", path.display()), err))?;
        remote.put_object_bytes(model, bytes)?;
    }
    for e in &ahead {
        if let Some(winner) = remote.create_event(e)? {
            return Err(Error::Remote(format!(
                "registry: another machine pushed event #{} first ({}); yours was not sent. Run \
                 'churnflow pull --registry --take-remote', then 'churnflow repro' to evaluate against the new champion",
                e.seq,
                describe(&winner)
            )));
        }
    }
    info(&format!("registry: sent {} event(s) to '{}'", ahead.len(), remote.name));
    Ok(())
}

/// `fetch --registry`: the remote's newer events and their champions' models.
fn pull_registry(root: &Path, remote: &Remote, take_remote: bool) -> Result<()> {
    let registry = Registry::load(root)?;
    let local = registry.events();
    let there = remote.registry_events()?;
    match relate(&local, &there) {
        Relation::Same => return Ok(()),
        Relation::LocalAhead(events) => {
            info(&format!(
                "registry: this copy has {} event(s) remote '{}' lacks; send them with 'churnflow push --registry'",
                events.len(),
                remote.name
            ));
            return Ok(());
        }
        Relation::Diverged { seq, remote: theirs, local: ours } if !take_remote => {
            return Err(diverged(remote, seq, &theirs, &ours))
        }
        Relation::Diverged { local: ours, .. } => {
            for e in &ours {
                eprintln!("registry: dropping this copy's unshared event {}", describe(e));
            }
        }
        Relation::RemoteAhead(_) => {}
    }
    for e in there.iter().filter(|e| e.sets_champion()) {
        let Some(model) = &e.model else { continue };
        if registry.model_path(model).is_some() {
            continue;
        }
        let bytes = remote.read_object(model)?.ok_or_else(|| {
            Error::Remote(format!(
                "registry: remote '{}' lacks the model {} of event #{}; push it with 'churnflow push --registry' from a machine that has it",
                remote.name,
                short_hash(model),
                e.seq
            ))
        })?;
        registry.store_model(model, &bytes)?;
    }
    let count = there.len();
    registry.replace_events(there)?;
    registry.verify().map_err(|e| Error::Remote(format!("registry: after the pull: {e}")))?;
    info(&format!("registry: now {count} event(s), as on '{}'", remote.name));
    Ok(())
}

fn diverged(remote: &Remote, seq: u64, theirs: &[Event], ours: &[Event]) -> Error {
    Error::Remote(format!(
        "registry: this copy and remote '{}' differ from event #{seq} on: the remote has {}, this copy has {}. \
         Another machine promoted first; run 'churnflow pull --registry --take-remote' (this copy's events from #{seq} \
         were never shared and are dropped), then 'churnflow repro' to evaluate against the new champion",
        remote.name,
        theirs.first().map(describe).unwrap_or_default(),
        ours.first().map(describe).unwrap_or_default()
    ))
}

/// For `repro --pull`, before anything runs: fetches what pipeline.lock refers to and puts
/// back the stored outs the workspace lacks (a fresh clone's) or holds in an earlier stored
/// version (after `git pull` brought a newer lock), so stages whose inputs did not change are
/// up to date instead of stale. An out whose content the store does not know — a hand edit —
/// is left alone: that is a change `repro` must see.
pub(crate) fn restore_missing_outs(root: &Path, remote: &Remote, stages: &[String]) -> Result<()> {
    let args = TransferArgs { stages: stages.to_vec(), remote: None, all_commits: false, json: false };
    let (project, selection) = select(root, &args)?;
    let summary =
        remote.fetch(&project.store, &selection.records, &selection.fingerprints, &ProgressBar::hidden())?;
    for problem in &summary.failed {
        eprintln!("warning: {problem}");
    }
    let mut restored = 0;
    for stage in &project.pipeline.stages {
        let Some(entry) = project.lock.stages.get(&stage.name) else { continue };
        for out in stage.outs.iter().filter(|o| o.cache) {
            let dest = root.join(&out.path);
            let Some(record) = entry.outs.get(&out.path) else { continue };
            if !project.store.can_restore(record) || !replaceable(&project, &dest, &record.hash) {
                continue;
            }
            match project.store.restore(record, &dest) {
                Ok(()) => restored += 1,
                Err(e) => eprintln!("warning: {}: cannot restore {}: {e}", stage.name, out.path),
            }
        }
    }
    if summary.objects > 0 || restored > 0 {
        info(&format!(
            "pull: received {} object(s) ({}) from '{}', put back {restored} missing out(s)",
            summary.objects,
            human_bytes(summary.bytes),
            remote.name
        ));
    }
    Ok(())
}

/// Whether the out at `dest` may be replaced by the stored `hash`: it is missing, or its
/// content is itself a stored object (nothing is lost by replacing it).
fn replaceable(project: &Project, dest: &Path, hash: &str) -> bool {
    match project.state.hash_path(dest) {
        Ok(None) => true,
        Ok(Some(current)) => current.hash() != hash && project.store.has(current.hash()),
        Err(_) => false,
    }
}

/// `status --remote`: per stored out in pipeline.lock, whether the local store and the remote
/// can each restore it.
pub(crate) fn remote_status(root: &Path, name: Option<&str>, as_json: bool) -> Result<u8> {
    let project = Project::load(root)?;
    let remote = open(root, name)?;
    let there = remote.object_hashes()?;
    let mut rows = Vec::new();
    for stage in &project.pipeline.stages {
        let Some(entry) = project.lock.stages.get(&stage.name) else { continue };
        for out in stage.outs.iter().filter(|o| o.cache) {
            let Some(record) = entry.outs.get(&out.path) else { continue };
            let local = project.store.can_restore(record);
            let on_remote = there.contains(&record.hash)
                && (!record.is_dir()
                    || project
                        .store
                        .manifest(&record.hash)
                        .ok()
                        .or_else(|| remote.manifest(&record.hash))
                        .is_some_and(|m| m.iter().all(|e| there.contains(&e.hash))));
            rows.push((stage.name.clone(), out.path.clone(), local, on_remote));
        }
    }
    let to_push = rows.iter().filter(|r| r.2 && !r.3).count();
    let to_fetch = rows.iter().filter(|r| !r.2 && r.3).count();
    if as_json {
        let outs: Vec<_> = rows
            .iter()
            .map(|(stage, out, local, on_remote)| {
                serde_json::json!({"stage": stage, "out": out, "local": local, "remote": on_remote})
            })
            .collect();
        crate::commands::print_json(&serde_json::json!({
            "schema": 1, "remote": remote.name, "outs": outs, "to_push": to_push, "to_fetch": to_fetch,
        }))?;
        return Ok(0);
    }
    let yes_no = |b: bool| if b { "yes" } else { "missing" };
    let width = rows.iter().map(|r| r.1.len()).max().unwrap_or(3).max(3);
    let stage_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
    println!("remote '{}' ({})", remote.name, remote.url);
    println!("  {:stage_width$}  {:width$}  {:7}  remote", "stage", "out", "local");
    for (stage, out, local, on_remote) in &rows {
        println!("  {stage:stage_width$}  {out:width$}  {:7}  {}", yes_no(*local), yes_no(*on_remote));
    }
    match (to_push, to_fetch) {
        (0, 0) => println!("in step: every stored out is on both sides (or on neither)"),
        _ => println!("{to_push} out(s) to push ('churnflow push'), {to_fetch} to fetch ('churnflow pull')"),
    }
    Ok(0)
}

/// Prints what moved (a line, or JSON on stdout); failures make it an error (exit 1).
fn report(
    command: &str,
    verb: &str,
    direction: &str,
    remote: &Remote,
    s: &Summary,
    json: bool,
) -> Result<u8> {
    if json {
        let mut value = serde_json::to_value(s).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("schema".into(), 1.into());
            map.insert("command".into(), command.into());
            map.insert("remote".into(), remote.name.clone().into());
        }
        crate::commands::print_json(&value)?;
    } else {
        let parts = if s.multipart > 0 { format!(", {} in parts", s.multipart) } else { String::new() };
        info(&format!(
            "{command}: {verb} {} object(s) ({}{parts}){} {} run record(s){} {direction} '{}' in {:.1}s; {} already there",
            s.objects,
            human_bytes(s.bytes),
            if s.records > 0 { "," } else { " and" },
            s.runs,
            if s.records > 0 { format!(" and {} experiment record(s)", s.records) } else { String::new() },
            remote.name,
            s.seconds,
            s.already_there
        ));
    }
    if s.failed.is_empty() {
        Ok(0)
    } else {
        Err(Error::Remote(format!(
            "{command}: {} problem(s); what moved is kept, run it again to retry the rest:\n  {}",
            s.failed.len(),
            s.failed.join("\n  ")
        )))
    }
}
