//! Errors of the engine, how they are shown, and the exit code each one maps to.
//!
//! Exit codes are decided here and nowhere else: 0 ok, 1 a stage failed (or an I/O error
//! while running), 2 bad input or usage caught before any stage ran, 3 another churnflow
//! holds the project lock, 130 interrupted.
use std::fmt;
use std::path::Path;

/// A problem in a file the user wrote, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl Into<String>, at: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), at, message: message.into(), hint: None }
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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad pipeline/params/lock files or arguments: nothing ran.
    #[error("{}", render_all(.0))]
    Usage(Vec<Diagnostic>),
    /// A bad command-line argument or a condition found before any stage ran.
    #[error("{0}")]
    BadInput(String),
    /// One or more stages failed; the message is the summary.
    #[error("{0}")]
    StageFailed(String),
    #[error(
        "another churnflow (pid {pid}) holds the project lock {path}; wait for it to finish, or stop it"
    )]
    Locked { pid: String, path: String },
    #[error("interrupted")]
    Interrupted,
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// Anything else that went wrong at run time (store corruption, a broken lock).
    #[error("{0}")]
    Runtime(String),
}

fn render_all(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::BadInput(_) => 2,
            Error::Locked { .. } => 3,
            Error::Interrupted => 130,
            Error::StageFailed(_) | Error::Io { .. } | Error::Runtime(_) => 1,
        }
    }

    pub fn usage(diag: Diagnostic) -> Self {
        Error::Usage(vec![diag])
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds "what we were doing, on which path" to I/O errors.
pub trait IoContext<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(format!("{what} {}", path.display()), e))
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
