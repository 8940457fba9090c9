//! The remote store: a second copy of `artifacts/` — objects and run records, with the same
//! content addressing — on S3-compatible object storage, GCS, Azure Blob or a shared folder,
//! through the `object_store` crate (the Rust data ecosystem's client for all of them).
//!
//! * [`config`] — `.churnflow/config.yaml`, the project's named remotes;
//! * [`records`] — experiment records (`exps/<name>.json`), as bytes, created if absent;
//! * [`registry`] — the model registry's events and champions, with create-if-absent as the
//!   compare-and-swap, and `push`/`pull --registry` (which side is ahead, what moves);
//! * [`restore`] — `repro --pull`: fetch what pipeline.lock refers to, put back missing outs;
//! * [`transfer`] — what is missing where, and moving it: batched existence checks (one
//!   listing), parallel transfers, multipart uploads for large objects, every download hashed
//!   before it enters the local store.
//!
//! Layout under the remote's URL: `objects/ab/cdef…`, `runs/<fingerprint>.json` and
//! `exps/<name>.json`, as in `artifacts/`. Objects never change once written (their name is their hash), so a push or
//! fetch that was interrupted resumes by sending only what is still missing, and two
//! machines pushing the same object at once write the same bytes.
//!
//! This layer sits on `store` (objects, run records) and knows nothing of stages.
pub(crate) mod config;
pub(crate) mod records;
pub(crate) mod registry;
pub(crate) mod restore;
pub(crate) mod transfer;

use crate::error::{Error, Result};
use config::{RemoteConfig, RemoteEntry};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// An opened remote, with the runtime its requests run on.
pub(crate) struct Remote {
    pub name: String,
    pub url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    runtime: tokio::runtime::Runtime,
    /// What this process knows the remote holds (object hashes, run-record fingerprints): the
    /// listings of its first push plus what it sent since, so `repro --push` lists the
    /// remote once, not once per stage.
    known: std::sync::Mutex<Option<transfer::Known>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("name", &self.name).field("url", &self.url).finish()
    }
}

impl Remote {
    /// Opens the remote called `name` in the project's `.churnflow/config.yaml` (the default
    /// remote when `None`).
    pub(crate) fn configured(root: &Path, name: Option<&str>) -> Result<Remote> {
        let config = RemoteConfig::load(root)?;
        let (name, entry) = config.pick(name)?;
        Remote::open(&name, &entry)
    }

    /// Opens the remote `entry` describes; credentials come from the environment.
    pub(crate) fn open(name: &str, entry: &RemoteEntry) -> Result<Remote> {
        config::check_url(&entry.url).map_err(|e| Error::BadInput(format!("remote '{name}': {e}")))?;
        let bad = |e: object_store::Error| Error::BadInput(format!("remote '{name}' ({}): {e}", entry.url));
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(10),
                base: 2.0,
            },
            max_retries: 5,
            retry_timeout: Duration::from_secs(120),
        };
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match entry.url.split_once("://") {
            Some(("s3", rest)) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry)
                    .with_virtual_hosted_style_request(false);
                if let Some(endpoint) = &entry.endpoint_url {
                    builder =
                        builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(region) = &entry.region {
                    builder = builder.with_region(region);
                }
                (Arc::new(builder.build().map_err(bad)?), prefix)
            }
            Some(("gs", rest)) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry);
                (Arc::new(builder.build().map_err(bad)?), prefix)
            }
            Some(("az", rest)) => {
                let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let builder = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(container)
                    .with_retry(retry);
                (Arc::new(builder.build().map_err(bad)?), prefix)
            }
            _ => {
                let folder = entry.url.strip_prefix("file://").unwrap_or(&entry.url);
                std::fs::create_dir_all(folder).map_err(|e| {
                    Error::io(format!("remote '{name}': cannot create the folder {folder}"), e)
                })?;
                (Arc::new(object_store::local::LocalFileSystem::new_with_prefix(folder).map_err(bad)?), "")
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("churnflow-remote")
            .enable_all()
            .build()
            .map_err(|e| Error::io("cannot start the remote's runtime", e))?;
        Ok(Remote {
            name: name.to_string(),
            url: entry.url.clone(),
            store,
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            runtime,
            known: std::sync::Mutex::new(None),
        })
    }

    fn object_path(&self, hash: &str) -> ObjectPath {
        let (a, b) = hash.split_at(2.min(hash.len()));
        self.prefix.clone().join("objects").join(a).join(b)
    }

    fn run_path(&self, fingerprint: &str) -> ObjectPath {
        self.prefix.clone().join("runs").join(format!("{fingerprint}.json"))
    }

    /// A folder under the prefix, given as `a/b` (each segment a path part).
    fn folder(&self, name: &str) -> ObjectPath {
        name.split('/').fold(self.prefix.clone(), |path, part| path.join(part))
    }
}
