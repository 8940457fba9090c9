//! The cleaning of a `snapshot` table (one row per customer, any columns), as a value.
//!
//! `ingest` infers a [`SnapshotSpec`] from the raw table and writes it to `out/snapshot.json`;
//! a model can carry it so that `score` applies exactly the same [`clean_snapshot`] to a raw
//! table later (which may lack the label column, or have extra columns).
//!
//! The rules:
//! * the id column becomes `customer_id` (String, trimmed), first;
//! * the label column becomes `churned` (Int32): 1 where the trimmed cell equals
//!   `positive_label` as text, or as a number (`1` matches `1.0`), 0 otherwise, null if blank;
//!   it comes last;
//! * a column is numeric when every non-blank cell parses as a number (and at least one
//!   does); numeric columns are Float64 with blank cells (e.g. Telco's `TotalCharges` " ")
//!   as null; NaN/inf cells are bad data;
//! * every other column is String, trimmed, blank as null.

use crate::contract::StageError;
use crate::io::table::{self, Ty};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The schema version of `snapshot.json`.
pub(crate) const SNAPSHOT_SPEC_VERSION: u32 = 1;

/// How a raw snapshot table is cleaned into the typed table `features` and `score` use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    pub schema_version: u32,
    /// The raw id column, renamed `customer_id`.
    pub id_column: String,
    /// The raw label column, turned into `churned` (0/1).
    pub label_column: String,
    /// The raw label value that means "churned", compared as text (and as a number).
    pub positive_label: String,
    /// The raw feature columns in output order (id and label excluded).
    pub columns: Vec<String>,
    /// The subset of `columns` typed as Float64.
    pub numeric_columns: Vec<String>,
    /// Trimmed raw text of each non-blank label value seen at ingest, sorted (at most 20).
    #[serde(default)]
    pub label_values: Vec<String>,
}

impl SnapshotSpec {
    /// Reads a `snapshot.json` written by ingest (`shown` names it in errors).
    pub fn read(path: &std::path::Path, shown: &str) -> Result<SnapshotSpec, StageError> {
        let spec: SnapshotSpec = crate::io::json::read_json(path, "snapshot spec")?;
        if spec.schema_version > SNAPSHOT_SPEC_VERSION {
            return Err(StageError::new(format!(
                "{shown}: written by a newer churnflow (schema {}); upgrade churnflow",
                spec.schema_version
            )));
        }
        Ok(spec)
    }
}

/// Infers the spec of a raw table whose columns are all text (see [`crate::io::table::read_raw_strings`]).
///
/// `force_string` names columns to keep as text even when they look numeric (e.g. zip codes).
pub(crate) fn infer_spec(
    raw: &DataFrame,
    shown: &str,
    id_column: &str,
    label_column: &str,
    positive_label: &str,
    force_string: &[String],
) -> Result<SnapshotSpec, StageError> {
    table::require_columns(raw, shown, &[id_column, label_column])?;
    let columns: Vec<String> = raw
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n != id_column && n != label_column && n != "customer_id" && n != "churned")
        .collect();
    let mut probes = Vec::new();
    for c in &columns {
        let t = table::blank_to_null(c);
        let f = t.clone().cast(DataType::Float64);
        probes.push(t.clone().is_not_null().sum().cast(DataType::Int64).alias(format!("n:{c}")));
        probes.push((t.is_not_null().and(f.is_null())).sum().cast(DataType::Int64).alias(format!("bad:{c}")));
    }
    let counts = if probes.is_empty() {
        DataFrame::empty()
    } else {
        raw.clone()
            .lazy()
            .select(probes)
            .collect()
            .map_err(table::polars_err(shown, "cannot scan the columns"))?
    };
    let get = |name: &str| -> i64 {
        counts.column(name).ok().and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<i64>()).unwrap_or(0)
    };
    let numeric_columns = columns
        .iter()
        .filter(|c| !force_string.contains(c))
        .filter(|c| get(&format!("n:{c}")) > 0 && get(&format!("bad:{c}")) == 0)
        .cloned()
        .collect();
    let label_values = distinct_text(raw, shown, label_column, 20)?;
    Ok(SnapshotSpec {
        schema_version: SNAPSHOT_SPEC_VERSION,
        id_column: id_column.to_string(),
        label_column: label_column.to_string(),
        positive_label: positive_label.trim().to_string(),
        columns,
        numeric_columns,
        label_values,
    })
}

/// The sorted distinct non-blank trimmed values of a text column, at most `limit`.
fn distinct_text(raw: &DataFrame, shown: &str, name: &str, limit: usize) -> Result<Vec<String>, StageError> {
    let d = raw
        .clone()
        .lazy()
        .select([table::blank_to_null(name).drop_nulls().unique().sort(Default::default()).alias("v")])
        .limit(limit as IdxSize)
        .collect()
        .map_err(table::polars_err(shown, "cannot read the label values"))?;
    let s = table::column(&d, "v", Path::new(shown))?.as_materialized_series();
    let ca = s.str().map_err(table::polars_err(shown, "label values"))?;
    Ok(ca.iter().flatten().map(|v| v.to_string()).collect())
}

/// Applies `spec` to a raw table (any column types; all are read as text first).
///
/// The result has `customer_id`, then `spec.columns` in order, then `churned` when the raw
/// table has the label column. Extra raw columns are dropped; a missing feature column or a
/// non-numeric cell in a numeric column is an error naming `shown` (the file), row and column.
pub fn clean_snapshot(raw: DataFrame, spec: &SnapshotSpec, shown: &str) -> Result<DataFrame, StageError> {
    let has_label = raw.get_column_names().iter().any(|n| n.as_str() == spec.label_column);
    let mut required: Vec<&str> = vec![spec.id_column.as_str()];
    required.extend(spec.columns.iter().map(|c| c.as_str()));
    table::require_columns(&raw, shown, &required)?;

    let mut specs: Vec<(&str, Ty)> = vec![(spec.id_column.as_str(), Ty::Str)];
    for c in &spec.columns {
        let ty = if spec.numeric_columns.contains(c) { Ty::F64 } else { Ty::Str };
        specs.push((c.as_str(), ty));
    }
    if has_label {
        specs.push((spec.label_column.as_str(), Ty::Str));
    }
    let typed = table::parse_columns(raw, shown, &specs)?;

    let mut exprs = vec![col(spec.id_column.as_str()).alias("customer_id")];
    exprs.extend(
        spec.columns.iter().filter(|c| **c != "customer_id" && **c != "churned").map(|c| col(c.as_str())),
    );
    if has_label {
        let label = col(spec.label_column.as_str());
        let text_eq = label.clone().eq(lit(spec.positive_label.clone()));
        let is_pos = match spec.positive_label.parse::<f64>() {
            Ok(p) if p.is_finite() => {
                text_eq.or(label.clone().cast(DataType::Float64).eq(lit(p)).fill_null(false))
            }
            _ => text_eq,
        };
        exprs.push(
            when(label.is_null())
                .then(lit(NULL).cast(DataType::Int32))
                .otherwise(is_pos.cast(DataType::Int32))
                .alias("churned"),
        );
    }
    typed.lazy().select(exprs).collect().map_err(table::polars_err(shown, "cannot clean the snapshot table"))
}
