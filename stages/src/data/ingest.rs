//! Kind `ingest`: raw CSV/Parquet tables in, typed Parquet out, plus `ingest.json`.
//!
//! Layout `events` reads the four raw tables of docs/stages-data.md and writes
//! `out/{customers,transactions,cdr,support_tickets}.parquet` with exactly the documented
//! columns (extra raw columns are dropped), typed as [`EVENTS_SCHEMA`] says. Layout
//! `snapshot` reads one table, infers its cleaning ([`crate::data::snapshot`]) and writes
//! `out/table.parquet` and `out/snapshot.json`. Both write `out/ingest.json`
//! ([`IngestManifest`]), which `validate` and `features` read to learn the layout.
//!
//! Ingest types cells and refuses what cannot be typed (file, row, column in the message);
//! whether the typed values make sense (domains, duplicates, references) is `validate`'s job.

use crate::contract::{Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::data::profile::{self, Profile, TableProfile};
use crate::data::snapshot::{self, SnapshotSpec};
use crate::data::table_ingest::{self, Link, TableSpec};
use crate::io::json::write_json;
use crate::io::table::{self, Ty};
use crate::progress::{Reporter, Unit};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The typed columns of each events table, in output order.
pub const EVENTS_SCHEMA: &[(&str, &[(&str, Ty)])] = &[
    (
        "customers",
        &[
            ("customer_id", Ty::Str),
            ("signup_date", Ty::Date),
            ("contract_type", Ty::Str),
            ("payment_method", Ty::Str),
            ("age_group", Ty::Str),
            ("region", Ty::Str),
            ("plan_monthly_eur", Ty::F64),
            ("churned", Ty::Int),
        ],
    ),
    ("transactions", &[("customer_id", Ty::Str), ("transaction_date", Ty::Date), ("amount", Ty::F64)]),
    (
        "cdr",
        &[
            ("call_id", Ty::Text),
            ("customer_id", Ty::Str),
            ("call_date", Ty::Date),
            ("duration_seconds", Ty::F64),
            ("data_usage_mb", Ty::F64),
            ("is_international", Ty::Int),
            ("is_peak_hour", Ty::Int),
            ("called_number_hash", Ty::Text),
        ],
    ),
    (
        "support_tickets",
        &[
            ("ticket_id", Ty::Text),
            ("customer_id", Ty::Str),
            ("ticket_date", Ty::Date),
            ("is_escalated", Ty::Int),
            ("resolution_hours", Ty::F64),
            ("is_complaint", Ty::Int),
            ("is_resolved", Ty::Int),
        ],
    ),
];

/// The columns of each events table whose values identify a row (their uniqueness is
/// profiled as the table is ingested).
pub(crate) fn events_keys(table: &str) -> &'static [&'static str] {
    match table {
        "customers" => &["customer_id"],
        "cdr" => &["call_id"],
        "support_tickets" => &["ticket_id"],
        _ => &[],
    }
}

/// The file name of the manifest every ingest writes into its out dir.
pub(crate) const MANIFEST_FILE: &str = "ingest.json";
/// The file name of the snapshot cleaning spec (layout `snapshot`).
pub(crate) const SNAPSHOT_SPEC_FILE: &str = "snapshot.json";
/// The table name (and `<name>.parquet`) of a snapshot layout.
pub(crate) const SNAPSHOT_TABLE: &str = "table";

/// The `with:` settings of an `ingest` stage, by layout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "layout", rename_all = "lowercase", deny_unknown_fields)]
pub enum IngestSettings {
    /// The four event tables ([`EVENTS_SCHEMA`]; docs/stages-data.md, raw input tables).
    Events { customers: String, transactions: String, cdr: String, support_tickets: String, out: String },
    /// One row per customer, any columns.
    Snapshot {
        table: String,
        id_column: String,
        label_column: String,
        positive_label: LabelValue,
        out: String,
    },
}

/// A label value from YAML: text or a number (compared as text).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct LabelValue(pub String);

impl TryFrom<serde_json::Value> for LabelValue {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::String(s) => Ok(LabelValue(s)),
            serde_json::Value::Number(n) => Ok(LabelValue(n.to_string())),
            other => Err(format!(
                "positive_label must be text or a number, got {other}; quote it, e.g. positive_label: \"Yes\""
            )),
        }
    }
}

/// The `ingest` params section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// Snapshot layout: columns kept as text even when every cell looks numeric (e.g. zip codes).
    #[serde(default)]
    pub string_columns: Vec<String>,
}

/// What `ingest` wrote, read back by `validate` and `features` (`out/ingest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestManifest {
    pub schema_version: u32,
    /// `events` or `snapshot`.
    pub layout: String,
    pub tables: Vec<TableInfo>,
}

/// One ingested table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// `customers`, `transactions`, `cdr`, `support_tickets`, or `table` for a snapshot.
    pub name: String,
    /// The raw file as the settings named it.
    pub source: String,
    pub rows: u64,
}

impl IngestManifest {
    /// Reads `dir/ingest.json`, with an error that says which stage writes it.
    pub fn read(dir: &Path, shown_dir: &str) -> Result<IngestManifest, StageError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            StageError::classified(
                format!(
                    "{shown_dir}/{MANIFEST_FILE}: cannot read it ({e}); is '{shown_dir}' the out dir of an ingest stage?"
                ),
                &e,
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| StageError::new(format!("{shown_dir}/{MANIFEST_FILE}: not an ingest manifest: {e}")))
    }
    /// The raw source of a table, for messages.
    pub fn source(&self, table: &str) -> String {
        self.tables
            .iter()
            .find(|t| t.name == table)
            .map(|t| t.source.clone())
            .unwrap_or_else(|| table.to_string())
    }
}

/// The summary of one ingest run.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestSummary {
    pub manifest: IngestManifest,
    pub snapshot: Option<SnapshotSpec>,
}

/// The built-in kind `ingest`.
pub(crate) struct Ingest;

impl Kind for Ingest {
    const NAME: &'static str = "ingest";
    const PARAMS_SECTION: &'static str = "ingest";
    const CODE_VERSION: u32 = 2;
    type Settings = IngestSettings;
    type Params = IngestParams;

    fn io(
        settings: &IngestSettings,
        _params: &IngestParams,
    ) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        match settings {
            IngestSettings::Events { customers, transactions, cdr, support_tickets, out } => Ok((
                vec![customers.clone(), transactions.clone(), cdr.clone(), support_tickets.clone()],
                vec![OutDecl::out(out.clone())],
            )),
            IngestSettings::Snapshot { table, id_column, label_column, out, .. } => {
                if id_column == label_column {
                    return Err(KindIoError::setting(format!(
                        "settings of kind 'ingest': id_column and label_column are both '{id_column}'"
                    )));
                }
                Ok((vec![table.clone()], vec![OutDecl::out(out.clone())]))
            }
        }
    }

    fn run(
        root: &Path,
        settings: IngestSettings,
        params: IngestParams,
        _invocation: &Invocation,
    ) -> Result<StageSummary, StageError> {
        let s = ingest(root, &settings, &params)?;
        let rows: Vec<String> =
            s.manifest.tables.iter().map(|t| format!("{} {} rows", t.name, t.rows)).collect();
        Ok(StageSummary { summary: format!("ingested {} layout: {}", s.manifest.layout, rows.join(", ")) })
    }
}

/// Runs an ingest: reads the raw tables under `root`, writes typed Parquet and the manifest.
pub fn ingest(
    root: &Path,
    settings: &IngestSettings,
    params: &IngestParams,
) -> Result<IngestSummary, StageError> {
    match settings {
        IngestSettings::Events { customers, transactions, cdr, support_tickets, out } => {
            let sources = [customers, transactions, cdr, support_tickets];
            let out_dir = root.join(out);
            let total = sources.iter().map(|s| std::fs::metadata(root.join(s)).map_or(0, |m| m.len())).sum();
            let progress = Reporter::from_env(Unit::Bytes, total);
            let mut tables = Vec::new();
            let mut profiles = Vec::new();
            let mut index = None;
            for ((name, columns), source) in EVENTS_SCHEMA.iter().zip(sources) {
                let spec = TableSpec { name, columns, keys: events_keys(name) };
                let link = match &index {
                    None => Link::BuildIndex,
                    Some(i) => Link::To(i),
                };
                let out = out_dir.join(format!("{name}.parquet"));
                let done =
                    table_ingest::ingest_table(&root.join(source), source, &spec, link, &out, &progress)?;
                if let Some(i) = done.customers {
                    index = Some(i);
                }
                tables.push(TableInfo {
                    name: name.to_string(),
                    source: source.clone(),
                    rows: done.profile.rows,
                });
                profiles.push(done.profile);
            }
            let profile = Profile { schema_version: profile::PROFILE_VERSION, tables: profiles };
            write_json(&out_dir.join(profile::PROFILE_FILE), &profile)?;
            let manifest = IngestManifest { schema_version: 1, layout: "events".into(), tables };
            write_json(&out_dir.join(MANIFEST_FILE), &manifest)?;
            Ok(IngestSummary { manifest, snapshot: None })
        }
        IngestSettings::Snapshot { table: source, id_column, label_column, positive_label, out } => {
            let out_dir = root.join(out);
            let raw = table::read_raw_strings(&root.join(source), source)?;
            let spec = snapshot::infer_spec(
                &raw,
                source,
                id_column,
                label_column,
                &positive_label.0,
                &params.string_columns,
            )?;
            let mut typed = snapshot::clean_snapshot(raw, &spec, source)?;
            table::write_parquet(&out_dir.join(format!("{SNAPSHOT_TABLE}.parquet")), &mut typed)?;
            write_json(&out_dir.join(SNAPSHOT_SPEC_FILE), &spec)?;
            let stats = profile::measure_frame(&typed, &["customer_id"]);
            let table = TableProfile {
                name: SNAPSHOT_TABLE.into(),
                rows: typed.height() as u64,
                columns: stats.into_iter().map(profile::ColumnStats::finish).collect(),
                unknown_customer_rows: None,
            };
            let profile = Profile { schema_version: profile::PROFILE_VERSION, tables: vec![table] };
            write_json(&out_dir.join(profile::PROFILE_FILE), &profile)?;
            let manifest = IngestManifest {
                schema_version: 1,
                layout: "snapshot".into(),
                tables: vec![TableInfo {
                    name: SNAPSHOT_TABLE.into(),
                    source: source.clone(),
                    rows: typed.height() as u64,
                }],
            };
            write_json(&out_dir.join(MANIFEST_FILE), &manifest)?;
            Ok(IngestSummary { manifest, snapshot: Some(spec) })
        }
    }
}
