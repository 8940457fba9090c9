//! The fast path of ingest: a CSV file read as record-aligned chunks, each parsed on its own
//! thread straight into typed polars columns, with every bad cell reported by file, row and
//! column.
//!
//! The reader knows the columns it wants and their [`Ty`]; other columns are skipped without
//! being decoded. Fields follow RFC 4180 (`"` quotes a field, `""` is a quote inside it, a
//! quoted field may hold commas and line breaks); lines may end in `\n` or `\r\n`; blank
//! lines are skipped; a UTF-8 byte-order mark before the header is ignored.
//!
//! Chunk boundaries are placed after a line break near every `chunk_bytes` of the file. A
//! boundary that falls inside a quoted field shows up as an unterminated quote at the end of
//! a chunk ([`Problem::QuoteAcrossChunks`]); the caller then reads the file another way.
//! Typing rules, the same as the careful path of [`crate::io::table`]: a blank cell (empty or
//! whitespace) is null; `Str` cells are trimmed, `Text` cells kept verbatim; numbers and
//! dates may carry surrounding spaces; NaN and ±inf are bad data.

use crate::contract::StageError;
use crate::io::table::Ty;
use polars::prelude::*;
use polars_arrow::array::{BinaryViewArray, MutableBinaryViewArray, PrimitiveArray, View};
use polars_arrow::bitmap::MutableBitmap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The header of a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvHeader {
    /// Column names in file order (unquoted, a byte-order mark removed).
    pub names: Vec<String>,
    /// The byte offset of the first data record.
    pub data_start: u64,
}

/// Bytes read at a time while looking for a line break.
const PROBE: usize = 64 * 1024;

/// Reads the header line of `file` (`shown` names it in messages).
pub(crate) fn read_header(file: &File, shown: &str) -> Result<CsvHeader, StageError> {
    let io = |e: std::io::Error| StageError::new(format!("{shown}: cannot read the file: {e}"));
    let len = file.metadata().map_err(io)?.len();
    let mut buf = Vec::new();
    let mut end = None;
    while end.is_none() && (buf.len() as u64) < len {
        let start = buf.len();
        let take = PROBE.min((len - start as u64) as usize);
        buf.resize(start + take, 0);
        file.read_exact_at(&mut buf[start..], start as u64).map_err(io)?;
        let _ = start;
        end = match quoted_record_end(&buf) {
            RecordEnd::LineBreak(i) => Some(i),
            RecordEnd::EndOfData { .. } => None,
        };
    }
    let line_end = end.unwrap_or(buf.len());
    let data_start = (line_end + 1).min(buf.len()) as u64;
    let bom = if buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let mut names = Vec::new();
    let line = trim_cr(&buf[bom..line_end]);
    for_each_field(line, &mut |_, cell| {
        names.push(String::from_utf8_lossy(&cell.unquoted()).trim().to_string());
        true
    });
    if names.iter().all(String::is_empty) {
        return Err(StageError::new(format!(
            "{shown}: row 0 (header), column (none): the header line is empty; the first line must \
             name the columns"
        )));
    }
    Ok(CsvHeader { names, data_start })
}

/// How a record that contains a quote ends.
enum RecordEnd {
    /// At the line break with this index.
    LineBreak(usize),
    /// At the end of the data, with a quoted field still open or not.
    EndOfData { open_quote: bool },
}

/// Where the record starting at `buf[0]` ends, quoted line breaks not counting.
fn quoted_record_end(buf: &[u8]) -> RecordEnd {
    let mut in_quotes = false;
    let mut i = 0;
    while i < buf.len() {
        let next =
            if in_quotes { memchr::memchr(b'"', &buf[i..]) } else { memchr::memchr2(b'"', b'\n', &buf[i..]) };
        let Some(off) = next else { break };
        i += off;
        if buf[i] == b'\n' {
            return RecordEnd::LineBreak(i);
        }
        in_quotes = !in_quotes;
        i += 1;
    }
    RecordEnd::EndOfData { open_quote: in_quotes }
}

/// Splits the data part of `file` (`data_start..len`) into ranges of about `chunk_bytes`,
/// each starting right after a line break (or at `data_start`).
pub(crate) fn plan_chunks(
    file: &File,
    data_start: u64,
    len: u64,
    chunk_bytes: u64,
) -> std::io::Result<Vec<(u64, u64)>> {
    let chunk_bytes = chunk_bytes.max(1);
    let mut starts = vec![data_start];
    let mut nominal = data_start + chunk_bytes;
    let mut probe = vec![0u8; PROBE];
    while nominal < len {
        // The first line break at or after `nominal - 1`: the next chunk starts after it.
        let mut at = nominal - 1;
        let next = loop {
            if at >= len {
                break None;
            }
            let take = PROBE.min((len - at) as usize);
            file.read_exact_at(&mut probe[..take], at)?;
            if let Some(i) = memchr::memchr(b'\n', &probe[..take]) {
                break Some(at + i as u64 + 1);
            }
            at += take as u64;
        };
        match next {
            Some(s) if s < len => {
                if s > *starts.last().unwrap_or(&0) {
                    starts.push(s);
                }
                nominal = s + chunk_bytes;
            }
            _ => break,
        }
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(len);
        if e > s {
            ranges.push((s, e));
        }
    }
    Ok(ranges)
}

/// Reads bytes `start..end` of `file` into `buf` (reused between chunks).
/// `buf` is resized, not cleared: a buffer reused for a chunk of about the same size is not
/// zeroed again (zeroing fresh buffers cost 4 % of ingest's instructions).
pub(crate) fn read_range(file: &File, start: u64, end: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.resize((end - start) as usize, 0);
    file.read_exact_at(buf, start)
}

/// One field of a record, as it appears in the file.
#[derive(Debug, Clone, Copy)]
struct Cell<'a> {
    raw: &'a [u8],
    quoted: bool,
}

impl<'a> Cell<'a> {
    /// The field's content: quotes removed and `""` turned into `"`.
    fn unquoted(&self) -> std::borrow::Cow<'a, [u8]> {
        if !self.quoted {
            return std::borrow::Cow::Borrowed(self.raw);
        }
        let inner = &self.raw[1..self.raw.len().saturating_sub(1).max(1)];
        if memchr::memchr(b'"', inner).is_none() {
            return std::borrow::Cow::Borrowed(inner);
        }
        let mut out = Vec::with_capacity(inner.len());
        let mut i = 0;
        while i < inner.len() {
            out.push(inner[i]);
            i += if inner[i] == b'"' && inner.get(i + 1) == Some(&b'"') { 2 } else { 1 };
        }
        std::borrow::Cow::Owned(out)
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Calls `f(index, cell)` for every field of one record (no line break inside `record`
/// except quoted ones). Stops early when `f` returns false.
fn for_each_field<'a>(record: &'a [u8], f: &mut impl FnMut(usize, Cell<'a>) -> bool) {
    if memchr::memchr(b'"', record).is_none() {
        for (i, raw) in record.split(|&b| b == b',').enumerate() {
            if !f(i, Cell { raw, quoted: false }) {
                return;
            }
        }
        return;
    }
    let mut i = 0;
    let mut field = 0;
    loop {
        let start = i;
        let quoted = record.get(i) == Some(&b'"');
        if quoted {
            i += 1;
            while i < record.len() {
                if record[i] == b'"' {
                    if record.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        }
        let end = memchr::memchr(b',', &record[i..]).map_or(record.len(), |p| i + p);
        // Text after a closing quote (`"ab"c`) is kept as part of the raw cell.
        let cell = Cell { raw: &record[start..end], quoted: quoted && end == i };
        if !f(field, cell) || end == record.len() {
            return;
        }
        i = end + 1;
        field += 1;
    }
}

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
fn spare(buffer: polars_buffer::Buffer<u8>) -> Option<Vec<u8>> {
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
    fn parse_regular(
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
    fn parse_records(&self, bytes: &[u8], last: bool, builders: &mut [Builder]) -> Result<usize, ChunkError> {
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

    fn problem(&self, row: usize, target: usize, bad: BadCell) -> ChunkError {
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

/// Fills `bounds` for a slab of records with exactly `fields` fields each and no blank line:
/// `bounds[0] = 0` and `bounds[k]` = 1 + the position of the k-th delimiter (`,` or `\n`; the
/// end of the data counts as a final `\n`), so field f of record r is
/// `slab[bounds[r·fields + f] .. bounds[r·fields + f + 1] - 1]`. Returns false for anything
/// irregular.
fn slab_bounds(slab: &[u8], fields: usize, bounds: &mut Vec<u32>) -> bool {
    bounds.clear();
    if slab.len() >= u32::MAX as usize || fields == 0 {
        return false;
    }
    bounds.push(0);
    push_delimiters(slab, bounds);
    if slab.last().is_some_and(|&b| b != b'\n') {
        bounds.push(slab.len() as u32 + 1);
    }
    if (bounds.len() - 1) % fields != 0 {
        return false;
    }
    // Delimiters are commas or line breaks, so the records are regular exactly when every
    // `fields`-th delimiter is a line break and there are no other line breaks.
    let rows = (bounds.len() - 1) / fields;
    let is_break = |b: u32| slab.get(b as usize - 1).is_none_or(|&c| c == b'\n');
    let breaks = memchr::memchr_iter(b'\n', slab).count() + usize::from(slab.last() != Some(&b'\n'));
    let regular = breaks == rows && bounds[fields..].iter().step_by(fields).all(|&b| is_break(b));
    // With one field per record, a blank line would pass as a record with an empty field.
    regular
        && (fields > 1
            || bounds.windows(2).all(|w| !trim_cr(&slab[w[0] as usize..w[1] as usize - 1]).is_empty()))
}

/// Appends 1 + the position of every `,` and `\n` of `bytes` to `out`, in order. Eight bytes
/// at a time: a word's delimiter bytes are found with exact bit tricks (no carry crosses a
/// byte), which beats a search call per field when fields are a few bytes long.
fn push_delimiters(bytes: &[u8], out: &mut Vec<u32>) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COMMAS: u64 = 0x2c2c_2c2c_2c2c_2c2c;
    const BREAKS: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    // The high bit of each byte of the result is set exactly where `x` has a zero byte.
    let zero_bytes = |x: u64| !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
    let mut words = bytes.chunks_exact(8);
    let mut base = 1u32;
    for word in &mut words {
        let w = u64::from_le_bytes([word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7]]);
        let mut hits = zero_bytes(w ^ COMMAS) | zero_bytes(w ^ BREAKS);
        while hits != 0 {
            out.push(base + hits.trailing_zeros() / 8);
            hits &= hits - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b',' || b == b'\n' {
            out.push(base + i as u32);
        }
    }
}

/// A column of a regular chunk: text as views into the chunk, other types as [`Builder`]s.
enum ColumnBuilder {
    Views(Views),
    Typed(Builder),
}

impl ColumnBuilder {
    fn new(ty: Ty, rows: usize) -> ColumnBuilder {
        match ty {
            Ty::Str | Ty::Text => ColumnBuilder::Views(Views::new(ty == Ty::Str, rows)),
            _ => ColumnBuilder::Typed(Builder::new(ty, rows)),
        }
    }

    fn fill<'a>(
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

    fn finish(
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
struct Views {
    trim: bool,
    views: Vec<View>,
    validity: Validity,
    long: bool,
}

impl Views {
    fn new(trim: bool, rows: usize) -> Views {
        Views { trim, views: Vec::with_capacity(rows), validity: Validity::default(), long: false }
    }

    fn fill<'a>(&mut self, buffer: &polars_buffer::Buffer<u8>, cells: impl Iterator<Item = &'a [u8]>) {
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

    fn finish(
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
fn text_from_bytes(name: &str, bytes: BinaryViewArray, utf8: Utf8) -> Result<Column, (usize, Problem)> {
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
enum Utf8 {
    Valid,
    Unknown,
}

impl Utf8 {
    fn of(bytes: &[u8]) -> Utf8 {
        if simdutf8::basic::from_utf8(bytes).is_ok() {
            Utf8::Valid
        } else {
            Utf8::Unknown
        }
    }
}

/// A cell that does not parse as its column's type.
struct BadCell {
    value: String,
    non_finite: bool,
}

impl BadCell {
    #[cold]
    fn new(cell: &[u8], bad: Bad) -> BadCell {
        BadCell { value: String::from_utf8_lossy(cell).into_owned(), non_finite: bad == Bad::NonFinite }
    }
}

/// Why a cell was refused, cheaply (the message is built once, for the first bad cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    Unparsable,
    NonFinite,
}

/// Validity bits, created at the first null.
#[derive(Default)]
struct Validity {
    bits: Option<MutableBitmap>,
}

impl Validity {
    fn push(&mut self, len_before: usize, valid: bool) {
        match (&mut self.bits, valid) {
            (Some(b), v) => b.push(v),
            (None, true) => {}
            (None, false) => {
                let mut b = MutableBitmap::with_capacity(len_before + 1024);
                b.extend_constant(len_before, true);
                b.push(false);
                self.bits = Some(b);
            }
        }
    }
    fn finish(self) -> Option<polars_arrow::bitmap::Bitmap> {
        self.bits.map(Into::into)
    }
}

/// A column being filled from cells. Text is collected as bytes and checked to be UTF-8 once
/// per chunk, when the column is finished.
enum Builder {
    Text { trim: bool, values: MutableBinaryViewArray<[u8]> },
    F64 { values: Vec<f64>, validity: Validity },
    Int { values: Vec<i32>, validity: Validity },
    Date { values: Vec<i32>, validity: Validity, last: Option<([u8; 10], i32)> },
}

impl Builder {
    fn new(ty: Ty, capacity: usize) -> Builder {
        match ty {
            Ty::Str => Builder::Text { trim: true, values: MutableBinaryViewArray::with_capacity(capacity) },
            Ty::Text => {
                Builder::Text { trim: false, values: MutableBinaryViewArray::with_capacity(capacity) }
            }
            Ty::F64 => Builder::F64 { values: Vec::with_capacity(capacity), validity: Validity::default() },
            Ty::Int => Builder::Int { values: Vec::with_capacity(capacity), validity: Validity::default() },
            Ty::Date => Builder::Date {
                values: Vec::with_capacity(capacity),
                validity: Validity::default(),
                last: None,
            },
        }
    }

    /// Pushes every cell of `cells`, one loop per type; an error carries the cell's index.
    fn fill<'a>(&mut self, cells: impl Iterator<Item = &'a [u8]>) -> Result<(), (usize, BadCell)> {
        let at = |i: usize| move |e: BadCell| (i, e);
        match self {
            Builder::Text { trim: true, values } => cells.for_each(|c| push_text(values, c.trim_ascii())),
            Builder::Text { trim: false, values } => cells.for_each(|c| push_text(values, c)),
            Builder::F64 { values, validity } => {
                for (i, c) in cells.enumerate() {
                    push_f64(values, validity, c).map_err(|bad| at(i)(BadCell::new(c, bad)))?;
                }
            }
            Builder::Int { values, validity } => {
                for (i, c) in cells.enumerate() {
                    push_int(values, validity, c).map_err(|bad| at(i)(BadCell::new(c, bad)))?;
                }
            }
            Builder::Date { values, validity, last } => {
                for (i, c) in cells.enumerate() {
                    push_date(values, validity, last, c).map_err(|bad| at(i)(BadCell::new(c, bad)))?;
                }
            }
        }
        Ok(())
    }

    /// Pushes one cell.
    fn push(&mut self, cell: &[u8]) -> Result<(), BadCell> {
        match self {
            Builder::Text { trim: true, values } => push_text(values, cell.trim_ascii()),
            Builder::Text { trim: false, values } => push_text(values, cell),
            Builder::F64 { values, validity } => {
                push_f64(values, validity, cell).map_err(|b| BadCell::new(cell, b))?
            }
            Builder::Int { values, validity } => {
                push_int(values, validity, cell).map_err(|b| BadCell::new(cell, b))?
            }
            Builder::Date { values, validity, last } => {
                push_date(values, validity, last, cell).map_err(|b| BadCell::new(cell, b))?
            }
        }
        Ok(())
    }

    /// The finished column; for text, the first row that is not UTF-8 is an error.
    fn finish(self, name: &str, utf8: Utf8) -> Result<Column, (usize, Problem)> {
        let name = PlSmallStr::from(name);
        Ok(match self {
            Builder::Text { values, .. } => return text_from_bytes(&name, values.freeze(), utf8),
            Builder::F64 { values, validity } => {
                let arr =
                    PrimitiveArray::<f64>::new(ArrowDataType::Float64, values.into(), validity.finish());
                Float64Chunked::with_chunk(name, arr).into_column()
            }
            Builder::Int { values, validity } => {
                let arr = PrimitiveArray::<i32>::new(ArrowDataType::Int32, values.into(), validity.finish());
                Int32Chunked::with_chunk(name, arr).into_column()
            }
            Builder::Date { values, validity, .. } => {
                let arr = PrimitiveArray::<i32>::new(ArrowDataType::Int32, values.into(), validity.finish());
                Int32Chunked::with_chunk(name, arr).into_series().into_date().into_column()
            }
        })
    }
}

#[inline(always)]
fn push_text(values: &mut MutableBinaryViewArray<[u8]>, v: &[u8]) {
    if v.is_empty() {
        values.push_null();
    } else {
        values.push_value(v);
    }
}

/// Pushes `cell` parsed by `parse` (surrounding spaces trimmed), or a null when it is blank.
#[inline(always)]
fn push_parsed<T: Default>(
    values: &mut Vec<T>,
    validity: &mut Validity,
    cell: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<T, Bad>,
) -> Result<(), Bad> {
    let t = cell.trim_ascii();
    let (value, valid) = if t.is_empty() { (T::default(), false) } else { (parse(t)?, true) };
    validity.push(values.len(), valid);
    values.push(value);
    Ok(())
}

#[inline(always)]
fn push_f64(values: &mut Vec<f64>, validity: &mut Validity, cell: &[u8]) -> Result<(), Bad> {
    push_parsed(values, validity, cell, |t| {
        let x = match parse_plain_decimal(t) {
            Some(x) => x,
            None => fast_float2::parse(t).map_err(|_| Bad::Unparsable)?,
        };
        if x.is_finite() {
            Ok(x)
        } else {
            Err(Bad::NonFinite)
        }
    })
}

#[inline(always)]
fn push_int(values: &mut Vec<i32>, validity: &mut Validity, cell: &[u8]) -> Result<(), Bad> {
    push_parsed(values, validity, cell, |t| parse_i32(t).ok_or(Bad::Unparsable))
}

#[inline(always)]
fn push_date(
    values: &mut Vec<i32>,
    validity: &mut Validity,
    last: &mut Option<([u8; 10], i32)>,
    cell: &[u8],
) -> Result<(), Bad> {
    push_parsed(values, validity, cell, |t| {
        // Consecutive rows often share a month: remember the first day of the last month seen.
        Ok(match last {
            Some((prefix, first)) if t.len() == 10 && t[..8] == prefix[..8] => match two_digits(&t[8..10]) {
                Some(day @ 1..=28) => *first + day - 1,
                _ => parse_iso_date(t).ok_or(Bad::Unparsable)?,
            },
            _ => {
                let d = parse_iso_date(t).ok_or(Bad::Unparsable)?;
                if let (Ok(text), Some(day)) = (<[u8; 10]>::try_from(t), two_digits(&t[8..10])) {
                    *last = Some((text, d - day + 1));
                }
                d
            }
        })
    })
}

/// Powers of ten that are exact in an f64.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// The common shape of a measurement, `[-]digits[.digits]` with at most 15 digits, parsed
/// exactly: the digits form an integer m < 2^53 and the value is m / 10^k with 10^k exact, so
/// the one division is correctly rounded (Clinger's fast path). `None` for anything else
/// (exponents, longer numbers, words), which the general parser handles.
#[inline(always)]
fn parse_plain_decimal(s: &[u8]) -> Option<f64> {
    let (negative, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut mantissa: u64 = 0;
    let mut i = 0;
    while let Some(d) = body.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let whole = i;
    let mut scale = 0;
    if i < body.len() {
        if body[i] != b'.' {
            return None;
        }
        i += 1;
        let start = i;
        while let Some(d) = body.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        if i < body.len() {
            return None;
        }
        scale = i - start;
    }
    // At most 15 digits: the mantissa is exact (no wrapping happened) and below 2^53.
    if whole + scale == 0 || whole + scale > 15 {
        return None;
    }
    let x = mantissa as f64 / EXACT_POWERS_OF_TEN[scale];
    Some(if negative { -x } else { x })
}

/// A decimal integer that fits an i32, with an optional sign.
fn parse_i32(s: &[u8]) -> Option<i32> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as i64;
    }
    i32::try_from(if negative { -v } else { v }).ok()
}

fn two_digits(s: &[u8]) -> Option<i32> {
    match s {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(((a - b'0') * 10 + (b - b'0')) as i32),
        _ => None,
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (exactly that form, a real calendar day).
pub(crate) fn parse_iso_date(s: &[u8]) -> Option<i32> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *s else {
        return None;
    };
    let y = two_digits(&[y0, y1])? * 100 + two_digits(&[y2, y3])?;
    let (m, d) = (two_digits(&[m0, m1])?, two_digits(&[d0, d1])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn days_in_month(y: i32, m: i32) -> i32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i32, m: i32, d: i32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Opens `path` for chunked reading; `shown` names it in messages.
pub(crate) fn open(path: &Path, shown: &str) -> Result<(File, u64), StageError> {
    let file =
        File::open(path).map_err(|e| StageError::new(format!("{shown}: cannot read the file: {e}")))?;
    let len =
        file.metadata().map_err(|e| StageError::new(format!("{shown}: cannot read the file: {e}")))?.len();
    Ok((file, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, specs: &[(&str, Ty)]) -> Result<ParsedChunk, ChunkError> {
        let header_end = text.find('\n').unwrap();
        let names = text[..header_end].split(',').map(String::from).collect();
        let header = CsvHeader { names, data_start: header_end as u64 + 1 };
        ChunkParser::new(&header, specs).parse(text.as_bytes()[header_end + 1..].to_vec(), true)
    }

    #[test]
    fn iso_dates_are_days_since_the_epoch_and_impossible_days_are_refused() {
        assert_eq!(parse_iso_date(b"1970-01-01"), Some(0));
        assert_eq!(parse_iso_date(b"2024-06-30"), Some(19_904));
        assert_eq!(parse_iso_date(b"2000-02-29"), Some(11_016));
        assert_eq!(parse_iso_date(b"1969-12-31"), Some(-1));
        assert_eq!(parse_iso_date(b"2023-02-29"), None);
        assert_eq!(parse_iso_date(b"2024-13-01"), None);
        assert_eq!(parse_iso_date(b"2024-6-30"), None);
        assert_eq!(parse_iso_date(b"01/05/2024"), None);
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        let text = "id,region,x\na,\"North, \"\"upper\"\"\",1\nb,\"two\nlines\",2\r\nc,plain,3";
        let c = parse(text, &[("id", Ty::Str), ("region", Ty::Str), ("x", Ty::Int)]).unwrap();
        assert_eq!(c.rows, 3);
        let region: Vec<_> = c.columns[1].str().unwrap().iter().collect();
        assert_eq!(region, [Some("North, \"upper\""), Some("two\nlines"), Some("plain")]);
    }

    #[test]
    fn blank_cells_are_null_and_unwanted_columns_are_skipped() {
        let c = parse(
            "a,skip,b,d\n x ,zz,  ,\n,zz,2.5,2024-01-02\n",
            &[("a", Ty::Str), ("b", Ty::F64), ("d", Ty::Date)],
        )
        .unwrap();
        assert_eq!(c.rows, 2);
        assert_eq!(c.columns[0].str().unwrap().get(0), Some("x"));
        assert_eq!(c.columns[0].null_count(), 1);
        assert_eq!(c.columns[1].null_count(), 1);
        assert_eq!(c.columns[1].f64().unwrap().get(1), Some(2.5));
        assert_eq!(c.columns[2].dtype(), &DataType::Date);
        assert_eq!(c.columns[2].null_count(), 1);
    }

    #[test]
    fn a_bad_cell_is_reported_with_its_row_and_column() {
        let e = parse("a,n\nx,1\ny,thirty\n", &[("a", Ty::Str), ("n", Ty::F64)]).err().unwrap();
        assert_eq!(e.row, 1);
        assert!(e.message("t.csv", 1).contains("t.csv: row 2"), "{}", e.message("t.csv", 1));
        assert!(e.message("t.csv", 1).contains("column 'n': value 'thirty' is not a number"));
        let e = parse("n\ninf\n", &[("n", Ty::F64)]).err().unwrap();
        assert!(matches!(e.problem, Problem::Cell { non_finite: true, .. }));
    }

    #[test]
    fn delimiters_are_found_exactly_in_every_byte_position() {
        // Bytes next to a delimiter (0x2b, 0x2d, 0x09, 0x0b, 0x00, 0x80, 0xff) must not match.
        let bytes: Vec<u8> = b"a,\x2b\x2d,\n\x09\x0b\x00,\x80\xff\n,,x\n".to_vec();
        for shift in 0..9 {
            let mut padded = vec![b'z'; shift];
            padded.extend_from_slice(&bytes);
            let mut found = Vec::new();
            push_delimiters(&padded, &mut found);
            let expected: Vec<u32> = padded
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b',' || b == b'\n')
                .map(|(i, _)| i as u32 + 1)
                .collect();
            assert_eq!(found, expected, "shift {shift}");
        }
    }

    #[test]
    fn plain_decimals_parse_exactly_like_the_general_parser() {
        for text in
            ["0", "17", "58.52", "-3.75", "+2.5", "0.1", "123456789.012345", "999999999999999", ".5", "7."]
        {
            let general: f64 = fast_float2::parse(text.as_bytes()).unwrap();
            assert_eq!(parse_plain_decimal(text.as_bytes()), Some(general), "{text}");
        }
        for text in
            ["1e5", "1.2.3", "-", ".", "nan", "1234567890123456", "123456789012345678901234", "12a", "1.-2"]
        {
            assert_eq!(parse_plain_decimal(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn irregular_chunks_take_the_record_by_record_path_with_the_same_results() {
        // A blank line, CRLF endings and no final line break.
        let c = parse("a,b\n1,x\r\n\n2,  y \r\n3,z", &[("a", Ty::Int), ("b", Ty::Str)]).unwrap();
        assert_eq!(c.rows, 3);
        let b: Vec<_> = c.columns[1].str().unwrap().iter().collect();
        assert_eq!(b, [Some("x"), Some("y"), Some("z")]);
        let regular = parse("a,b\n1,x\r\n2,  y \r\n3,z", &[("a", Ty::Int), ("b", Ty::Str)]).unwrap();
        assert_eq!(regular.columns, c.columns);
    }

    #[test]
    fn long_text_values_point_into_the_chunk_and_keep_their_bytes() {
        let c = parse("id,t\n1,a-value-longer-than-twelve\n2,short\n", &[("t", Ty::Text)]).unwrap();
        let t: Vec<_> = c.columns[0].str().unwrap().iter().collect();
        assert_eq!(t, [Some("a-value-longer-than-twelve"), Some("short")]);
    }

    #[test]
    fn text_that_is_not_utf8_names_its_row() {
        let header = CsvHeader { names: vec!["a".into()], data_start: 0 };
        let e = ChunkParser::new(&header, &[("a", Ty::Str)])
            .parse(b"ok\n\xff\xfe\n".to_vec(), true)
            .err()
            .unwrap();
        assert_eq!(e, ChunkError { row: 1, problem: Problem::NotUtf8 { column: "a".into() } });
    }

    #[test]
    fn a_record_with_too_few_fields_is_reported() {
        let e = parse("a,b\n1,2\n3\n", &[("a", Ty::Int)]).err().unwrap();
        assert_eq!(e, ChunkError { row: 1, problem: Problem::FieldCount { found: 1, expected: 2 } });
    }

    #[test]
    fn an_open_quote_at_the_end_is_an_error() {
        let e = parse("a\n\"abc\n", &[("a", Ty::Str)]).err().unwrap();
        assert_eq!(e.problem, Problem::UnterminatedQuote);
    }
}
