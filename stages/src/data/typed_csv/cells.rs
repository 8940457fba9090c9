//! The cell layer: typing one cell (text, numbers, integers, dates) into a column builder,
//! with the exact fast parsers and the validity bits.

use super::parser::*;
use crate::io::table::Ty;
use polars::prelude::*;
use polars_arrow::array::{MutableBinaryViewArray, PrimitiveArray};
use polars_arrow::bitmap::MutableBitmap;

/// A cell that does not parse as its column's type.
pub(super) struct BadCell {
    pub(super) value: String,
    pub(super) non_finite: bool,
}

impl BadCell {
    #[cold]
    pub(super) fn new(cell: &[u8], bad: Bad) -> BadCell {
        BadCell { value: String::from_utf8_lossy(cell).into_owned(), non_finite: bad == Bad::NonFinite }
    }
}

/// Why a cell was refused, cheaply (the message is built once, for the first bad cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bad {
    Unparsable,
    NonFinite,
}

/// Validity bits, created at the first null.
#[derive(Default)]
pub(super) struct Validity {
    bits: Option<MutableBitmap>,
}

impl Validity {
    pub(super) fn push(&mut self, len_before: usize, valid: bool) {
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
    pub(super) fn finish(self) -> Option<polars_arrow::bitmap::Bitmap> {
        self.bits.map(Into::into)
    }
}

/// A column being filled from cells. Text is collected as bytes and checked to be UTF-8 once
/// per chunk, when the column is finished.
pub(super) enum Builder {
    Text { trim: bool, values: MutableBinaryViewArray<[u8]> },
    F64 { values: Vec<f64>, validity: Validity },
    Int { values: Vec<i32>, validity: Validity },
    Date { values: Vec<i32>, validity: Validity, last: Option<([u8; 10], i32)> },
}

impl Builder {
    pub(super) fn new(ty: Ty, capacity: usize) -> Builder {
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
    pub(super) fn fill<'a>(&mut self, cells: impl Iterator<Item = &'a [u8]>) -> Result<(), (usize, BadCell)> {
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
    pub(super) fn push(&mut self, cell: &[u8]) -> Result<(), BadCell> {
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
    pub(super) fn finish(self, name: &str, utf8: Utf8) -> Result<Column, (usize, Problem)> {
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
pub(super) fn push_text(values: &mut MutableBinaryViewArray<[u8]>, v: &[u8]) {
    if v.is_empty() {
        values.push_null();
    } else {
        values.push_value(v);
    }
}

/// Pushes `cell` parsed by `parse` (surrounding spaces trimmed), or a null when it is blank.
#[inline(always)]
pub(super) fn push_parsed<T: Default>(
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
pub(super) fn push_f64(values: &mut Vec<f64>, validity: &mut Validity, cell: &[u8]) -> Result<(), Bad> {
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
pub(super) fn push_int(values: &mut Vec<i32>, validity: &mut Validity, cell: &[u8]) -> Result<(), Bad> {
    push_parsed(values, validity, cell, |t| parse_i32(t).ok_or(Bad::Unparsable))
}

#[inline(always)]
pub(super) fn push_date(
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
pub(super) const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// The common shape of a measurement, `[-]digits[.digits]` with at most 15 digits, parsed
/// exactly: the digits form an integer m < 2^53 and the value is m / 10^k with 10^k exact, so
/// the one division is correctly rounded (Clinger's fast path). `None` for anything else
/// (exponents, longer numbers, words), which the general parser handles.
#[inline(always)]
pub(super) fn parse_plain_decimal(s: &[u8]) -> Option<f64> {
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
pub(super) fn parse_i32(s: &[u8]) -> Option<i32> {
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

pub(super) fn two_digits(s: &[u8]) -> Option<i32> {
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

pub(super) fn days_in_month(y: i32, m: i32) -> i32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(y: i32, m: i32, d: i32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
