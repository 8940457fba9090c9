//! The one table reader/writer of the crate: raw tables in (CSV or Parquet by extension),
//! cells typed with errors that name the file, the row and the column, and tables out
//! through the atomic writer ([`crate::io::atomic`]) — the data stages' Parquet
//! ([`write_parquet`]) and the model stages' Parquet or CSV ([`write_table`]).
//!
//! Conventions used in every message:
//! * a **row** is a 1-based data row, the header not counted (row 1 is the line after the
//!   header in a CSV file);
//! * a **blank** cell is empty or whitespace-only and becomes null;
//! * NaN or ±inf in a numeric column is bad data, never a number.

use crate::contract::StageError;
use crate::io::atomic::write_atomic_with;
use crate::io::io_error;
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Compression of every Parquet file the data stages write. LZ4 (raw): on 6M CDR rows it
/// wrote in 1.8 s against 2.9 s for zstd, for files about twice as large.
pub(crate) const PARQUET_COMPRESSION: ParquetCompression = ParquetCompression::Lz4Raw;

/// The type a raw column is parsed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Text, whitespace-trimmed; blank becomes null (join keys and categories).
    Str,
    /// Text kept verbatim; an empty cell becomes null (event ids and hashes: trimming
    /// millions of them costs time and changes nothing downstream).
    Text,
    /// `YYYY-MM-DD`.
    Date,
    /// A finite floating-point number.
    F64,
    /// An integer (the 0/1 flags and labels), stored as Int32.
    Int,
}

impl Ty {
    pub(crate) fn dtype(self) -> DataType {
        match self {
            Ty::Str | Ty::Text => DataType::String,
            Ty::Date => DataType::Date,
            Ty::F64 => DataType::Float64,
            Ty::Int => DataType::Int32,
        }
    }
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Ty::Str | Ty::Text => "text",
            Ty::Date => "a date written YYYY-MM-DD",
            Ty::F64 => "a number",
            Ty::Int => "an integer",
        }
    }
}

/// Turns a polars error into a stage error that names the file, classed by
/// [`Classify`](crate::contract::Classify) (its I/O errors by their
/// kind, the rest about the data).
pub(crate) fn polars_err(file: &str, what: &str) -> impl Fn(PolarsError) -> StageError {
    let (file, what) = (file.to_string(), what.to_string());
    move |e| StageError::classified(format!("{file}: {what}: {e}"), &e)
}

/// Checks that `path` is a non-empty file; returns its lower-case extension.
pub(crate) fn check_file(path: &Path, shown: &str) -> Result<String, StageError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| StageError::classified(format!("{shown}: cannot read the file: {e}"), &e))?;
    if meta.is_dir() {
        return Err(StageError::new(format!("{shown}: is a directory, expected a CSV or Parquet file")));
    }
    if meta.len() == 0 {
        return Err(StageError::new(format!(
            "{shown}: row 0 (header), column (none): the file is empty; a table needs at least a header line"
        )));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "parquet" | "pq" => Ok(ext),
        _ => Err(StageError::new(format!(
            "{shown}: unsupported file type '.{ext}'; give a .csv or .parquet file"
        ))),
    }
}

fn csv_reader(path: &Path) -> LazyCsvReader {
    LazyCsvReader::new(PlRefPath::from(path.to_string_lossy().as_ref()))
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_missing_is_null(true)
}

/// Reads a raw CSV or Parquet table (chosen by extension) with every column as text.
///
/// `shown` is the path as the user wrote it, used in messages.
pub fn read_raw_strings(path: &Path, shown: &str) -> Result<DataFrame, StageError> {
    let ext = check_file(path, shown)?;
    if ext == "csv" {
        let lf = csv_reader(path).finish().map_err(polars_err(shown, "cannot read the CSV header"))?;
        return lf.collect().map_err(polars_err(shown, "cannot parse the CSV file"));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| StageError::classified(format!("{shown}: cannot open the file: {e}"), &e))?;
    let df = ParquetReader::new(file).finish().map_err(polars_err(shown, "cannot read the Parquet file"))?;
    let exprs: Vec<Expr> =
        df.get_column_names().iter().map(|n| col(n.as_str()).cast(DataType::String)).collect();
    df.lazy().select(exprs).collect().map_err(polars_err(shown, "cannot convert a Parquet column"))
}

/// Reads a raw table and types the columns `specs` (other columns are dropped).
///
/// CSV files take a fast path first: numbers are parsed by the CSV reader and dates strictly
/// as `YYYY-MM-DD`, reading only the needed columns. If anything does not parse (or a number
/// is NaN/inf), the table is read again as text and [`parse_columns`] finds the exact file,
/// row and column — or accepts what the fast path is too strict for (whitespace-only blanks).
pub fn read_typed(path: &Path, shown: &str, specs: &[(&str, Ty)]) -> Result<DataFrame, StageError> {
    let ext = check_file(path, shown)?;
    let required: Vec<&str> = specs.iter().map(|(n, _)| *n).collect();
    if ext == "csv" {
        check_csv_header(path, shown, &required)?;
        if let Some(df) = fast_csv(path, specs) {
            return Ok(df);
        }
    }
    let raw = read_raw_strings(path, shown)?;
    require_columns(&raw, shown, &required)?;
    parse_columns(raw, shown, specs)
}

/// The typed read of a CSV file, or `None` when any cell needs the careful path.
fn fast_csv(path: &Path, specs: &[(&str, Ty)]) -> Option<DataFrame> {
    let df = fast_csv_plan(path, specs)?.collect().ok()?;
    for (n, ty) in specs {
        if *ty == Ty::F64 {
            let f = df.column(n).ok()?.as_materialized_series().f64().ok()?.clone();
            if (f.is_not_null() & !f.is_finite()).any() {
                return None;
            }
        }
    }
    Some(df)
}

/// The lazy typed read of a CSV file: numbers by the reader, dates strictly `YYYY-MM-DD`,
/// strings trimmed with blanks as null, only the `specs` columns.
fn fast_csv_plan(path: &Path, specs: &[(&str, Ty)]) -> Option<LazyFrame> {
    let mut over = Schema::default();
    for (n, ty) in specs {
        if matches!(ty, Ty::F64 | Ty::Int) {
            over.with_column((*n).into(), ty.dtype());
        }
    }
    let lf = csv_reader(path).with_dtype_overwrite(Some(Arc::new(over))).finish().ok()?;
    let exprs: Vec<Expr> = specs
        .iter()
        .map(|(n, ty)| match ty {
            Ty::Str => blank_to_null(n).alias(*n),
            Ty::Text => col(*n),
            Ty::Date => col(*n)
                .str()
                .to_date(StrptimeOptions {
                    format: Some("%Y-%m-%d".into()),
                    strict: true,
                    exact: true,
                    cache: true,
                })
                .alias(*n),
            Ty::F64 | Ty::Int => col(*n),
        })
        .collect();
    Some(lf.select(exprs))
}

/// Checks that every column in `required` is present; the error lists what was found.
pub(crate) fn require_columns(df: &DataFrame, shown: &str, required: &[&str]) -> Result<(), StageError> {
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    check_names(&names, shown, required)
}

/// Reads only a CSV file's header and checks that it has the `required` columns.
pub(crate) fn check_csv_header(path: &Path, shown: &str, required: &[&str]) -> Result<(), StageError> {
    let mut lf = csv_reader(path).finish().map_err(polars_err(shown, "cannot read the CSV header"))?;
    let schema = lf.collect_schema().map_err(polars_err(shown, "cannot read the CSV header"))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    check_names(&names, shown, required)
}

fn check_names(names: &[String], shown: &str, required: &[&str]) -> Result<(), StageError> {
    let missing: Vec<&str> = required.iter().copied().filter(|c| !names.iter().any(|n| n == c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(StageError::new(format!(
        "{shown}: row 0 (header), column '{}': missing column{} {}; the header has: {}. Rename the column in \
         the file or point the stage at the right table.",
        missing[0],
        if missing.len() > 1 { "s" } else { "" },
        missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", "),
        names.join(", ")
    )))
}

/// The trimmed text of a raw column with blank cells as null.
pub(crate) fn blank_to_null(name: &str) -> Expr {
    let s = col(name).cast(DataType::String).str().strip_chars(lit(NULL));
    when(s.clone().eq(lit(""))).then(lit(NULL).cast(DataType::String)).otherwise(s)
}

/// The expression parsing a trimmed text expression into `ty` (null where it does not parse).
pub(crate) fn parse_expr(raw: Expr, ty: Ty) -> Expr {
    match ty {
        Ty::Str | Ty::Text => raw,
        Ty::F64 | Ty::Int => raw.cast(ty.dtype()),
        Ty::Date => raw.str().to_date(StrptimeOptions {
            format: Some("%Y-%m-%d".into()),
            strict: false,
            exact: true,
            cache: true,
        }),
    }
}

/// Parses the text columns `specs` of `df` into their types; other columns are dropped.
///
/// Any non-blank cell that does not parse, and any NaN/inf number, is an error naming the
/// file, the first offending row and the column, and how many such cells there are.
pub fn parse_columns(df: DataFrame, shown: &str, specs: &[(&str, Ty)]) -> Result<DataFrame, StageError> {
    let mut exprs = Vec::with_capacity(specs.len() * 2);
    for (name, ty) in specs {
        let raw = blank_to_null(name);
        exprs.push(raw.clone().alias(raw_name(name)));
        let parsed = match ty {
            Ty::Text => col(*name).cast(DataType::String),
            _ => parse_expr(raw, *ty),
        };
        exprs.push(parsed.alias(*name));
    }
    let parsed = df.lazy().select(exprs).collect().map_err(polars_err(shown, "cannot type the columns"))?;
    for (name, ty) in specs {
        check_parsed(&parsed, shown, name, *ty)?;
    }
    let keep: Vec<Expr> = specs.iter().map(|(n, _)| col(*n)).collect();
    parsed.lazy().select(keep).collect().map_err(polars_err(shown, "cannot select the columns"))
}

fn raw_name(name: &str) -> String {
    format!("__raw__{name}")
}

/// Errors on the first cell of `name` whose raw text is non-blank but did not parse, or is NaN/inf.
fn check_parsed(df: &DataFrame, shown: &str, name: &str, ty: Ty) -> Result<(), StageError> {
    let raw_col = raw_name(name);
    let file = Path::new(shown);
    let raw = column(df, &raw_col, file)?.str().map_err(polars_err(shown, "raw column"))?.clone();
    let parsed = column(df, name, file)?.as_materialized_series();
    let mut bad = raw.is_not_null() & parsed.is_null();
    let mut what = format!("is not {}", ty.expected());
    if ty == Ty::F64 {
        let f = parsed.f64().map_err(polars_err(shown, "numeric column"))?;
        let non_finite = f.is_not_null() & !f.is_finite();
        if non_finite.any() && !bad.any() {
            what = "is NaN or infinite, which is not allowed in a numeric column".to_string();
        }
        bad = bad | non_finite;
    }
    if !bad.any() {
        return Ok(());
    }
    let count = bad.sum().unwrap_or(0) as usize;
    let first = bad.iter().position(|b| b == Some(true)).unwrap_or(0);
    let value = raw.get(first).unwrap_or("");
    Err(StageError::new(format!(
        "{shown}: row {} (1-based data row, header not counted), column '{name}': value '{value}' {what}{}. \
         Fix the cell (or leave it blank for a missing value) and rerun.",
        first + 1,
        if count > 1 { format!(" ({count} such cells in this column)") } else { String::new() },
    )))
}

/// A column of `df`, or an error naming the file and listing the columns it has.
pub(crate) fn column<'a>(df: &'a DataFrame, name: &str, file: &Path) -> Result<&'a Column, StageError> {
    df.column(name).map_err(|_| {
        let have: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        StageError::new(format!("{}: no column '{name}' (columns: {})", file.display(), have.join(", ")))
    })
}

/// Writes `df` as a data stage's Parquet file ([`PARQUET_COMPRESSION`], column statistics)
/// to `path` atomically.
pub(crate) fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<(), StageError> {
    let shown = path.display().to_string();
    write_atomic_with(path, |file| {
        ParquetWriter::new(file)
            .with_compression(PARQUET_COMPRESSION)
            .finish(df)
            .map(|_| ())
            .map_err(polars_err(&shown, "cannot write Parquet"))
    })
}

/// Collects a lazy query with polars' streaming engine (bounded memory on large scans).
pub(crate) fn collect_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    match lf.collect_with_engine(Engine::Streaming)? {
        polars_core::query_result::QueryResult::Single(df) => Ok(df),
        polars_core::query_result::QueryResult::Multiple(_) => {
            Err(PolarsError::ComputeError("expected one result frame".into()))
        }
    }
}

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

/// Reads a Parquet or CSV table by extension (an earlier stage's out, or the table given to
/// `score`). CSV cells are all read as strings (types come from the model's schema, so a
/// blank " " in a numeric column is a missing value, not a parse failure).
pub(crate) fn read_table(path: &Path) -> Result<DataFrame, StageError> {
    read_table_as(path, table_format(path)?)
}

/// [`read_table`] in a given format (for files named without an extension, such as store
/// objects).
pub(crate) fn read_table_as(path: &Path, format: TableFormat) -> Result<DataFrame, StageError> {
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
    result.map_err(|e| StageError::classified(format!("{}: cannot read table: {e}", path.display()), &e))
}

/// Writes a table of the model stages atomically, as Parquet (default compression, no column
/// statistics) or CSV by extension.
pub(crate) fn write_table(path: &Path, df: &mut DataFrame) -> Result<(), StageError> {
    let format = table_format(path)?;
    write_atomic_with(path, |file| {
        let mut writer = BufWriter::new(file);
        let result = match format {
            TableFormat::Parquet => ParquetWriter::new(&mut writer)
                .with_statistics(StatisticsOptions::empty())
                .finish(df)
                .map(|_| ()),
            TableFormat::Csv => CsvWriter::new(&mut writer).include_header(true).finish(df),
        };
        result.map_err(|e| io_error(path, "write", &e))?;
        writer.flush().map_err(|e| io_error(path, "write", &e))
    })
}

/// Days since 1970-01-01 of a calendar date.
pub(crate) fn epoch_days(d: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

/// Parses a `YYYY-MM-DD` date from params or settings.
pub fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("'{text}' is not a date written YYYY-MM-DD (e.g. 2024-06-30)"))
}
