//! A model named on the command line — `registry:champion`, `registry:<hash prefix>` or a
//! model file — resolved to its file, its id and the operating point it was promoted with.
//! `score` and `serve` name models the same way through this one place.
use crate::store::hashing::hash_bytes;
use crate::store::registry::{Registry, RegistryError};
use crate::store::short_hash;
use std::path::{Path, PathBuf};

/// A resolved model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelRef {
    pub path: PathBuf,
    /// blake3 of the model file.
    pub id: String,
    /// The decision threshold the promotion recorded (registry models only): the operating
    /// point chosen at evaluation (e.g. max_profit) travels with the promotion.
    pub promoted_threshold: Option<f64>,
    /// How to name it to people: `registry model 1a2b3c4d5e6f` or the path as given.
    pub shown: String,
}

/// What a model spec names: a registry entry or a file (relative to `root`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelSpec {
    Registry { root: PathBuf, name: String },
    File { path: PathBuf, given: String },
}

impl ModelSpec {
    pub fn parse(root: &Path, spec: &str) -> ModelSpec {
        match spec.strip_prefix("registry:") {
            Some(name) => ModelSpec::Registry { root: root.to_path_buf(), name: name.to_string() },
            None => {
                let p = Path::new(spec);
                let path = if p.is_absolute() { p.to_path_buf() } else { root.join(p) };
                ModelSpec::File { path, given: spec.to_string() }
            }
        }
    }

    /// The spec as the user wrote it.
    pub fn describe(&self) -> String {
        match self {
            ModelSpec::Registry { name, .. } => format!("registry:{name}"),
            ModelSpec::File { given, .. } => given.clone(),
        }
    }

    /// The id of the model the spec names now: the registry entry's hash, or the file's.
    /// Cheap enough to poll (reads the audit log, or hashes one small file).
    pub fn current_id(&self) -> Result<String, RegistryError> {
        match self {
            ModelSpec::Registry { root, name } => Registry::load(root)?.resolve(name),
            ModelSpec::File { path, given } => file_id(path, given),
        }
    }

    /// Resolves the spec to a file that exists.
    pub fn locate(&self) -> Result<ModelRef, RegistryError> {
        match self {
            ModelSpec::Registry { root, name } => {
                let registry = Registry::load(root)?;
                let id = registry.resolve(name)?;
                let path = registry.model_path(&id).ok_or_else(|| RegistryError::NoModelFile(id.clone()))?;
                let promoted_threshold = registry.promoted_threshold(&id);
                let shown = format!("registry model {}", short_hash(&id));
                Ok(ModelRef { path, id, promoted_threshold, shown })
            }
            ModelSpec::File { path, given } => {
                let id = file_id(path, given)?;
                Ok(ModelRef { path: path.clone(), id, promoted_threshold: None, shown: given.clone() })
            }
        }
    }
}

fn file_id(path: &Path, given: &str) -> Result<String, RegistryError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(hash_bytes(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || path.is_dir() => {
            Err(RegistryError::NoSuchModelFile(given.to_string()))
        }
        Err(e) => Err(RegistryError::Io { context: format!("cannot read model file {given}"), source: e }),
    }
}
