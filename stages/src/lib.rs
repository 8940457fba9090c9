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
//! Each kind lives in its own module and implements `contract::Kind`; one table in this file
//! lists them (and gives [`KINDS`], their names).
//!
//! Layout (the folders are the architecture; `tests/layering.rs` enforces the arrows):
//!
//! * `contract.rs` — the engine ↔ kind contract: [`Invocation`], [`KindIo`], [`OutDecl`],
//!   [`StageSummary`], [`StageError`];
//! * `io/` — the one table reader/writer, JSON files, the one atomic writer (every out
//!   mode 0644), the one HTML escaper and the prediction-log line ([`PredictionLogRecord`]);
//!   imports neither `data` nor `model`;
//! * `data/` — ingest, validate, features, generate and their CSV/Parquet machinery; never
//!   imports `model`;
//! * `model/` — split, train, evaluate, promote, score, the model file, the encoded matrix
//!   and the estimators (which import only the encoded matrix);
//! * `search.rs` — the one search-space grammar (ranges, intervals, grids, numbers, did you
//!   mean, the seeded SplitMix64) of `-S` sweeps and `train.tune`; public as
//!   `churnflow_stages::search`, imports nothing of the crate;
//! * `progress.rs` — how far a running stage has got, for the engine's bars;
//! * `drift/` — data drift between two tables or a prediction log, Evidently's statistics;
//!   reads through `io`, uses only the metrics and the model file of `model`, and `model` never imports it.
//!
//! Every module is private; this file is the one public entry point and re-exports exactly
//! what the engine uses. [`testing`] is for this crate's own tests, examples and benches.

#![warn(unreachable_pub)]

mod contract;
mod data;
mod drift;
mod io;
mod model;
mod progress;
pub mod search;

pub use contract::{
    BaselineUse, Classify, ErrorClass, Invocation, ItemSection, KindIo, MetricsView, OutDecl, OutRole,
    SettingsError, StageError, StageSummary,
};
pub use data::generate::{generate, GenerateOptions, GenerateSummary};
pub use data::shift::{ContractShift, Offset, ShiftError, ShiftSpec, SHIFT_KEYS};
pub use drift::drift_report;
pub use drift::report::{
    ColumnDrift, DriftOptions, DriftReport, DriftSide, Histogram, SideSummary, SkippedColumn,
};
pub use io::atomic::TEMP_PREFIX;
pub use io::prediction_log::{PredictionLogLineError, PredictionLogRecord};
pub use io::table::parse_date;
pub use model::file::{load_model, Model, ModelSummary, RiskTiers};
pub use model::lookup::FeatureLookup;
pub use model::online::{
    Contribution, Customer, ExplainScratch, Explanation, FieldKind, FieldProblem, InputField, InputSchema,
    OutputSpace,
};
pub use model::plots::{
    Calibration, ConfusionAt, Gains, Importance, LiftPoint, PlotData, PlotsFile, Pr, Roc, PLOTS_SCHEMA,
};
pub use model::promote::Decision;
pub use model::score::{score, score_watched, score_with, ScoreOptions, ScoreSummary};
pub use progress::{
    read as read_progress, Reporter, Snapshot as ProgressSnapshot, Unit as ProgressUnit, PROGRESS_ENV,
};

/// churnflow's estimators behind linfa's traits: hyper-parameters that `Fit` a linfa
/// `DatasetBase` (dense `f64` records, `bool` or 0/1 `usize` labels, optional sample weights)
/// and a fitted [`estimators::ChurnModel`] whose `predict` gives P(churned = 1).
pub mod estimators {
    pub use crate::model::linfa_api::{
        ChurnLabel, ChurnModel, DecisionTreeParams, DecisionTreeValidParams, GradientBoostingParams,
        GradientBoostingValidParams, LogisticRegressionParams, LogisticRegressionValidParams,
        RandomForestParams, RandomForestValidParams,
    };
    pub use crate::model::params::{ClassWeight, Learner, MaxFeatures, TrainParams};
}

/// The one HTML escaper, for the engine's report as for the stages' pages.
pub mod html {
    pub use crate::io::html::escape;
}

/// The path `churnflow_stages::table::parse_date` the engine's `generate` command uses.
pub mod table {
    pub use crate::io::table::parse_date;
}

/// Internals that this crate's integration tests, examples and benches call directly (the
/// stage functions behind the kinds, the solvers' entry point, the metrics). Not the engine's
/// API: the engine goes through [`describe`] and [`run`].
#[doc(hidden)]
pub mod testing {
    pub mod features {
        pub use crate::data::features::{features, FeaturesParams, FeaturesSettings, EVENTS_FEATURE_COLUMNS};
    }
    pub mod ingest {
        pub use crate::data::ingest::{ingest, IngestParams, IngestSettings, EVENTS_SCHEMA};
    }
    pub mod validate {
        pub use crate::data::validate::{
            validate, ExpectationResult, ValidateSettings, ValidationParams, ValidationReport,
        };
    }
    pub mod snapshot {
        pub use crate::data::snapshot::{clean_snapshot, SnapshotSpec};
    }
    pub mod table {
        pub use crate::io::table::{parse_columns, read_raw_strings, read_typed, Ty};
    }
    pub mod metrics {
        pub use crate::model::metrics::*;
    }
    pub mod stattests {
        pub use crate::drift::stattests::*;
    }
    pub mod model {
        pub use crate::model::file::load_model;
        pub use crate::model::params::Algorithm;
    }
    pub mod train {
        pub use crate::model::params::{ClassWeight, Learner, TrainParams};
        pub use crate::model::train::train_frame;
    }
    pub mod linfa_tree {
        pub use crate::model::linfa_tree::{
            convert, fit_linfa, integer_weights, prepare, Converted, LinfaTreeError, LinfaTreeParams,
            Prepared, EXACT_F32_TOTAL,
        };
    }
}

use contract::Kind;
use serde_json::Value;

/// One built-in kind as the engine reaches it: its name, params section, and its two calls.
#[derive(Clone, Copy)]
struct KindEntry {
    name: &'static str,
    params_section: &'static str,
    describe: fn(&Value, &Value) -> Result<KindIo, SettingsError>,
    unread_by: fn(&Value, &str) -> Option<String>,
    run: fn(&Invocation) -> Result<StageSummary, StageError>,
}

const fn entry<K: Kind>() -> KindEntry {
    KindEntry {
        name: K::NAME,
        params_section: K::PARAMS_SECTION,
        describe: contract::describe_kind::<K>,
        unread_by: contract::unread_by_kind::<K>,
        run: contract::run_kind::<K>,
    }
}

/// Every built-in kind: the one list. A new kind is a file implementing `contract::Kind`
/// and one line here.
const TABLE: [KindEntry; 8] = [
    entry::<data::ingest::Ingest>(),
    entry::<data::validate::Validate>(),
    entry::<data::features::Features>(),
    entry::<model::split::Split>(),
    entry::<model::train::Train>(),
    entry::<model::evaluate::Evaluate>(),
    entry::<model::promote::Promote>(),
    entry::<drift::stage::Drift>(),
];

const fn names<const N: usize>(table: [KindEntry; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].name;
        i += 1;
    }
    out
}

/// Names of every built-in kind, for "did you mean" hints and docs (derived from the table).
pub const KINDS: &[&str] = &names(TABLE);

fn kind(name: &str) -> Option<&'static KindEntry> {
    static ENTRIES: [KindEntry; TABLE.len()] = TABLE;
    ENTRIES.iter().find(|k| k.name == name)
}

/// The params.yaml section a kind reads, or `None` for an unknown kind.
pub fn params_section(kind: &str) -> Option<&'static str> {
    self::kind(kind).map(|k| k.params_section)
}

/// What a stage of `kind` reads and writes, after validating its settings and params.
///
/// `params` is the kind's params section from params.yaml (`Value::Null` when absent).
pub fn describe(kind: &str, settings: &Value, params: &Value) -> Result<KindIo, SettingsError> {
    match self::kind(kind) {
        Some(k) => (k.describe)(settings, params),
        None => Err(SettingsError::unknown_kind(kind, KINDS)),
    }
}

/// Why a stage of `kind` with params section `params` does not read the param `key` (a
/// dotted params.yaml key, `train.l2`): what makes it ignore the key (`random_forest`, the
/// chosen algorithm), or `None` when it reads it or nothing is known. For `exp run`, to warn
/// that the points of a sweep differing only in such a key are the same run. `params` should
/// have passed [`describe`]; params that do not parse give `None`.
pub fn unread_by(kind: &str, params: &Value, key: &str) -> Option<String> {
    (self::kind(kind)?.unread_by)(params, key)
}

/// Runs one stage of `kind`. Called in the child process that the engine starts.
pub fn run(kind: &str, invocation: &Invocation) -> Result<StageSummary, StageError> {
    match self::kind(kind) {
        Some(k) => (k.run)(invocation),
        None => Err(StageError::new(format!("unknown stage kind '{kind}'"))),
    }
}
