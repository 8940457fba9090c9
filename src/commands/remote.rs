//! `churnflow remote`: the project's remotes in `.churnflow/config.yaml`.
use crate::error::{Error, Result};
use crate::remote::config::{
    check_name, check_url, normalized_folder, RemoteConfig, RemoteEntry, CONFIG_FILE,
};
use serde_json::json;
use std::path::Path;

#[derive(clap::Subcommand)]
pub enum RemoteCommand {
    /// Add a remote (or replace one of the same name).
    #[command(after_help = "Examples:\n  churnflow remote add team s3://ml-artifacts/churn --default\n  \
        churnflow remote add minio s3://churn/store --endpoint-url http://minio.internal:9000\n  \
        churnflow remote add share /mnt/share/churnflow\n  \
        churnflow remote add sibling ../churn-remote   # relative to the project root, stored so\n\n\
        Credentials are never stored: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,\n\
        GOOGLE_APPLICATION_CREDENTIALS, or AZURE_STORAGE_ACCOUNT_NAME / _KEY.")]
    Add {
        /// The remote's name (letters, digits, '-', '_', '.').
        name: String,
        /// s3://bucket/prefix, gs://bucket/prefix, az://container/prefix, or a folder (absolute,
        /// or relative to the project root: kept relative in the committed config).
        url: String,
        /// An S3-compatible server's endpoint (MinIO, Ceph, Garage, R2); path-style addressing.
        #[arg(long)]
        endpoint_url: Option<String>,
        /// The bucket's region (S3; default: AWS_DEFAULT_REGION, else us-east-1).
        #[arg(long)]
        region: Option<String>,
        /// Make it the default remote.
        #[arg(long)]
        default: bool,
    },
    /// List the remotes (no secrets: there are none in the config).
    #[command(after_help = "Examples:\n  churnflow remote list\n  churnflow remote list --json")]
    List {
        /// Print the remotes as JSON (`"schema": 1`).
        #[arg(long)]
        json: bool,
    },
    /// Remove a remote from the config (its objects stay where they are).
    #[command(after_help = "Examples:\n  churnflow remote remove minio")]
    Remove {
        /// The remote to remove.
        name: String,
    },
    /// Make a remote the default.
    #[command(after_help = "Examples:\n  churnflow remote default team")]
    Default {
        /// The remote that push, fetch, pull and repro --pull use when none is named.
        name: String,
    },
}

pub fn run(root: &Path, command: RemoteCommand) -> Result<u8> {
    let mut config = RemoteConfig::load(root)?;
    match command {
        RemoteCommand::Add { name, url, endpoint_url, region, default } => {
            check_name(&name)?;
            check_url(&url).map_err(Error::BadInput)?;
            let url = normalized_folder(&url);
            if url == "." {
                return Err(Error::BadInput(
                    "a folder remote cannot be the project itself; name a folder outside it (e.g. ../remote)"
                        .into(),
                ));
            }
            if let Some(endpoint) = &endpoint_url {
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                    return Err(Error::BadInput(format!(
                        "--endpoint-url '{endpoint}' must start with http:// or https://"
                    )));
                }
                if !url.starts_with("s3://") {
                    return Err(Error::BadInput("--endpoint-url is for s3:// remotes".into()));
                }
            }
            let replaced =
                config.remotes.insert(name.clone(), RemoteEntry { url: url.clone(), endpoint_url, region });
            if default || config.remotes.len() == 1 {
                config.default = Some(name.clone());
            }
            config.save(root)?;
            let verb = if replaced.is_some() { "replaced" } else { "added" };
            let default_note = if config.default.as_deref() == Some(&name) { " (default)" } else { "" };
            println!("{verb} remote '{name}' → {url}{default_note} in {CONFIG_FILE}");
        }
        RemoteCommand::List { json } => {
            if json {
                let remotes: Vec<_> = config
                    .remotes
                    .iter()
                    .map(|(name, e)| {
                        json!({"name": name, "url": e.url, "endpoint_url": e.endpoint_url, "region": e.region,
                               "default": config.default.as_deref() == Some(name)})
                    })
                    .collect();
                crate::commands::print_json(&json!({"schema": 1, "remotes": remotes}))?;
            } else if config.remotes.is_empty() {
                println!("no remotes; add one with 'churnflow remote add NAME URL'");
            } else {
                for (name, e) in &config.remotes {
                    let mark = if config.default.as_deref() == Some(name) { "*" } else { " " };
                    let endpoint =
                        e.endpoint_url.as_ref().map(|u| format!("  endpoint {u}")).unwrap_or_default();
                    let region = e.region.as_ref().map(|r| format!("  region {r}")).unwrap_or_default();
                    println!("{mark} {name}\t{}{endpoint}{region}", e.url);
                }
            }
        }
        RemoteCommand::Remove { name } => {
            config.pick(Some(&name))?;
            config.remotes.remove(&name);
            if config.default.as_deref() == Some(&name) {
                config.default = None;
            }
            config.save(root)?;
            println!("removed remote '{name}' (nothing on it was deleted)");
        }
        RemoteCommand::Default { name } => {
            config.pick(Some(&name))?;
            config.default = Some(name.clone());
            config.save(root)?;
            println!("'{name}' is the default remote");
        }
    }
    Ok(0)
}
