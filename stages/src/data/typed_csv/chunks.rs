//! The file layer: opening a CSV file, its header line, and cutting its data into
//! record-aligned byte ranges (chunks) that are read on their own.

use super::fields::*;
use crate::contract::StageError;
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
pub(super) const PROBE: usize = 64 * 1024;

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
pub(super) enum RecordEnd {
    /// At the line break with this index.
    LineBreak(usize),
    /// At the end of the data, with a quoted field still open or not.
    EndOfData { open_quote: bool },
}

/// Where the record starting at `buf[0]` ends, quoted line breaks not counting.
pub(super) fn quoted_record_end(buf: &[u8]) -> RecordEnd {
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

/// Opens `path` for chunked reading; `shown` names it in messages.
pub(crate) fn open(path: &Path, shown: &str) -> Result<(File, u64), StageError> {
    let file = File::open(path)
        .map_err(|e| StageError::classified(format!("{shown}: cannot read the file: {e}"), &e))?;
    let len =
        file.metadata().map_err(|e| StageError::new(format!("{shown}: cannot read the file: {e}")))?.len();
    Ok((file, len))
}
