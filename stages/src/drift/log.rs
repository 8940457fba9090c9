//! The serving prediction log (`churnflow serve --log-dir`, docs/serving.md) as a frame: every
//! `*.jsonl` file of the folder in name order (the names start with the UTC time), one row
//! per line, the `inputs` object flattened into columns plus `churn_probability`. Each line is
//! parsed as the one schema both sides share, `PredictionLogRecord` (`io/prediction_log.rs`):
//! a line lacking a field, or with one of the wrong type, is an error naming file:line.
//!
//! Cells are typed from JSON: numbers → Float64, strings → String, null (or an input a line
//! lacks) → null; booleans are the strings `true`/`false`; a column holding both numbers and
//! strings is read as strings. Built with serde_json and plain `Column::new`, no polars JSON
//! reader.

use crate::contract::StageError;
use crate::io::prediction_log::PredictionLogRecord;
use polars::prelude::*;
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::Path;

/// The prediction-log field copied next to the inputs.
const PROBABILITY: &str = PredictionLogRecord::PROBABILITY;

enum Cell {
    Null,
    Num(f64),
    Str(String),
}

#[derive(Default)]
struct Builder {
    cells: Vec<Cell>,
    numbers: bool,
    strings: bool,
}

impl Builder {
    fn push(&mut self, row: usize, cell: Cell) {
        while self.cells.len() < row {
            self.cells.push(Cell::Null);
        }
        match &cell {
            Cell::Num(_) => self.numbers = true,
            Cell::Str(_) => self.strings = true,
            Cell::Null => {}
        }
        self.cells.push(cell);
    }

    fn finish(mut self, name: &str, rows: usize) -> Column {
        while self.cells.len() < rows {
            self.cells.push(Cell::Null);
        }
        if self.numbers && !self.strings {
            let v: Vec<Option<f64>> =
                self.cells.into_iter().map(|c| if let Cell::Num(x) = c { Some(x) } else { None }).collect();
            return Column::new(name.into(), v);
        }
        let v: Vec<Option<String>> = self
            .cells
            .into_iter()
            .map(|c| match c {
                Cell::Null => None,
                Cell::Num(x) => Some(x.to_string()),
                Cell::Str(s) => Some(s),
            })
            .collect();
        Column::new(name.into(), v)
    }
}

fn cell(v: Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Number(n) => n.as_f64().map_or(Cell::Null, Cell::Num),
        Value::String(s) if s.trim().is_empty() => Cell::Null,
        Value::String(s) => Cell::Str(s),
        Value::Bool(b) => Cell::Str(b.to_string()),
        other => Cell::Str(other.to_string()),
    }
}

/// Reads every `*.jsonl` of `dir` (only lines whose `time` is at or after `since`, when
/// given: RFC 3339 UTC stamps of one width compare as strings); returns the frame and the
/// number of files.
pub(crate) fn read_log_dir(
    dir: &Path,
    shown: &str,
    since: Option<&str>,
) -> Result<(DataFrame, usize), StageError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| StageError::classified(format!("{shown}: cannot read the folder: {e}"), &e))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(StageError::new(format!(
            "{shown}: no prediction log here (no *.jsonl files; `churnflow serve --log-dir {shown}` writes them)"
        )));
    }
    let mut order: Vec<String> = Vec::new();
    let mut columns: HashMap<String, Builder> = HashMap::new();
    let mut rows = 0usize;
    let mut older = 0usize;
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| StageError::classified(format!("{}: cannot read: {e}", file.display()), &e))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = || format!("{}:{}", file.display(), n + 1);
            let record = PredictionLogRecord::parse_line(line)
                .map_err(|e| StageError::new(format!("{}: {e}", at())))?;
            if let Some(since) = since {
                if record.time.as_str() < since {
                    older += 1;
                    continue;
                }
            }
            let mut put = |name: String, cell: Cell| {
                // The record owns its names: none is copied but a new column's, once.
                let b = match columns.entry(name) {
                    Entry::Occupied(o) => o.into_mut(),
                    Entry::Vacant(v) => {
                        order.push(v.key().clone());
                        v.insert(Builder::default())
                    }
                };
                if b.cells.len() <= rows {
                    b.push(rows, cell);
                }
            };
            for (name, v) in record.inputs {
                if name != PROBABILITY {
                    put(name, cell(v));
                }
            }
            put(PROBABILITY.to_string(), Cell::Num(record.churn_probability));
            rows += 1;
        }
    }
    if rows == 0 && older > 0 {
        return Err(StageError::new(format!(
            "{shown}: no prediction since {} ({older} older line{})",
            since.unwrap_or_default(),
            if older == 1 { "" } else { "s" }
        )));
    }
    if rows == 0 {
        return Err(StageError::new(format!("{shown}: the prediction log is empty")));
    }
    let cols: Vec<Column> =
        order.iter().map(|name| columns.remove(name).unwrap_or_default().finish(name, rows)).collect();
    let df = DataFrame::new(rows, cols).map_err(|e| StageError::new(format!("{shown}: {e}")))?;
    Ok((df, files.len()))
}
