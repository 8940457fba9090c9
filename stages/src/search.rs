//! The one search-space grammar of churnflow, shared by the `-S key=values` sweeps of
//! `churnflow exp run` (the engine's `experiments/overrides.rs`, which reads it from text) and
//! by `train.tune` (`model/tuning.rs`, which reads it from params.yaml). Each caller keeps its
//! own syntax and its own messages; the rules live here once:
//!
//! * **Numbers.** A computed value is rounded to 12 significant digits ([`number`]), so
//!   0.1 + 0.2 reads 0.3; a draw is first rounded to the caller's precision
//!   ([`round_significant`]).
//! * **Ranges.** `range(start, stop, step)`: start, start + step, … while before stop (stop
//!   excluded, as in Python). Whole numbers stay whole and a range that would overflow `i64`
//!   stops at the last value it reaches ([`int_range`]); a float range needs finite numbers
//!   and a step other than 0 ([`float_range`]). Both refuse more values than the caller's cap
//!   and a range with no values ([`RangeError`]).
//! * **Intervals.** `uniform(lo, hi)` / `loguniform(lo, hi)` need finite bounds, lo < hi, a
//!   finite width and, on a log scale, lo > 0 ([`check_interval`]); a draw maps a uniform
//!   `u` in [0, 1) onto the interval ([`scale`]).
//! * **Grids.** Every combination, the first key varying slowest: point *i* is *i* written in
//!   the mixed radix of the list lengths ([`grid_size`], [`grid_digits`]).
//! * **Seeded sampling.** [`SplitMix64`], written out so a seed's stream never changes under a
//!   dependency upgrade; [`distinct_indices`] draws grid points without repeats.
//! * **Did you mean.** [`did_you_mean`] suggests the closest known key for a likely typo (the
//!   engine's messages use it too).
//!
//! This module imports nothing of the crate (`tests/layering.rs`), so both the engine and the
//! model stages can stand on it. A new search expression (a form both `-S` and `train.tune`
//! accept) gets its rule here and one arm in each caller's parser.

use serde_json::Value;
use std::collections::HashMap;

/// A float as a param value, rounded to 12 significant digits (so 0.1 + 0.2 reads 0.3).
pub fn number(x: f64) -> Value {
    let rounded = round_significant(x, 12);
    serde_json::Number::from_f64(rounded).map(Value::Number).unwrap_or(Value::Null)
}

/// `x` rounded to `digits` significant digits (`digits >= 1`).
pub fn round_significant(x: f64, digits: usize) -> f64 {
    format!("{:.*e}", digits.saturating_sub(1), x).parse().unwrap_or(x)
}

/// Why a range gives no list of values. Each caller words the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    /// A whole-number range with step 0.
    ZeroStep,
    /// A float range with a bound or step that is not finite, or step 0.
    NotFinite,
    /// More values than the cap the caller gave.
    TooMany(usize),
    /// Stop is not past start in the step's direction.
    Empty,
}

/// `start, start + step, …` while before `stop` (above it, for a negative step), at most `max`
/// values. A range that would overflow `i64` stops at the last value it can reach.
pub fn int_range(start: i64, stop: i64, step: i64, max: usize) -> Result<Vec<Value>, RangeError> {
    if step == 0 {
        return Err(RangeError::ZeroStep);
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0 && x < stop) || (step < 0 && x > stop) {
        out.push(Value::from(x));
        if out.len() > max {
            return Err(RangeError::TooMany(max));
        }
        match x.checked_add(step) {
            Some(next) => x = next,
            None => break,
        }
    }
    non_empty(out)
}

/// `start + i · step` for every `i` that stays before `stop`, each rounded by [`number`], at
/// most `max` values.
pub fn float_range(start: f64, stop: f64, step: f64, max: usize) -> Result<Vec<Value>, RangeError> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
        return Err(RangeError::NotFinite);
    }
    let count = ((stop - start) / step - 1e-9).ceil().max(0.0);
    if count > max as f64 {
        return Err(RangeError::TooMany(max));
    }
    non_empty((0..count as usize).map(|i| number(start + i as f64 * step)).collect())
}

fn non_empty(values: Vec<Value>) -> Result<Vec<Value>, RangeError> {
    if values.is_empty() {
        Err(RangeError::Empty)
    } else {
        Ok(values)
    }
}

/// Why `[lo, hi]` cannot be drawn from. Each caller words the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalError {
    /// A bound that is not finite, or lo ≥ hi.
    Bounds,
    /// hi − lo is not a finite number (every draw would be infinite).
    Width,
    /// A log scale needs lo > 0.
    NotPositive,
}

/// Checks the bounds of `uniform(lo, hi)` (`log == false`) or `loguniform(lo, hi)`.
pub fn check_interval(lo: f64, hi: f64, log: bool) -> Result<(), IntervalError> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(IntervalError::Bounds);
    }
    if !(hi - lo).is_finite() {
        return Err(IntervalError::Width);
    }
    if log && lo <= 0.0 {
        return Err(IntervalError::NotPositive);
    }
    Ok(())
}

/// The point of `[lo, hi)` at `u` in [0, 1): linear, or linear in the logarithm.
pub fn scale(lo: f64, hi: f64, log: bool, u: f64) -> f64 {
    if log {
        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
    } else {
        lo + u * (hi - lo)
    }
}

/// Points of the grid of lists with these lengths; `None` when a length is `None` (an
/// interval) or the count overflows.
pub fn grid_size(lengths: impl IntoIterator<Item = Option<usize>>) -> Option<usize> {
    lengths.into_iter().try_fold(1usize, |n, len| n.checked_mul(len?))
}

/// The list positions of grid point `index`: `index` in the mixed radix of `lengths`, the last
/// list varying fastest.
pub fn grid_digits(lengths: &[usize], mut index: usize) -> Vec<usize> {
    let mut digits = vec![0; lengths.len()];
    for (digit, &len) in digits.iter_mut().zip(lengths).rev() {
        *digit = index % len;
        index /= len;
    }
    digits
}

/// `n` distinct indices of `0..size` (`n <= size`) in the order drawn: a partial Fisher–Yates
/// shuffle that never builds the list.
pub fn distinct_indices(size: usize, n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut swapped: HashMap<usize, usize> = HashMap::new();
    let mut picked = Vec::with_capacity(n);
    for k in 0..n {
        let j = k + (rng.next_u64() % (size - k) as u64) as usize;
        let at_j = *swapped.get(&j).unwrap_or(&j);
        let at_k = *swapped.get(&k).unwrap_or(&k);
        swapped.insert(j, at_k);
        picked.push(at_j);
    }
    picked
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo (the
/// Damerau–Levenshtein distance, at most 2 or a quarter of the candidate's length). Every
/// "did you mean" of churnflow, the engine's included, is this one.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(d, c)| d > 0 && d <= 2.max(c.len() / 4))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially seedable.
/// The same seed always gives the same stream, so the same sweep, search and model file.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// An independent stream for task `index` of a run seeded with `seed`.
    pub fn for_task(seed: u64, index: u64) -> Self {
        let mut base = SplitMix64::new(seed ^ 0x5851_F42D_4C95_7F2D);
        let mixed = base.next_u64() ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        SplitMix64::new(SplitMix64::new(mixed).next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) (the top 53 bits).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n > 0`). The bias is below 2^-32 for the
    /// sizes used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splitmix_reference_values_never_change() {
        // First outputs of SplitMix64 seeded with 1234567 (reference implementation by Vigna).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = SplitMix64::new(7);
        for n in [1usize, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }

    #[test]
    fn ranges_stop_before_stop_and_before_overflow() {
        assert_eq!(int_range(4, 12, 3, 100), Ok(vec![json!(4), json!(7), json!(10)]));
        assert_eq!(
            int_range(i64::MAX - 7, i64::MAX, 5, 100),
            Ok(vec![json!(i64::MAX - 7), json!(i64::MAX - 2)])
        );
        assert_eq!(int_range(3, 1, 1, 100), Err(RangeError::Empty));
        assert_eq!(int_range(1, 5, 0, 100), Err(RangeError::ZeroStep));
        assert_eq!(int_range(0, 10, 1, 5), Err(RangeError::TooMany(5)));
        assert_eq!(float_range(0.1, 0.4, 0.1, 100), Ok(vec![json!(0.1), json!(0.2), json!(0.3)]));
        assert_eq!(float_range(0.0, f64::INFINITY, 1.0, 100), Err(RangeError::NotFinite));
        assert_eq!(float_range(0.0, 1.0, 0.0, 100), Err(RangeError::NotFinite));
    }

    #[test]
    fn intervals_need_finite_ordered_bounds_and_a_finite_width() {
        assert_eq!(check_interval(0.01, 10.0, true), Ok(()));
        assert_eq!(check_interval(2.0, 1.0, false), Err(IntervalError::Bounds));
        assert_eq!(check_interval(f64::NAN, 1.0, false), Err(IntervalError::Bounds));
        assert_eq!(check_interval(-1e308, 1e308, false), Err(IntervalError::Width));
        assert_eq!(check_interval(0.0, 1.0, true), Err(IntervalError::NotPositive));
    }

    #[test]
    fn grid_points_are_mixed_radix_the_last_list_fastest() {
        assert_eq!(grid_size([Some(2), Some(3)]), Some(6));
        assert_eq!(grid_size([Some(2), None]), None);
        assert_eq!(grid_size([Some(usize::MAX), Some(2)]), None);
        let points: Vec<Vec<usize>> = (0..6).map(|i| grid_digits(&[2, 3], i)).collect();
        assert_eq!(points, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
        let picked = distinct_indices(100, 50, &mut SplitMix64::new(7));
        assert_eq!(picked.iter().collect::<std::collections::BTreeSet<_>>().len(), 50);
    }

    #[test]
    fn suggestions_are_close_keys_only() {
        assert_eq!(did_you_mean("learnig_rate", ["learning_rate", "l2"]), Some("learning_rate"));
        assert_eq!(did_you_mean("zzz", ["learning_rate", "l2"]), None);
    }
}
