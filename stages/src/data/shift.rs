//! `churnflow generate --drift SPEC`: what a later month changes in the generator's model of
//! customers — parsed from the text the user types, checked once, then read by
//! [`generate`](crate::data::generate) while it draws each customer.
//!
//! Grammar (docs/stages-data.md, "A drifted month"): comma-separated `KEY` or `KEY=VALUE`,
//! spaces allowed around every part, each key at most once:
//!
//! | key | value | default (bare key) | what changes |
//! |---|---|---|---|
//! | `snapshot` | `[+-]N` + `d`/`w`/`m`/`y` | `+1m` | the snapshot date (a month end stays a month end) |
//! | `usage` | `[+-]N%`, -90 … +300 | `+30%` | the usage level: minutes and data per call (not the number of calls) |
//! | `price` | `[+-]N%`, -50 … +100 | `+20%` | every plan price, and the payments billed at it |
//! | `contract` | `TYPE[:[+-]Npp]` | `month-to-month:+25pp` | the share of a contract type, by customers switching |
//!
//! A shift takes effect 30 days before the (possibly moved) snapshot date — the first day of
//! the features' 30-day windows — so the customer's history before it is as it would have
//! been, and the churn label is drawn from the customer's traits after it (higher prices,
//! month-to-month contracts and lower usage all raise the churn propensity).
//!
//! Parsing never panics: every problem is a [`ShiftError`] naming the part it is in and what
//! is accepted; [`ShiftError::misspelt`] gives the word and the candidates for a did-you-mean.

use chrono::{Datelike, NaiveDate};
use std::fmt;

/// The keys of a spec, in the order they are shown.
pub const SHIFT_KEYS: [&str; 4] = ["snapshot", "usage", "price", "contract"];

/// Contract types, in the generator's order (the values of `contract_type`).
pub(crate) const CONTRACTS: [&str; 3] = ["month-to-month", "one-year", "two-year"];

/// The share of each contract type among generated customers without a shift.
pub(crate) const CONTRACT_SHARES: [f64; 3] = [0.55, 0.25, 0.20];

/// Days before the snapshot date on which usage and price shifts start.
pub(crate) const DRIFTED_DAYS: i32 = 30;

const DEFAULT_SNAPSHOT: Offset = Offset::Months(1);
const DEFAULT_USAGE: f64 = 0.30;
const DEFAULT_PRICE: f64 = 0.20;
const DEFAULT_CONTRACT: ContractShift = ContractShift { contract: 0, points: 25.0 };

/// The bounds of the percent keys (as fractions): beyond them the generator's model of a
/// customer stops being plausible (prices more than doubled, usage cut to nothing).
const USAGE_RANGE: (f64, f64) = (-0.90, 3.0);
const PRICE_RANGE: (f64, f64) = (-0.50, 1.0);
/// At most ten years either way.
const MAX_MONTHS: i32 = 120;
const MAX_DAYS: i32 = 3653;

/// A parsed `--drift` spec; [`ShiftSpec::default`] shifts nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ShiftSpec {
    /// Moves the snapshot date.
    pub snapshot: Option<Offset>,
    /// Relative change of the usage level in the drifted month (0.3 = +30 %).
    pub usage: Option<f64>,
    /// Relative change of plan prices (0.2 = +20 %).
    pub price: Option<f64>,
    /// A contract type gaining (or losing) percentage points of customers.
    pub contract: Option<ContractShift>,
}

/// A move of the snapshot date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Days(i32),
    Months(i32),
}

/// `points` percentage points more (or fewer, when negative) customers on `contract`; the
/// other types keep their proportions to each other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContractShift {
    /// Index into the contract types (`month-to-month`, `one-year`, `two-year`).
    pub contract: usize,
    pub points: f64,
}

/// What is wrong with a spec; every variant names the part of the spec it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShiftError {
    #[error("the spec is empty; give one or more of {} (e.g. 'snapshot=+1m,price=+10%')", SHIFT_KEYS.join(", "))]
    Empty,
    #[error("'{part}': an empty part (two commas in a row?)")]
    EmptyPart { part: String },
    #[error("'{part}': unknown key '{key}'; the keys are {}", SHIFT_KEYS.join(", "))]
    UnknownKey { part: String, key: String },
    #[error("'{part}': {key} is given twice")]
    Repeated { part: String, key: &'static str },
    #[error("'{part}': {problem}")]
    BadValue { part: String, key: &'static str, problem: String },
    #[error("'{part}': unknown contract type '{name}'; the types are {}", CONTRACTS.join(", "))]
    UnknownContract { part: String, name: String },
}

impl ShiftError {
    /// The word that was not recognised and the words it should have been, for a
    /// did-you-mean: an unknown key or contract type.
    pub fn misspelt(&self) -> Option<(&str, &'static [&'static str])> {
        match self {
            ShiftError::UnknownKey { key, .. } => Some((key, &SHIFT_KEYS)),
            ShiftError::UnknownContract { name, .. } => Some((name, &CONTRACTS)),
            _ => None,
        }
    }
}

impl std::str::FromStr for ShiftSpec {
    type Err = ShiftError;

    fn from_str(text: &str) -> Result<Self, ShiftError> {
        ShiftSpec::parse(text)
    }
}

impl ShiftSpec {
    /// Parses a spec such as `snapshot=+1m, usage=+25%, price=+10%, contract=month-to-month:+15pp`.
    pub fn parse(text: &str) -> Result<ShiftSpec, ShiftError> {
        if text.trim().is_empty() {
            return Err(ShiftError::Empty);
        }
        let mut spec = ShiftSpec::default();
        for raw in text.split(',') {
            let part = raw.trim();
            if part.is_empty() {
                return Err(ShiftError::EmptyPart { part: text.trim().to_string() });
            }
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (part, None),
            };
            let owned = || part.to_string();
            let bad =
                |key: &'static str, problem: String| ShiftError::BadValue { part: owned(), key, problem };
            let repeated = |key: &'static str| ShiftError::Repeated { part: owned(), key };
            match key.to_ascii_lowercase().as_str() {
                "snapshot" => {
                    if spec.snapshot.is_some() {
                        return Err(repeated("snapshot"));
                    }
                    spec.snapshot = Some(
                        value.map_or(Ok(DEFAULT_SNAPSHOT), parse_offset).map_err(|p| bad("snapshot", p))?,
                    );
                }
                "usage" => {
                    if spec.usage.is_some() {
                        return Err(repeated("usage"));
                    }
                    spec.usage = Some(
                        value
                            .map_or(Ok(DEFAULT_USAGE), |v| parse_percent("usage", v, USAGE_RANGE))
                            .map_err(|p| bad("usage", p))?,
                    );
                }
                "price" => {
                    if spec.price.is_some() {
                        return Err(repeated("price"));
                    }
                    spec.price = Some(
                        value
                            .map_or(Ok(DEFAULT_PRICE), |v| parse_percent("price", v, PRICE_RANGE))
                            .map_err(|p| bad("price", p))?,
                    );
                }
                "contract" => {
                    if spec.contract.is_some() {
                        return Err(repeated("contract"));
                    }
                    spec.contract = Some(match value {
                        None => DEFAULT_CONTRACT,
                        Some(v) => parse_contract(part, v)?,
                    });
                }
                _ => return Err(ShiftError::UnknownKey { part: owned(), key: key.to_string() }),
            }
        }
        Ok(spec)
    }

    /// Whether the spec changes anything at all.
    pub fn is_empty(&self) -> bool {
        *self == ShiftSpec::default()
    }

    /// The first day of the drifted month of a data set with this snapshot date: usage and
    /// price shifts apply from it on (30 days before the snapshot, the first day of the
    /// features' 30-day windows).
    pub fn first_day(snapshot: NaiveDate) -> Option<NaiveDate> {
        snapshot.checked_sub_signed(chrono::Duration::days(DRIFTED_DAYS.into()))
    }

    /// The snapshot date of the drifted month, from the date it would have had without the
    /// spec; `None` when it falls outside the calendar chrono knows.
    pub fn snapshot_date(&self, base: NaiveDate) -> Option<NaiveDate> {
        match self.snapshot {
            None => Some(base),
            Some(offset) => offset.apply(base),
        }
    }
}

impl Offset {
    /// The date moved by this offset. Months keep the day of the month (clamped to the
    /// month's length), and the last day of a month stays the last day of a month:
    /// 2024-06-30 + 1m = 2024-07-31, 2024-01-31 + 1m = 2024-02-29.
    pub fn apply(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Offset::Days(n) => date.checked_add_signed(chrono::Duration::days(n.into())),
            Offset::Months(n) => {
                let months = chrono::Months::new(n.unsigned_abs());
                let moved =
                    if n >= 0 { date.checked_add_months(months) } else { date.checked_sub_months(months) }?;
                if is_month_end(date) {
                    month_end(moved)
                } else {
                    Some(moved)
                }
            }
        }
    }
}

fn is_month_end(date: NaiveDate) -> bool {
    date.succ_opt().is_none_or(|next| next.month() != date.month())
}

fn month_end(date: NaiveDate) -> Option<NaiveDate> {
    let first = date.with_day(1)?;
    first.checked_add_months(chrono::Months::new(1))?.pred_opt()
}

impl ContractShift {
    /// The contract a customer drawn with `from` (with the unshifted shares) ends up on, given
    /// `u` uniform in [0, 1) and `v` uniform in [0, 1): customers switch so that the shares
    /// become the shifted shares — towards the type from every other type in proportion,
    /// or away from it to the other types in their proportions — and everyone else stays.
    pub(crate) fn switch(&self, from: usize, u: f64, v: f64) -> usize {
        let t = self.contract;
        let base = CONTRACT_SHARES[t];
        let d = self.points / 100.0;
        if d >= 0.0 {
            // Each customer of another type moves to `t` with the same probability.
            if from != t && u < d / (1.0 - base) {
                return t;
            }
            from
        } else {
            if from != t || u >= -d / base {
                return from;
            }
            // Away from `t`, to the other types in their proportions.
            let others: Vec<usize> = (0..3).filter(|&i| i != t).collect();
            let total: f64 = others.iter().map(|&i| CONTRACT_SHARES[i]).sum();
            let mut acc = 0.0;
            for &i in &others {
                acc += CONTRACT_SHARES[i] / total;
                if v < acc {
                    return i;
                }
            }
            others[others.len() - 1]
        }
    }
}

/// `[+-]N` followed by `d`, `w`, `m` or `y`.
fn parse_offset(value: &str) -> Result<Offset, String> {
    let expected =
        "snapshot takes an offset such as +1m, -2w or +30d (d, w, m, y); for a date use --snapshot-date";
    let Some(unit) = value.chars().last() else {
        return Err(format!("no value; {expected}"));
    };
    let number = &value[..value.len() - unit.len_utf8()];
    let n: i32 = match number.trim().parse() {
        Ok(n) if unit.is_ascii_alphabetic() => n,
        _ => return Err(format!("'{value}' is not an offset; {expected}")),
    };
    let offset = match unit.to_ascii_lowercase() {
        'd' => Offset::Days(n),
        'w' => Offset::Days(n.saturating_mul(7)),
        'm' => Offset::Months(n),
        'y' => Offset::Months(n.saturating_mul(12)),
        _ => return Err(format!("'{value}': unknown unit '{unit}'; {expected}")),
    };
    let too_far = match offset {
        Offset::Days(d) => d.unsigned_abs() > MAX_DAYS as u32,
        Offset::Months(m) => m.unsigned_abs() > MAX_MONTHS as u32,
    };
    if too_far {
        return Err(format!("'{value}' is more than ten years; {expected}"));
    }
    Ok(offset)
}

/// `[+-]N%` (N a decimal number) → a fraction within `range`.
fn parse_percent(key: &str, value: &str, (lo, hi): (f64, f64)) -> Result<f64, String> {
    let expected = format!(
        "{key} takes a percent change such as +10% or -5%, from {} to {}",
        fmt_percent(lo),
        fmt_percent(hi)
    );
    let Some(number) = value.strip_suffix('%') else {
        return Err(format!("'{value}' has no '%'; {expected}"));
    };
    let number = number.trim();
    let parsed: Option<f64> =
        if number.starts_with(['+', '-']) || number.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            number.parse().ok()
        } else {
            None
        };
    match parsed {
        Some(p) if p.is_finite() && (lo..=hi).contains(&(p / 100.0)) => Ok(p / 100.0),
        Some(p) if p.is_finite() => Err(format!("{value} is out of range; {expected}")),
        _ => Err(format!("'{value}' is not a percent; {expected}")),
    }
}

/// `TYPE` or `TYPE:[+-]Npp`.
fn parse_contract(part: &str, value: &str) -> Result<ContractShift, ShiftError> {
    let expected = "contract takes TYPE:[+-]Npp, e.g. month-to-month:+15pp or two-year:-5pp";
    let bad = |problem: String| ShiftError::BadValue { part: part.to_string(), key: "contract", problem };
    let (name, points) = match value.split_once(':') {
        Some((n, p)) => (n.trim(), Some(p.trim())),
        None => (value.trim(), None),
    };
    if name.is_empty() {
        return Err(bad(format!("no contract type; {expected}")));
    }
    let Some(contract) = CONTRACTS.iter().position(|c| c.eq_ignore_ascii_case(name)) else {
        return Err(ShiftError::UnknownContract { part: part.to_string(), name: name.to_string() });
    };
    let points = match points {
        None => DEFAULT_CONTRACT.points,
        Some(p) => {
            let number = p.strip_suffix("pp").map(str::trim);
            match number.and_then(|n| n.parse::<f64>().ok()).filter(|n| n.is_finite()) {
                Some(n) => n,
                None => return Err(bad(format!("'{p}' is not percentage points; {expected}"))),
            }
        }
    };
    let base = 100.0 * CONTRACT_SHARES[contract];
    let after = base + points;
    if !(0.0..=100.0).contains(&after) {
        return Err(bad(format!(
            "{} is {base:.0} % of customers, so it can gain from {:+.0}pp to {:+.0}pp ({:+}pp would make it {after:.0} %)",
            CONTRACTS[contract],
            -base,
            100.0 - base,
            points
        )));
    }
    Ok(ContractShift { contract, points })
}

/// `+25%`, `-10%`, `+2.5%` (to a millionth of a percent).
fn fmt_percent(fraction: f64) -> String {
    let p = (fraction * 1e8).round() / 1e6;
    format!("{}{p}%", if p >= 0.0 { "+" } else { "" })
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Offset::Days(n) if n % 7 == 0 && n != 0 => write!(f, "{:+}w", n / 7),
            Offset::Days(n) => write!(f, "{n:+}d"),
            Offset::Months(n) if n % 12 == 0 && n != 0 => write!(f, "{:+}y", n / 12),
            Offset::Months(n) => write!(f, "{n:+}m"),
        }
    }
}

impl fmt::Display for ContractShift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:+}pp", CONTRACTS[self.contract], self.points)
    }
}

impl fmt::Display for ShiftSpec {
    /// The spec in its canonical form (`snapshot=+1m,usage=+25%,…`), which parses back to
    /// the same spec; empty when it shifts nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(o) = self.snapshot {
            parts.push(format!("snapshot={o}"));
        }
        if let Some(u) = self.usage {
            parts.push(format!("usage={}", fmt_percent(u)));
        }
        if let Some(p) = self.price {
            parts.push(format!("price={}", fmt_percent(p)));
        }
        if let Some(c) = self.contract {
            parts.push(format!("contract={c}"));
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_full_spec_parses_and_prints_back_the_same() {
        let s = ShiftSpec::parse(" snapshot=+1m, usage = +25%,price=-7.5%,contract=two-year:-5pp ").unwrap();
        assert_eq!(s.snapshot, Some(Offset::Months(1)));
        assert_eq!(s.usage, Some(0.25));
        assert_eq!(s.price, Some(-0.075));
        assert_eq!(s.contract, Some(ContractShift { contract: 2, points: -5.0 }));
        assert_eq!(s.to_string(), "snapshot=+1m,usage=+25%,price=-7.5%,contract=two-year:-5pp");
        assert_eq!(ShiftSpec::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn bare_keys_take_the_defaults() {
        let s = ShiftSpec::parse("snapshot,usage,price,contract").unwrap();
        assert_eq!(s.to_string(), "snapshot=+1m,usage=+30%,price=+20%,contract=month-to-month:+25pp");
        assert_eq!(ShiftSpec::parse("contract=one-year").unwrap().contract.unwrap().points, 25.0);
        assert!(ShiftSpec::default().is_empty() && !s.is_empty());
    }

    #[test]
    fn month_offsets_keep_month_ends() {
        let m = |n, d| Offset::Months(n).apply(date(d)).unwrap().to_string();
        assert_eq!(m(1, "2024-06-30"), "2024-07-31");
        assert_eq!(m(1, "2024-01-31"), "2024-02-29");
        assert_eq!(m(-1, "2024-03-31"), "2024-02-29");
        assert_eq!(m(1, "2024-03-15"), "2024-04-15");
        assert_eq!(m(12, "2024-02-29"), "2025-02-28");
        assert_eq!(Offset::Days(-14).apply(date("2024-06-30")).unwrap().to_string(), "2024-06-16");
        assert_eq!(ShiftSpec::parse("snapshot=+2w").unwrap().snapshot, Some(Offset::Days(14)));
        assert_eq!(ShiftSpec::parse("snapshot=1y").unwrap().snapshot, Some(Offset::Months(12)));
    }

    #[test]
    fn errors_name_the_part_and_what_is_accepted() {
        let e = |t: &str| ShiftSpec::parse(t).unwrap_err();
        let msg = |t: &str| e(t).to_string();
        assert_eq!(e(" "), ShiftError::Empty);
        assert!(msg("prise=+10%")
            .contains("'prise=+10%': unknown key 'prise'; the keys are snapshot, usage, price, contract"));
        assert_eq!(e("prise=+10%").misspelt(), Some(("prise", &SHIFT_KEYS[..])));
        assert!(msg("usage=25").contains("'usage=25': '25' has no '%'"));
        assert!(msg("usage=+x%").contains("is not a percent"));
        assert!(msg("usage=+500%")
            .contains("out of range; usage takes a percent change such as +10% or -5%, from -90% to +300%"));
        assert!(msg("price=NaN%").contains("is not a percent"));
        assert!(msg("price=+10%,price=+5%").contains("'price=+5%': price is given twice"));
        assert!(msg("snapshot=2024-07-31").contains("for a date use --snapshot-date"));
        assert!(msg("snapshot=+1q").contains("unknown unit 'q'"));
        assert!(msg("snapshot=+11y").contains("more than ten years"));
        assert!(msg("snapshot=+").contains("is not an offset"));
        assert!(msg("snapshot=").contains("no value"));
        assert!(msg("snapshot=+1é").contains("is not an offset"));
        assert!(msg("usage,,price").contains("an empty part"));
        assert!(msg("contract=monthly:+5pp").contains("unknown contract type 'monthly'"));
        assert_eq!(e("contract=one-yaer").misspelt(), Some(("one-yaer", &CONTRACTS[..])));
        assert!(msg("contract=two-year:+5").contains("is not percentage points"));
        assert!(msg("contract=month-to-month:+50pp").contains("can gain from -55pp to +45pp"));
        assert!(msg("contract=:+5pp").contains("no contract type"));
    }

    /// The shares of the three contract types after a shift.
    fn shares(shift: &ContractShift) -> [f64; 3] {
        let target = CONTRACT_SHARES[shift.contract] + shift.points / 100.0;
        let others = 1.0 - CONTRACT_SHARES[shift.contract];
        let mut shares = [0.0; 3];
        for (i, s) in shares.iter_mut().enumerate() {
            *s = if i == shift.contract {
                target
            } else if others > 0.0 {
                CONTRACT_SHARES[i] * (1.0 - target) / others
            } else {
                0.0
            };
        }
        shares
    }

    #[test]
    fn switching_contracts_reaches_the_shifted_shares() {
        for (contract, points) in [(0, 20.0), (0, -30.0), (2, 10.0), (1, -25.0), (0, 45.0)] {
            let shift = ContractShift { contract, points };
            let want = shares(&shift);
            assert!((want.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            // Integrate over a grid of (u, v) for each drawn type.
            let n = 400;
            let mut got = [0.0; 3];
            for (from, share) in CONTRACT_SHARES.iter().enumerate() {
                for i in 0..n {
                    for j in 0..n {
                        let to = shift.switch(from, (i as f64 + 0.5) / n as f64, (j as f64 + 0.5) / n as f64);
                        got[to] += share / (n * n) as f64;
                    }
                }
            }
            for k in 0..3 {
                assert!((got[k] - want[k]).abs() < 0.005, "{shift}: {got:?} vs {want:?}");
            }
        }
    }
}
