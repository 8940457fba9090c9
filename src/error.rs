//! Errors of the engine and how they are shown; `cli` decides the exit code of each.
//!
//! Diagnostics (a problem in a file the user wrote, at a line and column, with a hint) and
//! the crate-wide [`Error`] live here, so any layer may return them. This file is not below
//! every layer: [`Error`] wraps the error enums of `store` (the registry's) and `compare`
//! (git's), and nothing else of the engine (`tests/layering.rs`); of the stages crate it keeps
//! a [`StageError`] whole, with its class, for `cli` to decide the exit code.
use crate::compare::git::GitError;
use crate::store::registry::RegistryError;
use churnflow_stages::StageError;
use std::fmt;

/// A problem in a file the user wrote, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    pub file: String,
    /// 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
    /// The params.yaml key (`train.l2`) whose value a stage kind refused, when that is what
    /// it is about: `exp run` blames the `-S` that set it instead of a line of params.yaml.
    pub key: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl Into<String>, at: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), at, message: message.into(), hint: None, key: None }
    }

    /// The same diagnostic, about the value of params key `key`.
    pub fn about_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// An error of any layer, as the command that met it returns it. Layers with cases that
/// a caller tells apart have their own enum ([`GitError`], [`RegistryError`],
/// [`StageFailure`](crate::exec::scheduler::StageFailure)); `cli` maps each to an exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad pipeline/params/lock files: nothing ran.
    #[error("{}", render_all(.0))]
    Usage(Vec<Diagnostic>),
    /// A bad command-line argument or a condition found before any stage ran.
    #[error("{0}")]
    BadInput(String),
    /// A stage named on the command line that pipeline.yaml does not have.
    #[error("no stage named '{name}' in pipeline.yaml{}", .suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownStage { name: String, suggestion: Option<String> },
    /// One or more stages failed (each already reported its cause).
    #[error("stage(s) failed: {}{}", .failed.join(", "), if .not_run.is_empty() { String::new() } else { format!("; not run: {}", .not_run.join(", ")) })]
    StagesFailed { failed: Vec<String>, not_run: Vec<String> },
    /// `generate` could not write its data set.
    #[error("{0}")]
    GenerateFailed(String),
    /// `checkout` could not restore these outs (one line each, with what to do).
    #[error("{}", .0.join("\n"))]
    CheckoutIncomplete(Vec<String>),
    #[error(
        "another churnflow (pid {pid}) holds the project lock {path}; wait for it to finish, or stop it"
    )]
    Locked { pid: String, path: String },
    #[error("interrupted")]
    Interrupted,
    /// A remote store could not be reached or did not answer as expected.
    #[error("{0}")]
    Remote(String),
    /// A stages-crate call the command made itself (`score`, `drift`, loading a model) failed;
    /// its [`ErrorClass`](churnflow_stages::ErrorClass) says whether the input, the system or
    /// churnflow is at fault. (A stage run by `repro` fails as [`Error::StagesFailed`].)
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn render_all(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

impl Error {
    pub(crate) fn usage(diag: Diagnostic) -> Self {
        Error::Usage(vec![diag])
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The closest candidate to `word`, if it is close enough to be a likely typo: the stages
/// crate's rule, so `-S`, `train.tune` and every engine message suggest alike.
pub(crate) use churnflow_stages::search::did_you_mean;
