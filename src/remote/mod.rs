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
    /// What this process has sent so far (every push), for `repro --push`'s total.
    pushed: std::sync::Mutex<transfer::Pushed>,
    endpoint: Option<String>,
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
        Remote::open(root, &name, &entry)
    }

    /// Opens the remote `entry` describes; credentials come from the environment. A relative
    /// folder is relative to the project `root` (where the config is committed).
    pub(crate) fn open(root: &Path, name: &str, entry: &RemoteEntry) -> Result<Remote> {
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
                let folder = root.join(entry.url.strip_prefix("file://").unwrap_or(&entry.url));
                std::fs::create_dir_all(&folder).map_err(|e| {
                    Error::io(format!("remote '{name}': cannot create the folder {}", folder.display()), e)
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
            pushed: std::sync::Mutex::new(transfer::Pushed::default()),
            endpoint: entry.endpoint_url.clone(),
        })
    }

    /// One request — a listing of the top of the remote, one page — that shows whether the
    /// remote answers with the credentials in the environment, before `repro --pull/--push`
    /// runs anything. The error is one message saying what to set.
    pub(crate) fn probe(&self) -> Result<()> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        match self.runtime.block_on(self.store.list_with_delimiter(prefix)) {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::BadInput(self.unusable(&e))),
        }
    }

    /// Why the remote cannot be used, and what to set: one message.
    fn unusable(&self, e: &object_store::Error) -> String {
        let at = self.endpoint.as_ref().map(|u| format!(", endpoint {u}")).unwrap_or_default();
        let set = |names: &[&str]| names.iter().any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()));
        let help = match self.url.split_once("://").map(|(scheme, _)| scheme) {
            Some("s3")
                if !set(&[
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                ]) =>
            {
                "no AWS credentials in the environment (so the EC2 instance metadata service was asked, \
                 and it did not give any): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                 AWS_SESSION_TOKEN for temporary keys). AWS_PROFILE and ~/.aws/credentials are not \
                 read; export a profile's keys with 'eval \"$(aws configure export-credentials \
                 --profile NAME --format env)\"'"
                    .to_string()
            }
            Some("s3") => "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), \
                 AWS_DEFAULT_REGION, and the endpoint ('churnflow remote add NAME URL --endpoint-url URL' \
                 replaces it)"
                .to_string(),
            Some("gs") => "check GOOGLE_APPLICATION_CREDENTIALS (a service-account file) or \
                 GOOGLE_SERVICE_ACCOUNT"
                .to_string(),
            Some("az") => {
                "check AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or a SAS token)".to_string()
            }
            _ => "check that the folder is mounted and readable".to_string(),
        };
        format!(
            "remote '{}' ({}{at}) cannot be used: {e}\n  help: {help}; see docs/remote.md",
            self.name, self.url
        )
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
