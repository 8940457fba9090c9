//! The contract between the engine and a built-in stage kind.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How an output is shown by `metrics`/`plots` commands. Every role is an out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutRole {
    Out,
    Metrics,
    Plots,
}

/// One output a stage writes, as a project-relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutDecl {
    pub path: String,
    pub role: OutRole,
    /// `false`: kept in the workspace and git, never put in the store (metrics, plots).
    pub cache: bool,
    /// How a metrics out is laid out for a person (ignored for other roles).
    pub view: MetricsView,
}

impl OutDecl {
    pub fn out(path: impl Into<String>) -> Self {
        OutDecl { path: path.into(), role: OutRole::Out, cache: true, view: MetricsView::default() }
    }
    pub fn metrics(path: impl Into<String>) -> Self {
        OutDecl { path: path.into(), role: OutRole::Metrics, cache: false, view: MetricsView::default() }
    }
    pub fn plots(path: impl Into<String>) -> Self {
        OutDecl { path: path.into(), role: OutRole::Plots, cache: false, view: MetricsView::default() }
    }
    /// This out with `view`.
    pub fn with_view(self, view: MetricsView) -> Self {
        OutDecl { view, ..self }
    }
}

/// How `metrics show`, `metrics diff` and the report lay out one metrics file for a person
/// (`--json` keeps every row as it is). The default: the file's rows, among the model's
/// metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsView {
    /// What watches the model (drift) rather than how good it is: listed after the files that
    /// are not.
    pub monitoring: bool,
    /// A section of one value per item, collapsed into one summary row.
    pub items: Option<ItemSection>,
}

/// A top-level section of a metrics file holding one value per item (drift's `columns`, one
/// statistic per column). A person sees one summary row for it, plus the items a second key
/// flags (drift's `drifted_column_names`); `--all` lists every item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemSection {
    /// The section's key (`columns`).
    pub key: &'static str,
    /// What its items are, plural (`columns`).
    pub noun: &'static str,
    /// The top-level key whose array names the items always listed (`drifted_column_names`).
    pub flagged_by: &'static str,
    /// What those items are (`drifted`).
    pub flag: &'static str,
}

/// What a stage of some kind reads and writes, derived from its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindIo {
    /// Project-relative input paths (files or directories).
    pub deps: Vec<String>,
    pub outs: Vec<OutDecl>,
    /// The params.yaml section the kind reads (its values enter the fingerprint).
    pub params_section: &'static str,
    /// Bumped whenever the kind's results for the same inputs would change.
    pub code_version: u32,
    /// For a stage that reads the registry's baseline champion: which one, and what of it
    /// the engine hands over. The baseline's identity enters the fingerprint.
    pub baseline: Option<BaselineUse>,
    /// The out holding a promotion decision that the engine applies to the registry.
    pub registry_decision: Option<String>,
}

/// How a stage uses the registry's baseline champion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BaselineUse {
    /// The dep holding the challenger model: the baseline is then the newest champion that
    /// is not this model (so promoting it does not make the stage stale). `None`: the
    /// current champion.
    pub challenger: Option<String>,
    /// Also hand over the data the baseline was trained on (a store object), in
    /// [`Invocation::baseline_training_data`].
    pub training_data: bool,
}

/// Everything a stage run gets. Serialised to JSON by the engine and handed to the child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    /// The project root; every path in settings is relative to it.
    pub root: PathBuf,
    /// The stage's name in pipeline.yaml (for messages).
    pub stage: String,
    /// The resolved `with:` map (params interpolated).
    pub settings: Value,
    /// The kind's params section (`Value::Null` when params.yaml has none).
    pub params: Value,
    /// For `evaluate`: the current baseline champion's model file, when there is one.
    #[serde(default)]
    pub baseline_model: Option<PathBuf>,
    /// For a stage whose [`BaselineUse::training_data`] is set: the data the baseline
    /// champion was trained on, when there is a champion.
    #[serde(default)]
    pub baseline_training_data: Option<PathBuf>,
}

impl Invocation {
    /// A settings path made absolute against the project root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

/// What a finished stage reports: one line for the log (the engine prints it after the
/// stage's name). Named apart from the engine's own run outcomes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageSummary {
    pub summary: String,
}

/// A built-in stage kind: typed settings and params, the files they name, and the run.
pub(crate) trait Kind {
    const NAME: &'static str;
    const PARAMS_SECTION: &'static str;
    const CODE_VERSION: u32;
    /// The `with:` map. Use `#[serde(deny_unknown_fields)]`.
    type Settings: DeserializeOwned;
    /// The params section. `Default` stands in when params.yaml has no such section.
    type Params: DeserializeOwned + Default;

    /// Input paths and outputs named by the settings; may also check params for consistency.
    fn io(
        settings: &Self::Settings,
        params: &Self::Params,
    ) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError>;

    /// See [`KindIo::baseline`].
    fn baseline(_settings: &Self::Settings) -> Option<BaselineUse> {
        None
    }

    /// See [`KindIo::registry_decision`].
    fn registry_decision(_settings: &Self::Settings) -> Option<String> {
        None
    }

    /// What makes a stage with these params ignore `key`, a key of its params section
    /// without the section (`l2`): see [`crate::unread_by`]. `None`: it reads it, or the
    /// kind does not say.
    fn unread_by(_params: &Self::Params, _key: &str) -> Option<String> {
        None
    }

    fn run(
        root: &Path,
        settings: Self::Settings,
        params: Self::Params,
        invocation: &Invocation,
    ) -> Result<StageSummary, StageError>;
}

/// Parses settings and params for `K`. A params error names its key (`train.l2`).
pub(crate) fn parse<K: Kind>(
    settings: &Value,
    params: &Value,
) -> Result<(K::Settings, K::Params), SettingsError> {
    let s: K::Settings = serde_json::from_value(settings.clone()).map_err(|e| {
        SettingsError::new(format!("settings of kind '{}': {}", K::NAME, plain(&e.to_string())))
    })?;
    Ok((s, parse_params::<K>(params)?))
}

/// Parses the params section of `K`; an error names its key (`train.l2`).
fn parse_params<K: Kind>(params: &Value) -> Result<K::Params, SettingsError> {
    Ok(if params.is_null() {
        K::Params::default()
    } else {
        serde_path_to_error::deserialize(params.clone()).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                K::PARAMS_SECTION.to_string()
            } else {
                format!("{}.{path}", K::PARAMS_SECTION)
            };
            let message = format!("{key}: {}", plain(&e.inner().to_string()));
            SettingsError { message, params_key: Some(key) }
        })?
    })
}

/// A serde message in plain words: `invalid type: string "abc", expected f64` → `expected a
/// number, found the text "abc"`; other messages as they are.
pub(crate) fn plain(serde: &str) -> String {
    let words = |expected: &str| -> String {
        match expected {
            "f64" | "f32" => "a number".into(),
            "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
            "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
            "a boolean" => "true or false".into(),
            "a string" => "text".into(),
            "a sequence" => "a list".into(),
            e if e.starts_with("struct ") || e == "a map" => "a mapping of keys to values".into(),
            other => other.to_string(),
        }
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = serde.strip_prefix(prefix).and_then(|r| r.split_once(", expected "))
        {
            let found = found
                .replacen("string ", "the text ", 1)
                .replacen("floating point ", "", 1)
                .replacen("integer ", "", 1)
                .replacen("boolean ", "", 1)
                .replace('`', "");
            let found = match found.as_str() {
                "map" => "a mapping".to_string(),
                "sequence" => "a list".to_string(),
                "unit value" => "nothing (an empty value)".to_string(),
                _ => found,
            };
            return format!("expected {}, found {found}", words(expected));
        }
    }
    if let Some(rest) = serde.strip_prefix("unknown field ") {
        let (field, known) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let known = known.trim_start_matches("one of ").replace('`', "");
        let word = field.trim_matches('`');
        return match crate::search::did_you_mean(word, known.split(", ")) {
            Some(close) => format!("unknown key '{word}' (did you mean '{close}'? the keys are {known})"),
            None => format!("unknown key '{word}' (the keys are {known})"),
        };
    }
    serde.to_string()
}

/// [`crate::describe`] for one kind. A [`KindIoError::Param`] is reported as about its key
/// in params.yaml, a [`KindIoError::Setting`] as about the stage's `with:` in pipeline.yaml.
pub(crate) fn describe_kind<K: Kind>(settings: &Value, params: &Value) -> Result<KindIo, SettingsError> {
    let (s, p) = parse::<K>(settings, params)?;
    let (deps, outs) = K::io(&s, &p).map_err(|e| match e {
        KindIoError::Setting(message) => SettingsError { message, params_key: None },
        KindIoError::Param { key, message } => SettingsError { message, params_key: Some(key) },
    })?;
    Ok(KindIo {
        deps,
        outs,
        params_section: K::PARAMS_SECTION,
        code_version: K::CODE_VERSION,
        baseline: K::baseline(&s),
        registry_decision: K::registry_decision(&s),
    })
}

/// [`crate::unread_by`] for one kind: `key` within its params section, else `None`.
pub(crate) fn unread_by_kind<K: Kind>(params: &Value, key: &str) -> Option<String> {
    let within = key.strip_prefix(K::PARAMS_SECTION)?.strip_prefix('.')?;
    let p = parse_params::<K>(params).ok()?;
    K::unread_by(&p, within)
}

/// [`crate::run`] for one kind.
pub(crate) fn run_kind<K: Kind>(invocation: &Invocation) -> Result<StageSummary, StageError> {
    let (s, p) =
        parse::<K>(&invocation.settings, &invocation.params).map_err(|e| StageError::new(e.message))?;
    K::run(&invocation.root, s, p, invocation)
}

/// A bad `with:` setting or params section: a usage error, reported before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    pub message: String,
    /// The params.yaml key (`train.l2`) the error is about; `None` for a `with:` setting.
    pub params_key: Option<String>,
}

impl SettingsError {
    pub fn new(message: impl Into<String>) -> Self {
        SettingsError { message: message.into(), params_key: None }
    }
    pub fn unknown_kind(kind: &str, known: &[&str]) -> Self {
        SettingsError::new(format!("unknown stage kind '{kind}' (built-in kinds: {})", known.join(", ")))
    }
}

/// Why [`Kind::io`] refused a stage's settings or params: a usage error, reported before
/// anything runs, in pipeline.yaml or params.yaml.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KindIoError {
    /// A `with:` setting in pipeline.yaml (or settings and params that do not fit together,
    /// reported at the stage).
    #[error("{0}")]
    Setting(String),
    /// A key of the kind's params section: `key` is its dotted path (`split.test_size`),
    /// `message` the whole text shown (it usually starts with the key).
    #[error("{message}")]
    Param { key: String, message: String },
}

impl KindIoError {
    pub(crate) fn setting(message: impl Into<String>) -> Self {
        KindIoError::Setting(message.into())
    }
    pub(crate) fn param(key: impl Into<String>, message: impl Into<String>) -> Self {
        KindIoError::Param { key: key.into(), message: message.into() }
    }
    /// The text shown, without where it is blamed.
    pub(crate) fn message(&self) -> &str {
        match self {
            KindIoError::Setting(message) | KindIoError::Param { message, .. } => message,
        }
    }
}

/// For callers that report the check as plain text (a stage's run, the tuning candidates).
impl From<KindIoError> for String {
    fn from(e: KindIoError) -> String {
        match e {
            KindIoError::Setting(message) | KindIoError::Param { message, .. } => message,
        }
    }
}

/// A stage failed on its data or files: reported with file, row and column where known, and
/// with its [`ErrorClass`], from which the engine's `cli` decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    pub message: String,
    pub class: ErrorClass,
}

/// Whose fault a [`StageError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The user's data, params or settings are wrong (what [`StageError::new`] means).
    Input,
    /// The disk or the OS failed: a full disk, a file too large, an I/O error, a permission.
    Io,
    /// A bug: an invariant of churnflow did not hold; the message asks to report it.
    Internal,
}

/// Errors whose class [`StageError::classified`] can tell from the error itself.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

/// A file that is missing or not what was expected is the input's fault (a path the user gave,
/// an out an earlier stage did not write); anything else (no space, file too large, EIO, a
/// permission, …) is the system's.
impl Classify for std::io::Error {
    fn class(&self) -> ErrorClass {
        use std::io::ErrorKind as K;
        match self.kind() {
            K::NotFound
            | K::InvalidInput
            | K::InvalidData
            | K::UnexpectedEof
            | K::IsADirectory
            | K::NotADirectory
            | K::InvalidFilename => ErrorClass::Input,
            _ => ErrorClass::Io,
        }
    }
}

/// Polars' I/O errors as [`std::io::Error`]'s; anything else (a schema, a type, a shape) is
/// about the user's data.
impl Classify for polars::prelude::PolarsError {
    fn class(&self) -> ErrorClass {
        use polars::prelude::PolarsError as P;
        match self {
            P::IO { error, .. } => error.class(),
            P::Context { error, .. } | P::ExprContext { error, .. } => error.class(),
            _ => ErrorClass::Input,
        }
    }
}

impl StageError {
    /// The user's data, params or settings are wrong ([`ErrorClass::Input`]).
    pub fn new(message: impl Into<String>) -> Self {
        StageError { message: message.into(), class: ErrorClass::Input }
    }

    /// The disk or the OS failed ([`ErrorClass::Io`]).
    pub fn io(message: impl Into<String>) -> Self {
        StageError { message: message.into(), class: ErrorClass::Io }
    }

    /// A bug in churnflow ([`ErrorClass::Internal`]); the message says so.
    pub fn internal(message: impl Into<String>) -> Self {
        StageError {
            message: format!("{} (this is a bug in churnflow; please report it)", message.into()),
            class: ErrorClass::Internal,
        }
    }

    /// The same error with its message rewritten (context added), its class kept.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        StageError { message: f(self.message), class: self.class }
    }

    /// `message` about `cause`, classed as `cause` is ([`Classify`]).
    pub fn classified(message: impl Into<String>, cause: &impl Classify) -> Self {
        StageError { message: message.into(), class: cause.class() }
    }
}

/// An I/O error with no more context: classed by its [`Classify`] impl.
impl From<std::io::Error> for StageError {
    fn from(e: std::io::Error) -> Self {
        StageError::classified(e.to_string(), &e)
    }
}
