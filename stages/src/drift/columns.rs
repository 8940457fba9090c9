//! The two sides of a drift comparison as polars frames, and their columns as the plain
//! values the statistics take.
//!
//! * A table is read through `io::table` (Parquet or CSV by extension; a file without one —
//!   a store object — by its first bytes). CSV cells arrive as strings; a column whose
//!   non-blank cells all parse as numbers becomes Int64 (all integers) or Float64, as pandas'
//!   `read_csv` would type it, so a CSV and a Parquet of the same data drift alike.
//! * A folder is a prediction log (`log.rs`).
//!
//! A column is numerical when its dtype is a number, categorical when it is a string or a
//! boolean; other dtypes (dates) are not compared.

use crate::contract::StageError;
use crate::drift::log;
use crate::drift::stattests::ColumnKind;
use crate::io::table::{read_table_as, table_format, TableFormat};
use polars::prelude::*;
use std::io::Read;
use std::path::Path;

/// One side, read: the frame and how it was read (for the report).
pub(crate) struct Loaded {
    pub(crate) df: DataFrame,
    /// `table`, `prediction log (3 files)`.
    pub(crate) source: String,
}

/// Reads one side: a folder is a prediction log (only its lines from `log_since` on, when
/// given), a file a table.
pub(crate) fn read_side(path: &Path, shown: &str, log_since: Option<&str>) -> Result<Loaded, StageError> {
    if path.is_dir() {
        let (df, files) = log::read_log_dir(path, shown, log_since)?;
        let since = log_since.map(|t| format!(", lines since {t}")).unwrap_or_default();
        let source = format!("prediction log ({files} file{}{since})", if files == 1 { "" } else { "s" });
        return Ok(Loaded { df, source });
    }
    if !path.is_file() {
        return Err(StageError::new(format!("{shown}: no such table or prediction-log folder")));
    }
    let format = match table_format(path) {
        Ok(f) => f,
        Err(e) if path.extension().is_some() => return Err(e),
        Err(_) => sniff(path)?,
    };
    let df = read_table_as(path, format).map_err(|e| StageError::new(format!("{shown}: {}", e.message)))?;
    let df = match format {
        TableFormat::Csv => infer_numbers(df)?,
        TableFormat::Parquet => df,
    };
    Ok(Loaded { df, source: "table".to_string() })
}

/// Parquet files start with `PAR1`; anything else is taken for CSV.
fn sniff(path: &Path) -> Result<TableFormat, StageError> {
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path)
        .map_err(|e| StageError::new(format!("{}: cannot open: {e}", path.display())))?;
    let n =
        f.read(&mut head).map_err(|e| StageError::new(format!("{}: cannot read: {e}", path.display())))?;
    Ok(if n == 4 && &head == b"PAR1" { TableFormat::Parquet } else { TableFormat::Csv })
}

/// String columns whose non-blank cells are all numbers become Int64 or Float64 (blank →
/// null); the others stay strings.
fn infer_numbers(df: DataFrame) -> Result<DataFrame, StageError> {
    let err = |e: PolarsError| StageError::new(e.to_string());
    let mut out: Vec<Column> = Vec::with_capacity(df.width());
    for col in df.columns() {
        if col.dtype() != &DataType::String {
            out.push(col.clone());
            continue;
        }
        let ca = col.str().map_err(err)?;
        let cells: Vec<Option<&str>> =
            ca.iter().map(|v| v.map(str::trim).filter(|s| !s.is_empty())).collect();
        if cells.iter().all(Option::is_none) {
            out.push(col.clone());
            continue;
        }
        let ints: Option<Vec<Option<i64>>> =
            cells.iter().map(|c| c.map_or(Some(None), |s| s.parse::<i64>().ok().map(Some))).collect();
        if let Some(ints) = ints {
            out.push(Column::new(col.name().clone(), ints));
            continue;
        }
        let floats: Option<Vec<Option<f64>>> = cells
            .iter()
            .map(|c| c.map_or(Some(None), |s| s.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some)))
            .collect();
        match floats {
            Some(floats) => out.push(Column::new(col.name().clone(), floats)),
            None => out.push(col.clone()),
        }
    }
    DataFrame::new(df.height(), out).map_err(err)
}

/// How a column is compared, from its dtype; `None` for dtypes that are not compared.
pub(crate) fn kind_of(dtype: &DataType) -> Option<ColumnKind> {
    if dtype.is_primitive_numeric() {
        Some(ColumnKind::Numerical)
    } else if matches!(dtype, DataType::String | DataType::Boolean) {
        Some(ColumnKind::Categorical)
    } else {
        None
    }
}

/// A numeric column as f64 per row, null as NaN.
pub(crate) fn numbers(col: &Column) -> Result<Vec<f64>, StageError> {
    let cast = col.cast(&DataType::Float64).map_err(|e| StageError::new(format!("{}: {e}", col.name())))?;
    let ca = cast.f64().map_err(|e| StageError::new(e.to_string()))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// A column as a string column (numbers and booleans rendered), for categorical counting.
pub(crate) fn as_strings(col: &Column) -> Result<Column, StageError> {
    col.cast(&DataType::String).map_err(|e| StageError::new(format!("{}: {e}", col.name())))
}

/// The cells of a string column, blank as missing.
pub(crate) fn string_cells(col: &Column) -> Result<Vec<Option<&str>>, StageError> {
    let ca = col.str().map_err(|e| StageError::new(e.to_string()))?;
    Ok(ca.iter().map(|v| v.filter(|s| !s.trim().is_empty())).collect())
}
