//! Categorical value counts: [`CategoryKey`] (a string or a number) and [`CategoryCounts`],
//! the value counts over the union of both sides' keys that every categorical test consumes.

use super::*;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// One categorical value: a string label or a number (low-cardinality numerical column or a
/// numeric column declared categorical). Numbers compare like Python: `-0.0 == 0.0`.
#[derive(Debug, Clone)]
pub enum CategoryKey {
    /// Numeric category value (must not be NaN).
    Num(f64),
    /// String category value.
    Str(String),
}

impl CategoryKey {
    fn norm_bits(v: f64) -> u64 {
        (v + 0.0).to_bits()
    }
}

impl PartialEq for CategoryKey {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (CategoryKey::Num(a), CategoryKey::Num(b)) => a == b,
            (CategoryKey::Str(a), CategoryKey::Str(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for CategoryKey {}

impl Hash for CategoryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            CategoryKey::Num(v) => {
                0u8.hash(state);
                Self::norm_bits(*v).hash(state);
            }
            CategoryKey::Str(s) => {
                1u8.hash(state);
                s.hash(state);
            }
        }
    }
}

impl PartialOrd for CategoryKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CategoryKey {
    /// Python-like ordering within a type (numbers numerically, strings by code point);
    /// numbers sort before strings (Python would raise on mixed types).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, other) {
            (CategoryKey::Num(a), CategoryKey::Num(b)) => (a + 0.0).total_cmp(&(b + 0.0)),
            (CategoryKey::Str(a), CategoryKey::Str(b)) => a.cmp(b),
            (CategoryKey::Num(_), CategoryKey::Str(_)) => Less,
            (CategoryKey::Str(_), CategoryKey::Num(_)) => Greater,
        }
    }
}

/// Value counts of a categorical column over the union of non-missing keys of both samples
/// (Evidently's `get_unique_not_nan_values_list_from_series` + `value_counts`).
///
/// Keys are kept sorted (Evidently iterates a Python `set`, whose order only changes floating
/// point summation order, i.e. the last bits).
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryCounts {
    /// Distinct keys (sorted).
    pub keys: Vec<CategoryKey>,
    /// Reference count per key (0 if absent from the reference).
    pub reference: Vec<u64>,
    /// Current count per key (0 if absent from the current sample).
    pub current: Vec<u64>,
}

impl CategoryCounts {
    /// From per-row keys; `Num(NaN)` rows are treated as missing and dropped.
    pub fn from_keys(reference: &[CategoryKey], current: &[CategoryKey]) -> Self {
        let mut map: HashMap<CategoryKey, (u64, u64), FxBuild> = HashMap::default();
        for k in reference {
            if matches!(k, CategoryKey::Num(v) if v.is_nan()) {
                continue;
            }
            map.entry(k.clone()).or_insert((0, 0)).0 += 1;
        }
        for k in current {
            if matches!(k, CategoryKey::Num(v) if v.is_nan()) {
                continue;
            }
            map.entry(k.clone()).or_insert((0, 0)).1 += 1;
        }
        Self::from_map(map)
    }

    /// From string columns; `None` is missing and dropped.
    pub fn from_strs<S: AsRef<str>>(reference: &[Option<S>], current: &[Option<S>]) -> Self {
        let mut map: HashMap<&str, (u64, u64), FxBuild> = HashMap::default();
        for s in reference.iter().flatten() {
            map.entry(s.as_ref()).or_insert((0, 0)).0 += 1;
        }
        for s in current.iter().flatten() {
            map.entry(s.as_ref()).or_insert((0, 0)).1 += 1;
        }
        Self::from_map(map.into_iter().map(|(k, v)| (CategoryKey::Str(k.to_string()), v)).collect())
    }

    /// From the value counts of each side (a value listed twice adds up; a zero count adds
    /// no key): the same as [`CategoryCounts::from_strs`] on the rows counted.
    pub fn from_value_counts<S: Into<String>>(
        reference: impl IntoIterator<Item = (S, u64)>,
        current: impl IntoIterator<Item = (S, u64)>,
    ) -> Self {
        let mut map: HashMap<CategoryKey, (u64, u64), FxBuild> = HashMap::default();
        for (k, n) in reference.into_iter().filter(|(_, n)| *n > 0) {
            map.entry(CategoryKey::Str(k.into())).or_insert((0, 0)).0 += n;
        }
        for (k, n) in current.into_iter().filter(|(_, n)| *n > 0) {
            map.entry(CategoryKey::Str(k.into())).or_insert((0, 0)).1 += n;
        }
        Self::from_map(map)
    }

    /// From numeric columns (low-cardinality numerical, or numeric categorical); NaN is dropped.
    /// Sort-based (no hashing), `O(n log n)`.
    pub fn from_f64(reference: &[f64], current: &[f64]) -> Self {
        if let Some(c) = Self::from_f64_small(reference, current, 64) {
            return c;
        }
        let clean = |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|x| !x.is_nan()).collect() };
        let a = sorted_copy(&clean(reference));
        let b = sorted_copy(&clean(current));
        Self::from_sorted_f64(&a, &b)
    }

    /// Linear-scan counting when there are at most `limit` distinct values (else `None`).
    fn from_f64_small(reference: &[f64], current: &[f64], limit: usize) -> Option<Self> {
        let mut vals: Vec<f64> = Vec::new();
        let mut counts: Vec<(u64, u64)> = Vec::new();
        let mut last = 0usize;
        for (side, data) in [reference, current].iter().enumerate() {
            for &x in data.iter() {
                if x.is_nan() {
                    continue;
                }
                let idx = if last < vals.len() && vals[last] == x {
                    last
                } else if let Some(i) = vals.iter().position(|&v| v == x) {
                    i
                } else {
                    if vals.len() == limit {
                        return None;
                    }
                    vals.push(x + 0.0);
                    counts.push((0, 0));
                    vals.len() - 1
                };
                last = idx;
                if side == 0 {
                    counts[idx].0 += 1;
                } else {
                    counts[idx].1 += 1;
                }
            }
        }
        let mut order: Vec<usize> = (0..vals.len()).collect();
        order.sort_by(|&i, &j| vals[i].total_cmp(&vals[j]));
        Some(CategoryCounts {
            keys: order.iter().map(|&i| CategoryKey::Num(vals[i])).collect(),
            reference: order.iter().map(|&i| counts[i].0).collect(),
            current: order.iter().map(|&i| counts[i].1).collect(),
        })
    }

    /// [`CategoryCounts::from_f64`] on sorted, NaN-free inputs.
    pub fn from_sorted_f64(a: &[f64], b: &[f64]) -> Self {
        let (mut i, mut j) = (0usize, 0usize);
        let mut keys = Vec::new();
        let mut rc = Vec::new();
        let mut cc = Vec::new();
        while i < a.len() || j < b.len() {
            let v = if i < a.len() && (j >= b.len() || a[i] <= b[j]) { a[i] } else { b[j] };
            let (i0, j0) = (i, j);
            while i < a.len() && a[i] <= v {
                i += 1;
            }
            while j < b.len() && b[j] <= v {
                j += 1;
            }
            keys.push(CategoryKey::Num(v + 0.0));
            rc.push((i - i0) as u64);
            cc.push((j - j0) as u64);
        }
        CategoryCounts { keys, reference: rc, current: cc }
    }

    fn from_map(map: HashMap<CategoryKey, (u64, u64), FxBuild>) -> Self {
        let mut v: Vec<(CategoryKey, (u64, u64))> = map.into_iter().collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        let mut out = CategoryCounts { keys: Vec::new(), reference: Vec::new(), current: Vec::new() };
        for (k, (r, c)) in v {
            out.keys.push(k);
            out.reference.push(r);
            out.current.push(c);
        }
        out
    }

    /// Number of non-missing reference rows.
    pub fn n_reference(&self) -> u64 {
        self.reference.iter().sum()
    }

    /// Number of non-missing current rows.
    pub fn n_current(&self) -> u64 {
        self.current.iter().sum()
    }

    /// Distinct non-missing values over both samples (Evidently's `n_values` for the default test).
    pub fn n_unique(&self) -> usize {
        self.keys.len()
    }

    /// Distinct values present in the reference (`reference.nunique()`).
    pub fn n_unique_reference(&self) -> usize {
        self.reference.iter().filter(|&&c| c > 0).count()
    }

    pub(super) fn check(&self) -> Result<(u64, u64), StatError> {
        let (nr, nc) = (self.n_reference(), self.n_current());
        if nr == 0 {
            return Err(StatError::EmptyReference);
        }
        if nc == 0 {
            return Err(StatError::EmptyCurrent);
        }
        Ok((nr, nc))
    }

    /// Reference and current shares per key.
    pub(crate) fn shares(&self) -> Result<(Vec<f64>, Vec<f64>), StatError> {
        let (nr, nc) = self.check()?;
        let r = self.reference.iter().map(|&c| c as f64 / nr as f64).collect();
        let c = self.current.iter().map(|&c| c as f64 / nc as f64).collect();
        Ok((r, c))
    }
}
