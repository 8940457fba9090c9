//! Kind `features`: one row per customer, sorted by `customer_id`, in a fixed column order.
//!
//! Layout `events` computes the RFM/behavioural features of DESIGN.md section 6 with lazy
//! polars group-bys and left joins (no per-row loops). With S = `features.snapshot_date`,
//! every window includes both ends ("last 30 days" is S − 30 ≤ date ≤ S) and events after S
//! are ignored. Customers without rows in a table get 0 for that table's features.
//! [`EVENTS_FEATURE_COLUMNS`] is the output order; numeric features are Float64, `churned`
//! Int32, categorical columns stay strings.
//!
//! Layout `snapshot` writes the cleaned typed table of `ingest` (customer_id first, churned last).
//!
//! A validation report whose status is `failed` stops the stage before it reads any data.

use crate::ingest::{self, IngestManifest};
use crate::kind::{Invocation, Kind, OutDecl, Outcome, StageError};
use crate::table;
use crate::validate::ValidationReport;
use polars::prelude::*;
use serde::Deserialize;
use std::path::Path;

/// Output columns for layout `events`, in order.
pub const EVENTS_FEATURE_COLUMNS: &[&str] = &[
    "customer_id",
    "contract_type",
    "payment_method",
    "age_group",
    "region",
    "plan_monthly_eur",
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_avg",
    "monetary_std",
    "tenure_days",
    "recent_frequency",
    "recent_monetary",
    "activity_trend",
    "calls_count_30d",
    "calls_duration_avg_30d",
    "calls_duration_total_30d",
    "data_usage_gb_30d",
    "international_calls_ratio",
    "peak_hour_ratio",
    "unique_contacts_30d",
    "support_tickets_90d",
    "support_escalations_90d",
    "avg_resolution_time_h",
    "complaint_ratio",
    "unresolved_tickets",
    "frustration_index",
    "churned",
];

/// The string (categorical) columns of the events features.
pub const EVENTS_CATEGORICAL_COLUMNS: &[&str] = &["contract_type", "payment_method", "age_group", "region"];

/// The `with:` settings of a `features` stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesSettings {
    /// The out dir of an ingest stage.
    pub input: String,
    /// The report of a validate stage (a dep: a failed validation stops this stage).
    pub validation_report: String,
    /// The features Parquet file.
    pub out: String,
}

/// The `features` params section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesParams {
    /// `YYYY-MM-DD`, the end of every window (required for layout `events`).
    #[serde(default)]
    pub snapshot_date: Option<String>,
}

/// The built-in kind `features`.
pub struct Features;

impl Kind for Features {
    const NAME: &'static str = "features";
    const PARAMS_SECTION: &'static str = "features";
    const CODE_VERSION: u32 = 1;
    type Settings = FeaturesSettings;
    type Params = FeaturesParams;

    fn io(s: &FeaturesSettings, p: &FeaturesParams) -> Result<(Vec<String>, Vec<OutDecl>), String> {
        if let Some(d) = &p.snapshot_date {
            table::parse_date(d).map_err(|e| format!("params features.snapshot_date: {e}"))?;
        }
        Ok((vec![s.input.clone(), s.validation_report.clone()], vec![OutDecl::out(s.out.clone())]))
    }

    fn run(
        root: &Path,
        settings: FeaturesSettings,
        params: FeaturesParams,
        _invocation: &Invocation,
    ) -> Result<Outcome, StageError> {
        let (rows, cols) = features(root, &settings, &params)?;
        Ok(Outcome { summary: format!("features: {rows} customers x {cols} columns -> {}", settings.out) })
    }
}

/// Computes the features and writes `settings.out`; returns (rows, columns).
pub fn features(
    root: &Path,
    settings: &FeaturesSettings,
    params: &FeaturesParams,
) -> Result<(usize, usize), StageError> {
    let report =
        ValidationReport::read(&root.join(&settings.validation_report), &settings.validation_report)?;
    if report.status == "failed" {
        return Err(StageError::new(format!(
            "{}: validation failed ({} of {} expectations), so no features are computed:\n{}",
            settings.validation_report,
            report.expectations_failed,
            report.expectations_total,
            report.failure_summary()
        )));
    }
    let input = root.join(&settings.input);
    let manifest = IngestManifest::read(&input, &settings.input)?;
    let mut df = if manifest.layout == "events" {
        let text = params.snapshot_date.as_deref().ok_or_else(|| {
            StageError::new(
                "params.yaml: features.snapshot_date is not set; the events layout needs it, e.g. \
                 features: {snapshot_date: \"2024-06-30\"}",
            )
        })?;
        let s =
            table::parse_date(text).map_err(|e| StageError::new(format!("features.snapshot_date: {e}")))?;
        events_features(&input, s)?
    } else {
        let df = table::read_parquet(&input.join(format!("{}.parquet", ingest::SNAPSHOT_TABLE)))?;
        df.lazy()
            .sort(["customer_id"], SortMultipleOptions::default().with_maintain_order(true))
            .collect()
            .map_err(table::polars_err(&settings.input, "cannot sort the snapshot table"))?
    };
    let shape = (df.height(), df.width());
    table::write_parquet_atomic(&mut df, &root.join(&settings.out))?;
    Ok(shape)
}

fn scan(dir: &Path, name: &str) -> Result<LazyFrame, StageError> {
    let path = dir.join(format!("{name}.parquet"));
    LazyFrame::scan_parquet(PlRefPath::from(path.to_string_lossy().as_ref()), Default::default())
        .map_err(table::polars_err(&path.display().to_string(), "cannot scan"))
}

fn f64c(name: &str) -> Expr {
    col(name).cast(DataType::Float64)
}

/// `when(x > floor) x else floor`, null-safe (null gives `floor`).
fn at_least(x: Expr, floor: f64) -> Expr {
    when(x.clone().gt(lit(floor))).then(x).otherwise(lit(floor))
}

/// The events features of the ingested dir `dir` at snapshot date `s`.
pub fn events_features(dir: &Path, s: chrono::NaiveDate) -> Result<DataFrame, StageError> {
    let sd = table::epoch_days(s);
    let day = |c: &str| col(c).cast(DataType::Int32);
    let in_window = |c: &str, days: i32| day(c).gt_eq(lit(sd - days)).and(day(c).lt_eq(lit(sd)));

    let tx = scan(dir, "transactions")?
        .filter(day("transaction_date").lt_eq(lit(sd)))
        .group_by([col("customer_id")])
        .agg([
            (lit(sd) - day("transaction_date").max()).cast(DataType::Float64).alias("recency_days"),
            len().cast(DataType::Float64).alias("frequency"),
            f64c("amount").sum().alias("monetary_total"),
            f64c("amount").mean().alias("monetary_avg"),
            when(len().gt(lit(1))).then(f64c("amount").std(1)).otherwise(lit(0.0)).alias("monetary_std"),
            (lit(sd) - day("transaction_date").min()).cast(DataType::Float64).alias("tenure_days"),
            in_window("transaction_date", 30).cast(DataType::Float64).sum().alias("recent_frequency"),
            f64c("amount").filter(in_window("transaction_date", 30)).sum().alias("recent_monetary"),
        ]);

    let cdr = scan(dir, "cdr")?.filter(in_window("call_date", 30)).group_by([col("customer_id")]).agg([
        len().cast(DataType::Float64).alias("calls_count_30d"),
        f64c("duration_seconds").mean().alias("calls_duration_avg_30d"),
        f64c("duration_seconds").sum().alias("calls_duration_total_30d"),
        (f64c("data_usage_mb").sum() / lit(1024.0)).alias("data_usage_gb_30d"),
        f64c("is_international").mean().alias("international_calls_ratio"),
        f64c("is_peak_hour").mean().alias("peak_hour_ratio"),
        col("called_number_hash")
            .drop_nulls()
            .n_unique()
            .cast(DataType::Float64)
            .alias("unique_contacts_30d"),
    ]);

    let tickets = scan(dir, "support_tickets")?
        .filter(in_window("ticket_date", 90))
        .group_by([col("customer_id")])
        .agg([
            len().cast(DataType::Float64).alias("support_tickets_90d"),
            f64c("is_escalated").sum().alias("support_escalations_90d"),
            f64c("resolution_hours").mean().alias("avg_resolution_time_h"),
            f64c("is_complaint").mean().alias("complaint_ratio"),
            col("is_resolved").eq(lit(0)).cast(DataType::Float64).sum().alias("unresolved_tickets"),
        ]);

    let customers = scan(dir, "customers")?.select([
        col("customer_id"),
        col("contract_type"),
        col("payment_method"),
        col("age_group"),
        col("region"),
        f64c("plan_monthly_eur"),
        col("churned").cast(DataType::Int32),
    ]);

    let event_columns = &EVENTS_FEATURE_COLUMNS[6..EVENTS_FEATURE_COLUMNS.len() - 1];
    let zero_filled: Vec<Expr> = event_columns
        .iter()
        .filter(|c| **c != "activity_trend" && **c != "frustration_index")
        .map(|c| col(*c).fill_null(lit(0.0)).fill_nan(lit(0.0)))
        .collect();

    let months = at_least(col("tenure_days") / lit(30.0), 1.0);
    let rate = at_least(col("frequency") / months, 0.01);
    let tickets_score = lit(2.0) * col("support_tickets_90d")
        + lit(5.0) * col("support_escalations_90d")
        + lit(3.0) * col("unresolved_tickets");
    let frustration =
        when(tickets_score.clone().gt(lit(20.0))).then(lit(20.0)).otherwise(tickets_score) / lit(20.0);

    let joined = customers
        .left_join(tx, col("customer_id"), col("customer_id"))
        .left_join(cdr, col("customer_id"), col("customer_id"))
        .left_join(tickets, col("customer_id"), col("customer_id"))
        .with_columns(zero_filled)
        .with_columns([
            (col("recent_frequency") / rate).alias("activity_trend"),
            frustration.alias("frustration_index"),
        ])
        .sort(["customer_id"], SortMultipleOptions::default().with_maintain_order(true))
        .select(EVENTS_FEATURE_COLUMNS.iter().map(|c| col(*c)).collect::<Vec<_>>());
    // The in-memory engine, not the streaming one: streaming hands a group's rows to the
    // aggregation in whatever order its morsels finish, and floating-point sums depend on
    // order, so the same inputs gave features differing in the last bits from run to run.
    // Content-hashed outputs must be byte-identical for identical inputs.
    joined.collect().map_err(table::polars_err(&dir.display().to_string(), "cannot compute the features"))
}
