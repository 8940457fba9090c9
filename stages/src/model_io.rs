//! File plumbing shared by the model stages: reading and writing tables (Parquet or CSV, chosen
//! by extension), writing JSON/text atomically, hashing files, and turning polars columns into
//! plain `Vec`s with errors that name the file, the column and the row.
//!
//! Invariant: every output is written to a temporary file in the destination's directory and
//! renamed into place, so a reader never sees half a file and an interrupted stage leaves the
//! previous output (or nothing) behind.

use crate::StageError;
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The table formats we read and write, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableFormat {
    Parquet,
    Csv,
}

pub(crate) fn table_format(path: &Path) -> Result<TableFormat, StageError> {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()) {
        Some(e) if e == "parquet" || e == "pq" => Ok(TableFormat::Parquet),
        Some(e) if e == "csv" => Ok(TableFormat::Csv),
        _ => Err(StageError::new(format!(
            "{}: unknown table format (use a .parquet or .csv file name)",
            path.display()
        ))),
    }
}

/// Reads a Parquet or CSV table. CSV cells are all read as strings (types come from the model's
/// schema, so a blank " " in a numeric column is a missing value, not a parse failure).
pub(crate) fn read_table(path: &Path) -> Result<DataFrame, StageError> {
    let format = table_format(path)?;
    if !path.is_file() {
        return Err(StageError::new(format!("{}: file not found", path.display())));
    }
    let result = match format {
        TableFormat::Parquet => {
            let file = File::open(path).map_err(|e| io_error(path, "open", &e))?;
            ParquetReader::new(file).finish()
        }
        TableFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish()),
    };
    result.map_err(|e| StageError::new(format!("{}: cannot read table: {e}", path.display())))
}

/// Writes a table atomically, as Parquet or CSV by extension.
pub(crate) fn write_table(path: &Path, df: &mut DataFrame) -> Result<(), StageError> {
    let format = table_format(path)?;
    atomic_write(path, |file| {
        let result = match format {
            TableFormat::Parquet => ParquetWriter::new(&mut *file)
                .with_statistics(StatisticsOptions::empty())
                .finish(df)
                .map(|_| ()),
            TableFormat::Csv => CsvWriter::new(&mut *file).include_header(true).finish(df),
        };
        result.map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Writes bytes produced by `write` to `path` via a temporary file in the same directory.
pub(crate) fn atomic_write(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> std::io::Result<()>,
) -> Result<(), StageError> {
    let mut tmp = crate::table::temp_file_beside(path, "")?;
    {
        let mut writer = BufWriter::new(tmp.as_file_mut());
        write(&mut writer).map_err(|e| io_error(path, "write", &e))?;
        writer.flush().map_err(|e| io_error(path, "write", &e))?;
    }
    crate::table::make_readable(tmp.as_file(), path)?;
    tmp.persist(path).map_err(|e| io_error(path, "rename into place", &e.error))?;
    Ok(())
}

/// Writes pretty JSON (with a final newline) atomically.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), StageError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| StageError::new(format!("{}: cannot encode JSON: {e}", path.display())))?;
    text.push('\n');
    write_text(path, &text)
}

pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), StageError> {
    atomic_write(path, |w| w.write_all(text.as_bytes()))
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, StageError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, "read", &e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| StageError::new(format!("{}: not a valid {what} file: {e}", path.display())))
}

/// blake3 of a file's bytes, hex.
pub(crate) fn hash_file(path: &Path) -> Result<String, StageError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, "read", &e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

pub(crate) fn io_error(path: &Path, action: &str, e: &dyn std::fmt::Display) -> StageError {
    StageError::new(format!("{}: cannot {action}: {e}", path.display()))
}

/// A column by name, or an error listing what the file has.
pub(crate) fn column<'a>(df: &'a DataFrame, name: &str, file: &Path) -> Result<&'a Column, StageError> {
    df.column(name).map_err(|_| {
        let have: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        StageError::new(format!("{}: no column '{name}' (columns: {})", file.display(), have.join(", ")))
    })
}

/// Whether a dtype is read as a number by the models.
pub(crate) fn is_numeric(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || matches!(dtype, DataType::Boolean)
}

/// A column as `Option<f64>` per row. Strings are trimmed and parsed; blank is missing; NaN and
/// infinities are refused (they are bad data, not numbers).
pub(crate) fn f64_values(col: &Column, file: &Path) -> Result<Vec<Option<f64>>, StageError> {
    let name = col.name().to_string();
    match col.dtype() {
        DataType::String => {
            let ca = col.str().map_err(|e| StageError::new(e.to_string()))?;
            let mut out = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                match v.map(str::trim) {
                    None | Some("") => out.push(None),
                    Some(s) => match s.parse::<f64>() {
                        Ok(x) if x.is_finite() => out.push(Some(x)),
                        _ => {
                            return Err(StageError::new(format!(
                                "{}: row {}, column '{name}': '{s}' is not a number",
                                file.display(),
                                row + 1
                            )))
                        }
                    },
                }
            }
            Ok(out)
        }
        dt if is_numeric(dt) => {
            let cast = col
                .cast(&DataType::Float64)
                .map_err(|e| StageError::new(format!("{}: column '{name}': {e}", file.display())))?;
            let ca = cast.f64().map_err(|e| StageError::new(e.to_string()))?;
            let mut out = Vec::with_capacity(ca.len());
            for (row, v) in ca.iter().enumerate() {
                match v {
                    Some(x) if !x.is_finite() => {
                        return Err(StageError::new(format!(
                            "{}: row {}, column '{name}': {x} is not a finite number",
                            file.display(),
                            row + 1
                        )))
                    }
                    other => out.push(other),
                }
            }
            Ok(out)
        }
        dt => Err(StageError::new(format!(
            "{}: column '{name}' has type {dt}, expected a number",
            file.display()
        ))),
    }
}

/// A column as optional strings (numbers and booleans are rendered; blank strings are missing).
pub(crate) fn string_values(col: &Column, file: &Path) -> Result<Vec<Option<String>>, StageError> {
    let name = col.name().to_string();
    let cast = col
        .cast(&DataType::String)
        .map_err(|e| StageError::new(format!("{}: column '{name}': {e}", file.display())))?;
    let ca = cast.str().map_err(|e| StageError::new(e.to_string()))?;
    Ok(ca
        .iter()
        .map(|v| match v {
            Some(s) if !s.trim().is_empty() => Some(s.to_string()),
            _ => None,
        })
        .collect())
}

/// A 0/1 label column: integers, booleans, or the strings "0"/"1". Anything else is an error
/// naming the row.
pub(crate) fn label_values(col: &Column, file: &Path) -> Result<Vec<u8>, StageError> {
    let name = col.name().to_string();
    let values = f64_values(col, file)?;
    let mut out = Vec::with_capacity(values.len());
    for (row, v) in values.into_iter().enumerate() {
        match v {
            Some(0.0) => out.push(0),
            Some(1.0) => out.push(1),
            Some(x) => {
                return Err(StageError::new(format!(
                    "{}: row {}, label column '{name}': {x} is not 0 or 1",
                    file.display(),
                    row + 1
                )))
            }
            None => {
                return Err(StageError::new(format!(
                    "{}: row {}, label column '{name}' is empty (every row needs a 0/1 label)",
                    file.display(),
                    row + 1
                )))
            }
        }
    }
    Ok(out)
}

/// The id column: strings, no missing values.
pub(crate) fn id_values(col: &Column, file: &Path) -> Result<Vec<String>, StageError> {
    let name = col.name().to_string();
    let values = string_values(col, file)?;
    let mut out = Vec::with_capacity(values.len());
    for (row, v) in values.into_iter().enumerate() {
        match v {
            Some(s) => out.push(s),
            None => {
                return Err(StageError::new(format!(
                    "{}: row {}, id column '{name}' is empty",
                    file.display(),
                    row + 1
                )))
            }
        }
    }
    Ok(out)
}
