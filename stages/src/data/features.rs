//! Kind `features`: one row per customer, sorted by `customer_id`, in a fixed column order.
//!
//! Layout `events` computes the RFM/behavioural features listed in docs/stages-data.md (kind `features`): the event
//! tables are reduced batch by batch with polars group-bys into per-customer aggregates
//! ([`crate::data::customer_rollup`]) and the features are polars expressions over those. With
//! S = `features.snapshot_date`, every window includes both ends ("last 30 days" is
//! S − 30 ≤ date ≤ S) and events after S are ignored. Customers without rows in a table get 0 for that table's features; events whose
//! customer_id is not a customer (possible only with `referential_integrity: false`) are
//! left out.
//! [`EVENTS_FEATURE_COLUMNS`] is the output order; numeric features are Float64, `churned`
//! Int32, categorical columns stay strings.
//!
//! Layout `snapshot` writes the cleaned typed table of `ingest` (customer_id first, churned last).
//!
//! A validation report whose status is `failed` stops the stage before it reads any data.

use crate::contract::{Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::data::customer_rollup::{distinct_contacts, fold_table, Calls, Tickets, Transactions};
use crate::data::ingest::{self, IngestManifest};
use crate::data::parquet_out::{self, ColumnEncoding, ParquetLayout};
use crate::data::table_ingest::CUSTOMER_ROW;
use crate::data::validate::ValidationReport;
use crate::io::table;
use crate::progress::{Reporter, Unit};
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
pub(crate) struct Features;

impl Kind for Features {
    const NAME: &'static str = "features";
    const PARAMS_SECTION: &'static str = "features";
    const CODE_VERSION: u32 = 4;
    type Settings = FeaturesSettings;
    type Params = FeaturesParams;

    fn io(s: &FeaturesSettings, p: &FeaturesParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        if let Some(d) = &p.snapshot_date {
            let key = "features.snapshot_date";
            table::parse_date(d).map_err(|e| KindIoError::param(key, format!("{key}: {e}")))?;
        }
        Ok((vec![s.input.clone(), s.validation_report.clone()], vec![OutDecl::out(s.out.clone())]))
    }

    fn run(
        root: &Path,
        settings: FeaturesSettings,
        params: FeaturesParams,
        _invocation: &Invocation,
    ) -> Result<StageSummary, StageError> {
        let (rows, cols) = features(root, &settings, &params)?;
        Ok(StageSummary {
            summary: format!("features: {rows} customers x {cols} columns -> {}", settings.out),
        })
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
    let df = if manifest.layout == "events" {
        let text = params.snapshot_date.as_deref().ok_or_else(|| {
            StageError::new(
                "params.yaml: features.snapshot_date is not set; the events layout needs it, e.g. \
                 features: {snapshot_date: \"2024-06-30\"}",
            )
        })?;
        let s =
            table::parse_date(text).map_err(|e| StageError::new(format!("features.snapshot_date: {e}")))?;
        // Progress: the event rows folded, of those ingest counted.
        let events: u64 = manifest.tables.iter().filter(|t| t.name != "customers").map(|t| t.rows).sum();
        events_features(&input, s, &Reporter::from_env(Unit::Rows, events))?
    } else {
        let df = table::read_table(&input.join(format!("{}.parquet", ingest::SNAPSHOT_TABLE)))?;
        df.lazy()
            .sort(["customer_id"], SortMultipleOptions::default().with_maintain_order(true))
            .collect()
            .map_err(table::polars_err(&settings.input, "cannot sort the snapshot table"))?
    };
    let shape = (df.height(), df.width());
    // Dictionary encoding for the categories and the label, plain for ids and numbers.
    let encodings: Vec<ColumnEncoding> = df
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::String if c.name() != "customer_id" => ColumnEncoding::Dictionary,
            DataType::Int32 => ColumnEncoding::Dictionary,
            _ => ColumnEncoding::Plain,
        })
        .collect();
    let layout = ParquetLayout::new(df.schema(), &encodings)
        .map_err(table::polars_err(&settings.out, "cannot plan the Parquet file"))?;
    parquet_out::write_frame(&df, &layout, &root.join(&settings.out))?;
    Ok(shape)
}

fn scan(dir: &Path, name: &str) -> Result<LazyFrame, StageError> {
    let path = dir.join(format!("{name}.parquet"));
    let shown = path.display().to_string();
    let mut lf = LazyFrame::scan_parquet(PlRefPath::from(shown.as_str()), Default::default())
        .map_err(table::polars_err(&shown, "cannot scan"))?;
    let schema = lf.collect_schema().map_err(table::polars_err(&shown, "cannot read the schema"))?;
    if schema.get(CUSTOMER_ROW).is_none() {
        return Err(StageError::new(format!(
            "{shown}: has no column '{CUSTOMER_ROW}'; it was ingested by an older churnflow. Rerun the \
             ingest stage (churnflow repro --force <ingest stage>)."
        )));
    }
    Ok(lf)
}

/// `when(x > floor) x else floor`, null-safe (null gives `floor`).
fn at_least(x: Expr, floor: f64) -> Expr {
    when(x.clone().gt(lit(floor))).then(x).otherwise(lit(floor))
}

/// The events features of the ingested dir `dir` at snapshot date `s`.
///
/// The per-customer aggregates come from [`crate::data::customer_rollup`] (the three event tables
/// are folded at the same time); the features built from them, one row per customer, are
/// polars expressions.
pub(crate) fn events_features(
    dir: &Path,
    s: chrono::NaiveDate,
    progress: &Reporter<'_>,
) -> Result<DataFrame, StageError> {
    let sd = table::epoch_days(s);
    let shown = dir.display().to_string();
    let customers = table::read_table(&dir.join("customers.parquet"))?
        .lazy()
        .select([
            col("customer_id"),
            col("contract_type"),
            col("payment_method"),
            col("age_group"),
            col("region"),
            col("plan_monthly_eur").cast(DataType::Float64),
            col("churned").cast(DataType::Int32),
        ])
        .collect()
        .map_err(table::polars_err(&shown, "cannot read the customers"))?;
    let n = customers.height();
    let failed = |table: &str| {
        let shown = shown.clone();
        let table = table.to_string();
        move |e: PolarsError| {
            StageError::new(format!("{shown}/{table}.parquet: cannot aggregate the events: {e}"))
        }
    };
    let (transactions, calls, tickets) =
        (scan(dir, "transactions")?, scan(dir, "cdr")?, scan(dir, "support_tickets")?);
    // The three tables are folded at the same time.
    let (tx, cdr, tk) = std::thread::scope(|scope| {
        let tx = scope.spawn(|| {
            fold_table(transactions, Transactions::new(n, sd), progress).map(Transactions::features)
        });
        let cdr = scope.spawn(|| fold_table(calls, Calls::new(n, sd), progress).map(Calls::features));
        let tk = fold_table(tickets, Tickets::new(n, sd), progress).map(Tickets::features);
        let panicked = || PolarsError::ComputeError("an aggregation thread panicked".into());
        (tx.join().unwrap_or_else(|_| Err(panicked())), cdr.join().unwrap_or_else(|_| Err(panicked())), tk)
    });
    let (tx, (calls, contacts), tk) = (
        tx.map_err(failed("transactions"))?,
        cdr.map_err(failed("cdr"))?,
        tk.map_err(failed("support_tickets"))?,
    );
    let contacts = match contacts {
        Some(c) => c,
        None => distinct_contacts(scan(dir, "cdr")?, n, sd).map_err(failed("cdr"))?,
    };
    let mut columns = customers.into_columns();
    let aggregates = tx.into_iter().chain(calls).chain([("unique_contacts_30d", contacts)]).chain(tk);
    for (name, values) in aggregates {
        columns.push(Float64Chunked::from_vec(name.into(), values).into_column());
    }
    let per_customer =
        DataFrame::new(n, columns).map_err(table::polars_err(&shown, "cannot assemble the features"))?;

    let months = at_least(col("tenure_days") / lit(30.0), 1.0);
    let rate = at_least(col("frequency") / months, 0.01);
    let tickets_score = lit(2.0) * col("support_tickets_90d")
        + lit(5.0) * col("support_escalations_90d")
        + lit(3.0) * col("unresolved_tickets");
    let frustration =
        when(tickets_score.clone().gt(lit(20.0))).then(lit(20.0)).otherwise(tickets_score) / lit(20.0);
    let sorted = per_customer.column("customer_id").and_then(|c| c.str()).is_ok_and(|ids| {
        let mut ids = ids.iter();
        let mut prev = ids.next().flatten();
        ids.all(|id| {
            let ok = matches!((prev, id), (Some(a), Some(b)) if a <= b);
            prev = id;
            ok
        })
    });
    let mut lf = per_customer.lazy().with_columns([
        (col("recent_frequency") / rate).alias("activity_trend"),
        frustration.alias("frustration_index"),
    ]);
    if !sorted {
        lf = lf.sort(["customer_id"], SortMultipleOptions::default().with_maintain_order(true));
    }
    lf.select(EVENTS_FEATURE_COLUMNS.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .collect()
        .map_err(table::polars_err(&shown, "cannot compute the features"))
}
