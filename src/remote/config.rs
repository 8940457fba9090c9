//! `.churnflow/config.yaml`: the project's named remotes and which one is the default.
//!
//! The file is committed with the project, so it never holds a secret: credentials come from
//! the environment or the providers' usual files (`AWS_ACCESS_KEY_ID`,
//! `GOOGLE_APPLICATION_CREDENTIALS`, `AZURE_STORAGE_ACCOUNT_KEY`, …), and a URL that carries
//! user info is refused. YAML like pipeline.yaml and params.yaml, written atomically.
use crate::error::{Error, Result};
use crate::store::atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) const CONFIG_FILE: &str = ".churnflow/config.yaml";

/// The remotes of a project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoteConfig {
    /// The remote `push`/`pull`/`fetch` use when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub remotes: BTreeMap<String, RemoteEntry>,
    /// `repro` as if `--pull` / `--push` were given (e.g. on CI runners).
    #[serde(default, skip_serializing_if = "ReproSwitches::is_off")]
    pub repro: ReproSwitches,
}

/// The `repro:` section: remote switches every `repro` uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReproSwitches {
    #[serde(default)]
    pub pull: bool,
    #[serde(default)]
    pub push: bool,
}

impl ReproSwitches {
    fn is_off(&self) -> bool {
        !self.pull && !self.push
    }
}

/// One remote: where it is, and how to reach an S3-compatible server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoteEntry {
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`, or a folder
    /// (absolute, or relative to the project root).
    pub url: String,
    /// S3-compatible servers (MinIO, Ceph, Garage, R2…): their endpoint; path-style
    /// addressing is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl RemoteConfig {
    pub(crate) fn path(root: &Path) -> PathBuf {
        root.join(CONFIG_FILE)
    }

    /// Reads the config; a missing file is a project without remotes.
    pub(crate) fn load(root: &Path) -> Result<RemoteConfig> {
        let path = Self::path(root);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RemoteConfig::default()),
            Err(e) => return Err(Error::io(format!("cannot read {CONFIG_FILE}"), e)),
        };
        let config: RemoteConfig = serde_yaml::from_str(&text).map_err(|e| {
            let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
            Error::BadInput(format!(
                "{CONFIG_FILE}{at}: {e}; fix it or rewrite it with 'churnflow remote add'"
            ))
        })?;
        for (name, entry) in &config.remotes {
            check_name(name)?;
            check_url(&entry.url)
                .map_err(|e| Error::BadInput(format!("{CONFIG_FILE}: remote '{name}': {e}")))?;
        }
        if let Some(d) = &config.default {
            if !config.remotes.contains_key(d) {
                return Err(Error::BadInput(format!(
                    "{CONFIG_FILE}: the default remote '{d}' is not defined; run 'churnflow remote default NAME'"
                )));
            }
        }
        Ok(config)
    }

    pub(crate) fn save(&self, root: &Path) -> Result<()> {
        let path = Self::path(root);
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let yaml = serde_yaml::to_string(self).map_err(|e| {
            Error::BadInput(format!("cannot encode {CONFIG_FILE}: {e}; it was left as it was"))
        })?;
        let text = format!(
            "# churnflow remotes (churnflow remote add|remove|default). No secrets here: credentials\n\
             # come from the environment or the providers' usual files.\n{yaml}"
        );
        atomic::write(&path, text.as_bytes(), true)
            .map_err(|e| Error::io(format!("cannot write {CONFIG_FILE}"), e))
    }

    /// The remote `name` names, or the default one.
    pub(crate) fn pick(&self, name: Option<&str>) -> Result<(String, RemoteEntry)> {
        let name = match name.or(self.default.as_deref()) {
            Some(n) => n,
            None if self.remotes.len() == 1 => self.remotes.keys().next().map(String::as_str).unwrap_or_default(),
            None if self.remotes.is_empty() => {
                return Err(Error::BadInput(
                    "no remote is configured; add one with 'churnflow remote add NAME URL'".into(),
                ))
            }
            None => {
                return Err(Error::BadInput(format!(
                    "several remotes and no default ({}); pass --remote NAME or run 'churnflow remote default NAME'",
                    self.remotes.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
        };
        match self.remotes.get(name) {
            Some(e) => Ok((name.to_string(), e.clone())),
            None => Err(Error::BadInput(format!(
                "no remote named '{name}' in {CONFIG_FILE}{}",
                crate::error::did_you_mean(name, self.remotes.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default()
            ))),
        }
    }
}

/// A remote's name: letters, digits, `-`, `_`, `.`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(Error::BadInput(format!(
            "'{name}' is not a remote name (letters, digits, '-', '_' and '.')"
        )));
    }
    Ok(())
}

/// What a URL names: a scheme churnflow can reach, and no credentials in it.
pub(crate) fn check_url(url: &str) -> std::result::Result<(), String> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "s3" | "gs" | "az" | "file") {
            return Err(format!("'{url}': unknown scheme '{scheme}' (s3://, gs://, az://, or a folder)"));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!(
                "'{url}' carries credentials; remove them and set them in the environment \
                 (e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ));
        }
        if scheme != "file" && authority.is_empty() {
            return Err(format!("'{url}' names no bucket"));
        }
    } else if url.trim().is_empty() {
        return Err("the remote's URL is empty (s3://bucket/prefix, or a folder)".into());
    }
    Ok(())
}

/// A folder remote as `remote add` stores it: an absolute path as given; a relative one
/// relative to the project root (as every path argument is), with `.` and `..` folded
/// lexically (`./x/../../remote` → `../remote`), so the committed config works on every clone
/// that has the folder at the same place beside it. URLs are kept as they are.
pub(crate) fn normalized_folder(url: &str) -> String {
    if url.contains("://") || Path::new(url).is_absolute() {
        return url.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in url.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}
