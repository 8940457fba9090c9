//! Moving objects and run records between the local store and a remote.
//!
//! A push learns what the remote has from one listing of `objects/` (the store pages it, 1,000
//! keys per request on S3), never one request per object; a fetch asks only for what the
//! local store lacks (a 404 means the remote lacks it too). Transfers run [`PARALLEL`] at a
//! time; objects of [`MULTIPART`] bytes or more go as multipart uploads. Nothing corrupt
//! crosses: a local object is hashed before it is sent (a damaged one is reported, not
//! uploaded) and a download is hashed before it enters the local store
//! ([`Store::incoming`]). Failed requests are retried with backoff by the client (see
//! [`super::Remote::open`]); what still fails is listed in the [`TransferSummary`] and the rest goes
//! on, so running the command again moves only what is still missing.
use super::Remote;
use crate::error::{Error, Result};
use crate::store::hashing::ManifestEntry;
use crate::store::objects::{OutRecord, RestoreError, RunRecord, Store};
use crate::store::{human_bytes, short_hash};
use futures::StreamExt;
use indicatif::ProgressBar;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::time::Instant;

/// What a remote holds as far as this process knows (see `Remote::known`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Known {
    objects: HashSet<String>,
    runs: HashSet<String>,
}

/// Everything this process has sent to a remote, over all its pushes (`repro --push` pushes
/// stage by stage and once more at the end; its last line reports the whole run).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pushed {
    /// Object hash → bytes.
    objects: BTreeMap<String, u64>,
    runs: usize,
    multipart: usize,
    seconds: f64,
}

/// Objects of at least this many bytes are sent in parts of this size.
pub(crate) const MULTIPART: u64 = 32 << 20;
/// Requests in flight at once.
const PARALLEL: usize = 8;

/// What a push or fetch did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct TransferSummary {
    /// Objects sent (push) or received (fetch), and their bytes.
    pub objects: usize,
    pub bytes: u64,
    /// Objects that were already on the other side.
    pub already_there: usize,
    /// Run records sent or received.
    pub runs: usize,
    /// Experiment records sent or received (`--exps`).
    pub records: usize,
    /// Multipart uploads among the objects sent.
    pub multipart: usize,
    /// One line per object or record that could not be moved, with why.
    pub failed: Vec<String>,
    pub seconds: f64,
}

impl TransferSummary {
    /// The line a push or fetch shows: `push: sent 3 object(s) (1.2 KiB) and 2 run record(s)
    /// to 'team' in 0.4s; 5 already there`.
    pub(crate) fn line(&self, command: &str, verb: &str, direction: &str, remote: &str) -> String {
        let s = self;
        let parts = if s.multipart > 0 { format!(", {} in parts", s.multipart) } else { String::new() };
        format!(
            "{command}: {verb} {} object(s) ({}{parts}){} {} run record(s){} {direction} '{}' in {:.1}s; {} already there",
            s.objects,
            human_bytes(s.bytes),
            if s.records > 0 { "," } else { " and" },
            s.runs,
            if s.records > 0 { format!(" and {} experiment record(s)", s.records) } else { String::new() },
            remote,
            s.seconds,
            s.already_there
        )
    }

    /// Exit 0 when everything moved; else the error listing what did not (exit 1).
    pub(crate) fn outcome(&self, command: &str) -> Result<u8> {
        if self.failed.is_empty() {
            Ok(0)
        } else {
            Err(Error::Remote(format!(
                "{command}: {} problem(s); what moved is kept, run it again to retry the rest:\n  {}",
                self.failed.len(),
                self.failed.join("\n  ")
            )))
        }
    }
}

/// What a push of `records` sends: their objects, and the local run records of
/// `fingerprints` (`all_runs`: every local run record, with its objects, too).
pub(crate) fn push_set(
    store: &Store,
    records: &[OutRecord],
    fingerprints: &BTreeMap<String, String>,
    all_runs: bool,
) -> (BTreeSet<String>, Vec<(String, RunRecord)>) {
    let mut objects = objects_of(store, records);
    let mut runs: Vec<_> =
        fingerprints.keys().filter_map(|fp| store.read_run(fp).map(|r| (fp.clone(), r))).collect();
    if all_runs {
        for (fp, record) in store.runs() {
            objects.extend(objects_of(store, &record.outs.values().cloned().collect::<Vec<_>>()));
            runs.push((fp, record));
        }
        runs.sort_by(|a, b| a.0.cmp(&b.0));
        runs.dedup_by(|a, b| a.0 == b.0);
    }
    (objects, runs)
}

/// Every object needed to restore `records` from the local store: each out's hash and, for a
/// directory, its files (read from the local manifest). A manifest missing locally is left
/// to the caller to report (its hash is still listed).
pub(crate) fn objects_of(store: &Store, records: &[OutRecord]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in records {
        out.insert(r.hash.clone());
        if r.is_dir() {
            if let Ok(manifest) = store.manifest(&r.hash) {
                out.extend(manifest.into_iter().map(|e| e.hash));
            }
        }
    }
    out
}

/// The objects done so far, shown on the bar next to the bytes.
struct ObjectCount<'a> {
    bar: &'a ProgressBar,
    done: std::sync::atomic::AtomicUsize,
    total: usize,
}

impl<'a> ObjectCount<'a> {
    fn new(bar: &'a ProgressBar, total: usize) -> Self {
        bar.set_message(format!("0/{total} objects"));
        ObjectCount { bar, done: Default::default(), total }
    }

    fn one_more(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{done}/{} objects", self.total));
    }
}

impl Remote {
    /// The hashes of every object on the remote.
    pub(crate) fn object_hashes(&self) -> Result<HashSet<String>> {
        Ok(self.objects()?.into_iter().map(|(hash, _)| hash).collect())
    }

    /// Every object on the remote with its size in bytes.
    pub(crate) fn objects(&self) -> Result<Vec<(String, u64)>> {
        self.runtime.block_on(self.list_names("objects", 2))
    }

    /// The fingerprints of every run record on the remote.
    pub(crate) fn run_fingerprints(&self) -> Result<HashSet<String>> {
        let names = self.runtime.block_on(self.list_names("runs", 1))?;
        Ok(names.into_iter().filter_map(|(n, _)| n.strip_suffix(".json").map(str::to_string)).collect())
    }

    /// The keys under `folder`, each as its last `parts` path segments joined (an object's
    /// two segments `ab/cdef…` make its hash), with its size. A folder that does not exist is
    /// empty; names starting with `.` (temp files of a folder remote) are not listed.
    pub(super) async fn list_names(&self, folder: &str, parts: usize) -> Result<Vec<(String, u64)>> {
        let prefix = self.folder(folder);
        let mut listing = self.store.list(Some(&prefix));
        let mut names = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = match meta {
                Ok(m) => m,
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(self.failed(format!("cannot list {folder}/"), e)),
            };
            let segments: Vec<String> = meta.location.parts().map(|p| p.as_ref().to_string()).collect();
            if segments.len() >= parts && !segments.last().is_some_and(|s| s.starts_with('.')) {
                names.push((segments[segments.len() - parts..].concat(), meta.size));
            }
        }
        Ok(names)
    }

    pub(super) fn failed(&self, what: String, e: object_store::Error) -> Error {
        let hint = match e {
            object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. } => {
                "\n  help: check the credentials in the environment (AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY) — \
                 churnflow never stores them; see docs/remote.md"
            }
            _ => "",
        };
        Error::Remote(format!("remote '{}' ({}): {what}: {e}{hint}", self.name, self.url))
    }

    /// Sends `objects` (hashes) and `runs` that the remote does not have.
    pub(crate) fn push(
        &self,
        store: &Store,
        objects: &BTreeSet<String>,
        runs: &[(String, RunRecord)],
        bar: &ProgressBar,
    ) -> Result<TransferSummary> {
        let started = Instant::now();
        let cached = self.known.lock().ok().and_then(|k| k.clone());
        let Known { objects: there, runs: mut runs_there } = match cached {
            Some(known) => known,
            None => Known { objects: self.object_hashes()?, runs: self.run_fingerprints()? },
        };
        let mut summary = TransferSummary::default();
        let mut todo = Vec::new();
        for hash in objects {
            if there.contains(hash) {
                summary.already_there += 1;
            } else {
                match std::fs::metadata(store.object_path(hash)) {
                    Ok(m) => todo.push((hash.clone(), m.len())),
                    Err(_) => summary.failed.push(format!(
                        "object {} is not in the local store (run 'churnflow repro' or 'churnflow fetch' first)",
                        short_hash(hash)
                    )),
                }
            }
        }
        bar.set_length(todo.iter().map(|(_, n)| n).sum());
        let sent = ObjectCount::new(bar, todo.len());
        let sent = &sent;
        let results: Vec<(String, u64, std::result::Result<bool, String>)> = self.runtime.block_on(
            futures::stream::iter(todo)
                .map(|(hash, size)| async move {
                    let result = self.upload(store, &hash, size).await;
                    if result.is_ok() {
                        bar.inc(size);
                        sent.one_more();
                    }
                    (hash, size, result)
                })
                .buffer_unordered(PARALLEL)
                .collect(),
        );
        let mut arrived = there;
        let mut sent_now = BTreeMap::new();
        for (hash, size, result) in results {
            match result {
                Ok(multipart) => {
                    summary.objects += 1;
                    summary.bytes += size;
                    summary.multipart += usize::from(multipart);
                    sent_now.insert(hash.clone(), size);
                    arrived.insert(hash);
                }
                Err(e) => summary.failed.push(e),
            }
        }
        for (fingerprint, record) in runs {
            if runs_there.contains(fingerprint) {
                continue;
            }
            // A run record goes only once every object it needs is there.
            let needed = objects_of(store, &record.outs.values().cloned().collect::<Vec<_>>());
            if !needed.iter().all(|h| arrived.contains(h)) {
                continue;
            }
            let short = short_hash(fingerprint);
            let bytes = match serde_json::to_vec_pretty(record) {
                Ok(b) => b,
                Err(e) => {
                    summary.failed.push(format!("run record {short}: cannot encode it: {e}"));
                    continue;
                }
            };
            match self.runtime.block_on(self.store.put(&self.run_path(fingerprint), PutPayload::from(bytes)))
            {
                Ok(_) => {
                    summary.runs += 1;
                    runs_there.insert(fingerprint.clone());
                }
                Err(e) => summary.failed.push(format!("run record {short}: {e}")),
            }
        }
        // Merged, not replaced: stages pushing at once each add what they sent.
        if let Ok(mut known) = self.known.lock() {
            let known = known.get_or_insert_with(Known::default);
            known.objects.extend(arrived);
            known.runs.extend(runs_there);
        }
        summary.seconds = started.elapsed().as_secs_f64();
        if let Ok(mut pushed) = self.pushed.lock() {
            pushed.objects.extend(sent_now);
            pushed.runs += summary.runs;
            pushed.multipart += summary.multipart;
            pushed.seconds += summary.seconds;
        }
        Ok(summary)
    }

    /// The whole process's pushes as one summary, given its last push `last` of `objects`
    /// and what had been sent before it (`before`, taken with [`Remote::pushed`]): sent is
    /// everything sent by any push; already there counts only what was on the remote before
    /// this process sent it.
    pub(crate) fn run_total(
        &self,
        before: &Pushed,
        last: TransferSummary,
        objects: &BTreeSet<String>,
    ) -> TransferSummary {
        let all = self.pushed();
        let sent_earlier = objects.iter().filter(|h| before.objects.contains_key(*h)).count();
        TransferSummary {
            objects: all.objects.len(),
            bytes: all.objects.values().sum(),
            already_there: last.already_there.saturating_sub(sent_earlier),
            runs: all.runs,
            multipart: all.multipart,
            seconds: all.seconds,
            ..last
        }
    }

    /// What this process has sent to the remote so far.
    pub(crate) fn pushed(&self) -> Pushed {
        self.pushed.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Sends one local object, checking its hash on the way; returns whether it went in parts.
    async fn upload(&self, store: &Store, hash: &str, size: u64) -> std::result::Result<bool, String> {
        let local = store.object_path(hash);
        let location = self.object_path(hash);
        let short = short_hash(hash);
        let corrupt = |actual: String| {
            format!(
                "object {short} in the local store is corrupt (its content hashes to {}); not sent — \
                 run 'churnflow gc' and 'churnflow repro' to rebuild it",
                short_hash(&actual)
            )
        };
        let mut file = std::fs::File::open(&local).map_err(|e| format!("object {short}: {e}"))?;
        if size < MULTIPART {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(|e| format!("object {short}: {e}"))?;
            let actual = blake3::hash(&bytes).to_hex().to_string();
            if actual != hash {
                return Err(corrupt(actual));
            }
            self.store
                .put(&location, PutPayload::from(bytes))
                .await
                .map_err(|e| format!("object {short}: {e}"))?;
            return Ok(false);
        }
        let upload = self.store.put_multipart(&location).await.map_err(|e| format!("object {short}: {e}"))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART as usize);
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(format!("object {short}: {e}"));
                }
            };
            hasher.update(&buffer[..n]);
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(format!("object {short}: {e}"));
            }
            writer.write(&buffer[..n]);
        }
        let actual = hasher.finalize().to_hex().to_string();
        if actual != hash {
            let _ = writer.abort().await;
            return Err(corrupt(actual));
        }
        writer.finish().await.map_err(|e| format!("object {short}: {e}"))?;
        Ok(true)
    }

    /// Receives what restoring `records` needs and the local store lacks, and the run records
    /// `fingerprints` (fingerprint → stage) the remote has. No listing: what the remote lacks
    /// answers 404.
    pub(crate) fn fetch(
        &self,
        store: &Store,
        records: &[OutRecord],
        fingerprints: &BTreeMap<String, String>,
        bar: &ProgressBar,
    ) -> Result<TransferSummary> {
        let started = Instant::now();
        let mut summary = TransferSummary::default();
        self.receive_outs(store, records, bar, &mut summary);
        for (fingerprint, stage) in fingerprints {
            if store.read_run(fingerprint).is_some() {
                continue;
            }
            match self.run_record(fingerprint) {
                Ok(Some(record)) => match store.write_run(fingerprint, &record) {
                    Ok(()) => summary.runs += 1,
                    Err(e) => summary.failed.push(format!("{stage}: cannot store its run record: {e}")),
                },
                Ok(None) => {}
                Err(e) => summary.failed.push(format!("{stage}: {e}")),
            }
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// For `repro --pull`: the run record of `fingerprint` and every object it needs, when the
    /// remote has them; the record is stored locally (`runs` = 1) only once all its objects are.
    pub(crate) fn fetch_run(
        &self,
        store: &Store,
        fingerprint: &str,
        bar: &ProgressBar,
    ) -> Result<TransferSummary> {
        let mut summary = TransferSummary::default();
        let record = match self.run_record(fingerprint) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(summary),
            Err(e) => {
                summary.failed.push(e);
                return Ok(summary);
            }
        };
        let outs: Vec<OutRecord> = record.outs.values().cloned().collect();
        self.receive_outs(store, &outs, bar, &mut summary);
        if summary.failed.is_empty() && outs.iter().all(|o| store.can_restore(o)) {
            store
                .write_run(fingerprint, &record)
                .map_err(|e| Error::io(format!("cannot store run record {}", short_hash(fingerprint)), e))?;
            summary.runs += 1;
        }
        Ok(summary)
    }

    /// Downloads the objects of `outs` the local store lacks: every out's own object (a
    /// directory's manifest) first, then the files the manifests name.
    fn receive_outs(
        &self,
        store: &Store,
        outs: &[OutRecord],
        bar: &ProgressBar,
        summary: &mut TransferSummary,
    ) {
        let firsts: BTreeSet<String> = outs.iter().map(|r| r.hash.clone()).collect();
        self.download_all(store, &firsts, bar, summary);
        let files: BTreeSet<String> = objects_of(store, outs).difference(&firsts).cloned().collect();
        self.download_all(store, &files, bar, summary);
    }

    /// The remote's run record of `fingerprint`, if it has one.
    pub(crate) fn run_record(&self, fingerprint: &str) -> std::result::Result<Option<RunRecord>, String> {
        self.runtime.block_on(self.read_run(fingerprint))
    }

    /// A directory manifest read from the remote (verified against its hash), if it is there.
    pub(crate) fn manifest(&self, hash: &str) -> Option<Vec<ManifestEntry>> {
        let bytes = self.runtime.block_on(async {
            let got = self.store.get(&self.object_path(hash)).await.ok()?;
            got.bytes().await.ok()
        })?;
        (blake3::hash(&bytes).to_hex().as_str() == hash)
            .then(|| serde_json::from_slice(&bytes).ok())
            .flatten()
    }

    /// Deletes objects and run records (`gc --remote`); returns what could not be deleted.
    pub(crate) fn delete(&self, objects: &[String], runs: &[String]) -> Vec<String> {
        let paths: Vec<(String, ObjectPath)> = objects
            .iter()
            .map(|h| (format!("object {}", short_hash(h)), self.object_path(h)))
            .chain(runs.iter().map(|fp| (format!("run record {}", short_hash(fp)), self.run_path(fp))))
            .collect();
        self.runtime.block_on(
            futures::stream::iter(paths)
                .map(|(what, path)| async move {
                    match self.store.delete(&path).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => None,
                        Err(e) => Some(format!("{what}: {e}")),
                    }
                })
                .buffer_unordered(PARALLEL)
                .filter_map(|failed| async move { failed })
                .collect(),
        )
    }

    async fn read_run(&self, fingerprint: &str) -> std::result::Result<Option<RunRecord>, String> {
        let short = short_hash(fingerprint);
        let bytes = match self.store.get(&self.run_path(fingerprint)).await {
            Ok(got) => got.bytes().await.map_err(|e| format!("run record {short}: {e}"))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(format!("run record {short}: {e}")),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("remote run record {short} is unreadable: {e}"))
    }

    /// Downloads the `wanted` objects the local store lacks; those the remote lacks too are
    /// reported.
    fn download_all(
        &self,
        store: &Store,
        wanted: &BTreeSet<String>,
        bar: &ProgressBar,
        summary: &mut TransferSummary,
    ) {
        let mut todo = Vec::new();
        for hash in wanted {
            if store.has(hash) {
                summary.already_there += 1;
            } else {
                todo.push(hash.clone());
            }
        }
        let received = ObjectCount::new(bar, todo.len());
        let received = &received;
        let results: Vec<std::result::Result<u64, String>> = self.runtime.block_on(
            futures::stream::iter(todo)
                .map(|hash| async move {
                    let result = self.download(store, &hash, bar).await;
                    if result.is_ok() {
                        received.one_more();
                    }
                    result
                })
                .buffer_unordered(PARALLEL)
                .collect(),
        );
        for result in results {
            match result {
                Ok(bytes) => {
                    summary.objects += 1;
                    summary.bytes += bytes;
                }
                Err(e) => summary.failed.push(e),
            }
        }
    }

    async fn download(
        &self,
        store: &Store,
        hash: &str,
        bar: &ProgressBar,
    ) -> std::result::Result<u64, String> {
        let short = short_hash(hash);
        let location: ObjectPath = self.object_path(hash);
        let got = match self.store.get(&location).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(format!(
                    "object {short} is on neither side (push it from the machine that has it)"
                ))
            }
            Err(e) => return Err(format!("object {short}: {e}")),
        };
        bar.inc_length(got.meta.size);
        let mut incoming = store.incoming(hash).map_err(|e| format!("object {short}: {e}"))?;
        let mut stream = got.into_stream();
        let mut bytes = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("object {short}: {e}"))?;
            incoming.write(&chunk).map_err(|e| format!("object {short}: {e}"))?;
            bytes += chunk.len() as u64;
            bar.inc(chunk.len() as u64);
        }
        match incoming.commit() {
            Ok(()) => Ok(bytes),
            Err(RestoreError::Corrupt { actual, .. }) => Err(format!(
                "remote object {short} is corrupt (its content hashes to {}); it was not stored — \
                 push it again from a machine that has it",
                short_hash(&actual)
            )),
            Err(e) => Err(format!("object {short}: {e}")),
        }
    }
}
