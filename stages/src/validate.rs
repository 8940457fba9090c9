//! Kind `validate`: data expectations over an ingested dir, a JSON (+ optional HTML) report,
//! and a stage failure when an expectation fails and `on_failure: fail`.
//!
//! The expectations, with defaults chosen so that any clean `events` data set (DESIGN.md
//! section 5) of at least `min_rows` customers passes:
//!
//! | expectation | events default | snapshot default |
//! |---|---|---|
//! | `min_rows` (customers / table rows) | 100 | 100 |
//! | `max_null_ratio` per column | 0.0 | 0.05 |
//! | `unique` | customers.customer_id, cdr.call_id, support_tickets.ticket_id | table.customer_id |
//! | `allowed_values` | documented domains of contract_type, payment_method, age_group, the 0/1 flags and churned | table.churned |
//! | `range` | plan_monthly_eur, amount, duration_seconds, data_usage_mb, resolution_hours ≥ 0 | — |
//! | `references` | every event's customer_id is in customers | — |
//! | `not_after_snapshot` | signup/transaction/call/ticket dates ≤ `snapshot_date` (when set) | — |
//! | `label_present`, `label_two_valued` | customers.churned has no nulls and both 0 and 1 | table.churned (and the raw label has 2 values) |
//!
//! Params entries keyed by column accept `table.column` or a bare `column` (any table).
//! A row in the report is the 1-based data row of the ingested table, which is the data row of
//! the raw file (ingest keeps row order).

use crate::ingest::{self, IngestManifest};
use crate::kind::{Invocation, Kind, OutDecl, Outcome, StageError};
use crate::snapshot::SnapshotSpec;
use crate::table;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The report's schema version.
pub const REPORT_VERSION: u32 = 1;

/// The `with:` settings of a `validate` stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateSettings {
    /// The out dir of an ingest stage.
    pub input: String,
    /// The JSON report.
    pub report: String,
    /// An optional HTML rendering of the same report.
    #[serde(default)]
    pub html: Option<String>,
    /// Events dated after this day fail `not_after_snapshot` (usually `${features.snapshot_date}`).
    #[serde(default)]
    pub snapshot_date: Option<String>,
}

/// What a failed expectation does to the stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Write the report, then fail the stage (downstream stages do not run).
    #[default]
    Fail,
    /// Write the report and succeed; the report's status is `warned`.
    Warn,
}

/// An inclusive numeric range; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// The `validation` params section. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationParams {
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Minimum number of customers (events) or rows (snapshot). Default 100.
    #[serde(default)]
    pub min_rows: Option<u64>,
    /// Default maximum share of null (blank) cells per column: 0.0 for events, 0.05 for snapshot.
    #[serde(default)]
    pub max_null_ratio: Option<f64>,
    /// Per-column overrides of `max_null_ratio` (`table.column` or `column`).
    #[serde(default)]
    pub max_null_ratio_columns: BTreeMap<String, f64>,
    /// Columns whose non-null values must be unique; replaces the default list when given.
    #[serde(default)]
    pub unique: Option<Vec<String>>,
    /// Allowed values per column, compared as text; added to (or replacing per column) the defaults.
    #[serde(default)]
    pub allowed_values: BTreeMap<String, Vec<Value>>,
    /// Numeric ranges per column; added to (or replacing per column) the defaults.
    #[serde(default)]
    pub ranges: BTreeMap<String, Range>,
    /// Check that every event's customer_id is a known customer (events). Default true.
    #[serde(default)]
    pub referential_integrity: Option<bool>,
    /// Offending rows listed per expectation. Default 5.
    #[serde(default)]
    pub max_examples: Option<usize>,
}

/// One offending row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// 1-based data row of the table (header not counted).
    pub row: u64,
    pub value: String,
}

/// One expectation, its threshold, what was observed and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub table: String,
    pub column: Option<String>,
    pub expectation: String,
    pub threshold: Value,
    pub observed: Value,
    pub passed: bool,
    pub failing_rows: u64,
    pub examples: Vec<Example>,
}

/// The validation report (`report:` JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub schema_version: u32,
    pub layout: String,
    /// `passed`, `failed` (stage failed) or `warned` (failures tolerated by `on_failure: warn`).
    pub status: String,
    pub on_failure: OnFailure,
    pub snapshot_date: Option<String>,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Raw file per table.
    pub sources: BTreeMap<String, String>,
    pub expectations_total: usize,
    pub expectations_failed: usize,
    pub expectations: Vec<ExpectationResult>,
}

impl ValidationReport {
    /// Reads a report written by a validate stage.
    pub fn read(path: &Path, shown: &str) -> Result<ValidationReport, StageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StageError::new(format!("{shown}: cannot read the validation report: {e}")))?;
        serde_json::from_str(&text)
            .map_err(|e| StageError::new(format!("{shown}: not a validation report of this version: {e}")))
    }

    /// A readable list of the failed expectations, one per line.
    pub fn failure_summary(&self) -> String {
        let mut lines = Vec::new();
        for e in self.expectations.iter().filter(|e| !e.passed) {
            let target = match &e.column {
                Some(c) => format!("{}.{c}", e.table),
                None => e.table.clone(),
            };
            let source = self.sources.get(&e.table).cloned().unwrap_or_else(|| e.table.clone());
            let mut line =
                format!("  - {target}: {} {} (observed {})", e.expectation, e.threshold, e.observed);
            if e.failing_rows > 0 {
                let ex: Vec<String> =
                    e.examples.iter().map(|x| format!("row {} '{}'", x.row, x.value)).collect();
                line.push_str(&format!(
                    "; {} row(s) of {source} fail, e.g. {}",
                    e.failing_rows,
                    ex.join(", ")
                ));
            }
            lines.push(line);
        }
        lines.join("\n")
    }
}

/// The built-in kind `validate`.
pub struct Validate;

impl Kind for Validate {
    const NAME: &'static str = "validate";
    const PARAMS_SECTION: &'static str = "validation";
    const CODE_VERSION: u32 = 1;
    type Settings = ValidateSettings;
    type Params = ValidationParams;

    fn io(s: &ValidateSettings, p: &ValidationParams) -> Result<(Vec<String>, Vec<OutDecl>), String> {
        if let Some(d) = &s.snapshot_date {
            table::parse_date(d).map_err(|e| format!("settings of kind 'validate': snapshot_date: {e}"))?;
        }
        if let Some(r) = p.max_null_ratio {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("params validation.max_null_ratio: {r} is not between 0 and 1"));
            }
        }
        for (k, r) in &p.max_null_ratio_columns {
            if !(0.0..=1.0).contains(r) {
                return Err(format!(
                    "params validation.max_null_ratio_columns.{k}: {r} is not between 0 and 1"
                ));
            }
        }
        let mut outs = vec![OutDecl::out(s.report.clone())];
        if let Some(h) = &s.html {
            outs.push(OutDecl::out(h.clone()));
        }
        Ok((vec![s.input.clone()], outs))
    }

    fn run(
        root: &Path,
        settings: ValidateSettings,
        params: ValidationParams,
        _invocation: &Invocation,
    ) -> Result<Outcome, StageError> {
        let report = validate(root, &settings, &params)?;
        let n = report.expectations_total;
        let f = report.expectations_failed;
        match report.status.as_str() {
            "failed" => Err(StageError::new(format!(
                "validation failed: {f} of {n} expectations (report: {}):\n{}",
                settings.report,
                report.failure_summary()
            ))),
            "warned" => Ok(Outcome {
                summary: format!(
                    "validation: {f} of {n} expectations failed (on_failure: warn; report: {})",
                    settings.report
                ),
            }),
            _ => Ok(Outcome { summary: format!("validation passed: {n} expectations") }),
        }
    }
}

/// A loaded table and the names used in messages.
struct Loaded {
    name: String,
    df: DataFrame,
}

/// Runs every expectation, writes the report(s) and returns it. The caller decides the verdict
/// from `status` (the report is written whatever it says).
pub fn validate(
    root: &Path,
    settings: &ValidateSettings,
    params: &ValidationParams,
) -> Result<ValidationReport, StageError> {
    let input = root.join(&settings.input);
    let manifest = IngestManifest::read(&input, &settings.input)?;
    let snapshot_date = match &settings.snapshot_date {
        Some(d) => Some(table::parse_date(d).map_err(|e| StageError::new(format!("snapshot_date: {e}")))?),
        None => None,
    };
    let events = manifest.layout == "events";
    let mut tables = Vec::new();
    for t in &manifest.tables {
        let df = table::read_parquet(&input.join(format!("{}.parquet", t.name)))?;
        tables.push(Loaded { name: t.name.clone(), df });
    }
    let spec: Option<SnapshotSpec> = if events {
        None
    } else {
        let path = input.join(ingest::SNAPSHOT_SPEC_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| StageError::new(format!("{}: cannot read: {e}", path.display())))?;
        Some(serde_json::from_str(&text).map_err(|e| StageError::new(format!("{}: {e}", path.display())))?)
    };
    let max_examples = params.max_examples.unwrap_or(5);
    let mut results = Vec::new();
    let ctx = Ctx { max_examples };

    // min_rows
    let main_table = if events { "customers" } else { ingest::SNAPSHOT_TABLE };
    let min_rows = params.min_rows.unwrap_or(100);
    let main_rows = tables.iter().find(|t| t.name == main_table).map(|t| t.df.height() as u64).unwrap_or(0);
    results.push(ExpectationResult {
        table: main_table.into(),
        column: None,
        expectation: "min_rows".into(),
        threshold: json!(min_rows),
        observed: json!(main_rows),
        passed: main_rows >= min_rows,
        failing_rows: 0,
        examples: vec![],
    });

    // max_null_ratio, every column of every table
    let default_null = params.max_null_ratio.unwrap_or(if events { 0.0 } else { 0.05 });
    for t in &tables {
        for c in t.df.get_column_names() {
            let threshold =
                lookup(&params.max_null_ratio_columns, &t.name, c).copied().unwrap_or(default_null);
            results.push(ctx.null_ratio(t, c, threshold)?);
        }
    }

    // unique
    let unique: Vec<String> = match &params.unique {
        Some(u) => u.clone(),
        None if events => {
            vec!["customers.customer_id".into(), "cdr.call_id".into(), "support_tickets.ticket_id".into()]
        }
        None => vec![format!("{}.customer_id", ingest::SNAPSHOT_TABLE)],
    };
    for key in &unique {
        for (t, c) in resolve(&tables, key) {
            results.push(ctx.unique(t, &c)?);
        }
    }

    // allowed values
    let mut allowed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let flags = ["0", "1"];
    if events {
        allowed.insert("customers.contract_type".into(), texts(&["month-to-month", "one-year", "two-year"]));
        allowed.insert(
            "customers.payment_method".into(),
            texts(&["electronic_check", "mailed_check", "bank_transfer", "credit_card"]),
        );
        allowed.insert("customers.age_group".into(), texts(&["18-25", "26-35", "36-50", "51-65", "65+"]));
        for k in [
            "customers.churned",
            "cdr.is_international",
            "cdr.is_peak_hour",
            "support_tickets.is_escalated",
            "support_tickets.is_complaint",
            "support_tickets.is_resolved",
        ] {
            allowed.insert(k.into(), texts(&flags));
        }
    } else {
        allowed.insert(format!("{}.churned", ingest::SNAPSHOT_TABLE), texts(&flags));
    }
    for (k, v) in &params.allowed_values {
        allowed.insert(k.clone(), v.iter().map(value_text).collect());
    }
    for (key, values) in &allowed {
        for (t, c) in resolve(&tables, key) {
            results.push(ctx.allowed(t, &c, values)?);
        }
    }

    // ranges
    let mut ranges: BTreeMap<String, Range> = BTreeMap::new();
    if events {
        for k in [
            "customers.plan_monthly_eur",
            "transactions.amount",
            "cdr.duration_seconds",
            "cdr.data_usage_mb",
            "support_tickets.resolution_hours",
        ] {
            ranges.insert(k.into(), Range { min: Some(0.0), max: None });
        }
    }
    for (k, r) in &params.ranges {
        ranges.insert(k.clone(), *r);
    }
    for (key, range) in &ranges {
        for (t, c) in resolve(&tables, key) {
            results.push(ctx.range(t, &c, *range)?);
        }
    }

    if events {
        // references
        if params.referential_integrity.unwrap_or(true) {
            if let Some(customers) = tables.iter().find(|t| t.name == "customers") {
                let ids = customers.df.column("customer_id").map(|c| c.as_materialized_series().clone()).ok();
                for t in tables.iter().filter(|t| t.name != "customers") {
                    results.push(ctx.references(t, ids.as_ref())?);
                }
            }
        }
        // not after the snapshot date
        if let Some(s) = snapshot_date {
            for (name, date_col) in [
                ("customers", "signup_date"),
                ("transactions", "transaction_date"),
                ("cdr", "call_date"),
                ("support_tickets", "ticket_date"),
            ] {
                if let Some(t) = tables.iter().find(|t| t.name == name) {
                    results.push(ctx.not_after(t, date_col, s)?);
                }
            }
        }
    }

    // label
    if let Some(t) = tables.iter().find(|t| t.name == main_table) {
        results.push(ctx.label_present(t)?);
        results.push(ctx.label_two_valued(t, spec.as_ref())?);
    }

    let failed = results.iter().filter(|r| !r.passed).count();
    let status = if failed == 0 {
        "passed"
    } else if params.on_failure == OnFailure::Warn {
        "warned"
    } else {
        "failed"
    };
    let report = ValidationReport {
        schema_version: REPORT_VERSION,
        layout: manifest.layout.clone(),
        status: status.into(),
        on_failure: params.on_failure,
        snapshot_date: snapshot_date.map(|d| d.format("%Y-%m-%d").to_string()),
        rows: tables.iter().map(|t| (t.name.clone(), t.df.height() as u64)).collect(),
        sources: manifest.tables.iter().map(|t| (t.name.clone(), t.source.clone())).collect(),
        expectations_total: results.len(),
        expectations_failed: failed,
        expectations: results,
    };
    ingest::write_json(&root.join(&settings.report), &report)?;
    if let Some(h) = &settings.html {
        table::write_bytes_atomic(&root.join(h), render_html(&report).as_bytes())?;
    }
    Ok(report)
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value of a per-column map for `table.column`, else for bare `column`.
fn lookup<'a, T>(map: &'a BTreeMap<String, T>, table: &str, column: &str) -> Option<&'a T> {
    map.get(&format!("{table}.{column}")).or_else(|| map.get(column))
}

/// The (table, column) pairs a key names: `table.column`, or a bare column in every table
/// having it. A key naming nothing resolves to its literal table/column so that the
/// expectation fails with "column missing" rather than being silently skipped.
fn resolve<'a>(tables: &'a [Loaded], key: &str) -> Vec<(&'a Loaded, String)> {
    if let Some((t, c)) = key.split_once('.') {
        if let Some(tab) = tables.iter().find(|x| x.name == t) {
            return vec![(tab, c.to_string())];
        }
    }
    let hits: Vec<(&Loaded, String)> = tables
        .iter()
        .filter(|t| t.df.get_column_names().iter().any(|n| n.as_str() == key))
        .map(|t| (t, key.to_string()))
        .collect();
    if hits.is_empty() {
        if let Some(first) = tables.first() {
            return vec![(first, key.to_string())];
        }
    }
    hits
}

struct Ctx {
    max_examples: usize,
}

impl Ctx {
    fn result(&self, t: &Loaded, column: &str, expectation: &str, threshold: Value) -> ExpectationResult {
        ExpectationResult {
            table: t.name.clone(),
            column: Some(column.to_string()),
            expectation: expectation.into(),
            threshold,
            observed: Value::Null,
            passed: false,
            failing_rows: 0,
            examples: vec![],
        }
    }

    fn missing(
        &self,
        t: &Loaded,
        column: &str,
        expectation: &str,
        threshold: Value,
    ) -> Option<ExpectationResult> {
        if t.df.get_column_names().iter().any(|n| n.as_str() == column) {
            return None;
        }
        let mut r = self.result(t, column, expectation, threshold);
        r.observed = json!("column missing");
        Some(r)
    }

    /// Counts the rows where `mask` holds and lists the first few with `value` as text.
    fn failing(&self, t: &Loaded, mask: Expr, value: Expr) -> Result<(u64, Vec<Example>), StageError> {
        let err = |e: PolarsError| StageError::new(format!("validate: table {}: {e}", t.name));
        let count =
            t.df.clone()
                .lazy()
                .select([mask.clone().fill_null(false).sum().cast(DataType::UInt64).alias("n")])
                .collect()
                .map_err(err)?;
        let n =
            count.column("n").ok().and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<u64>()).unwrap_or(0);
        if n == 0 {
            return Ok((0, vec![]));
        }
        let ex =
            t.df.clone()
                .lazy()
                .with_row_index("__row", Some(1))
                .filter(mask.fill_null(false))
                .limit(self.max_examples as IdxSize)
                .select([
                    col("__row").cast(DataType::UInt64),
                    value.cast(DataType::String).fill_null(lit("null")),
                ])
                .collect()
                .map_err(err)?;
        let rows = ex.select_at_idx(0).map(|c| c.as_materialized_series().clone());
        let vals = ex.select_at_idx(1).map(|c| c.as_materialized_series().clone());
        let mut examples = Vec::new();
        if let (Some(rows), Some(vals)) = (rows, vals) {
            if let (Ok(r), Ok(v)) = (rows.u64(), vals.str()) {
                for (r, v) in r.iter().zip(v.iter()) {
                    examples.push(Example { row: r.unwrap_or(0), value: v.unwrap_or("").to_string() });
                }
            }
        }
        Ok((n, examples))
    }

    fn null_ratio(&self, t: &Loaded, c: &str, threshold: f64) -> Result<ExpectationResult, StageError> {
        let mut r = self.result(t, c, "max_null_ratio", json!(threshold));
        let (n, examples) = self.failing(t, col(c).is_null(), col(c))?;
        let rows = t.df.height();
        let ratio = if rows == 0 { 0.0 } else { n as f64 / rows as f64 };
        r.observed = json!(ratio);
        r.passed = ratio <= threshold;
        r.failing_rows = n;
        if !r.passed {
            r.examples = examples;
        }
        Ok(r)
    }

    fn unique(&self, t: &Loaded, c: &str) -> Result<ExpectationResult, StageError> {
        if let Some(r) = self.missing(t, c, "unique", json!(true)) {
            return Ok(r);
        }
        let mut r = self.result(t, c, "unique", json!(true));
        let mask = col(c).is_duplicated().and(col(c).is_not_null());
        let (n, examples) = self.failing(t, mask, col(c))?;
        r.observed = json!({ "duplicated_rows": n });
        r.passed = n == 0;
        r.failing_rows = n;
        r.examples = examples;
        Ok(r)
    }

    fn allowed(&self, t: &Loaded, c: &str, values: &[String]) -> Result<ExpectationResult, StageError> {
        if let Some(r) = self.missing(t, c, "allowed_values", json!(values)) {
            return Ok(r);
        }
        let mut r = self.result(t, c, "allowed_values", json!(values));
        let set = Series::new("allowed".into(), values);
        let text = col(c).cast(DataType::String);
        let mask = text.clone().is_not_null().and(text.clone().is_in(lit(set).implode(false), false).not());
        let (n, examples) = self.failing(t, mask, text)?;
        r.observed = json!({ "rows_outside": n });
        r.passed = n == 0;
        r.failing_rows = n;
        r.examples = examples;
        Ok(r)
    }

    fn range(&self, t: &Loaded, c: &str, range: Range) -> Result<ExpectationResult, StageError> {
        let threshold = json!(range);
        if let Some(r) = self.missing(t, c, "range", threshold.clone()) {
            return Ok(r);
        }
        let mut r = self.result(t, c, "range", threshold);
        let x = col(c).cast(DataType::Float64);
        let mut mask = x.clone().is_nan().or(x.clone().is_infinite());
        if let Some(min) = range.min {
            mask = mask.or(x.clone().lt(lit(min)));
        }
        if let Some(max) = range.max {
            mask = mask.or(x.clone().gt(lit(max)));
        }
        let (n, examples) = self.failing(t, mask, col(c))?;
        let stats =
            t.df.clone()
                .lazy()
                .select([x.clone().min().alias("min"), x.max().alias("max")])
                .collect()
                .map_err(|e| StageError::new(format!("validate: {}.{c}: {e}", t.name)))?;
        let get = |n: &str| stats.column(n).ok().and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<f64>());
        r.observed = json!({ "min": get("min"), "max": get("max"), "rows_outside": n });
        r.passed = n == 0;
        r.failing_rows = n;
        r.examples = examples;
        Ok(r)
    }

    fn references(&self, t: &Loaded, ids: Option<&Series>) -> Result<ExpectationResult, StageError> {
        let threshold = json!("customers.customer_id");
        if let Some(r) = self.missing(t, "customer_id", "references", threshold.clone()) {
            return Ok(r);
        }
        let mut r = self.result(t, "customer_id", "references", threshold);
        let Some(ids) = ids else {
            r.observed = json!("customers.customer_id missing");
            return Ok(r);
        };
        let mask = col("customer_id")
            .is_not_null()
            .and(col("customer_id").is_in(lit(ids.clone()).implode(false), false).not());
        let (n, examples) = self.failing(t, mask, col("customer_id"))?;
        r.observed = json!({ "unknown_customer_rows": n });
        r.passed = n == 0;
        r.failing_rows = n;
        r.examples = examples;
        Ok(r)
    }

    fn not_after(&self, t: &Loaded, c: &str, s: chrono::NaiveDate) -> Result<ExpectationResult, StageError> {
        let threshold = json!(s.format("%Y-%m-%d").to_string());
        if let Some(r) = self.missing(t, c, "not_after_snapshot", threshold.clone()) {
            return Ok(r);
        }
        let mut r = self.result(t, c, "not_after_snapshot", threshold);
        let day = col(c).cast(DataType::Int32);
        let mask = day.gt(lit(table::epoch_days(s)));
        let (n, examples) = self.failing(t, mask, col(c))?;
        r.observed = json!({ "rows_after": n });
        r.passed = n == 0;
        r.failing_rows = n;
        r.examples = examples;
        Ok(r)
    }

    fn label_present(&self, t: &Loaded) -> Result<ExpectationResult, StageError> {
        if let Some(r) = self.missing(t, "churned", "label_present", json!(true)) {
            return Ok(r);
        }
        let mut r = self.result(t, "churned", "label_present", json!(true));
        let (n, examples) = self.failing(t, col("churned").is_null(), col("churned"))?;
        r.observed = json!({ "null_labels": n });
        r.passed = n == 0;
        r.failing_rows = n;
        r.examples = examples;
        Ok(r)
    }

    fn label_two_valued(
        &self,
        t: &Loaded,
        spec: Option<&SnapshotSpec>,
    ) -> Result<ExpectationResult, StageError> {
        if let Some(r) = self.missing(t, "churned", "label_two_valued", json!([0, 1])) {
            return Ok(r);
        }
        let mut r = self.result(t, "churned", "label_two_valued", json!([0, 1]));
        let d =
            t.df.clone()
                .lazy()
                .select([col("churned").drop_nulls().unique().sort(Default::default()).cast(DataType::Int64)])
                .collect()
                .map_err(|e| StageError::new(format!("validate: {}.churned: {e}", t.name)))?;
        let values: Vec<i64> = d
            .select_at_idx(0)
            .and_then(|c| c.as_materialized_series().i64().ok().map(|ca| ca.iter().flatten().collect()))
            .unwrap_or_default();
        let mut passed = values == [0, 1];
        let mut observed = json!({ "values": values });
        if let Some(spec) = spec {
            observed["raw_values"] = json!(spec.label_values);
            observed["positive_label"] = json!(spec.positive_label);
            passed &= spec.label_values.len() == 2;
        }
        r.observed = observed;
        r.passed = passed;
        Ok(r)
    }
}

/// A self-contained HTML page of the report.
pub fn render_html(report: &ValidationReport) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>churnflow validation</title>");
    h.push_str(
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid \
         #ccc;padding:4px 8px;text-align:left}.fail{background:#fdd}.pass{background:#efe}</style></head><body>",
    );
    h.push_str(&format!(
        "<h1>Validation: {}</h1><p>layout {} &middot; {} of {} expectations failed &middot; on_failure {}</p>",
        esc(&report.status),
        esc(&report.layout),
        report.expectations_failed,
        report.expectations_total,
        if report.on_failure == OnFailure::Fail { "fail" } else { "warn" }
    ));
    h.push_str("<table><tr><th>table</th><th>column</th><th>expectation</th><th>threshold</th><th>observed</th><th>verdict</th><th>failing rows</th><th>examples</th></tr>");
    let mut sorted: Vec<&ExpectationResult> = report.expectations.iter().collect();
    sorted.sort_by_key(|e| e.passed);
    for e in sorted {
        let ex: Vec<String> =
            e.examples.iter().map(|x| format!("row {}: {}", x.row, esc(&x.value))).collect();
        h.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if e.passed { "pass" } else { "fail" },
            esc(&e.table),
            esc(e.column.as_deref().unwrap_or("")),
            esc(&e.expectation),
            esc(&e.threshold.to_string()),
            esc(&e.observed.to_string()),
            if e.passed { "pass" } else { "FAIL" },
            e.failing_rows,
            ex.join("<br>")
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
