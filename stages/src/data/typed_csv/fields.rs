//! The record layer: splitting a record into its RFC 4180 fields (quotes, `""`, `\r\n`), and
//! the fast delimiter scan of a regular slab of records.

/// One field of a record, as it appears in the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cell<'a> {
    raw: &'a [u8],
    quoted: bool,
}

impl<'a> Cell<'a> {
    /// The field's content: quotes removed and `""` turned into `"`.
    pub(super) fn unquoted(&self) -> std::borrow::Cow<'a, [u8]> {
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

pub(super) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Calls `f(index, cell)` for every field of one record (no line break inside `record`
/// except quoted ones). Stops early when `f` returns false.
pub(super) fn for_each_field<'a>(record: &'a [u8], f: &mut impl FnMut(usize, Cell<'a>) -> bool) {
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

/// Fills `bounds` for a slab of records with exactly `fields` fields each and no blank line:
/// `bounds[0] = 0` and `bounds[k]` = 1 + the position of the k-th delimiter (`,` or `\n`; the
/// end of the data counts as a final `\n`), so field f of record r is
/// `slab[bounds[r·fields + f] .. bounds[r·fields + f + 1] - 1]`. Returns false for anything
/// irregular.
pub(super) fn slab_bounds(slab: &[u8], fields: usize, bounds: &mut Vec<u32>) -> bool {
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
pub(super) fn push_delimiters(bytes: &[u8], out: &mut Vec<u32>) {
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
