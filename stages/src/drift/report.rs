//! The drift report: per shared column its kind, Evidently's default method for the
//! reference size and distinct count (or the one params.yaml sets), the statistic, threshold
//! and verdict, PSI with its band and both distributions; dataset drift (share of drifted
//! columns ≥ `drift_share`, 0.5); prediction drift, label drift and the AUC on current data.
//! Also its text form.
//!
//! Columns are compared as Evidently's `DataDriftPreset` does: missing values dropped (±inf
//! only in a column that also has a missing value — Evidently's dataset-level quirk), the
//! method chosen on what is left. The id columns are skipped; the label and the prediction are
//! reported apart and do not count towards dataset drift.

use crate::contract::{KindIoError, StageError};
use crate::drift::columns::{kind_of, numbers, sorted_clean_numbers, string_counts, Loaded, SortBuffers};
use crate::drift::stattests::{
    binned_shares_numerical_sorted, binning_edges_sorted, dataset_drift_with_share, default_method, psi_band,
    psi_from_shares, CategoryCounts, CategoryKey, ColumnKind, Method, Score, ScoreKind, StatError,
};
use crate::model::metrics::auc_roc;
use polars::prelude::{Column, DataFrame};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One side of a drift comparison: a table (Parquet or CSV by extension; a file without one,
/// such as a store object, is recognised by its content) or a folder of prediction-log
/// `*.jsonl` files.
#[derive(Debug, Clone)]
pub struct DriftSide {
    pub path: PathBuf,
    /// How to name it in messages and reports.
    pub shown: String,
}

/// What to compare beyond the two sides.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// Columns never compared (ids).
    pub id_columns: Vec<String>,
    /// The label: compared separately (label drift), and with the prediction for the AUC.
    pub label_column: String,
    /// The model's score: compared separately (prediction drift).
    pub prediction_column: String,
    /// The `drift` section of params.yaml (`Value::Null` when absent).
    pub params: serde_json::Value,
    /// A side read from the prediction log keeps only the lines whose `time` (RFC 3339, UTC,
    /// as `serve` writes it) is at or after this one.
    pub log_since: Option<String>,
    /// The model the reference is the training data of (`registry:<model>`): it scores the
    /// reference when only the current side has `prediction_column`.
    pub reference_model: Option<PathBuf>,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            id_columns: vec!["customer_id".to_string()],
            label_column: "churned".to_string(),
            prediction_column: "churn_probability".to_string(),
            params: serde_json::Value::Null,
            log_since: None,
            reference_model: None,
        }
    }
}

/// Evidently's dataset-drift share.
const DEFAULT_DRIFT_SHARE: f64 = 0.5;
/// Categories drawn in a histogram; the rest are summed into one bar.
const MAX_BARS: usize = 20;

/// The `drift` section of params.yaml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DriftParams {
    /// Per column: the method (an Evidently name, a row of `stattests::METHODS`) and/or the
    /// threshold.
    #[serde(default)]
    pub(crate) columns: BTreeMap<String, ColumnParams>,
    /// Dataset drift when at least this share of the columns drifted.
    #[serde(default = "default_share")]
    pub(crate) drift_share: f64,
}

fn default_share() -> f64 {
    DEFAULT_DRIFT_SHARE
}

/// `drift.columns.<name>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColumnParams {
    /// Deserialized from its id; an unknown one is refused with the list of ids.
    pub(crate) method: Option<Method>,
    pub(crate) threshold: Option<f64>,
}

impl Default for DriftParams {
    fn default() -> Self {
        DriftParams { columns: BTreeMap::new(), drift_share: DEFAULT_DRIFT_SHARE }
    }
}

impl DriftParams {
    pub(crate) fn parse(value: &serde_json::Value) -> Result<DriftParams, StageError> {
        let value = if value.is_null() { serde_json::json!({}) } else { value.clone() };
        let p: DriftParams = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            StageError::new(if path == "." {
                format!("params.yaml, section drift: {}", e.inner())
            } else {
                format!("params.yaml: drift.{path}: {}", e.inner())
            })
        })?;
        p.check().map_err(StageError::new)?;
        Ok(p)
    }

    /// [`DriftParams::check_bounds`] as one line naming params.yaml.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.check_bounds().map_err(|e| format!("params.yaml: {}", e.message()))
    }

    /// The bounds serde cannot say: the share in (0, 1], positive thresholds (the methods are
    /// known once deserialized).
    pub(crate) fn check_bounds(&self) -> Result<(), KindIoError> {
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            return Err(KindIoError::param(
                "drift.drift_share",
                format!("drift.drift_share must be in (0, 1], not {}", self.drift_share),
            ));
        }
        for (name, c) in &self.columns {
            if let Some(t) = c.threshold {
                if !(t.is_finite() && t > 0.0) {
                    let key = format!("drift.columns.{name}.threshold");
                    return Err(KindIoError::param(
                        &key,
                        format!("{key} must be a positive number, not {t}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A distribution as bars: the reference's and the current share per bin or value.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// A value, or a bin `[lo, hi)` (the last bin is closed).
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
    /// The bin edges (one more than the bars) when the bars are numeric bins, for the HTML
    /// page's axis; not in the JSON, whose labels name the bins.
    #[serde(skip)]
    pub edges: Option<Vec<f64>>,
}

/// The drift of one column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    /// `numerical` or `categorical`.
    pub kind: &'static str,
    /// Evidently's name (the `id` of a row of `stattests::METHODS`): `ks`, `chisquare`, ….
    pub method: &'static str,
    /// Evidently's display name (`K-S p_value`, …).
    pub method_name: &'static str,
    /// `default` (Evidently's choice) or `params` (params.yaml).
    pub method_from: &'static str,
    /// `p_value` (drift when small) or `distance` (drift when large).
    pub score_kind: &'static str,
    pub statistic: f64,
    pub threshold: f64,
    pub drift: bool,
    /// How far past its threshold: statistic / threshold for distances, threshold / p for
    /// p-values (> 1 is past it); the table is sorted by it.
    pub drift_score: f64,
    pub psi: f64,
    /// `none` (< 0.1), `moderate` (< 0.25), `major`.
    pub psi_band: &'static str,
    /// Values compared (missing values dropped).
    pub reference_values: usize,
    pub current_values: usize,
    pub reference_missing: usize,
    pub current_missing: usize,
    /// Distinct values over both sides (counted up to 6 for numerical columns: only "> 5"
    /// matters to the method choice).
    pub distinct_values: usize,
    pub histogram: Histogram,
}

/// A column that was not compared, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedColumn {
    pub column: String,
    pub reason: String,
    /// Left out on purpose (an id column), not for want of a comparable type.
    #[serde(skip)]
    pub by_design: bool,
}

/// One side as the report names it.
#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    pub source: String,
    /// `table` or `prediction log (N files)`.
    pub read_as: String,
    pub rows: usize,
}

/// The whole report (`--json` prints it as it is).
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub schema: u32,
    pub reference: SideSummary,
    pub current: SideSummary,
    pub dataset_drift: bool,
    pub drifted_columns: usize,
    pub compared_columns: usize,
    /// drifted / compared.
    pub share: f64,
    pub drift_share: f64,
    /// Most drifted first.
    pub columns: Vec<ColumnDrift>,
    pub skipped: Vec<SkippedColumn>,
    /// More columns could not be compared than were: the verdict says little about the data,
    /// so `--fail-on-drift` and `monitor` fail on it as on drift. Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// The model's score distribution, when both sides have it.
    pub prediction_drift: Option<ColumnDrift>,
    /// The label's distribution, when both sides have it.
    pub label_drift: Option<ColumnDrift>,
    /// ROC AUC of the prediction against the label on the current side, when it has both.
    pub current_auc_roc: Option<f64>,
}

/// Computes the report for two frames (`report.reference`/`current` name them afterwards).
pub(crate) fn compute(
    reference: &Loaded,
    current: &Loaded,
    options: &DriftOptions,
    params: &DriftParams,
    names: (&str, &str),
) -> Result<DriftReport, StageError> {
    let (r, c) = (&reference.df, &current.df);
    if r.height() == 0 {
        return Err(StageError::new(format!("{}: no rows", names.0)));
    }
    if c.height() == 0 {
        return Err(StageError::new(format!("{}: no rows", names.1)));
    }
    let special = |n: &str| n == options.label_column || n == options.prediction_column;
    let shared: Vec<String> = r
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| c.column(n).is_ok() && !options.id_columns.contains(n) && !special(n))
        .collect();
    if shared.is_empty() {
        let list = |df: &DataFrame| {
            df.get_column_names().iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        };
        return Err(StageError::new(format!(
            "no shared columns to compare: {} has [{}], {} has [{}]",
            names.0,
            list(r),
            names.1,
            list(c)
        )));
    }
    for name in params.columns.keys() {
        if !shared.contains(name) && !special(name) {
            return Err(StageError::new(format!(
                "params.yaml: drift.columns.{name}: no such column on both sides (compared: {})",
                shared.join(", ")
            )));
        }
    }

    let mut skipped = Vec::new();
    for (df, other, side) in [(r, c, "reference"), (c, r, "current")] {
        for n in df.get_column_names() {
            let n = n.to_string();
            if options.id_columns.contains(&n) {
                if side == "reference" {
                    skipped.push(SkippedColumn { column: n, reason: "id column".into(), by_design: true });
                }
            } else if other.column(&n).is_err() && !special(&n) {
                skipped.push(SkippedColumn {
                    column: n,
                    reason: format!("only in the {side}"),
                    by_design: false,
                });
            }
        }
    }
    // Columns are independent: computed on all cores, collected in their order.
    let buffers = SortBuffers::default();
    let results: Vec<Result<Result<ColumnDrift, String>, StageError>> = shared
        .par_iter()
        .map(|name| {
            let col_params = params.columns.get(name).cloned().unwrap_or_default();
            column_drift(column(r, name)?, column(c, name)?, &col_params, false, &buffers)
        })
        .collect();
    let mut columns = Vec::new();
    for (name, result) in shared.iter().zip(results) {
        match result? {
            Ok(d) => columns.push(d),
            Err(reason) => skipped.push(SkippedColumn { column: name.clone(), reason, by_design: false }),
        }
    }
    if columns.is_empty() {
        let why: Vec<String> = skipped.iter().map(|s| format!("{} ({})", s.column, s.reason)).collect();
        return Err(StageError::new(format!("no column could be compared: {}", why.join(", "))));
    }
    columns.sort_by(|a, b| b.drift_score.total_cmp(&a.drift_score).then_with(|| a.column.cmp(&b.column)));
    let drifted = columns.iter().filter(|d| d.drift).count();
    let total = columns.len();

    let both = |n: &str| r.column(n).is_ok() && c.column(n).is_ok();
    let special_drift = |n: &str, categorical: bool| -> Result<Option<ColumnDrift>, StageError> {
        if !both(n) {
            return Ok(None);
        }
        let p = params.columns.get(n).cloned().unwrap_or_default();
        Ok(column_drift(column(r, n)?, column(c, n)?, &p, categorical, &buffers)?.ok())
    };
    let prediction_drift = special_drift(&options.prediction_column, false)?;
    let label_drift = special_drift(&options.label_column, true)?;
    let current_auc_roc = auc(c, &options.label_column, &options.prediction_column)?;

    Ok(DriftReport {
        schema: 1,
        reference: SideSummary {
            source: names.0.to_string(),
            read_as: reference.source.clone(),
            rows: r.height(),
        },
        current: SideSummary {
            source: names.1.to_string(),
            read_as: current.source.clone(),
            rows: c.height(),
        },
        dataset_drift: dataset_drift_with_share(drifted, total, params.drift_share),
        drifted_columns: drifted,
        compared_columns: total,
        share: drifted as f64 / total as f64,
        drift_share: params.drift_share,
        inconclusive: not_compared(&skipped).count() > total,
        columns,
        skipped,
        prediction_drift,
        label_drift,
        current_auc_roc,
    })
}

/// AUC of `prediction` against a 0/1 (or boolean) `label` on the frame's complete rows.
fn auc(df: &DataFrame, label: &str, prediction: &str) -> Result<Option<f64>, StageError> {
    let (Ok(y), Ok(p)) = (df.column(label), df.column(prediction)) else {
        return Ok(None);
    };
    if !p.dtype().is_primitive_numeric() {
        return Ok(None);
    }
    let y = if y.dtype() == &polars::prelude::DataType::Boolean {
        numbers(&y.cast(&polars::prelude::DataType::UInt8).map_err(|e| StageError::new(e.to_string()))?)?
    } else if y.dtype().is_primitive_numeric() {
        numbers(y)?
    } else {
        return Ok(None);
    };
    let p = numbers(p)?;
    let (mut ys, mut ps) = (Vec::new(), Vec::new());
    for (&yi, &pi) in y.iter().zip(p.iter()) {
        if yi.is_nan() || !pi.is_finite() {
            continue;
        }
        if yi != 0.0 && yi != 1.0 {
            return Ok(None);
        }
        ys.push(yi as u8);
        ps.push(pi);
    }
    Ok(auc_roc(&ys, &ps))
}

/// The statistics of one column; `Ok(Err(reason))` when it cannot be compared (a type not
/// compared, kinds that differ between the sides, no values), `Err` for a bad override.
fn column_drift(
    r: &Column,
    c: &Column,
    params: &ColumnParams,
    force_categorical: bool,
    buffers: &SortBuffers,
) -> Result<Result<ColumnDrift, String>, StageError> {
    let name = r.name().to_string();
    let (Some(rk), Some(ck)) = (kind_of(r.dtype()), kind_of(c.dtype())) else {
        let dt = if kind_of(r.dtype()).is_none() { r.dtype() } else { c.dtype() };
        return Ok(Err(format!("type {dt} is not compared")));
    };
    if rk != ck {
        return Ok(Err(format!("{} in the reference, {} in the current data", kind_name(rk), kind_name(ck))));
    }
    let kind = if force_categorical { ColumnKind::Categorical } else { rk };
    let overridden = params.method;
    if let Some(m) = overridden {
        if !m.applies_to(kind) {
            let needs: Vec<&str> = m.spec().kinds.iter().map(|&k| kind_name(k)).collect();
            let usable: Vec<&str> = Method::all().filter(|o| o.applies_to(kind)).map(Method::id).collect();
            let usable = match usable.split_last() {
                Some((last, [])) => last.to_string(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => "none".to_string(),
            };
            return Err(StageError::new(format!(
                "params.yaml: drift.columns.{name}.method: {} needs a {} column; {name} is {} (use {usable})",
                m.id(),
                needs.join(" or "),
                kind_name(kind)
            )));
        }
    }
    let stats = if rk == ColumnKind::Numerical {
        numerical(r, c, kind, overridden, buffers)?
    } else {
        categorical(r, c, overridden)?
    };
    let s = match stats {
        Ok(s) => s,
        Err(e) => {
            let why = match e {
                StatError::EmptyReference => "no values in the reference".to_string(),
                StatError::EmptyCurrent => "no values in the current data".to_string(),
                other => other.to_string(),
            };
            return Ok(Err(why));
        }
    };
    let threshold = params.threshold.unwrap_or(s.method.default_threshold());
    let drift = s.method.is_drift(s.statistic, threshold);
    let drift_score = match s.method.kind() {
        _ if s.statistic.is_nan() => 0.0,
        ScoreKind::PValue => threshold / s.statistic.max(f64::MIN_POSITIVE),
        ScoreKind::Distance => s.statistic / threshold,
    };
    Ok(Ok(ColumnDrift {
        column: name,
        kind: kind_name(kind),
        method: s.method.id(),
        method_name: s.method.name(),
        method_from: if overridden.is_some() { "params" } else { "default" },
        score_kind: match s.method.kind() {
            ScoreKind::PValue => "p_value",
            ScoreKind::Distance => "distance",
        },
        statistic: s.statistic,
        threshold,
        drift,
        drift_score,
        psi: s.psi,
        psi_band: psi_band(s.psi),
        reference_values: s.n.0,
        current_values: s.n.1,
        reference_missing: r.len() - s.n.0,
        current_missing: c.len() - s.n.1,
        distinct_values: s.distinct,
        histogram: s.histogram,
    }))
}

fn kind_name(k: ColumnKind) -> &'static str {
    match k {
        ColumnKind::Numerical => "numerical",
        ColumnKind::Categorical => "categorical",
    }
}

struct Stats {
    method: Method,
    statistic: f64,
    psi: f64,
    n: (usize, usize),
    distinct: usize,
    histogram: Histogram,
}

/// Distinct values of two sorted slices together, counted up to `cap`.
fn distinct_sorted(a: &[f64], b: &[f64], cap: usize) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    let mut last: Option<f64> = None;
    while i < a.len() || j < b.len() {
        let v = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if last != Some(v) {
            n += 1;
            if n >= cap {
                return n;
            }
            last = Some(v);
        }
    }
    n
}

fn numerical(
    r: &Column,
    c: &Column,
    kind: ColumnKind,
    overridden: Option<Method>,
    buffers: &SortBuffers,
) -> Result<Result<Stats, StatError>, StageError> {
    let integer =
        r.dtype().is_integer() && c.dtype().is_integer() && r.null_count() == 0 && c.null_count() == 0;
    let (a, b) = rayon::join(|| sorted_clean_numbers(r, buffers), || sorted_clean_numbers(c, buffers));
    let (a, b) = (a?, b?);
    let stats = numerical_sorted(&a, &b, integer, kind, overridden);
    buffers.give(a);
    buffers.give(b);
    Ok(stats)
}

/// [`numerical`] on the sorted values.
fn numerical_sorted(
    a: &[f64],
    b: &[f64],
    integer: bool,
    kind: ColumnKind,
    overridden: Option<Method>,
) -> Result<Stats, StatError> {
    if a.is_empty() {
        return Err(StatError::EmptyReference);
    }
    if b.is_empty() {
        return Err(StatError::EmptyCurrent);
    }
    let categorical = kind == ColumnKind::Categorical;
    let distinct = if categorical { usize::MAX } else { distinct_sorted(a, b, 6) };
    // value counts, made once if needed (categorical, or for the labels of ≤ 20 values)
    let counted = std::cell::OnceCell::new();
    let counts = || counted.get_or_init(|| CategoryCounts::from_sorted_f64(a, b));
    let distinct = if categorical { counts().n_unique() } else { distinct };
    let method = overridden.unwrap_or_else(|| default_method(kind, a.len(), distinct));
    // Binning as Evidently's JS and PSI do (numerical), or per value (categorical).
    let (edges, (rs, cs)) = if categorical {
        (None, counts().shares()?)
    } else {
        (binning_edges_sorted(a, b, integer)?, binned_shares_numerical_sorted(a, b, integer)?)
    };
    let statistic = match method.spec().score {
        Score::Sorted(f) => f(a, b)?,
        Score::Counts(f) => f(counts())?,
        Score::Shares(f) => f(&rs, &cs),
    };
    let psi = psi_from_shares(rs.clone(), cs.clone());
    let labels = match &edges {
        Some(e) => e
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let close = if i + 2 == e.len() { "]" } else { ")" };
                format!("[{}, {}{close}", short(w[0]), short(w[1]))
            })
            .collect(),
        None => counts().keys.iter().map(key_label).collect(),
    };
    Ok(Stats {
        method,
        statistic,
        psi,
        n: (a.len(), b.len()),
        distinct,
        histogram: top_bars(Histogram { labels, reference: rs, current: cs, edges }),
    })
}

fn categorical(
    r: &Column,
    c: &Column,
    overridden: Option<Method>,
) -> Result<Result<Stats, StatError>, StageError> {
    let (rs, cs) = rayon::join(|| string_counts(r), || string_counts(c));
    let counts = CategoryCounts::from_value_counts(rs?, cs?);
    let (n_ref, n_cur) = (counts.n_reference() as usize, counts.n_current() as usize);
    let run = || -> Result<Stats, StatError> {
        let (rsh, csh) = counts.shares()?;
        let method =
            overridden.unwrap_or_else(|| default_method(ColumnKind::Categorical, n_ref, counts.n_unique()));
        let statistic = match method.spec().score {
            Score::Counts(f) => f(&counts)?,
            Score::Shares(f) => f(&rsh, &csh),
            // numerical only: refused before
            Score::Sorted(_) => f64::NAN,
        };
        let psi = psi_from_shares(rsh.clone(), csh.clone());
        let labels = counts.keys.iter().map(key_label).collect();
        Ok(Stats {
            method,
            statistic,
            psi,
            n: (n_ref, n_cur),
            distinct: counts.n_unique(),
            histogram: top_bars(Histogram { labels, reference: rsh, current: csh, edges: None }),
        })
    };
    Ok(run())
}

fn key_label(k: &CategoryKey) -> String {
    match k {
        CategoryKey::Num(v) => short(*v),
        CategoryKey::Str(s) => s.clone(),
    }
}

/// A number for a label: integers as they are, others to 4 significant digits.
fn short(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4e}");
        let x: f64 = s.parse().unwrap_or(v);
        format!("{x}")
    }
}

/// Values (not bins) beyond [`MAX_BARS`]: the most frequent kept, the rest summed.
fn top_bars(h: Histogram) -> Histogram {
    if h.edges.is_some() || h.labels.len() <= MAX_BARS {
        return h;
    }
    let mut order: Vec<usize> = (0..h.labels.len()).collect();
    order.sort_by(|&i, &j| {
        (h.reference[j] + h.current[j]).total_cmp(&(h.reference[i] + h.current[i])).then(i.cmp(&j))
    });
    let (keep, rest) = order.split_at(MAX_BARS - 1);
    let mut out = Histogram {
        labels: keep.iter().map(|&i| h.labels[i].clone()).collect(),
        reference: keep.iter().map(|&i| h.reference[i]).collect(),
        current: keep.iter().map(|&i| h.current[i]).collect(),
        edges: None,
    };
    out.labels.push(format!("{} other values", rest.len()));
    out.reference.push(rest.iter().map(|&i| h.reference[i]).sum());
    out.current.push(rest.iter().map(|&i| h.current[i]).sum());
    out
}

/// A statistic for people: 4 decimals, or scientific when tiny.
pub(crate) fn fmt_stat(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v != 0.0 && v.abs() < 1e-4 {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

/// The skipped columns that were meant to be compared.
fn not_compared(skipped: &[SkippedColumn]) -> impl Iterator<Item = &SkippedColumn> {
    skipped.iter().filter(|s| !s.by_design)
}

impl DriftReport {
    /// Whether a `--fail-on-drift` check fails: the data drifted, or too little of it could be
    /// compared to say it did not.
    pub fn fails_check(&self) -> bool {
        self.dataset_drift || self.inconclusive
    }

    /// `3 of 27 columns not compared: a (reason), ...`, when a column meant to be compared
    /// was not (id columns are not counted).
    pub fn not_compared_line(&self) -> Option<String> {
        let left: Vec<String> =
            not_compared(&self.skipped).map(|s| format!("{} ({})", s.column, s.reason)).collect();
        if left.is_empty() {
            return None;
        }
        let verdict = if self.inconclusive { "; too few compared for a verdict" } else { "" };
        Some(format!(
            "{} of {} columns not compared{verdict}: {}",
            left.len(),
            left.len() + self.compared_columns,
            left.join(", ")
        ))
    }

    /// The one-line verdict: `dataset drift: 3 of 27 columns drifted (share 0.11 < 0.5)`.
    pub fn summary(&self) -> String {
        let (op, tail) = if self.dataset_drift { (">=", ": the data drifted") } else { ("<", "") };
        format!(
            "dataset drift: {} of {} columns drifted (share {:.2} {op} {}){tail}",
            self.drifted_columns, self.compared_columns, self.share, self.drift_share
        )
    }

    /// The text report: summary, the table (most drifted first), prediction and label drift,
    /// the AUC, skipped columns.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let side = |s: &SideSummary| format!("{} — {}, {} rows", s.source, s.read_as, s.rows);
        out.push_str(&format!("reference: {}\n", side(&self.reference)));
        out.push_str(&format!("current:   {}\n", side(&self.current)));
        out.push_str(&self.summary());
        out.push('\n');
        if let Some(line) = self.not_compared_line() {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
        let header = ["column", "kind", "method", "statistic", "threshold", "drift", "PSI"];
        let rows: Vec<[String; 7]> = self.columns.iter().map(row).collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let parts: Vec<String> =
                cells.iter().zip(widths.iter()).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
            format!("{}\n", parts.join("  ").trim_end())
        };
        out.push_str(&line(header.to_vec()));
        for r in &rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
        }
        out.push('\n');
        let special = |what: &str, d: &Option<ColumnDrift>| match d {
            Some(d) => format!(
                "{what} ({}): {} {} (threshold {}): {}\n",
                d.column,
                d.method,
                fmt_stat(d.statistic),
                d.threshold,
                if d.drift { "drift" } else { "no drift" }
            ),
            None => format!("{what}: not on both sides\n"),
        };
        out.push_str(&special("prediction drift", &self.prediction_drift));
        out.push_str(&special("label drift", &self.label_drift));
        if let Some(auc) = self.current_auc_roc {
            out.push_str(&format!("AUC on the current data: {auc:.4}\n"));
        }
        let by_design: Vec<String> = self
            .skipped
            .iter()
            .filter(|s| s.by_design)
            .map(|s| format!("{} ({})", s.column, s.reason))
            .collect();
        if !by_design.is_empty() {
            out.push_str(&format!("left out: {}\n", by_design.join(", ")));
        }
        out
    }
}

fn row(d: &ColumnDrift) -> [String; 7] {
    [
        d.column.clone(),
        d.kind.to_string(),
        d.method.to_string(),
        fmt_stat(d.statistic),
        d.threshold.to_string(),
        if d.drift { "DRIFT".to_string() } else { "-".to_string() },
        format!("{:.3} {}", d.psi, d.psi_band),
    ]
}

/// A column both sides were found to have (an error, not a panic, if that ever breaks).
fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column, StageError> {
    df.column(name).map_err(|e| StageError::new(format!("drift: column '{name}': {e}")))
}
