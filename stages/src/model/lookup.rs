//! The online feature lookup of `churnflow serve --features TABLE`: a features table held in
//! memory, indexed by customer id, handing out one customer's row as a JSON object (the same
//! object a client could have sent, so it goes through the same checks).

use crate::contract::StageError;
use crate::io::table::read_table;
use polars::prelude::*;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::path::Path;

/// A features table by customer id. When an id appears more than once, the last row wins (the
/// latest features of an append-only table).
pub struct FeatureLookup {
    table: DataFrame,
    rows: HashMap<String, usize>,
}

impl FeatureLookup {
    /// Reads the table (Parquet or CSV, by extension) and indexes its `id_column`.
    pub fn load(path: &Path, id_column: &str) -> Result<FeatureLookup, StageError> {
        let table = read_table(path)?;
        let ids = table
            .column(id_column)
            .map_err(|_| {
                StageError::new(format!(
                    "{}: no column '{id_column}' to look customers up by (columns: {})",
                    path.display(),
                    table.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?
            .cast(&DataType::String)
            .map_err(|e| StageError::new(format!("{}: id column '{id_column}': {e}", path.display())))?;
        let ids = ids.str().map_err(|e| StageError::new(e.to_string()))?;
        let mut rows = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                rows.insert(id.trim().to_string(), i);
            }
        }
        Ok(FeatureLookup { table, rows })
    }

    /// Customers in the table.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of customer `id` as a JSON object, or `None` for an unknown id.
    pub fn row(&self, id: &str) -> Option<Map<String, Value>> {
        let i = *self.rows.get(id)?;
        let mut object = Map::new();
        for column in self.table.columns() {
            let value = match column.get(i) {
                Ok(v) => json_of(&v),
                Err(_) => Value::Null,
            };
            object.insert(column.name().to_string(), value);
        }
        Some(object)
    }
}

fn json_of(v: &AnyValue<'_>) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Float64(x) => Number::from_f64(*x).map(Value::Number).unwrap_or(Value::Null),
        AnyValue::Float32(x) => Number::from_f64(f64::from(*x)).map(Value::Number).unwrap_or(Value::Null),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt8(x) => Value::from(*x),
        other => Value::String(other.to_string()),
    }
}
