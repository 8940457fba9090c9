//! A Parquet file written from a sequence of chunks: each chunk is encoded and compressed on
//! the thread that produced it ([`ParquetLayout::encode`]), and the encoded row groups are
//! appended to the file in chunk order ([`ParquetOut::append`]), so encoding runs on every
//! core while the file stays one ordered table. The file appears at its path only when
//! [`ParquetOut::finish`] succeeds (temp file + rename).
//!
//! Encodings are chosen per column ([`ColumnEncoding`]): dictionary encoding pays for
//! repeated values (keys, dates, flags, categories) and is skipped for columns whose values
//! are all different (event ids, hashes, measurements), where polars' writer would first
//! estimate the cardinality of every page only to fall back to plain encoding.

use crate::contract::StageError;
use crate::io::atomic::{AtomicFile, PendingRename};
use crate::io::table;
use polars::prelude::*;
use polars_parquet::arrow::write::{
    array_to_columns, compress, fallible_streaming_iterator, to_parquet_type, CompressedPage,
    CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, ParquetType, StatisticsOptions,
    Version, WriteOptions,
};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How one column is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnEncoding {
    /// Dictionary encoding (values repeat), LZ4-compressed.
    Dictionary,
    /// Plain encoding (values are mostly distinct), LZ4-compressed.
    Plain,
}

/// The schema, encodings and options of a Parquet file; shared by the encoding threads.
pub(crate) struct ParquetLayout {
    arrow: ArrowSchema,
    types: Vec<ParquetType>,
    encodings: Vec<Encoding>,
    options: WriteOptions,
}

/// One encoded, compressed row group.
pub(crate) struct EncodedRowGroup {
    rows: u64,
    columns: Vec<Vec<CompressedPage>>,
}

impl ParquetLayout {
    /// The layout for frames with `schema`; `encodings[i]` is column i's encoding.
    pub(crate) fn new(schema: &Schema, encodings: &[ColumnEncoding]) -> PolarsResult<ParquetLayout> {
        // Null counts only: ingest's profile holds each table's minima and maxima, and
        // computing them per page (strings above all) cost a third of the encoding time.
        let statistics = StatisticsOptions {
            min_value: false,
            max_value: false,
            distinct_count: false,
            null_count: true,
            binary_statistics_truncate_length: None,
        };

        let arrow = schema.to_arrow(CompatLevel::newest());
        let types = arrow.iter_values().map(to_parquet_type).collect::<PolarsResult<Vec<_>>>()?;
        let encodings = (0..types.len())
            .map(|i| match encodings.get(i) {
                Some(ColumnEncoding::Plain) => Encoding::Plain,
                _ => Encoding::RleDictionary,
            })
            .collect();
        let options = WriteOptions {
            statistics,
            compression: CompressionOptions::Lz4Raw,
            version: Version::V1,
            data_page_size: None,
        };
        Ok(ParquetLayout { arrow, types, encodings, options })
    }

    /// Encodes and compresses `df` (the layout's schema) as one row group.
    pub(crate) fn encode(&self, df: &DataFrame) -> PolarsResult<EncodedRowGroup> {
        let mut columns = Vec::with_capacity(df.width());
        for ((c, ty), encoding) in df.columns().iter().zip(&self.types).zip(&self.encodings) {
            let array = c.as_materialized_series().rechunk().to_arrow(0, CompatLevel::newest());
            for pages in array_to_columns(array, ty.clone(), self.options, std::slice::from_ref(encoding))? {
                let mut out = Vec::new();
                for page in pages {
                    out.push(compress(page?, Vec::new(), self.options.compression)?);
                }
                columns.push(out);
            }
        }
        Ok(EncodedRowGroup { rows: df.height() as u64, columns })
    }
}

/// A Parquet file being written; see the module doc.
pub(crate) struct ParquetOut {
    writer: FileWriter<BufWriter<std::fs::File>>,
    pending: PendingRename,
    target: PathBuf,
    rows: u64,
}

impl ParquetOut {
    /// Starts writing `target` (into a temp file next to it).
    pub(crate) fn create(target: &Path, layout: &ParquetLayout) -> Result<ParquetOut, StageError> {
        let shown = target.display().to_string();
        let (file, pending) = AtomicFile::create(target, ".parquet")?.into_parts();
        let writer = FileWriter::try_new(
            BufWriter::with_capacity(1 << 22, file),
            layout.arrow.clone(),
            layout.options,
        )
        .map_err(table::polars_err(&shown, "cannot start the Parquet file"))?;
        Ok(ParquetOut { writer, pending, target: target.to_path_buf(), rows: 0 })
    }

    /// Appends one encoded row group.
    pub(crate) fn append(&mut self, group: EncodedRowGroup) -> Result<(), StageError> {
        if group.rows == 0 {
            return Ok(());
        }
        let columns = DynIter::new(group.columns.iter().map(|pages| {
            Ok(DynStreamingIterator::new(fallible_streaming_iterator::convert(
                pages.iter().map(PolarsResult::Ok),
            )))
        }));
        self.writer
            .write(group.rows, columns)
            .map_err(table::polars_err(&self.target.display().to_string(), "cannot write Parquet"))?;
        self.rows += group.rows;
        Ok(())
    }

    /// Writes the footer and moves the file into place; returns the number of rows.
    pub(crate) fn finish(mut self) -> Result<u64, StageError> {
        let shown = self.target.display().to_string();
        self.writer.end(None).map_err(table::polars_err(&shown, "cannot finish the Parquet file"))?;
        let mut buf = self.writer.into_inner();
        buf.flush().map_err(|e| StageError::classified(format!("{shown}: cannot write: {e}"), &e))?;
        let file = buf
            .into_inner()
            .map_err(|e| StageError::classified(format!("{shown}: cannot write: {e}"), e.error()))?;
        self.pending.commit(&file)?;
        Ok(self.rows)
    }
}

/// Writes a whole frame to `target` (atomically), in row groups of about a million rows;
/// returns the number of rows.
pub(crate) fn write_frame(df: &DataFrame, layout: &ParquetLayout, target: &Path) -> Result<u64, StageError> {
    let shown = target.display().to_string();
    let mut file = ParquetOut::create(target, layout)?;
    const ROWS: usize = 1 << 20;
    for offset in (0..df.height()).step_by(ROWS) {
        let mut chunk = df.slice(offset as i64, ROWS);
        chunk.rechunk_mut();
        file.append(layout.encode(&chunk).map_err(table::polars_err(&shown, "cannot encode Parquet"))?)?;
    }
    file.finish()
}
