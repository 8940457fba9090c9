//! Sorting and summation helpers shared by the statistics: f64s as order-preserving u64
//! keys (sorting, hashing), NumPy's pairwise summation, the population std, the input checks.

use super::*;
use std::hash::Hasher;

pub(super) fn check_nan(reference: &[f64], current: &[f64]) -> Result<(), StatError> {
    if reference.is_empty() {
        return Err(StatError::EmptyReference);
    }
    if current.is_empty() {
        return Err(StatError::EmptyCurrent);
    }
    if reference.iter().chain(current.iter()).any(|v| v.is_nan()) {
        return Err(StatError::ContainsNan);
    }
    Ok(())
}

/// An order-preserving `u64` key of a NaN-free f64 (`-0.0` before `0.0`): sorting the keys
/// sorts the values, and equal keys are the same bits, so every sort gives the same result.
#[inline]
pub(crate) fn f64_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1u64 << 63)
    }
}

#[inline]
pub(super) fn key_f64(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1u64 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Returns a sorted copy (ascending; `-0.0` before `0.0`; input must be NaN-free).
/// Sorts order-preserving `u64` keys (faster than comparing floats).
pub fn sorted_copy(values: &[f64]) -> Vec<f64> {
    sorted_from_keys(values.iter().map(|&v| f64_key(v)).collect())
}

/// The values of [`f64_key`] keys, sorted (in the keys' own allocation).
pub(crate) fn sorted_from_keys(mut keys: Vec<u64>) -> Vec<f64> {
    keys.sort_unstable();
    keys.into_iter().map(key_f64).collect()
}

/// Minimal Fx-style hasher (std-only) for value counting.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.add(w);
        }
        let mut tail = 0u64;
        for (i, &byte) in chunks.remainder().iter().enumerate() {
            tail |= (byte as u64) << (8 * i);
        }
        self.add(tail ^ bytes.len() as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

pub(crate) type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// NumPy's pairwise summation (`pairwise_sum` in `loops_utils.h`), used by `np.sum`.
pub(super) fn np_pairwise_sum(a: &[f64]) -> f64 {
    np_pairwise_sum_of(a, |x| x)
}

/// [`np_pairwise_sum`] of `f` of each element, in the same order of additions (as NumPy's
/// sum of the mapped array, without making that array).
pub(super) fn np_pairwise_sum_of(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += f(x);
        }
        res
    } else if n <= 128 {
        let mut r = [f(a[0]), f(a[1]), f(a[2]), f(a[3]), f(a[4]), f(a[5]), f(a[6]), f(a[7])];
        let mut i = 8;
        while i < n - (n % 8) {
            for k in 0..8 {
                r[k] += f(a[i + k]);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += f(a[i]);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        np_pairwise_sum_of(&a[..n2], f) + np_pairwise_sum_of(&a[n2..], f)
    }
}

/// Both samples hold at least one value.
pub(super) fn non_empty<T>(reference: &[T], current: &[T]) -> Result<(), StatError> {
    if reference.is_empty() {
        return Err(StatError::EmptyReference);
    }
    if current.is_empty() {
        return Err(StatError::EmptyCurrent);
    }
    Ok(())
}

/// `np.sum` of a 1-d float64 array (first element + pairwise sum of the rest).
pub(super) fn np_sum(a: &[f64]) -> f64 {
    if a.is_empty() {
        0.0
    } else {
        a[0] + np_pairwise_sum(&a[1..])
    }
}

/// Population standard deviation (`np.std(series)` → pandas `Series.std(ddof=0)`).
pub(super) fn std_ddof0(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    let mean = np_sum(a) / n;
    let sq = |x: f64| (mean - x) * (mean - x);
    // np.sum of the squared deviations, pairwise, without the temporary array
    let sum = if a.is_empty() { 0.0 } else { sq(a[0]) + np_pairwise_sum_of(&a[1..], sq) };
    (sum / n).sqrt()
}
