//! `churnflow push`, `fetch` and `pull`: the store's objects and run records to and from a
//! remote (see [`crate::remote`]).
//!
//! What moves: for each selected stage in pipeline.lock, its stored outs (directory outs with
//! their manifest and files) and its run record, so a fresh clone can `checkout` the outs
//! and `repro` can restore the stage. `--all-commits` adds the pipeline.lock of every
//! branch and tag (as `gc` keeps them); `push --run-records` adds every local run record
//! (experiments, earlier params) with its objects. `pull` is `fetch` then `checkout`.
use crate::error::Result;
use crate::exec::checkout::checkout;
use crate::exec::progress::{info, transfer_bar};
use crate::experiments::record::{kept_locks, ExpRecord, Records};
use crate::plan::project::{Project, Selection};
use crate::remote::records::Sent;
use crate::remote::registry;
use crate::remote::transfer::{objects_of, push_set, TransferSummary};
use crate::remote::Remote;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use indicatif::ProgressBar;
use std::collections::BTreeMap;
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

/// `fetch --help`'s examples (the two commands share [`FetchArgs`]).
pub const FETCH_EXAMPLES: &str =
    "Examples:\n  churnflow fetch                # the objects pipeline.lock needs, into artifacts/\n  \
    churnflow fetch --registry\n  churnflow fetch --exps --remote team";
/// `pull --help`'s examples.
pub const PULL_EXAMPLES: &str = "Examples:\n  churnflow pull\n  churnflow pull --registry\n  \
    churnflow pull --registry --take-remote   # after another machine promoted first";

#[derive(clap::Args)]
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

/// What the selected stages' locks refer to; `--all-commits` adds every other kept lock.
fn select(root: &Path, args: &TransferArgs) -> Result<(Project, Selection)> {
    let project = Project::load(root)?;
    // The first kept lock is the workspace's, already the project's.
    let more = if args.all_commits { kept_locks(root)?.into_iter().skip(1).collect() } else { Vec::new() };
    let selection = project.transfer_selection(&args.stages, &more)?;
    Ok((project, selection))
}

pub fn push(root: &Path, args: &PushArgs) -> Result<u8> {
    let (project, selection) = select(root, &args.common)?;
    let remote = Remote::configured(root, args.common.remote.as_deref())?;
    let store = &project.store;
    let (mut objects, runs) = push_set(store, &selection.records, &selection.fingerprints, args.run_records);
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
        info(&registry::push(root, &remote)?);
    }
    Ok(code)
}

pub fn fetch(root: &Path, args: &FetchArgs) -> Result<u8> {
    let (project, selection) = select(root, &args.common)?;
    let remote = Remote::configured(root, args.common.remote.as_deref())?;
    let _lock = ProjectLock::acquire(project.store.dir())?;
    let bar = transfer_bar(&format!("fetch from {}", remote.name));
    let mut summary = remote.fetch(&project.store, &selection.records, &selection.fingerprints, &bar)?;
    if args.exps {
        fetch_records(&remote, &project.store, &bar, &mut summary)?;
    }
    bar.finish_and_clear();
    let code = report("fetch", "received", "from", &remote, &summary, args.common.json)?;
    if args.registry {
        if let Some(line) = registry::pull(root, &remote, args.take_remote)? {
            info(&line);
        }
    }
    Ok(code)
}

pub fn pull(root: &Path, args: &FetchArgs) -> Result<u8> {
    fetch(root, args)?;
    checkout(root, &args.common.stages)?;
    Ok(0)
}

/// `fetch --exps`: the remote's experiment records this copy lacks, each kept once all the
/// objects of its outs arrived.
fn fetch_records(
    remote: &Remote,
    store: &Store,
    bar: &ProgressBar,
    summary: &mut TransferSummary,
) -> Result<()> {
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

/// Prints what moved (a line, or JSON on stdout); failures make it an error (exit 1).
fn report(
    command: &str,
    verb: &str,
    direction: &str,
    remote: &Remote,
    s: &TransferSummary,
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
        info(&s.line(command, verb, direction, &remote.name));
    }
    s.outcome(command)
}
