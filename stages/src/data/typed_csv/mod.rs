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
//!
//! Layers, one file each:
//!
//! * [`chunks`] — the file: opening it, the header (split by `fields`), chunk ranges,
//!   reading a range;
//! * [`parser`] — one chunk into typed columns (records by `fields`, cells by `cells`), and
//!   what was wrong with it ([`Problem`], [`ChunkError`]);
//! * [`fields`] — one record into its fields, and the delimiter scan of a regular slab;
//! * [`cells`] — one cell into a typed value, and a finished column (its text checked with
//!   `parser`'s UTF-8 rule).

mod cells;
mod chunks;
mod fields;
mod parser;
#[cfg(test)]
mod tests;

pub(crate) use chunks::{open, plan_chunks, read_header, read_range};
pub(crate) use parser::{ChunkError, ChunkParser, Problem};
