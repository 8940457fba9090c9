//! The chunk layer: a [`ChunkParser`] turns one chunk's bytes into typed polars columns of the
//! wanted fields, and the first bad record into a [`ChunkError`] with its message.

use super::cells::*;
use super::chunks::*;
use super::fields::*;
use crate::io::table::Ty;
use polars::prelude::*;
use polars_arrow::array::{BinaryViewArray, View};

/// What was wrong, for the message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// A cell that does not parse as its column's type (or a NaN/inf number).
    Cell { column: String, value: String, expected: &'static str, non_finite: bool },
    /// A record with the wrong number of fields.
    FieldCount { found: usize, expected: usize },
    /// A text cell that is not UTF-8.
    NotUtf8 { column: String },
    /// A quoted field still open at the end of the file.
    UnterminatedQuote,
    /// A quoted field still open at the end of a chunk that is not the file's last: the
    /// chunk boundary fell inside a quoted line break.
    QuoteAcrossChunks,
}

/// The first problem found in a chunk: `row` is the 0-based record index within the chunk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChunkError {
    pub row: usize,
    pub problem: Problem,
}

impl ChunkError {
    /// The user-facing message; `first_row` is the 1-based data row of the chunk's first record.
    pub(crate) fn message(&self, shown: &str, first_row: u64) -> String {
        let row = first_row + self.row as u64;
        match &self.problem {
            Problem::Cell { column, value, expected, non_finite } => {
                let what = if *non_finite {
                    "is NaN or infinite, which is not allowed in a numeric column".to_string()
                } else {
                    format!("is not {expected}")
                };
                format!(
                    "{shown}: row {row} (1-based data row, header not counted), column '{column}': value \
                     '{value}' {what}. Fix the cell (or leave it blank for a missing value) and rerun."
                )
            }
            Problem::FieldCount { found, expected } => format!(
                "{shown}: row {row} (1-based data row, header not counted), column (none): the record has \
                 {found} fields but the header names {expected}. Check for an unquoted comma or a missing \
                 value in that line."
            ),
            Problem::NotUtf8 { column } => format!(
                "{shown}: row {row} (1-based data row, header not counted), column '{column}': the text is \
                 not UTF-8. Re-export the file as UTF-8."
            ),
            Problem::UnterminatedQuote | Problem::QuoteAcrossChunks => format!(
                "{shown}: row {row} (1-based data row, header not counted), column (none): a quoted field \
                 is never closed. Close the quote (a quote inside a quoted field is written \"\")."
            ),
        }
    }
}

/// Parses chunks of one file: which field of a record feeds which wanted column.
pub(crate) struct ChunkParser {
    specs: Vec<(String, Ty)>,
    /// For each field of a record: the index in `specs` it feeds, if wanted.
    targets: Vec<Option<usize>>,
}

/// The typed columns of one chunk, in the order of the parser's specs.
pub(crate) struct ParsedChunk {
    pub columns: Vec<Column>,
    pub rows: usize,
    /// The chunk's bytes, when no column points into them: a buffer to read the next chunk into.
    pub spare: Option<Vec<u8>>,
}

/// Takes back the chunk buffer when nothing else holds it.
pub(super) fn spare(buffer: polars_buffer::Buffer<u8>) -> Option<Vec<u8>> {
    buffer.into_mut().right()
}

impl ChunkParser {
    /// A parser for `specs` over a file with `header`. Every spec column must be in the header
    /// (check with [`crate::io::table`]'s header check first: this only maps positions).
    pub(crate) fn new(header: &CsvHeader, specs: &[(&str, Ty)]) -> ChunkParser {
        let targets = header.names.iter().map(|n| specs.iter().position(|(s, _)| s == n)).collect();
        ChunkParser { specs: specs.iter().map(|(n, t)| (n.to_string(), *t)).collect(), targets }
    }

    /// Parses `bytes`, a whole number of records; `last` says whether it ends the file.
    /// Text columns of a chunk without quotes point into `bytes` rather than copying them.
    pub(crate) fn parse(&self, bytes: Vec<u8>, last: bool) -> Result<ParsedChunk, ChunkError> {
        // One check of the whole chunk instead of one per text cell.
        let utf8 = Utf8::of(&bytes);
        let buffer: polars_buffer::Buffer<u8> = bytes.into();
        if memchr::memchr(b'"', &buffer).is_none() {
            if let Some((columns, rows)) = self.parse_regular(&buffer, utf8)? {
                return Ok(ParsedChunk { columns, rows, spare: spare(buffer) });
            }
        }
        let bytes = &buffer[..];
        let mut builders: Vec<Builder> =
            self.specs.iter().map(|(_, t)| Builder::new(*t, bytes.len() / 64 + 16)).collect();
        let rows = self.parse_records(bytes, last, &mut builders)?;
        let mut columns = Vec::with_capacity(builders.len());
        for (b, (name, _)) in builders.into_iter().zip(&self.specs) {
            columns.push(b.finish(name, utf8).map_err(|(row, problem)| ChunkError { row, problem })?);
        }
        Ok(ParsedChunk { columns, rows, spare: spare(buffer) })
    }

    /// A chunk of well-formed records without quotes, parsed slab by slab (a slab is small
    /// enough to stay in the CPU cache): the slab's field boundaries are found in one pass
    /// (see [`slab_bounds`]), then each wanted column is parsed in a loop of its own, which
    /// keeps the branches predictable. `None` when a slab is irregular (blank lines, a record
    /// with the wrong number of fields): the record-by-record path handles and reports those.
    pub(super) fn parse_regular(
        &self,
        buffer: &polars_buffer::Buffer<u8>,
        utf8: Utf8,
    ) -> Result<Option<(Vec<Column>, usize)>, ChunkError> {
        const SLAB: usize = 128 << 10;
        let n = self.targets.len();
        // The field index feeding each spec.
        let fields: Vec<usize> = (0..self.specs.len())
            .map(|t| self.targets.iter().position(|x| *x == Some(t)).unwrap_or(0))
            .collect();
        let mut rows_estimate = 0usize;
        let mut columns: Vec<Option<ColumnBuilder>> = Vec::with_capacity(self.specs.len());
        columns.resize_with(self.specs.len(), || None);
        let mut bounds: Vec<u32> = Vec::with_capacity(SLAB / 4);
        let (mut pos, mut rows) = (0usize, 0usize);
        while pos < buffer.len() {
            let mut end = (pos + SLAB).min(buffer.len());
            if end < buffer.len() {
                end = memchr::memchr(b'\n', &buffer[end - 1..]).map_or(buffer.len(), |i| end + i);
            }
            let slab = &buffer[pos..end];
            if !slab_bounds(slab, n, &mut bounds) {
                return Ok(None);
            }
            let slab_rows = (bounds.len() - 1) / n;
            if rows_estimate == 0 {
                rows_estimate = slab_rows * (buffer.len() / slab.len().max(1) + 1);
            }
            for (t, (_, ty)) in self.specs.iter().enumerate() {
                let f = fields[t];
                let last_field = f + 1 == n;
                let cells =
                    bounds[f..].iter().step_by(n).zip(bounds[f + 1..].iter().step_by(n)).take(slab_rows).map(
                        |(&s, &e)| {
                            let cell = &slab[s as usize..e as usize - 1];
                            if last_field {
                                trim_cr(cell)
                            } else {
                                cell
                            }
                        },
                    );
                let column = columns[t].get_or_insert_with(|| ColumnBuilder::new(*ty, rows_estimate));
                column.fill(buffer, cells).map_err(|(r, bad)| self.problem(rows + r, t, bad))?;
            }
            rows += slab_rows;
            pos = end;
        }
        let mut out = Vec::with_capacity(self.specs.len());
        for (c, (name, ty)) in columns.into_iter().zip(&self.specs) {
            let c = c.unwrap_or_else(|| ColumnBuilder::new(*ty, 0));
            out.push(c.finish(name, buffer, utf8).map_err(|(row, problem)| ChunkError { row, problem })?);
        }
        Ok(Some((out, rows)))
    }

    /// Record by record: quoted fields unescaped, blank lines skipped, a record with the
    /// wrong number of fields reported.
    pub(super) fn parse_records(
        &self,
        bytes: &[u8],
        last: bool,
        builders: &mut [Builder],
    ) -> Result<usize, ChunkError> {
        let expected = self.targets.len();
        let mut rows = 0usize;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let nl = memchr::memchr(b'\n', rest);
            let mut line_len = nl.unwrap_or(rest.len());
            if memchr::memchr(b'"', &rest[..line_len]).is_some() {
                line_len = match quoted_record_end(rest) {
                    RecordEnd::LineBreak(end) => end,
                    RecordEnd::EndOfData { open_quote: false } => rest.len(),
                    RecordEnd::EndOfData { open_quote: true } => {
                        let problem =
                            if last { Problem::UnterminatedQuote } else { Problem::QuoteAcrossChunks };
                        return Err(ChunkError { row: rows, problem });
                    }
                };
            }
            let record = trim_cr(&rest[..line_len]);
            pos += line_len + 1;
            if record.is_empty() {
                continue;
            }
            let mut fields = 0usize;
            let mut failed = None;
            for_each_field(record, &mut |i, cell| {
                fields = i + 1;
                if let Some(Some(t)) = self.targets.get(i) {
                    if let Err(p) = builders[*t].push(&cell.unquoted()) {
                        failed = Some(self.problem(rows, *t, p));
                        return false;
                    }
                }
                true
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if fields != expected {
                return Err(ChunkError {
                    row: rows,
                    problem: Problem::FieldCount { found: fields, expected },
                });
            }
            rows += 1;
        }
        Ok(rows)
    }

    pub(super) fn problem(&self, row: usize, target: usize, bad: BadCell) -> ChunkError {
        let (column, ty) = &self.specs[target];
        ChunkError {
            row,
            problem: Problem::Cell {
                column: column.clone(),
                value: bad.value,
                expected: ty.expected(),
                non_finite: bad.non_finite,
            },
        }
    }
}

/// A column of a regular chunk: text as views into the chunk, other types as [`Builder`]s.
pub(super) enum ColumnBuilder {
    Views(Views),
    Typed(Builder),
}

impl ColumnBuilder {
    pub(super) fn new(ty: Ty, rows: usize) -> ColumnBuilder {
        match ty {
            Ty::Str | Ty::Text => ColumnBuilder::Views(Views::new(ty == Ty::Str, rows)),
            _ => ColumnBuilder::Typed(Builder::new(ty, rows)),
        }
    }

    pub(super) fn fill<'a>(
        &mut self,
        buffer: &polars_buffer::Buffer<u8>,
        cells: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(), (usize, BadCell)> {
        match self {
            ColumnBuilder::Views(v) => {
                v.fill(buffer, cells);
                Ok(())
            }
            ColumnBuilder::Typed(b) => b.fill(cells),
        }
    }

    pub(super) fn finish(
        self,
        name: &str,
        buffer: &polars_buffer::Buffer<u8>,
        utf8: Utf8,
    ) -> Result<Column, (usize, Problem)> {
        match self {
            ColumnBuilder::Views(v) => v.finish(name, buffer, utf8),
            ColumnBuilder::Typed(b) => b.finish(name, utf8),
        }
    }
}

/// A text column whose values are pieces of the chunk buffer: short values are stored in
/// their views, longer ones point into the buffer (no copy).
pub(super) struct Views {
    trim: bool,
    views: Vec<View>,
    validity: Validity,
    long: bool,
}

impl Views {
    pub(super) fn new(trim: bool, rows: usize) -> Views {
        Views { trim, views: Vec::with_capacity(rows), validity: Validity::default(), long: false }
    }

    pub(super) fn fill<'a>(
        &mut self,
        buffer: &polars_buffer::Buffer<u8>,
        cells: impl Iterator<Item = &'a [u8]>,
    ) {
        let base = buffer.as_ptr() as usize;
        for cell in cells {
            let v = if self.trim { cell.trim_ascii() } else { cell };
            if v.is_empty() {
                self.validity.push(self.views.len(), false);
                self.views.push(View::default());
                continue;
            }
            self.validity.push(self.views.len(), true);
            let offset = v.as_ptr() as usize - base;
            let view = match buffer.get(offset..offset + 16) {
                // A short value is stored in the view itself: the length in the low 32 bits,
                // then the bytes. Loading a whole 16-byte word and masking it avoids a copy.
                Some(word) if v.len() <= View::MAX_INLINE_SIZE as usize => {
                    let word = u128::from_le_bytes(word.try_into().unwrap_or([0; 16]));
                    let data = word & ((1u128 << (8 * v.len())) - 1);
                    View::from((data << 32) | v.len() as u128)
                }
                _ => {
                    self.long |= v.len() > View::MAX_INLINE_SIZE as usize;
                    View::new_from_bytes(v, 0, offset as u32)
                }
            };
            self.views.push(view);
        }
    }

    pub(super) fn finish(
        self,
        name: &str,
        buffer: &polars_buffer::Buffer<u8>,
        utf8: Utf8,
    ) -> Result<Column, (usize, Problem)> {
        let buffers: Vec<polars_buffer::Buffer<u8>> =
            if self.long { vec![buffer.clone()] } else { Vec::new() };
        let bytes = BinaryViewArray::try_new(
            ArrowDataType::BinaryView,
            self.views.into(),
            buffers.into(),
            self.validity.finish(),
        )
        .map_err(|_| (0, Problem::NotUtf8 { column: name.to_string() }))?;
        text_from_bytes(name, bytes, utf8)
    }
}

/// The UTF-8 column of `bytes`; the first value that is not UTF-8 is an error naming its row.
pub(super) fn text_from_bytes(
    name: &str,
    bytes: BinaryViewArray,
    utf8: Utf8,
) -> Result<Column, (usize, Problem)> {
    let text = if utf8 == Utf8::Valid {
        // SAFETY: every value is a piece of the chunk cut at ASCII bytes (`,`, `\n`, `\r`,
        // ASCII whitespace, quotes), and cutting valid UTF-8 at ASCII bytes leaves valid
        // UTF-8; the chunk was checked to be valid UTF-8.
        unsafe { bytes.to_utf8view_unchecked() }
    } else {
        bytes.to_utf8view().map_err(|_| {
            let row = bytes.iter().position(|v| v.is_some_and(|b| std::str::from_utf8(b).is_err()));
            (row.unwrap_or(0), Problem::NotUtf8 { column: name.to_string() })
        })?
    };
    Ok(StringChunked::with_chunk(PlSmallStr::from(name), text).into_column())
}

/// Whether a chunk's bytes are known to be UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Utf8 {
    Valid,
    Unknown,
}

impl Utf8 {
    pub(super) fn of(bytes: &[u8]) -> Utf8 {
        if simdutf8::basic::from_utf8(bytes).is_ok() {
            Utf8::Valid
        } else {
            Utf8::Unknown
        }
    }
}
