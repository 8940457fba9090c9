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

mod customer_rollup;
pub mod features;
pub mod generate;
pub mod ingest;
pub mod kind;
mod ordered;
mod parquet_out;
pub mod profile;
pub mod snapshot;
pub mod table;
mod table_ingest;
mod typed_csv;
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
    ingest::Ingest::NAME,
    validate::Validate::NAME,
    features::Features::NAME,
    split::Split::NAME,
    train::Train::NAME,
    evaluate::Evaluate::NAME,
    promote::Promote::NAME,
];

/// Evaluates `$body` with the type alias `$K` bound to the kind named `$kind`, or `$unknown`.
/// The one place (with [`KINDS`]) that lists the kinds.
macro_rules! with_kind {
    ($kind:expr, $K:ident => $body:expr, _ => $unknown:expr) => {
        match $kind {
            ingest::Ingest::NAME => {
                type $K = ingest::Ingest;
                $body
            }
            validate::Validate::NAME => {
                type $K = validate::Validate;
                $body
            }
            features::Features::NAME => {
                type $K = features::Features;
                $body
            }
            split::Split::NAME => {
                type $K = split::Split;
                $body
            }
            train::Train::NAME => {
                type $K = train::Train;
                $body
            }
            evaluate::Evaluate::NAME => {
                type $K = evaluate::Evaluate;
                $body
            }
            promote::Promote::NAME => {
                type $K = promote::Promote;
                $body
            }
            _ => $unknown,
        }
    };
}

/// The params.yaml section a kind reads, or `None` for an unknown kind.
pub fn params_section(kind: &str) -> Option<&'static str> {
    with_kind!(kind, K => Some(K::PARAMS_SECTION), _ => None)
}

/// What a stage of `kind` reads and writes, after validating its settings and params.
///
/// `params` is the kind's params section from params.yaml (`Value::Null` when absent).
pub fn describe(kind: &str, settings: &Value, params: &Value) -> Result<KindIo, SettingsError> {
    with_kind!(kind, K => kind::describe_kind::<K>(settings, params), _ => Err(SettingsError::unknown_kind(kind, KINDS)))
}

/// Runs one stage of `kind`. Called in the child process that the engine starts.
pub fn run(kind: &str, invocation: &Invocation) -> Result<Outcome, StageError> {
    with_kind!(kind, K => kind::run_kind::<K>(invocation), _ => Err(StageError::new(format!("unknown stage kind '{kind}'"))))
}
