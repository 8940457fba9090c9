//! Table columns as plain `Vec`s for the model stages, with errors that name the file, the
//! column and the row: numbers (NaN and infinities refused), optional strings, 0/1 labels, ids.

use crate::contract::StageError;
use polars::prelude::*;
use std::path::Path;

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
