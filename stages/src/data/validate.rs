//! Kind `validate`: data expectations over an ingested dir, a JSON (+ optional HTML) report,
//! and a stage failure when an expectation fails and `on_failure: fail`.
//!
//! The expectations, with defaults chosen so that any clean `events` data set (raw input
//! tables in docs/stages-data.md) of at least `min_rows` customers passes:
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

use crate::contract::{Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::data::ingest::{self, IngestManifest};
use crate::data::profile::{ColumnProfile, Profile, TableProfile};
use crate::data::snapshot::SnapshotSpec;
use crate::data::table_ingest::CUSTOMER_ROW;
use crate::io::atomic::write_bytes_atomic;
use crate::io::html::escape;
use crate::io::json::write_json;
use crate::io::table;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The report's schema version.
pub(crate) const REPORT_VERSION: u32 = 1;

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
        let text = std::fs::read_to_string(path).map_err(|e| {
            StageError::classified(format!("{shown}: cannot read the validation report: {e}"), &e)
        })?;
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
pub(crate) struct Validate;

impl Kind for Validate {
    const NAME: &'static str = "validate";
    const PARAMS_SECTION: &'static str = "validation";
    const CODE_VERSION: u32 = 2;
    type Settings = ValidateSettings;
    type Params = ValidationParams;

    fn io(s: &ValidateSettings, p: &ValidationParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        if let Some(d) = &s.snapshot_date {
            table::parse_date(d).map_err(|e| {
                KindIoError::setting(format!("settings of kind 'validate': snapshot_date: {e}"))
            })?;
        }
        if let Some(r) = p.max_null_ratio {
            if !(0.0..=1.0).contains(&r) {
                let key = "validation.max_null_ratio";
                return Err(KindIoError::param(key, format!("{key}: {r} is not between 0 and 1")));
            }
        }
        for (k, r) in &p.max_null_ratio_columns {
            if !(0.0..=1.0).contains(r) {
                let key = format!("validation.max_null_ratio_columns.{k}");
                return Err(KindIoError::param(&key, format!("{key}: {r} is not between 0 and 1")));
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
    ) -> Result<StageSummary, StageError> {
        let report = validate(root, &settings, &params)?;
        let n = report.expectations_total;
        let f = report.expectations_failed;
        match report.status.as_str() {
            "failed" => Err(StageError::new(format!(
                "validation failed: {f} of {n} expectations (report: {}):\n{}",
                settings.report,
                report.failure_summary()
            ))),
            "warned" => Ok(StageSummary {
                summary: format!(
                    "validation: {f} of {n} expectations failed (on_failure: warn; report: {})",
                    settings.report
                ),
            }),
            _ => Ok(StageSummary { summary: format!("validation passed: {n} expectations") }),
        }
    }
}

/// An ingested table: a lazy scan (each check reads only the columns it needs).
struct Loaded {
    name: String,
    lf: LazyFrame,
    columns: Vec<String>,
    dtypes: Vec<DataType>,
}

impl Loaded {
    fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }
    fn is_numeric(&self, column: &str) -> bool {
        self.columns.iter().position(|c| c == column).is_some_and(|i| self.dtypes[i].is_primitive_numeric())
    }
}

/// What a row-level expectation measures. Each kind is planned by its own `plan_*` function
/// (which columns, the mask of offending rows); [`RowRule::verdict`] turns its count into the
/// observed value and the verdict, and [`count_from_profile`] answers it from ingest's profile.
#[derive(Debug, Clone)]
enum RowRule {
    NullRatio(f64),
    Unique,
    /// The allowed values as text; `numeric` when they compare as numbers.
    Allowed {
        values: Vec<String>,
        numeric: bool,
    },
    Range(Range),
    References,
    /// Days since 1970-01-01 of the snapshot date.
    NotAfter(i32),
    LabelPresent,
}

impl RowRule {
    /// The observed value and the verdict from `n` failing rows of `height` (`min`/`max` of the
    /// column for a range).
    fn verdict(&self, n: u64, height: u64, min: Option<f64>, max: Option<f64>) -> (Value, bool) {
        match self {
            RowRule::NullRatio(limit) => {
                let ratio = if height == 0 { 0.0 } else { n as f64 / height as f64 };
                (json!(ratio), ratio <= *limit)
            }
            RowRule::Unique => (json!({ "duplicated_rows": n }), n == 0),
            RowRule::Allowed { .. } => (json!({ "rows_outside": n }), n == 0),
            RowRule::Range(_) => (json!({ "min": min, "max": max, "rows_outside": n }), n == 0),
            RowRule::References => (json!({ "unknown_customer_rows": n }), n == 0),
            RowRule::NotAfter(_) => (json!({ "rows_after": n }), n == 0),
            RowRule::LabelPresent => (json!({ "null_labels": n }), n == 0),
        }
    }
}

/// One planned row-level expectation: `mask` is true on the offending rows, `value` is shown
/// for them.
struct RowExpectation {
    table: usize,
    column: String,
    expectation: &'static str,
    threshold: Value,
    rule: RowRule,
    mask: Expr,
    value: Expr,
}

/// What the planners read: the ingested tables and the settings that shape the defaults.
struct Inputs<'a> {
    tables: Vec<Loaded>,
    params: &'a ValidationParams,
    events: bool,
    snapshot_date: Option<chrono::NaiveDate>,
    /// `customers` (events) or the snapshot table: where the label lives.
    main_table: &'static str,
}

/// The row-level expectations planned so far, and those whose column is missing (failed
/// without reading data), each in planning order.
#[derive(Default)]
struct Plan {
    checks: Vec<RowExpectation>,
    missing: Vec<ExpectationResult>,
}

impl Plan {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        tables: &[Loaded],
        t: usize,
        column: &str,
        expectation: &'static str,
        threshold: Value,
        rule: RowRule,
        mask: Expr,
        value: Expr,
    ) {
        if !tables[t].has(column) {
            self.missing.push(ExpectationResult {
                table: tables[t].name.clone(),
                column: Some(column.to_string()),
                expectation: expectation.into(),
                threshold,
                observed: json!("column missing"),
                passed: false,
                failing_rows: 0,
                examples: vec![],
            });
            return;
        }
        self.checks.push(RowExpectation {
            table: t,
            column: column.to_string(),
            expectation,
            threshold,
            rule,
            mask,
            value,
        });
    }
}

/// Adds the checks of one expectation kind to the plan.
type Planner = fn(&Inputs, &mut Plan) -> Result<(), StageError>;

/// The row-level expectation kinds, in report order. A new kind is a [`RowRule`] variant and
/// its planner here.
const PLANNERS: &[Planner] = &[
    plan_max_null_ratio,
    plan_unique,
    plan_allowed_values,
    plan_ranges,
    plan_references,
    plan_not_after_snapshot,
    plan_label_present,
];

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
    let tables = load_tables(&input, settings, &manifest)?;
    let spec: Option<SnapshotSpec> = if events {
        None
    } else {
        let path = input.join(ingest::SNAPSHOT_SPEC_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| StageError::classified(format!("{}: cannot read: {e}", path.display()), &e))?;
        Some(serde_json::from_str(&text).map_err(|e| StageError::new(format!("{}: {e}", path.display())))?)
    };
    let profile = Profile::read(&input)?;
    let main_table = if events { "customers" } else { ingest::SNAPSHOT_TABLE };
    let inputs = Inputs { tables, params, events, snapshot_date, main_table };

    let mut plan = Plan::default();
    for planner in PLANNERS {
        planner(&inputs, &mut plan)?;
    }
    let max_examples = params.max_examples.unwrap_or(5);
    let (rows, mut results) = measure(&inputs.tables, &plan.checks, profile.as_ref(), max_examples)?;
    results.extend(plan.missing);

    // min_rows and label_two_valued: table-level, first in the report
    let min_rows = params.min_rows.unwrap_or(100);
    let main_rows = rows.get(main_table).copied().unwrap_or(0);
    let mut table_level = vec![ExpectationResult {
        table: main_table.into(),
        column: None,
        expectation: "min_rows".into(),
        threshold: json!(min_rows),
        observed: json!(main_rows),
        passed: main_rows >= min_rows,
        failing_rows: 0,
        examples: vec![],
    }];
    if let Some(t) = inputs.tables.iter().position(|t| t.name == main_table) {
        let known = profile.as_ref().and_then(|p| p.table(main_table)).and_then(|p| p.column("churned"));
        table_level.push(label_two_valued(&inputs.tables[t], spec.as_ref(), known)?);
    }
    table_level.extend(results);
    let results = table_level;

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
        rows,
        sources: manifest.tables.iter().map(|t| (t.name.clone(), t.source.clone())).collect(),
        expectations_total: results.len(),
        expectations_failed: failed,
        expectations: results,
    };
    write_json(&root.join(&settings.report), &report)?;
    if let Some(h) = &settings.html {
        write_bytes_atomic(&root.join(h), render_html(&report).as_bytes())?;
    }
    Ok(report)
}

/// A lazy scan and the schema of every ingested table.
fn load_tables(
    input: &Path,
    settings: &ValidateSettings,
    manifest: &IngestManifest,
) -> Result<Vec<Loaded>, StageError> {
    let mut tables = Vec::new();
    for t in &manifest.tables {
        let path = input.join(format!("{}.parquet", t.name));
        let shown = format!("{}/{}.parquet", settings.input, t.name);
        let mut lf =
            LazyFrame::scan_parquet(PlRefPath::from(path.to_string_lossy().as_ref()), Default::default())
                .map_err(table::polars_err(&shown, "cannot scan"))?;
        let schema = lf.collect_schema().map_err(table::polars_err(&shown, "cannot read the schema"))?;
        let columns = schema.iter_names().map(|n| n.to_string()).collect();
        let dtypes = schema.iter_values().cloned().collect();
        tables.push(Loaded { name: t.name.clone(), lf, columns, dtypes });
    }
    Ok(tables)
}

/// `max_null_ratio`: every column of every table.
fn plan_max_null_ratio(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let (tables, params) = (&inputs.tables, inputs.params);
    let default_null = params.max_null_ratio.unwrap_or(if inputs.events { 0.0 } else { 0.05 });
    for (i, t) in tables.iter().enumerate() {
        // `customer_row` is ingest's link to the customers table, not a raw column: its nulls
        // are the blank or unknown customer ids that the checks of `customer_id` report.
        for c in t.columns.iter().filter(|c| *c != CUSTOMER_ROW) {
            let threshold =
                lookup(&params.max_null_ratio_columns, &t.name, c).copied().unwrap_or(default_null);
            plan.add(
                tables,
                i,
                c,
                "max_null_ratio",
                json!(threshold),
                RowRule::NullRatio(threshold),
                col(c.as_str()).is_null(),
                col(c.as_str()),
            );
        }
    }
    Ok(())
}

/// `unique`: the params' list, else the id columns of the layout.
fn plan_unique(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let tables = &inputs.tables;
    let unique: Vec<String> = match &inputs.params.unique {
        Some(u) => u.clone(),
        None if inputs.events => {
            vec!["customers.customer_id".into(), "cdr.call_id".into(), "support_tickets.ticket_id".into()]
        }
        None => vec![format!("{}.customer_id", ingest::SNAPSHOT_TABLE)],
    };
    for key in &unique {
        for (t, c) in resolve(tables, key) {
            let x = col(c.as_str());
            plan.add(
                tables,
                t,
                &c,
                "unique",
                json!(true),
                RowRule::Unique,
                x.clone().is_duplicated().and(x.clone().is_not_null()),
                x,
            );
        }
    }
    Ok(())
}

/// `allowed_values`: the documented domains, added to or replaced per column by the params.
fn plan_allowed_values(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let tables = &inputs.tables;
    let mut allowed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let flags = ["0", "1"];
    if inputs.events {
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
    for (k, v) in &inputs.params.allowed_values {
        allowed.insert(k.clone(), v.iter().map(value_text).collect());
    }
    for (key, values) in &allowed {
        for (t, c) in resolve(tables, key) {
            // Numeric columns compare numerically (no text cast of millions of flags).
            let numbers: Option<Vec<f64>> = values.iter().map(|v| v.trim().parse::<f64>().ok()).collect();
            let numeric = numbers.is_some() && tables[t].is_numeric(&c);
            let (x, set) = match numbers {
                Some(n) if numeric => {
                    (col(c.as_str()).cast(DataType::Float64), Series::new("allowed".into(), n))
                }
                _ => (col(c.as_str()).cast(DataType::String), Series::new("allowed".into(), values)),
            };
            let mask = x.clone().is_not_null().and(x.is_in(lit(set).implode(false), false).not());
            let rule = RowRule::Allowed { values: values.clone(), numeric };
            plan.add(tables, t, &c, "allowed_values", json!(values), rule, mask, col(c.as_str()));
        }
    }
    Ok(())
}

/// `range`: non-negative amounts and durations (events), added to or replaced by the params.
fn plan_ranges(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let tables = &inputs.tables;
    let mut ranges: BTreeMap<String, Range> = BTreeMap::new();
    if inputs.events {
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
    for (k, r) in &inputs.params.ranges {
        ranges.insert(k.clone(), *r);
    }
    for (key, range) in &ranges {
        for (t, c) in resolve(tables, key) {
            let x = col(c.as_str()).cast(DataType::Float64);
            let mut mask = x.clone().is_nan().or(x.clone().is_infinite());
            if let Some(min) = range.min {
                mask = mask.or(x.clone().lt(lit(min)));
            }
            if let Some(max) = range.max {
                mask = mask.or(x.clone().gt(lit(max)));
            }
            plan.add(tables, t, &c, "range", json!(range), RowRule::Range(*range), mask, col(c.as_str()));
        }
    }
    Ok(())
}

/// `references` (events): every other table's customer_id is a known customer.
fn plan_references(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let tables = &inputs.tables;
    if !inputs.events || !inputs.params.referential_integrity.unwrap_or(true) {
        return Ok(());
    }
    let Some(ci) = tables.iter().position(|t| t.name == "customers" && t.has("customer_id")) else {
        return Ok(());
    };
    let ids = tables[ci]
        .lf
        .clone()
        .select([col("customer_id").drop_nulls().unique()])
        .collect()
        .map_err(|e| StageError::new(format!("validate: customers.customer_id: {e}")))?;
    let ids = ids
        .column("customer_id")
        .map_err(|e| StageError::new(format!("validate: customers.customer_id: {e}")))?
        .as_materialized_series()
        .clone();
    for t in 0..tables.len() {
        if t == ci {
            continue;
        }
        let x = col("customer_id");
        let mask = x.clone().is_not_null().and(x.clone().is_in(lit(ids.clone()).implode(false), false).not());
        plan.add(
            tables,
            t,
            "customer_id",
            "references",
            json!("customers.customer_id"),
            RowRule::References,
            mask,
            x,
        );
    }
    Ok(())
}

/// `not_after_snapshot` (events, when a snapshot date is set): no event after it.
fn plan_not_after_snapshot(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let tables = &inputs.tables;
    let Some(s) = inputs.snapshot_date.filter(|_| inputs.events) else {
        return Ok(());
    };
    for (name, date_col) in [
        ("customers", "signup_date"),
        ("transactions", "transaction_date"),
        ("cdr", "call_date"),
        ("support_tickets", "ticket_date"),
    ] {
        if let Some(t) = tables.iter().position(|t| t.name == name) {
            let mask = col(date_col).cast(DataType::Int32).gt(lit(table::epoch_days(s)));
            let threshold = json!(s.format("%Y-%m-%d").to_string());
            plan.add(
                tables,
                t,
                date_col,
                "not_after_snapshot",
                threshold,
                RowRule::NotAfter(table::epoch_days(s)),
                mask,
                col(date_col),
            );
        }
    }
    Ok(())
}

/// `label_present`: no null label (two-valued is a table-level check, [`label_two_valued`]).
fn plan_label_present(inputs: &Inputs, plan: &mut Plan) -> Result<(), StageError> {
    let tables = &inputs.tables;
    if let Some(t) = tables.iter().position(|t| t.name == inputs.main_table) {
        plan.add(
            tables,
            t,
            "churned",
            "label_present",
            json!(true),
            RowRule::LabelPresent,
            col("churned").is_null(),
            col("churned"),
        );
    }
    Ok(())
}

/// Rows per table and the result of every planned check, table by table.
///
/// Counts come from ingest's profile where it answers them; the data is read only for the
/// rest: one pass per column (projection pushdown reads just that column) for every count
/// of that column's checks, then examples for the failures only.
fn measure(
    tables: &[Loaded],
    checks: &[RowExpectation],
    profile: Option<&Profile>,
    max_examples: usize,
) -> Result<(BTreeMap<String, u64>, Vec<ExpectationResult>), StageError> {
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut results: Vec<ExpectationResult> = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let profile = profile.and_then(|p| p.table(&t.name));
        let mine: Vec<(usize, &RowExpectation)> =
            checks.iter().enumerate().filter(|(_, c)| c.table == ti).collect();
        let known: BTreeMap<usize, u64> =
            mine.iter().filter_map(|(i, c)| count_from_profile(profile, c).map(|n| (*i, n))).collect();
        let err = |e: PolarsError| StageError::new(format!("validate: table {}: {e}", t.name));
        let mut frames = Vec::new();
        if profile.is_none() {
            frames.push(
                table::collect_streaming(t.lf.clone().select([len().cast(DataType::UInt64).alias("__rows")]))
                    .map_err(err)?,
            );
        }
        let scanned: Vec<&(usize, &RowExpectation)> =
            mine.iter().filter(|(i, _)| !known.contains_key(i)).collect();
        let mut columns: Vec<&str> = scanned.iter().map(|(_, c)| c.column.as_str()).collect();
        columns.sort_unstable();
        columns.dedup();
        for column in columns {
            let mut aggs = Vec::new();
            for (i, c) in scanned.iter().filter(|(_, c)| c.column == column) {
                let count = if matches!(c.rule, RowRule::Unique) {
                    // Non-null values minus distinct ones: 0 when unique, and much cheaper than
                    // marking every duplicated row (done below only when this is not 0).
                    let x = col(c.column.as_str());
                    x.clone().is_not_null().sum().cast(DataType::Int64)
                        - x.drop_nulls().n_unique().cast(DataType::Int64)
                } else {
                    c.mask.clone().fill_null(false).sum()
                };
                aggs.push(count.cast(DataType::UInt64).alias(format!("n{i}")));
                if matches!(c.rule, RowRule::Range(_)) {
                    let x = col(c.column.as_str()).cast(DataType::Float64);
                    aggs.push(x.clone().min().alias(format!("min{i}")));
                    aggs.push(x.max().alias(format!("max{i}")));
                }
            }
            frames.push(table::collect_streaming(t.lf.clone().select(aggs)).map_err(err)?);
        }
        let cell = |n: &str| frames.iter().find_map(|f| f.column(n).ok().and_then(|c| c.get(0).ok()));
        let get_u = |n: &str| cell(n).and_then(|v| v.extract::<u64>());
        let get_f = |n: &str| cell(n).and_then(|v| v.extract::<f64>());
        let height = match profile {
            Some(p) => p.rows,
            None => get_u("__rows").unwrap_or(0),
        };
        rows.insert(t.name.clone(), height);
        for (i, c) in mine {
            let from_profile = known.get(&i).copied();
            let mut n = from_profile.unwrap_or_else(|| get_u(&format!("n{i}")).unwrap_or(0));
            if matches!(c.rule, RowRule::Unique) && n > 0 {
                // Report every row that shares its value with another row.
                let mask = c.mask.clone().fill_null(false).sum().cast(DataType::UInt64).alias("n");
                let all = table::collect_streaming(t.lf.clone().select([mask])).map_err(err)?;
                n = all
                    .column("n")
                    .ok()
                    .and_then(|x| x.get(0).ok())
                    .and_then(|v| v.extract::<u64>())
                    .unwrap_or(n);
            }
            let (min, max) = match (from_profile, profile.and_then(|p| p.column(&c.column))) {
                (Some(_), Some(cp)) => (cp.min, cp.max),
                _ => (get_f(&format!("min{i}")), get_f(&format!("max{i}"))),
            };
            let (observed, passed) = c.rule.verdict(n, height, min, max);
            let examples = if passed || n == 0 { vec![] } else { examples(t, c, max_examples)? };
            results.push(ExpectationResult {
                table: t.name.clone(),
                column: Some(c.column.clone()),
                expectation: c.expectation.into(),
                threshold: c.threshold.clone(),
                observed,
                passed,
                failing_rows: n,
                examples,
            });
        }
    }
    Ok((rows, results))
}

/// The exact number of rows failing `c`, when ingest's profile of the table decides it;
/// `None` when the data must be read (the profile does not cover the check, or says only
/// that it fails without counting the rows).
fn count_from_profile(table: Option<&TableProfile>, c: &RowExpectation) -> Option<u64> {
    let table = table?;
    let column = table.column(&c.column);
    match &c.rule {
        RowRule::NullRatio(_) | RowRule::LabelPresent => column.map(|p| p.nulls),
        RowRule::Unique => (column?.unique == Some(true)).then_some(0),
        RowRule::Allowed { values, numeric } => {
            let seen = column?.values.as_ref()?;
            let allowed = |v: &str| {
                if *numeric {
                    let x: Option<f64> = v.parse().ok();
                    values.iter().any(|a| a.trim().parse::<f64>().ok() == x && x.is_some())
                } else {
                    values.iter().any(|a| a == v)
                }
            };
            Some(seen.iter().filter(|(v, _)| !allowed(v)).map(|(_, n)| n).sum())
        }
        RowRule::Range(r) => {
            let p = column?;
            let low = match (r.min, p.min) {
                (Some(lo), Some(m)) => m >= lo,
                _ => true,
            };
            let high = match (r.max, p.max) {
                (Some(hi), Some(m)) => m <= hi,
                _ => true,
            };
            (low && high).then_some(0)
        }
        RowRule::References => table.unknown_customer_rows,
        RowRule::NotAfter(day) => match column?.max {
            Some(m) if m > f64::from(*day) => None,
            _ => Some(0),
        },
    }
}

/// The first offending rows of a failed check (1-based data rows).
fn examples(t: &Loaded, c: &RowExpectation, max: usize) -> Result<Vec<Example>, StageError> {
    let ex =
        t.lf.clone()
            .with_row_index("__row", Some(1))
            .filter(c.mask.clone().fill_null(false))
            .limit(max as IdxSize)
            .select([
                col("__row").cast(DataType::UInt64),
                c.value.clone().cast(DataType::String).fill_null(lit("null")).alias("__value"),
            ])
            .collect()
            .map_err(|e| StageError::new(format!("validate: {}.{}: {e}", t.name, c.column)))?;
    let mut out = Vec::new();
    if let (Ok(r), Ok(v)) = (ex.column("__row"), ex.column("__value")) {
        if let (Ok(r), Ok(v)) = (r.as_materialized_series().u64(), v.as_materialized_series().str()) {
            for (r, v) in r.iter().zip(v.iter()) {
                out.push(Example { row: r.unwrap_or(0), value: v.unwrap_or("").to_string() });
            }
        }
    }
    Ok(out)
}

/// `churned` takes exactly the values 0 and 1 (and, for a snapshot, the raw label had two values).
fn label_two_valued(
    t: &Loaded,
    spec: Option<&SnapshotSpec>,
    profile: Option<&ColumnProfile>,
) -> Result<ExpectationResult, StageError> {
    let mut r = ExpectationResult {
        table: t.name.clone(),
        column: Some("churned".into()),
        expectation: "label_two_valued".into(),
        threshold: json!([0, 1]),
        observed: json!("column missing"),
        passed: false,
        failing_rows: 0,
        examples: vec![],
    };
    if !t.has("churned") {
        return Ok(r);
    }
    let listed: Option<Vec<i64>> =
        profile.and_then(|p| p.values.as_ref()).and_then(|v| v.keys().map(|k| k.parse().ok()).collect());
    let values = match listed {
        Some(mut v) => {
            v.sort_unstable();
            v
        }
        None => {
            let d = t
                .lf
                .clone()
                .select([col("churned").drop_nulls().unique().sort(Default::default()).cast(DataType::Int64)])
                .collect()
                .map_err(|e| StageError::new(format!("validate: {}.churned: {e}", t.name)))?;
            d.select_at_idx(0)
                .and_then(|c| c.as_materialized_series().i64().ok().map(|ca| ca.iter().flatten().collect()))
                .unwrap_or_default()
        }
    };
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

/// The (table index, column) pairs a key names: `table.column`, or a bare column in every
/// table having it. A key naming nothing resolves to its literal table/column so that the
/// expectation fails with "column missing" rather than being silently skipped.
fn resolve(tables: &[Loaded], key: &str) -> Vec<(usize, String)> {
    if let Some((t, c)) = key.split_once('.') {
        if let Some(i) = tables.iter().position(|x| x.name == t) {
            return vec![(i, c.to_string())];
        }
    }
    let hits: Vec<(usize, String)> =
        tables.iter().enumerate().filter(|(_, t)| t.has(key)).map(|(i, _)| (i, key.to_string())).collect();
    if hits.is_empty() && !tables.is_empty() {
        return vec![(0, key.to_string())];
    }
    hits
}

/// A self-contained HTML page of the report.
pub(crate) fn render_html(report: &ValidationReport) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>churnflow validation</title>");
    h.push_str(
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid \
         #ccc;padding:4px 8px;text-align:left}.fail{background:#fdd}.pass{background:#efe}</style></head><body>",
    );
    h.push_str(&format!(
        "<h1>Validation: {}</h1><p>layout {} &middot; {} of {} expectations failed &middot; on_failure {}</p>",
        escape(&report.status),
        escape(&report.layout),
        report.expectations_failed,
        report.expectations_total,
        if report.on_failure == OnFailure::Fail { "fail" } else { "warn" }
    ));
    h.push_str("<table><tr><th>table</th><th>column</th><th>expectation</th><th>threshold</th><th>observed</th><th>verdict</th><th>failing rows</th><th>examples</th></tr>");
    let mut sorted: Vec<&ExpectationResult> = report.expectations.iter().collect();
    sorted.sort_by_key(|e| e.passed);
    for e in sorted {
        let ex: Vec<String> =
            e.examples.iter().map(|x| format!("row {}: {}", x.row, escape(&x.value))).collect();
        h.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if e.passed { "pass" } else { "fail" },
            escape(&e.table),
            escape(e.column.as_deref().unwrap_or("")),
            escape(&e.expectation),
            escape(&e.threshold.to_string()),
            escape(&e.observed.to_string()),
            if e.passed { "pass" } else { "FAIL" },
            e.failing_rows,
            ex.join("<br>")
        ));
    }
    h.push_str("</table></body></html>\n");
    h
}
