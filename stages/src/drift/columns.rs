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
use crate::drift::stattests::{f64_key, sorted_from_keys, ColumnKind, FxBuild};
use crate::io::table::{read_table_as, table_format, TableFormat};
use polars::prelude::*;
use polars_arrow::array::Array;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

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
    let df = read_table_as(path, format).map_err(|e| e.map_message(|m| format!("{shown}: {m}")))?;
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
        .map_err(|e| StageError::classified(format!("{}: cannot open: {e}", path.display()), &e))?;
    let n = f
        .read(&mut head)
        .map_err(|e| StageError::classified(format!("{}: cannot read: {e}", path.display()), &e))?;
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

/// Sort buffers handed from one numerical column to the next: a fresh buffer of 2.1M rows
/// costs its page faults and the kernel's zeroing of every page, each time.
#[derive(Default)]
pub(crate) struct SortBuffers(Mutex<Vec<Vec<u64>>>);

impl SortBuffers {
    fn take(&self) -> Vec<u64> {
        self.0.lock().ok().and_then(|mut free| free.pop()).unwrap_or_default()
    }

    /// Gives back the values [`sorted_clean_numbers`] returned, for the next column.
    pub(crate) fn give(&self, sorted: Vec<f64>) {
        let buffer: Vec<u64> = sorted.into_iter().map(f64::to_bits).collect(); // in place
        if let Ok(mut free) = self.0.lock() {
            free.push(buffer);
        }
    }
}

/// A numeric column's values as Evidently compares them, sorted: `stattests::clean_numeric`
/// of [`numbers`] with the dataset-level quirk (null is NaN; NaN and ±inf are dropped only
/// when there is a NaN), then `stattests::sorted_copy` — straight from the column's arrays
/// into one buffer of sort keys (from `buffers`), without the copies in between.
pub(crate) fn sorted_clean_numbers(col: &Column, buffers: &SortBuffers) -> Result<Vec<f64>, StageError> {
    let cast = col.cast(&DataType::Float64).map_err(|e| StageError::new(format!("{}: {e}", col.name())))?;
    let ca = cast.f64().map_err(|e| StageError::new(e.to_string()))?;
    let has_nan = ca.null_count() > 0 || ca.downcast_iter().any(|a| a.values().iter().any(|v| v.is_nan()));
    let mut keys = buffers.take();
    keys.clear();
    keys.reserve(ca.len() - ca.null_count());
    for arr in ca.downcast_iter() {
        let values = arr.values().iter().copied();
        match arr.validity().filter(|_| arr.null_count() > 0) {
            Some(valid) => keys.extend(
                values.zip(valid.iter()).filter(|&(v, ok)| ok && v.is_finite()).map(|(v, _)| f64_key(v)),
            ),
            None if has_nan => keys.extend(values.filter(|v| v.is_finite()).map(f64_key)),
            None => keys.extend(values.map(f64_key)),
        }
    }
    Ok(sorted_from_keys(keys))
}

/// Distinct 16-byte views of one array counted before the rest of it is counted by string.
const MAX_VIEWS: usize = 4096;

/// The value counts of a string column (numbers and booleans rendered as strings), blank and
/// null cells left out: the keys and counts `stattests::CategoryCounts::from_strs` would count.
///
/// Rows are counted by their 16-byte string view: equal views in one array are equal strings
/// (a short string is inline in its view; a longer one is a buffer position, shared by equal
/// values of a dictionary-encoded Parquet column). The few distinct views are then turned into
/// strings, merged and checked for blanks. An array with more than [`MAX_VIEWS`] distinct
/// views (long strings stored one by one) has the rest of its rows counted by string.
pub(crate) fn string_counts(col: &Column) -> Result<Vec<(String, u64)>, StageError> {
    let strings = col.cast(&DataType::String).map_err(|e| StageError::new(format!("{}: {e}", col.name())))?;
    let ca = strings.str().map_err(|e| StageError::new(e.to_string()))?;
    let mut by_string: HashMap<&str, u64, FxBuild> = HashMap::default();
    for arr in ca.downcast_iter() {
        let mut by_view: HashMap<u128, (u64, usize), FxBuild> = HashMap::default();
        let has_nulls = arr.null_count() > 0;
        for (i, view) in arr.views().iter().enumerate() {
            if has_nulls && !arr.is_valid(i) {
                continue;
            }
            if by_view.len() < MAX_VIEWS {
                by_view.entry(view.as_u128()).or_insert((0, i)).0 += 1;
            } else {
                *by_string.entry(arr.value(i)).or_insert(0) += 1;
            }
        }
        for (n, first) in by_view.into_values() {
            *by_string.entry(arr.value(first)).or_insert(0) += n;
        }
    }
    Ok(by_string.into_iter().filter(|(s, _)| !s.trim().is_empty()).map(|(s, n)| (s.to_string(), n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::stattests::{clean_numeric, sorted_copy, CategoryCounts};
    use std::collections::BTreeMap;

    /// A column of several chunks.
    fn chunked(parts: Vec<Series>) -> Column {
        let mut s = parts[0].clone();
        for p in &parts[1..] {
            s.append(p).unwrap();
        }
        assert_eq!(s.n_chunks(), parts.len());
        s.into()
    }

    /// What `string_counts` replaces: every cell as a string, blank and null left out.
    fn counted_row_by_row(col: &Column) -> BTreeMap<String, u64> {
        let strings = col.cast(&DataType::String).unwrap();
        let mut out = BTreeMap::new();
        for v in strings.str().unwrap().iter().flatten().filter(|s| !s.trim().is_empty()) {
            *out.entry(v.to_string()).or_insert(0) += 1;
        }
        out
    }

    fn counts_map(col: &Column) -> BTreeMap<String, u64> {
        let counts = string_counts(col).unwrap();
        let map: BTreeMap<String, u64> = counts.iter().cloned().collect();
        assert_eq!(map.len(), counts.len(), "each value once");
        map
    }

    #[test]
    fn string_counts_are_the_row_by_row_counts() {
        let long = |i: usize| format!("a value longer than twelve bytes #{}", i % 7);
        let short = ["a", "bb", "", "  ", "No", "Yes", "twelve bytes"];
        let first: Vec<Option<String>> = (0..3000)
            .map(|i| match i % 5 {
                0 => None,
                1 | 2 => Some(short[i % short.len()].to_string()),
                _ => Some(long(i)),
            })
            .collect();
        let second: Vec<Option<String>> =
            (0..2000).map(|i| Some(short[(i * 3) % short.len()].to_string())).collect();
        let col = chunked(vec![Series::new("s".into(), first), Series::new("s".into(), second)]);
        assert_eq!(counts_map(&col), counted_row_by_row(&col));
        assert!(!counts_map(&col).contains_key(""), "blank is missing");
        let flags = Column::new("b".into(), [Some(true), None, Some(false), Some(true)]);
        assert_eq!(counts_map(&flags), BTreeMap::from([("false".to_string(), 1), ("true".to_string(), 2)]));
    }

    #[test]
    fn more_distinct_views_than_kept_are_counted_by_string() {
        // every row its own copy of a long string: more distinct views than MAX_VIEWS
        let values: Vec<String> =
            (0..3 * MAX_VIEWS).map(|i| format!("customer number {:06}", i % (2 * MAX_VIEWS))).collect();
        let col = Column::new("s".into(), values);
        let counts = counts_map(&col);
        assert_eq!(counts, counted_row_by_row(&col));
        assert_eq!(counts.len(), 2 * MAX_VIEWS);
    }

    #[test]
    fn string_counts_of_a_dictionary_encoded_parquet_column() {
        let values: Vec<Option<&str>> = (0..5000)
            .map(|i| [Some("Bank transfer (automatic)"), Some("Mailed check"), None, Some(" ")][i % 4])
            .collect();
        let mut df = DataFrame::new(values.len(), vec![Column::new("payment".into(), values)]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        let read = ParquetReader::new(std::io::Cursor::new(bytes)).finish().unwrap();
        let col = read.column("payment").unwrap();
        assert_eq!(counts_map(col), counted_row_by_row(col));
        let counts = string_counts(col).unwrap();
        let direct = CategoryCounts::from_value_counts(counts.clone(), counts);
        assert_eq!(direct.reference, [1250, 1250]);
    }

    #[test]
    fn sorted_clean_numbers_are_clean_numeric_then_sorted_copy() {
        let buffers = SortBuffers::default();
        let plain = chunked(vec![
            Series::new("x".into(), [3.0, -0.0, 0.0, f64::INFINITY, -2.5]),
            Series::new("x".into(), [1.0, f64::NEG_INFINITY, 0.0]),
        ]);
        let with_nan = chunked(vec![
            Series::new("x".into(), [3.0, f64::NAN, f64::INFINITY, -0.0]),
            Series::new("x".into(), [Some(1.0), None, Some(f64::NEG_INFINITY), Some(0.0)]),
        ]);
        let with_null_only = Column::new("x".into(), [Some(2.0), None, Some(f64::INFINITY), Some(-1.0)]);
        let integers = chunked(vec![
            Series::new("x".into(), [Some(5i64), None, Some(-3)]),
            Series::new("x".into(), [Some(7i64), Some(0)]),
        ]);
        let floats32 = Column::new("x".into(), [1.5f32, -0.25, f32::INFINITY, 0.1]);
        for col in [plain, with_nan, with_null_only, integers, floats32] {
            let expected = sorted_copy(&clean_numeric(&numbers(&col).unwrap(), true));
            let got = sorted_clean_numbers(&col, &buffers).unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expected), "{col:?}");
            buffers.give(got); // the next column reuses the buffer
        }
    }
}
