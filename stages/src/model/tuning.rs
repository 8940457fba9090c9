//! Cross-validated tuning of the `train` params (`train.tune`). Owns the search space and the
//! candidates it gives (a grid, or seeded random draws), the stratified K-fold partition of the
//! training rows, the CV AUC of every candidate, the choice of the best, the reports (the
//! `tuning` metrics out of the train stage and its twin with every trial) and the summary a
//! tuned model file keeps ([`TuningSummary`]).
//!
//! It sees only the table the `train` kind hands it — the train split; the test split is not an
//! input of that kind, so no candidate is ever scored on a test row. The train params stay in
//! [`super::train`]: a candidate is a map of overrides (train param → value) that the caller's
//! `apply` turns into checked params, and the caller's `fit` trains one model on some rows.
//!
//! * **Space.** `space.<param>` is a list of values, `{range: [start, stop, step]}` (stop
//!   excluded; whole numbers stay whole), `{uniform: [lo, hi]}` or `{loguniform: [lo, hi]}`
//!   (random search only). A param that takes whole numbers (`max_depth`, `n_trees`, …) draws
//!   whole numbers from an interval, as does `max_features` between whole bounds (a count);
//!   other draws are rounded to 4 significant digits. Only the params the chosen algorithm
//!   reads ([`tunable`]) may be searched. Keys are taken in alphabetical order.
//! * **Grid.** Every combination, the first key varying slowest; a grid larger than `trials`
//!   is an error naming its size.
//! * **Random.** Candidate *i* draws every key from its own stream `SplitMix64::for_task(seed',
//!   i)`, so a longer search starts with the candidates of a shorter one; a candidate already
//!   drawn is drawn again. A finite space with at most `trials` points is searched whole (its
//!   grid).
//! * **Folds.** The one stratified K-fold of [`super::folds`] (as `train.cv_folds`), seeded
//!   with seed'': within each class the rows are ordered by `blake3(seed'' ‖ id)` and fold =
//!   rank mod K: every fold holds the class shares of the table, and the folds depend on the
//!   ids, not on row order (seed' and seed'' are `seed` mixed with constants). Each (candidate,
//!   fold) fit is a fresh `train` on the other K − 1 folds — preprocessing, class weights and
//!   boosting's early-stopping slice come from those rows only — scored by ROC AUC on the held
//!   fold.
//! * **Choice.** The highest mean fold AUC; a tie goes to the earlier candidate. A candidate
//!   whose fit fails on a fold is recorded with its error and never chosen.
//!
//! The rules under the space's syntax (ranges and their overflow checks, interval bounds, grid
//! order, number rounding, did you mean, SplitMix64) are [`crate::search`], shared with the
//! `-S` sweeps of `churnflow exp run`.
//!
//! Determinism: the fits run in parallel (rayon, over candidates × folds), but each is a pure
//! function of its rows and params, the results are collected in task order and averaged in
//! fold order, so the choice and the report — all but its `seconds` — do not depend on the
//! number of threads.

use crate::contract::{KindIoError, StageError};
use crate::io::table::column;
use crate::io::values::{id_values, label_values};
use crate::model::estimators::ALGORITHMS;
use crate::model::file::{Model, TuningSummary};
use crate::model::folds::stratified_folds;
use crate::model::metrics;
use crate::model::params::{Algorithm, ParamKind, Search, TuneParams};
use crate::progress::{Reporter, Unit};
use crate::search::{self, did_you_mean, number, IntervalError, RangeError, SplitMix64};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

impl Search {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Search::Random => "random",
            Search::Grid => "grid",
        }
    }
}

const MAX_TRIALS: usize = 10_000;
const MAX_FOLDS: usize = 50;
/// Mixed into `seed` for the folds and for the random draws.
const FOLD_SALT: u64 = 0x666f_6c64_7475_6e65;
const DRAW_SALT: u64 = 0x6472_6177_7475_6e65;
/// The metric candidates are scored by (a name of the evaluate stage's metrics).
const METRIC: &str = "auc_roc";

/// The train params a search may vary for `algorithm`: those it reads (its
/// [`Estimator::TUNABLE`](super::estimators::Estimator::TUNABLE)).
pub(crate) fn tunable(algorithm: Algorithm) -> Vec<&'static str> {
    algorithm.tunable().iter().map(|t| t.key).collect()
}

/// What values `key` takes, from the algorithms that tune it.
fn kind_of(key: &str) -> Option<ParamKind> {
    ALGORITHMS.iter().flat_map(|a| a.tunable()).find(|t| t.key == key).map(|t| t.kind)
}

/// Why a train param that no algorithm tunes is not searched.
fn not_tunable(key: &str) -> Option<&'static str> {
    Some(match key {
        "algorithm" => "a train stage fits one algorithm; compare them with `exp run -S train.algorithm=…`",
        "seed" => "searching seeds fits the noise of the folds",
        "learner" => "it chooses whose code fits the tree, not how the tree is grown",
        "threshold" | "risk_tiers" => "it does not change how customers are ranked, so not the AUC",
        "exclude_columns" | "id_column" | "label_column" => "it chooses the data, not the model",
        "cv_folds" | "tune" => "it configures the evaluation, not the model",
        _ => return None,
    })
}

/// The values one key of the space allows.
#[derive(Debug, Clone, PartialEq)]
enum Dimension {
    /// These values (a list or a range).
    Values(Vec<Value>),
    /// A number drawn from [lo, hi], uniformly or on a log scale; whole numbers when `whole`.
    Interval { lo: f64, hi: f64, log: bool, whole: bool },
}

impl Dimension {
    /// The values a check must accept: every listed value, or both ends of an interval (every
    /// train param check is an interval, so the ends stand for the values between).
    fn probes(&self) -> Vec<Value> {
        match self {
            Dimension::Values(v) => v.clone(),
            Dimension::Interval { lo, hi, whole, .. } => {
                [*lo, *hi].iter().map(|&x| if *whole { Value::from(x as i64) } else { number(x) }).collect()
            }
        }
    }

    fn draw(&self, rng: &mut SplitMix64) -> Value {
        match self {
            Dimension::Values(v) => v[rng.below(v.len())].clone(),
            Dimension::Interval { lo, hi, log, whole } => {
                let u = rng.unit();
                // Whole numbers: a draw from [lo, hi + 1) rounded down, so each end is as
                // likely as any number between.
                let top = if *whole { hi + 1.0 } else { *hi };
                let x = search::scale(*lo, top, *log, u);
                if *whole {
                    Value::from(x.floor().clamp(*lo, *hi) as i64)
                } else {
                    number(search::round_significant(x, 4).clamp(*lo, *hi))
                }
            }
        }
    }
}

const FORMS: &str =
    "a list of values, {range: [start, stop, step]}, {uniform: [lo, hi]} or {loguniform: [lo, hi]}";

/// Reads `space.<key>`.
fn parse_dimension(key: &str, value: &Value) -> Result<Dimension, String> {
    let at = format!("train.tune.space.{key}");
    match value {
        Value::Array(values) => {
            if values.is_empty() {
                return Err(format!("{at}: the list is empty; give the values to try"));
            }
            // Numbers by value: 1 and 1.0 are one candidate.
            let same = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            };
            for (i, v) in values.iter().enumerate() {
                if values[..i].iter().any(|u| same(u, v)) {
                    return Err(format!("{at}: {v} is listed twice"));
                }
            }
            Ok(Dimension::Values(values.clone()))
        }
        Value::Object(map) if map.len() == 1 => {
            let (form, args) = map.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or(("", value));
            let nums: Option<Vec<f64>> =
                args.as_array().and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>());
            match form {
                "range" => range(&at, args),
                "uniform" | "loguniform" => {
                    let log = form == "loguniform";
                    let Some([lo, hi]) = nums.as_deref().and_then(|n| <[f64; 2]>::try_from(n).ok()) else {
                        return Err(format!("{at}: {form} takes two numbers, [lo, hi], got {args}"));
                    };
                    match search::check_interval(lo, hi, log) {
                        Ok(()) => {}
                        Err(IntervalError::Bounds) => {
                            return Err(format!(
                                "{at}: {form} needs finite bounds with lo < hi, got [{lo}, {hi}]"
                            ))
                        }
                        Err(IntervalError::Width) => {
                            return Err(format!(
                                "{at}: {form} needs bounds whose distance hi - lo is a finite number, \
                                 got [{lo}, {hi}]"
                            ))
                        }
                        Err(IntervalError::NotPositive) => {
                            return Err(format!("{at}: loguniform needs bounds above 0, got [{lo}, {hi}]"))
                        }
                    }
                    let both_whole = lo.fract() == 0.0 && hi.fract() == 0.0;
                    let whole = match kind_of(key) {
                        Some(ParamKind::Whole) => true,
                        Some(ParamKind::CountOrShare) => both_whole && lo >= 1.0,
                        _ => false,
                    };
                    if whole && !both_whole {
                        return Err(format!(
                            "{at}: {key} takes whole numbers; give whole bounds, got [{lo}, {hi}]"
                        ));
                    }
                    Ok(Dimension::Interval { lo, hi, log, whole })
                }
                other => Err(format!("{at}: '{other}' is not a form of the space; expected {FORMS}")),
            }
        }
        other => {
            let hint = if other.is_object() {
                String::new()
            } else {
                format!("; a fixed value belongs in train.{key}, a search needs several")
            };
            Err(format!("{at}: expected {FORMS}, found {other}{hint}"))
        }
    }
}

/// `{range: [start, stop, step]}` (step 1 when left out): start, start + step, … while before
/// stop ([`search::int_range`], [`search::float_range`]). Whole numbers stay whole.
fn range(at: &str, args: &Value) -> Result<Dimension, String> {
    let usage = || format!("{at}: range takes [start, stop] or [start, stop, step], got {args}");
    let items = args.as_array().filter(|a| (2..=3).contains(&a.len())).ok_or_else(usage)?;
    let values = if let Some(ints) = items.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>() {
        search::int_range(ints[0], ints[1], ints.get(2).copied().unwrap_or(1), MAX_TRIALS)
    } else {
        let nums = items.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>().ok_or_else(usage)?;
        search::float_range(nums[0], nums[1], nums.get(2).copied().unwrap_or(1.0), MAX_TRIALS)
    };
    values.map(Dimension::Values).map_err(|e| match e {
        RangeError::ZeroStep => format!("{at}: the step of a range must not be 0"),
        RangeError::NotFinite => format!("{at}: a range needs finite numbers and a step other than 0"),
        RangeError::TooMany(max) => format!("{at}: the range gives more than {max} values"),
        RangeError::Empty => {
            format!("{at}: the range gives no values (stop is not past start in the step's direction)")
        }
    })
}

/// One key of the space checked against what `algorithm` tunes.
fn check_key(key: &str, algorithm: Algorithm) -> Result<(), String> {
    let own = tunable(algorithm);
    if own.contains(&key) {
        return Ok(());
    }
    let at = format!("train.tune.space.{key}");
    let list = own.join(", ");
    let name = algorithm.name();
    if ALGORITHMS.iter().any(|a| tunable(*a).contains(&key)) {
        return Err(format!("{at}: {name} does not use {key} (it tunes: {list})"));
    }
    if let Some(why) = not_tunable(key) {
        return Err(format!("{at}: {key} is not searched: {why} ({name} tunes: {list})"));
    }
    let mut known: Vec<&str> = ALGORITHMS.iter().flat_map(|a| tunable(*a)).collect();
    known.extend([
        "algorithm",
        "learner",
        "seed",
        "threshold",
        "risk_tiers",
        "exclude_columns",
        "id_column",
        "label_column",
        "cv_folds",
    ]);
    let hint = did_you_mean(key, known).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
    Err(format!("{at}: '{key}' is not a train param{hint}; {name} tunes: {list}"))
}

impl TuneParams {
    /// The space's keys, checked against `algorithm`, with their values.
    fn dimensions(&self, algorithm: Algorithm) -> Result<Vec<(String, Dimension)>, KindIoError> {
        if self.space.is_empty() {
            return Err(KindIoError::param(
                "train.tune.space",
                format!(
                    "train.tune.space is empty: name the train params to search, e.g. \
                 `{}: [...]` ({} tunes: {})",
                    tunable(algorithm).iter().find(|k| **k != "class_weight").unwrap_or(&"l2"),
                    algorithm.name(),
                    tunable(algorithm).join(", ")
                ),
            ));
        }
        self.space
            .iter()
            .map(|(key, value)| {
                let at = |message| KindIoError::param(format!("train.tune.space.{key}"), message);
                check_key(key, algorithm).map_err(at)?;
                Ok((key.clone(), parse_dimension(key, value).map_err(at)?))
            })
            .collect()
    }

    /// Rejects a section that cannot run, before anything runs: bounds, the space's keys (a
    /// param `algorithm` reads), its forms, every value (through `apply`, which builds and
    /// checks the train params with some overrides), the grid's size.
    pub(crate) fn check<P>(
        &self,
        algorithm: Algorithm,
        apply: impl Fn(&Map<String, Value>) -> Result<P, String>,
    ) -> Result<(), KindIoError> {
        if !(1..=MAX_TRIALS).contains(&self.trials) {
            return Err(KindIoError::param(
                "train.tune.trials",
                format!("train.tune.trials must be between 1 and {MAX_TRIALS}, got {}", self.trials),
            ));
        }
        if !(2..=MAX_FOLDS).contains(&self.cv) {
            return Err(KindIoError::param(
                "train.tune.cv",
                format!("train.tune.cv must be between 2 and {MAX_FOLDS} (folds), got {}", self.cv),
            ));
        }
        let dims = self.dimensions(algorithm)?;
        for (key, dim) in &dims {
            for v in dim.probes() {
                let mut one = Map::new();
                one.insert(key.clone(), v.clone());
                apply(&one).map_err(|e| {
                    let at = format!("train.tune.space.{key}");
                    KindIoError::param(&at, format!("{at}: the value {v} is refused: {e}"))
                })?;
            }
        }
        self.candidates(&dims).map(|_| ())
    }

    /// The candidates to score, in order.
    fn candidates(&self, dims: &[(String, Dimension)]) -> Result<Vec<Map<String, Value>>, KindIoError> {
        let size = grid_size(dims);
        match self.search {
            Search::Grid => {
                if let Some((key, _)) = dims.iter().find(|(_, d)| matches!(d, Dimension::Interval { .. })) {
                    let at = format!("train.tune.space.{key}");
                    return Err(KindIoError::param(
                        &at,
                        format!(
                            "{at}: a grid search needs a list or a range; uniform and loguniform are \
                             for `search: random`"
                        ),
                    ));
                }
                match size {
                    Some(n) if n <= self.trials => Ok(grid(dims)),
                    _ => Err(KindIoError::param(
                        "train.tune.trials",
                        format!(
                            "train.tune.trials: the grid has {} points ({}), more than trials ({}): \
                         raise trials or give fewer values",
                            size.map_or("more than 2^64".to_string(), |n| n.to_string()),
                            dims.iter()
                                .map(|(k, d)| format!("{} {k}", d.probes().len()))
                                .collect::<Vec<_>>()
                                .join(" × "),
                            self.trials
                        ),
                    )),
                }
            }
            Search::Random => match size {
                Some(n) if n <= self.trials => Ok(grid(dims)),
                _ => Ok(self.draws(dims)),
            },
        }
    }

    /// `trials` distinct random candidates (the space has more points than that).
    fn draws(&self, dims: &[(String, Dimension)]) -> Vec<Map<String, Value>> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.trials);
        // A space with more points than trials yields `trials` distinct ones long before this.
        let attempts = 1000 * self.trials as u64 + 10_000;
        for attempt in 0..attempts {
            if out.len() == self.trials {
                break;
            }
            let mut rng = SplitMix64::for_task(self.seed ^ DRAW_SALT, attempt);
            let candidate: Map<String, Value> =
                dims.iter().map(|(k, d)| (k.clone(), d.draw(&mut rng))).collect();
            if seen.insert(Value::Object(candidate.clone()).to_string()) {
                out.push(candidate);
            }
        }
        out
    }
}

/// Points of the grid of `dims`; `None` when a key is an interval (or the count overflows).
fn grid_size(dims: &[(String, Dimension)]) -> Option<usize> {
    search::grid_size(dims.iter().map(|(_, d)| match d {
        Dimension::Values(v) => Some(v.len()),
        Dimension::Interval { .. } => None,
    }))
}

/// Every combination of the listed values, the first key varying slowest.
fn grid(dims: &[(String, Dimension)]) -> Vec<Map<String, Value>> {
    let lists: Vec<(&String, Vec<Value>)> = dims.iter().map(|(k, d)| (k, d.probes())).collect();
    let lengths: Vec<usize> = lists.iter().map(|(_, v)| v.len()).collect();
    let size = lengths.iter().product::<usize>();
    (0..size)
        .map(|index| {
            let digits = search::grid_digits(&lengths, index);
            lists.iter().zip(digits).map(|((k, values), d)| ((*k).clone(), values[d].clone())).collect()
        })
        .collect()
}

/// One candidate's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Trial {
    pub params: Map<String, Value>,
    /// ROC AUC on each held-out fold (null for a fold whose fit failed).
    pub fold_auc: Vec<Option<f64>>,
    pub cv_auc_mean: Option<f64>,
    /// Sample standard deviation over the folds.
    pub cv_auc_std: Option<f64>,
    /// Why the candidate could not be scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `tuning` out, a metrics file: the figures a person compares across runs (`metrics
/// show`, `metrics diff` in a pull request, `exp show`), with the chosen params nested so they
/// flatten to `best_params.<name>`. Every trial is in the twin file ([`TrialsReport`]), not
/// here: a 20-candidate search would otherwise add a hundred rows to every metrics diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TuningReport {
    pub schema_version: u32,
    pub metric: String,
    pub algorithm: String,
    pub search: Search,
    /// Candidates scored.
    pub trials: usize,
    pub cv: usize,
    pub seed: u64,
    /// Training rows the folds were cut from.
    pub rows: usize,
    /// Points in the space (null when an interval makes it unbounded).
    pub space_size: Option<usize>,
    /// The chosen candidate (1-based).
    pub best_trial: usize,
    pub best_cv_auc_mean: f64,
    pub best_cv_auc_std: f64,
    pub failed_trials: usize,
    /// Wall time of the search (the one value that differs between two identical runs).
    pub seconds: f64,
    /// The chosen values of the searched params (the others are params.yaml's).
    pub best_params: Map<String, Value>,
}

/// Every trial of a search: the twin of the `tuning` report ([`trials_path`]), a plain out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrialsReport {
    pub schema_version: u32,
    pub metric: String,
    /// The chosen candidate (1-based).
    pub best_trial: usize,
    /// Every candidate, keyed by its number (1-based, zero-padded to one width so the keys
    /// sort in order), in the order drawn.
    pub trial: BTreeMap<String, Trial>,
}

/// Where the trials of the report at `report` go: `reports/tuning.json` →
/// `reports/tuning_trials.json`. `None` when the report is not a `.json` file.
pub(crate) fn trials_path(report: &str) -> Option<String> {
    report
        .strip_suffix(".json")
        .filter(|stem| !stem.is_empty() && !stem.ends_with('/'))
        .map(|stem| format!("{stem}_trials.json"))
}

/// What a search found.
pub(crate) struct Tuned<P> {
    /// The chosen candidate's train params.
    pub params: P,
    pub report: TuningReport,
    pub trials: TrialsReport,
    /// What the model file records.
    pub summary: TuningSummary,
}

/// The table the candidates are scored on (the train split) and how to read it.
pub(crate) struct TrainingTable<'a> {
    pub df: &'a DataFrame,
    /// For messages.
    pub file: &'a Path,
    pub id_column: &'a str,
    pub label_column: &'a str,
}

/// One fold: the rows fitted on and the held-out rows with their labels.
struct Fold {
    fit: DataFrame,
    held: DataFrame,
    held_y: Vec<u8>,
}

/// Runs the search of `tune` for `algorithm` on `table`: `apply` turns a candidate's overrides
/// into checked train params, `fit` trains a model on some rows with them.
pub(crate) fn tune<P: Sync>(
    table: &TrainingTable,
    tune: &TuneParams,
    algorithm: Algorithm,
    apply: impl Fn(&Map<String, Value>) -> Result<P, String>,
    fit: impl Fn(&DataFrame, &P) -> Result<Model, StageError> + Sync,
) -> Result<Tuned<P>, StageError> {
    let start = Instant::now();
    let dims = tune.dimensions(algorithm).map_err(|e| StageError::new(e.message()))?;
    let candidates = tune.candidates(&dims).map_err(|e| StageError::new(e.message()))?;
    let params: Vec<P> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            apply(c).map_err(|e| {
                StageError::new(format!(
                    "train.tune: trial {} ({}) is refused: {e}",
                    i + 1,
                    Value::Object(c.clone())
                ))
            })
        })
        .collect::<Result<_, _>>()?;

    let (df, file) = (table.df, table.file);
    let ids = id_values(column(df, table.id_column, file)?, file)?;
    let y = label_values(column(df, table.label_column, file)?, file)?;
    let k = tune.cv;
    let positives = y.iter().filter(|&&l| l == 1).count();
    let rarer = positives.min(y.len() - positives);
    if rarer < k {
        return Err(StageError::new(format!(
            "train.tune.cv: {k} folds need at least {k} rows of each class, but {} has {rarer} rows \
             with {} = {}; lower train.tune.cv",
            file.display(),
            table.label_column,
            u8::from(positives == rarer)
        )));
    }
    let fold_of = stratified_folds(&ids, &y, k, tune.seed ^ FOLD_SALT);
    let folds: Vec<Fold> = (0..k)
        .map(|f| {
            let held: Vec<bool> = fold_of.iter().map(|&x| x == f).collect();
            let held_mask = BooleanChunked::from_slice("held".into(), &held);
            let polars_error = |e: PolarsError| StageError::new(format!("{}: {e}", file.display()));
            Ok(Fold {
                fit: df.filter(&!&held_mask).map_err(polars_error)?,
                held: df.filter(&held_mask).map_err(polars_error)?,
                held_y: y.iter().zip(&held).filter(|(_, &h)| h).map(|(&l, _)| l).collect(),
            })
        })
        .collect::<Result<_, StageError>>()?;

    let rows_per_candidate: u64 = folds.iter().map(|f| f.fit.height() as u64).sum();
    let progress = Reporter::from_env(Unit::Rows, rows_per_candidate * candidates.len() as u64);
    let scores: Vec<Result<f64, String>> = (0..candidates.len() * k)
        .into_par_iter()
        .map(|task| {
            let (c, f) = (task / k, task % k);
            let fold = &folds[f];
            let scored = fit(&fold.fit, &params[c])
                .and_then(|model| model.predict_table(&fold.held, file))
                .map_err(|e| e.message)
                .and_then(|p| {
                    metrics::auc_roc(&fold.held_y, &p).ok_or_else(|| "the AUC is undefined".to_string())
                })
                .map_err(|e| format!("fold {}: {e}", f + 1));
            progress.add(fold.fit.height() as u64);
            scored
        })
        .collect();

    let mut trials = Vec::with_capacity(candidates.len());
    for (c, candidate) in candidates.iter().enumerate() {
        let results = &scores[c * k..(c + 1) * k];
        let fold_auc: Vec<Option<f64>> = results.iter().map(|r| r.as_ref().ok().copied()).collect();
        let error = results.iter().find_map(|r| r.as_ref().err().cloned());
        let (mean, std) = if error.is_none() {
            let aucs: Vec<f64> = fold_auc.iter().flatten().copied().collect();
            let (m, s) = mean_std(&aucs);
            (Some(m), Some(s))
        } else {
            (None, None)
        };
        trials.push(Trial { params: candidate.clone(), fold_auc, cv_auc_mean: mean, cv_auc_std: std, error });
    }
    let mut best: Option<usize> = None;
    for (c, t) in trials.iter().enumerate() {
        if let Some(m) = t.cv_auc_mean {
            if best.is_none_or(|b| m > trials[b].cv_auc_mean.unwrap_or(f64::NEG_INFINITY)) {
                best = Some(c);
            }
        }
    }
    let Some(b) = best else {
        return Err(StageError::new(format!(
            "train.tune: no candidate could be scored; trial 1: {}",
            trials[0].error.as_deref().unwrap_or("no AUC")
        )));
    };
    let winner = &trials[b];
    let (mean, std) = (winner.cv_auc_mean.unwrap_or(f64::NAN), winner.cv_auc_std.unwrap_or(f64::NAN));
    let summary = TuningSummary {
        search: tune.search.name().into(),
        trials: trials.len(),
        cv: k,
        seed: tune.seed,
        metric: METRIC.into(),
        best_params: winner.params.clone(),
        cv_auc_mean: mean,
        cv_auc_std: std,
    };
    let report = TuningReport {
        schema_version: 1,
        metric: METRIC.into(),
        algorithm: algorithm.name().into(),
        search: tune.search,
        trials: trials.len(),
        cv: k,
        seed: tune.seed,
        rows: y.len(),
        space_size: grid_size(&dims),
        best_trial: b + 1,
        best_cv_auc_mean: mean,
        best_cv_auc_std: std,
        failed_trials: trials.iter().filter(|t| t.error.is_some()).count(),
        seconds: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        best_params: winner.params.clone(),
    };
    let trials = TrialsReport {
        schema_version: 1,
        metric: METRIC.into(),
        best_trial: b + 1,
        trial: trial_keys(trials),
    };
    let params = params.into_iter().nth(b).expect("the best trial is one of the candidates");
    Ok(Tuned { params, report, trials, summary })
}

/// The trials keyed `1`, `2`, … zero-padded to the width of the largest number.
fn trial_keys(trials: Vec<Trial>) -> BTreeMap<String, Trial> {
    let width = trials.len().to_string().len();
    trials.into_iter().enumerate().map(|(i, t)| (format!("{:0width$}", i + 1), t)).collect()
}

/// Mean and sample standard deviation (n − 1; 0 for one value).
fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var =
        if x.len() > 1 { x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn space(search: Search, trials: usize, space: Value) -> TuneParams {
        TuneParams { search, trials, space: serde_json::from_value(space).unwrap(), ..TuneParams::default() }
    }

    fn candidates(t: &TuneParams, algorithm: Algorithm) -> Result<Vec<Map<String, Value>>, String> {
        t.dimensions(algorithm).and_then(|d| t.candidates(&d)).map_err(String::from)
    }

    #[test]
    fn a_grid_varies_the_first_key_slowest_and_refuses_more_points_than_trials() {
        let t = space(Search::Grid, 6, json!({"max_depth": {"range": [2, 8, 3]}, "n_trees": [10, 20, 30]}));
        let c = candidates(&t, Algorithm::RandomForest).unwrap();
        let pairs: Vec<(i64, i64)> =
            c.iter().map(|m| (m["max_depth"].as_i64().unwrap(), m["n_trees"].as_i64().unwrap())).collect();
        assert_eq!(pairs, [(2, 10), (2, 20), (2, 30), (5, 10), (5, 20), (5, 30)]);
        let e = candidates(&TuneParams { trials: 5, ..t }, Algorithm::RandomForest).unwrap_err();
        assert!(e.starts_with("train.tune.trials: the grid has 6 points (2 max_depth × 3 n_trees)"), "{e}");
    }

    #[test]
    fn random_draws_are_distinct_seeded_in_bounds_and_a_longer_search_extends_a_shorter_one() {
        let s = json!({"learning_rate": {"loguniform": [0.02, 0.3]}, "max_leaves": {"uniform": [8, 64]},
                       "subsample": {"uniform": [0.5, 1.0]}, "class_weight": ["balanced", "none"]});
        let ten = candidates(&space(Search::Random, 10, s.clone()), Algorithm::GradientBoosting).unwrap();
        let twenty = candidates(&space(Search::Random, 20, s.clone()), Algorithm::GradientBoosting).unwrap();
        assert_eq!(ten.len(), 10);
        assert_eq!(ten[..], twenty[..10]);
        let other_seed =
            candidates(&TuneParams { seed: 7, ..space(Search::Random, 10, s) }, Algorithm::GradientBoosting)
                .unwrap();
        assert_ne!(ten, other_seed);
        for c in &twenty {
            let lr = c["learning_rate"].as_f64().unwrap();
            assert!((0.02..=0.3).contains(&lr), "{c:?}");
            assert_eq!(format!("{:.3e}", lr).parse::<f64>().unwrap(), lr, "4 significant digits: {lr}");
            let leaves = c["max_leaves"].as_i64().expect("a whole number");
            assert!((8..=64).contains(&leaves));
        }
        let distinct: HashSet<String> = twenty.iter().map(|c| Value::Object(c.clone()).to_string()).collect();
        assert_eq!(distinct.len(), 20);
    }

    #[test]
    fn seeded_draws_never_change() {
        // What 45fccd4 drew; moving the grammar to `crate::search` must not change a seed's search.
        let s = json!({"learning_rate": {"loguniform": [0.02, 0.3]}, "max_leaves": {"uniform": [8, 64]},
                       "class_weight": ["balanced", "none"]});
        let c = candidates(&space(Search::Random, 3, s), Algorithm::GradientBoosting).unwrap();
        let shown: Vec<String> = c.iter().map(|m| Value::Object(m.clone()).to_string()).collect();
        assert_eq!(
            shown,
            [
                r#"{"class_weight":"balanced","learning_rate":0.03636,"max_leaves":52}"#,
                r#"{"class_weight":"balanced","learning_rate":0.1045,"max_leaves":58}"#,
                r#"{"class_weight":"none","learning_rate":0.02058,"max_leaves":18}"#
            ]
        );
    }

    #[test]
    fn a_finite_space_no_larger_than_trials_is_searched_whole() {
        let t = space(Search::Random, 10, json!({"l2": [0.1, 1, 10], "log_terms": [true, false]}));
        assert_eq!(candidates(&t, Algorithm::LogisticRegression).unwrap().len(), 6);
        let t = space(Search::Random, 4, json!({"l2": [0.1, 1, 10], "log_terms": [true, false]}));
        let c = candidates(&t, Algorithm::LogisticRegression).unwrap();
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn whole_number_draws_reach_both_ends() {
        let d = Dimension::Interval { lo: 2.0, hi: 4.0, log: false, whole: true };
        let mut seen = [0usize; 3];
        for i in 0..300 {
            let v = d.draw(&mut SplitMix64::for_task(1, i)).as_i64().unwrap();
            seen[(v - 2) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }

    #[test]
    fn keys_are_checked_against_the_algorithm_with_a_suggestion() {
        let e = check_key("learnig_rate", Algorithm::GradientBoosting).unwrap_err();
        let says = "train.tune.space.learnig_rate: 'learnig_rate' is not a train param (did you mean \
                    'learning_rate'?)";
        assert!(e.starts_with(says), "{e}");
        let e = check_key("max_leaves", Algorithm::LogisticRegression).unwrap_err();
        assert!(
            e.contains("logistic_regression does not use max_leaves (it tunes: class_weight, l2,"),
            "{e}"
        );
        let e = check_key("seed", Algorithm::RandomForest).unwrap_err();
        assert!(e.contains("seed is not searched"), "{e}");
        assert!(check_key("max_features", Algorithm::RandomForest).is_ok());
    }

    #[test]
    fn forms_of_the_space_are_read_with_clear_errors() {
        let bad = [
            (json!([]), "the list is empty"),
            (json!([1, 1]), "listed twice"),
            (json!([1, 1.0]), "listed twice"),
            (json!(0.5), "a fixed value belongs in train.l2"),
            (json!({"range": [3, 1]}), "gives no values"),
            (json!({"range": [1, 5, 0]}), "must not be 0"),
            (json!({"uniform": [2, 1]}), "lo < hi"),
            (json!({"loguniform": [0, 1]}), "above 0"),
            (json!({"uniform": [-1e308, 1e308]}), "hi - lo is a finite number"),
            (json!({"normal": [0, 1]}), "'normal' is not a form"),
        ];
        for (v, says) in bad {
            let e = parse_dimension("l2", &v).unwrap_err();
            assert!(e.starts_with("train.tune.space.l2: ") && e.contains(says), "{v}: {e}");
        }
        // A range that would overflow stops at the last value it reaches.
        assert_eq!(
            parse_dimension("seed", &json!({"range": [i64::MAX - 7, i64::MAX, 5]})).unwrap(),
            Dimension::Values(vec![json!(i64::MAX - 7), json!(i64::MAX - 2)])
        );
        assert_eq!(
            parse_dimension("l2", &json!({"range": [0.1, 0.4, 0.1]})).unwrap(),
            Dimension::Values(vec![json!(0.1), json!(0.2), json!(0.3)])
        );
        let e = parse_dimension("max_depth", &json!({"uniform": [2.5, 8]})).unwrap_err();
        assert!(e.contains("takes whole numbers"), "{e}");
    }

    #[test]
    fn trial_keys_sort_in_trial_order() {
        let t =
            Trial { params: Map::new(), fold_auc: vec![], cv_auc_mean: None, cv_auc_std: None, error: None };
        let keys: Vec<String> = trial_keys(vec![t; 12]).into_keys().collect();
        assert_eq!(keys[..3], ["01", "02", "03"]);
        assert_eq!(keys[11], "12");
    }
}
