//! The built-in churn stage kinds (`uses:` in pipeline.yaml).
//!
//! This crate knows nothing of the stage graph, fingerprints or the store. The engine asks it
//! two things, through [`describe`] and [`run`]:
//!
//! * before anything runs, what a stage of a kind reads and writes given its settings (the
//!   `with:` map) and its params section — this also validates both, so a bad setting is a
//!   usage error (exit 2) caught before any stage starts;
//! * later, in a child process of the same binary, to run one stage: a pure function from typed
//!   settings + params + input files to output files and a one-line summary.
//!
//! Each kind lives in its own module and implements [`Kind`]; [`KINDS`] lists them.

pub mod features;
pub mod generate;
pub mod ingest;
pub mod kind;
pub mod snapshot;
pub mod table;
pub mod validate;

pub mod evaluate;
mod forest;
mod logistic;
pub mod metrics;
pub mod model;
mod model_io;
pub mod promote;
mod sampling;
pub mod score;
pub mod split;
pub mod train;
mod tree;

pub use features::{FeaturesParams, FeaturesSettings, EVENTS_FEATURE_COLUMNS};
pub use generate::{generate, GenerateOptions, GenerateSummary};
pub use ingest::{IngestParams, IngestSettings};
pub use kind::{Invocation, Kind, KindIo, OutDecl, OutRole, Outcome, SettingsError, StageError};
pub use model::{load_model, Model, ModelSummary};
pub use promote::Decision;
pub use score::{score, score_with, ScoreOptions, ScoreSummary};
pub use snapshot::{clean_snapshot, SnapshotSpec};
pub use validate::{ValidateSettings, ValidationParams, ValidationReport};

use serde_json::Value;

/// Names of every built-in kind, for "did you mean" hints and docs.
pub const KINDS: &[&str] = &[
    "ingest",
    "validate",
    "features",
    split::Split::NAME,
    train::Train::NAME,
    evaluate::Evaluate::NAME,
    promote::Promote::NAME,
];

/// What a stage of `kind` reads and writes, after validating its settings and params.
///
/// `params` is the kind's params section from params.yaml (`Value::Null` when absent).
pub fn describe(kind: &str, settings: &Value, params: &Value) -> Result<KindIo, SettingsError> {
    match kind {
        "ingest" => kind::describe_kind::<ingest::Ingest>(settings, params),
        "validate" => kind::describe_kind::<validate::Validate>(settings, params),
        "features" => kind::describe_kind::<features::Features>(settings, params),
        split::Split::NAME => kind::describe_kind::<split::Split>(settings, params),
        train::Train::NAME => kind::describe_kind::<train::Train>(settings, params),
        evaluate::Evaluate::NAME => kind::describe_kind::<evaluate::Evaluate>(settings, params),
        promote::Promote::NAME => kind::describe_kind::<promote::Promote>(settings, params),
        _ => Err(SettingsError::unknown_kind(kind, KINDS)),
    }
}

/// Runs one stage of `kind`. Called in the child process that the engine starts.
pub fn run(kind: &str, invocation: &Invocation) -> Result<Outcome, StageError> {
    match kind {
        "ingest" => kind::run_kind::<ingest::Ingest>(invocation),
        "validate" => kind::run_kind::<validate::Validate>(invocation),
        "features" => kind::run_kind::<features::Features>(invocation),
        split::Split::NAME => kind::run_kind::<split::Split>(invocation),
        train::Train::NAME => kind::run_kind::<train::Train>(invocation),
        evaluate::Evaluate::NAME => kind::run_kind::<evaluate::Evaluate>(invocation),
        promote::Promote::NAME => kind::run_kind::<promote::Promote>(invocation),
        _ => Err(StageError::new(format!("unknown stage kind '{kind}'"))),
    }
}
