//! Data-drift statistics reproducing **Evidently 0.7** (`evidently.legacy.calculations.stattests`)
//! data-drift defaults and the underlying **SciPy 1.17 / NumPy 2.x** numbers.
//!
//! Self-contained (std only). Everything here is an independent implementation written from
//! the behaviour of the reference libraries:
//!
//! | Evidently test | function here | score kind | default threshold | drift rule |
//! |---|---|---|---|---|
//! | `ks` ("K-S p_value") | [`ks_2samp`] | p-value | 0.05 | `p <= t` (sic, Evidently uses `<=` for KS) |
//! | `wasserstein` ("Wasserstein distance (normed)") | [`wasserstein_norm`] | distance | 0.1 | `d >= t` |
//! | `chisquare` ("chi-square p_value") | [`chisquare_test`] | p-value | 0.05 | `p < t` |
//! | `z` ("Z-test p_value") | [`z_test`] | p-value | 0.05 | `p < t` |
//! | `jensenshannon` ("Jensen-Shannon distance") | [`jensenshannon_numerical`], [`jensenshannon_categorical`] | distance | 0.1 | `d >= t` |
//! | `psi` ("PSI") | [`psi_numerical`], [`psi_categorical`] | distance | 0.1 | `d >= t` |
//!
//! The default test per column is chosen by [`default_method`]; the dataset-level verdict by
//! [`dataset_drift`]. Missing-value handling before the tests is reproduced by
//! [`clean_numeric`] / [`CategoryCounts`] (see their docs for an Evidently quirk with `±inf`).
//!
//! Numerical inputs are `&[f64]` without NaN (functions return [`StatError::ContainsNan`]
//! otherwise). Categorical inputs (strings, or low-cardinality numbers) are summarised once into
//! [`CategoryCounts`] (value counts over the union of keys), which all categorical tests consume.
//!
//! Complexity: KS / Wasserstein / binning are `O(n log n)` (f64s are sorted as order-preserving
//! u64 keys), except the exact two-sample KS p-value which SciPy (and therefore this module)
//! only uses when `max(n_ref, n_cur) <= 10_000`.

// The series and rational-function coefficients are Cephes'/SciPy's, written as published
// (more digits than an f64 holds; each parses to the nearest f64, as in C).
#![allow(clippy::excessive_precision)]

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

// ---------------------------------------------------------------------------------------------
// Errors, methods, defaults
// ---------------------------------------------------------------------------------------------

/// Why a statistic could not be computed (Evidently raises `ValueError` in these cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatError {
    /// The reference sample is empty (after dropping missing values).
    EmptyReference,
    /// The current sample is empty (after dropping missing values).
    EmptyCurrent,
    /// A numerical input contains NaN; call [`clean_numeric`] first.
    ContainsNan,
    /// A value needed for histogram binning is not finite (NumPy raises
    /// "autodetected range ... is not finite").
    NonFiniteRange,
}

impl fmt::Display for StatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            StatError::EmptyReference => "empty reference sample",
            StatError::EmptyCurrent => "empty current sample",
            StatError::ContainsNan => "input contains NaN",
            StatError::NonFiniteRange => "non-finite values in a binned column",
        };
        f.write_str(s)
    }
}

impl std::error::Error for StatError {}

/// Column kind as Evidently sees it (`ColumnType.Numerical` / `ColumnType.Categorical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Numerical column.
    Numerical,
    /// Categorical column (strings, or numbers declared categorical).
    Categorical,
}

/// Whether a drift score is a p-value (drift when small) or a distance (drift when large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// p-value: drift when below the threshold.
    PValue,
    /// distance / divergence: drift when at or above the threshold.
    Distance,
}

/// The drift statistics available here, with Evidently's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov test (`ks`).
    Ks,
    /// Wasserstein-1 distance normed by the reference std (`wasserstein`).
    WassersteinNorm,
    /// Pearson chi-squared test on value counts (`chisquare`).
    ChiSquare,
    /// Two-proportion Z-test (`z`).
    ZTest,
    /// Jensen–Shannon distance, natural log (`jensenshannon`).
    JensenShannon,
    /// Population stability index (`psi`).
    Psi,
}

impl Method {
    /// Evidently's registry name (`StatTest.name`).
    pub fn id(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::WassersteinNorm => "wasserstein",
            Method::ChiSquare => "chisquare",
            Method::ZTest => "z",
            Method::JensenShannon => "jensenshannon",
            Method::Psi => "psi",
        }
    }

    /// Evidently's display name (`StatTest.display_name`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Ks => "K-S p_value",
            Method::WassersteinNorm => "Wasserstein distance (normed)",
            Method::ChiSquare => "chi-square p_value",
            Method::ZTest => "Z-test p_value",
            Method::JensenShannon => "Jensen-Shannon distance",
            Method::Psi => "PSI",
        }
    }

    /// Whether the score is a p-value or a distance.
    pub fn kind(self) -> ScoreKind {
        match self {
            Method::Ks | Method::ChiSquare | Method::ZTest => ScoreKind::PValue,
            _ => ScoreKind::Distance,
        }
    }

    /// Evidently's default threshold (`StatTest.default_threshold`, 0.05 unless overridden).
    pub fn default_threshold(self) -> f64 {
        match self.kind() {
            ScoreKind::PValue => 0.05,
            ScoreKind::Distance => 0.1,
        }
    }

    /// Drift verdict exactly as each Evidently implementation compares: KS uses `p <= t`,
    /// chi-square and Z use `p < t`, distances use `d >= t`. NaN scores never drift.
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        match self {
            Method::Ks => score <= threshold,
            Method::ChiSquare | Method::ZTest => score < threshold,
            _ => score >= threshold,
        }
    }
}

/// Evidently's default test (`registry._get_default_stattest`) for non-text columns.
///
/// * `n_reference_rows`: reference length **after** NaN dropping (Evidently cleans first).
/// * `n_unique_over_both`: distinct non-missing values over reference ∪ current
///   (`pd.concat([ref, cur]).nunique()`).
///
/// ≤ 1000 reference rows: numerical with > 5 values → KS; otherwise chi-square, or Z-test when
/// ≤ 2 values. > 1000 rows: numerical with > 5 values → Wasserstein (normed), else
/// Jensen–Shannon.
pub fn default_method(kind: ColumnKind, n_reference_rows: usize, n_unique_over_both: usize) -> Method {
    let small_cat = |n: usize| if n > 2 { Method::ChiSquare } else { Method::ZTest };
    if n_reference_rows <= 1000 {
        match kind {
            ColumnKind::Numerical if n_unique_over_both > 5 => Method::Ks,
            _ => small_cat(n_unique_over_both),
        }
    } else {
        match kind {
            ColumnKind::Numerical if n_unique_over_both > 5 => Method::WassersteinNorm,
            _ => Method::JensenShannon,
        }
    }
}

/// Evidently's dataset verdict (`get_dataset_drift`, `drift_share = 0.5`):
/// `drifted / total >= 0.5`. Evidently divides by zero for `total == 0`; here that is `false`.
pub fn dataset_drift(drifted: usize, total: usize) -> bool {
    dataset_drift_with_share(drifted, total, 0.5)
}

/// [`dataset_drift`] with a custom `drift_share` (`share_of_drifted >= drift_share`).
pub fn dataset_drift_with_share(drifted: usize, total: usize, drift_share: f64) -> bool {
    if total == 0 {
        return false;
    }
    (drifted as f64 / total as f64) >= drift_share
}

/// Evidently's per-column cleaning of a numerical column.
///
/// Evidently (`get_one_column_drift`) replaces `±inf` by NaN and drops NaN — but in the
/// dataset-level path (`DataDriftPreset` / `DriftedColumnsCount`) it only does so when the
/// column of that dataset contains at least one NaN (`is_contains_nans`). Hence:
/// * `inf_quirk = true`: drop NaN and ±inf only if the slice contains a NaN (dataset-level path);
/// * `inf_quirk = false`: always drop NaN and ±inf (single-column `ValueDrift` path).
pub fn clean_numeric(values: &[f64], inf_quirk: bool) -> Vec<f64> {
    if inf_quirk && !values.iter().any(|v| v.is_nan()) {
        return values.to_vec();
    }
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

// ---------------------------------------------------------------------------------------------
// Sorting / summation helpers
// ---------------------------------------------------------------------------------------------

fn check_nan(reference: &[f64], current: &[f64]) -> Result<(), StatError> {
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
fn key_f64(k: u64) -> f64 {
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
fn np_pairwise_sum(a: &[f64]) -> f64 {
    np_pairwise_sum_of(a, |x| x)
}

/// [`np_pairwise_sum`] of `f` of each element, in the same order of additions (as NumPy's
/// sum of the mapped array, without making that array).
fn np_pairwise_sum_of(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
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
fn non_empty<T>(reference: &[T], current: &[T]) -> Result<(), StatError> {
    if reference.is_empty() {
        return Err(StatError::EmptyReference);
    }
    if current.is_empty() {
        return Err(StatError::EmptyCurrent);
    }
    Ok(())
}

/// `np.sum` of a 1-d float64 array (first element + pairwise sum of the rest).
fn np_sum(a: &[f64]) -> f64 {
    if a.is_empty() {
        0.0
    } else {
        a[0] + np_pairwise_sum(&a[1..])
    }
}

/// Population standard deviation (`np.std(series)` → pandas `Series.std(ddof=0)`).
fn std_ddof0(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    let mean = np_sum(a) / n;
    let sq = |x: f64| (mean - x) * (mean - x);
    // np.sum of the squared deviations, pairwise, without the temporary array
    let sum = if a.is_empty() { 0.0 } else { sq(a[0]) + np_pairwise_sum_of(&a[1..], sq) };
    (sum / n).sqrt()
}

// ---------------------------------------------------------------------------------------------
// Kolmogorov–Smirnov
// ---------------------------------------------------------------------------------------------

/// Result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// KS statistic `D` (on the exact path SciPy returns `round(D·lcm)/lcm`, reproduced here).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// `scipy.stats.ks_2samp(reference, current, alternative='two-sided', method='auto')`.
///
/// Exact p-value when `max(n1, n2) <= 10_000` (SciPy's `MAX_AUTO_N`), falling back to the
/// asymptotic path if the exact computation is not a valid probability; otherwise
/// `kstwo.sf(D, round(n1·n2/(n1+n2)))`. Inputs must be NaN-free (±inf are allowed, as in SciPy).
pub fn ks_2samp(reference: &[f64], current: &[f64]) -> Result<KsResult, StatError> {
    check_nan(reference, current)?;
    let a = sorted_copy(reference);
    let b = sorted_copy(current);
    ks_2samp_sorted(&a, &b)
}

/// [`ks_2samp`] on inputs already sorted ascending (no NaN). Lets callers reuse one sort for
/// KS, Wasserstein and binning.
pub fn ks_2samp_sorted(a: &[f64], b: &[f64]) -> Result<KsResult, StatError> {
    non_empty(a, b)?;
    let (n1, n2) = (a.len(), b.len());
    let (f1, f2) = (n1 as f64, n2 as f64);
    // Evaluate cdf1 - cdf2 at every distinct pooled value (after all ties).
    let (mut i, mut j) = (0usize, 0usize);
    let mut max_diff = f64::NEG_INFINITY;
    let mut min_diff = f64::INFINITY;
    while i < n1 || j < n2 {
        let v = if i < n1 && (j >= n2 || a[i] <= b[j]) { a[i] } else { b[j] };
        while i < n1 && a[i] <= v {
            i += 1;
        }
        while j < n2 && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / f1 - j as f64 / f2;
        if diff > max_diff {
            max_diff = diff;
        }
        if diff < min_diff {
            min_diff = diff;
        }
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    let mut d = if min_s > max_diff { min_s } else { max_diff };

    let g = gcd(n1 as u64, n2 as u64);
    let mut prob = f64::NAN;
    let mut exact_ok = false;
    if n1.max(n2) <= 10_000 {
        let lcm = (n1 as u64 / g) * n2 as u64;
        let h = (d * lcm as f64).round_ties_even() as i64;
        d = h as f64 / lcm as f64;
        if h == 0 {
            prob = 1.0;
            exact_ok = true;
        } else {
            let p = if n1 == n2 {
                prob_outside_square(n1 as i64, h)
            } else {
                outer_prob_inside(n1 as i64, n2 as i64, g as i64, h)
            };
            if p.is_finite() && (0.0..=1.0).contains(&p) {
                prob = p;
                exact_ok = true;
            }
        }
    }
    if !exact_ok {
        let (m, n) = if f1 >= f2 { (f1, f2) } else { (f2, f1) };
        let en = m * n / (m + n);
        prob = kstwo_sf(d, en.round_ties_even());
    }
    Ok(KsResult { statistic: d, p_value: prob.clamp(0.0, 1.0) })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// P(D_{n,n} >= h/n) for equal sample sizes (Horner-like alternating series).
fn prob_outside_square(n: i64, h: i64) -> f64 {
    let mut p = 0.0f64;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0f64;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Proportion of lattice paths leaving the band |x/m - y/n| < h/lcm (Hodges' inside method,
/// computing 1-p directly as in Viehmann 2021).
fn outer_prob_inside(m0: i64, n0: i64, g: i64, h: i64) -> f64 {
    let (m, n) = if m0 < n0 { (n0, m0) } else { (m0, n0) };
    let mg = m / g;
    let ng = n / g;
    let ceil_div = |a: i64, b: i64| -> i64 { -((-a).div_euclid(b)) };
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for v in a.iter_mut().take(maxj.max(0) as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        minj = ((ng * i - h).div_euclid(mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let src = (jj + minj - lastminj) as usize;
            let prev = if src < len_a { a[src] } else { 1.0 };
            val = (prev * fi + val * j as f64) / (fi + j as f64);
            if (jj as usize) < len_a {
                a[jj as usize] = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let lo = (maxj - minj) as usize;
            let hi = ((maxj - minj + (lastlen - curlen)) as usize).min(len_a);
            for v in a.iter_mut().take(hi).skip(lo) {
                *v = 1.0;
            }
        }
    }
    let idx = (maxj - minj - 1) as usize;
    if idx < len_a {
        a[idx]
    } else {
        f64::NAN
    }
}

// ---- one-sample two-sided Kolmogorov distribution (scipy.stats.kstwo), Simard & L'Ecuyer ----

const E128: f64 = 3.402823669209385e38; // 2^128
const EM128: f64 = 2.938735877055719e-39; // 2^-128

/// `scipy.stats.kstwo.sf(x, n)` (support `(0.5/n, 1)`), `n` integral-valued.
fn kstwo_sf(x: f64, n: f64) -> f64 {
    if x.is_nan() || n.is_nan() || n < 1.0 {
        return f64::NAN;
    }
    if x <= 0.5 / n {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    kolmogn_sf(n as i64, x).clamp(0.0, 1.0)
}

fn kolmogn_sf(n: i64, x: f64) -> f64 {
    let nf = n as f64;
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            let mut p = 1.0;
            for i in 1..=n {
                p *= i as f64 * (1.0 / nf) * (2.0 * t - 1.0);
            }
            p
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return 1.0 - prob;
    }
    if t >= nf - 1.0 {
        return 2.0 * (1.0 - x).powf(nf);
    }
    if x >= 0.5 {
        return 2.0 * smirnov_sf(n, x);
    }
    let nxsq = t * x;
    if n <= 140 {
        if nxsq <= 0.754693 {
            return 1.0 - kolmogn_dmtw_cdf(n, x);
        }
        if nxsq <= 4.0 {
            return 1.0 - kolmogn_pomeranz_cdf(n, x);
        }
        return 2.0 * smirnov_sf(n, x);
    }
    if nxsq >= 370.0 {
        return 0.0;
    }
    if nxsq >= 2.2 {
        return 2.0 * smirnov_sf(n, x);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        kolmogn_dmtw_cdf(n, x)
    } else {
        kolmogn_pelz_good_cdf(nf, x)
    };
    1.0 - cdf
}

fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    const C: [f64; 8] = [
        -2.955065359477124183e-2,
        6.4102564102564102564e-3,
        -1.9175269175269175269e-3,
        8.4175084175084175084e-4,
        -5.952380952380952381e-4,
        7.9365079365079365079e-4,
        -2.7777777777777777778e-3,
        8.3333333333333333333e-2,
    ];
    let rn = 1.0 / n;
    let x = rn / n;
    let mut poly = 0.0;
    for c in C {
        poly = poly * x + c;
    }
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            let row_b = &b[k * m..(k + 1) * m];
            let row_c = &mut c[i * m..(i + 1) * m];
            for j in 0..m {
                row_c[j] += aik * row_b[j];
            }
        }
    }
    c
}

/// Durbin matrix algorithm (Marsaglia–Tsang–Wang) for P(D_n <= d).
fn kolmogn_dmtw_cdf(n: i64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v = vec![0.0; m];
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        v[j - 1] = 1.0 - h.powi(j as i32);
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r + 1 - i];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut hp = vec![0.0; m * m];
    for i in 0..m {
        hp[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i32 = 0;
    let mut hexpnt: i32 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            hp = matmul(&hp, &hm, m);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm, m);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > E128 {
            for x in hm.iter_mut() {
                *x /= E128;
            }
            hexpnt += 128;
        }
        nn /= 2;
    }
    let mut p = hp[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < EM128 {
            p *= E128;
            expnt -= 128;
        }
    }
    if expnt != 0 {
        p *= 2f64.powi(expnt);
    }
    p.clamp(0.0, 1.0)
}

fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (d2, m2) = ((i + 1) / 2, (i + 1) % 2);
        if m2 == 0 {
            if d2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (d2 - 1 - ll - roundf - 1, d2 + ll - 1 + ceilf - 1)
            }
        } else {
            (d2 - 1 - ll - 1, d2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// Pomeranz recursion for P(D_n <= x), small n.
fn kolmogn_pomeranz_cdf(n: i64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = if f > 0.0 { 1 } else { 0 };
    let roundf = if f > 0.5 { 1 } else { 0 };
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gp = vec![1.0; npwrs];
    let mut tgp = vec![1.0; npwrs];
    let mut o2gp = vec![1.0; npwrs];
    let (gn, tgn, o2gn) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        gp[m] = gp[m - 1] * gn / m as f64;
        tgp[m] = tgp[m - 1] * tgn / m as f64;
        o2gp[m] = o2gp[m - 1] * o2gn / m as f64;
    }
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt: i32 = 0;
    let (mut j1, mut _j2) = pomeranz_j1j2(0, n, ll, ceilf, roundf);
    for i in 1..(2 * n + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        for v in v1.iter_mut() {
            *v = 0.0;
        }
        let (nj1, nj2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        j1 = nj1;
        _j2 = nj2;
        let pw: &[f64] = if i == 1 || i == 2 * n + 1 {
            &gp
        } else if i % 2 == 1 {
            &tgp
        } else {
            &o2gp
        };
        let ln2 = nj2 - k1 + 1;
        if ln2 > 0 {
            let start = (k1 - v0s).max(0) as usize;
            let end = (start + ln2 as usize).min(npwrs);
            let av = &v0[start.min(npwrs)..end];
            let bv = &pw[..(ln2 as usize).min(npwrs)];
            let conv_start = (nj1 - k1) as usize;
            let conv_len = (nj2 - nj1 + 1).max(0) as usize;
            let full = av.len() + bv.len() - 1;
            for (o, idx) in (conv_start..(conv_start + conv_len).min(full)).enumerate() {
                let lo = idx.saturating_sub(bv.len() - 1);
                let hi = idx.min(av.len() - 1);
                let mut s = 0.0;
                for q in lo..=hi {
                    s += av[q] * bv[idx - q];
                }
                if o < npwrs {
                    v1[o] = s;
                }
            }
            let mx = v1.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < mx && mx < EM128 {
                for v in v1.iter_mut() {
                    *v *= E128;
                }
                expnt -= 128;
            }
            v1s = v0s + nj1 - k1;
        }
    }
    let idx = (n - v1s) as usize;
    let mut ans = if idx < npwrs { v1[idx] } else { 0.0 };
    for m in 1..=n {
        if ans.abs() > E128 {
            ans *= EM128;
            expnt += 128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans *= 2f64.powi(expnt);
    }
    ans.clamp(0.0, 1.0)
}

/// Pelz–Good asymptotic approximation of P(D_n <= x).
fn kolmogn_pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qp = q.powf((8 * k) as f64);
        let coeffs = [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
        for i in 0..4 {
            kk[i] = kk[i] * qp + coeffs[i];
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for i in 0..4 {
        kk[i] = kk[i] * q * sqrt2pi / div[i];
    }
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2e, mut k3e) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ks2 = kf * kf;
        let qpw = q2.powf(ks2);
        k2e += ks2 * qpw;
        let kspi = PI * kf;
        k3e += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qpw;
    }
    kk[2] += k2e * (pi2 * sqrt2pi / (-36.0 * z3));
    kk[3] += k3e * (pi2 * sqrt2pi / (216.0 * z6));
    let mut sum = 0.0;
    for (i, v) in kk.iter().enumerate() {
        sum += v / n.powf(i as f64 / 2.0);
    }
    sum
}

/// One-sided Smirnov survival function `scipy.special.smirnov(n, x)` = P(D_n^+ >= x),
/// via the Birnbaum–Tingey sum evaluated in log space (all terms positive).
fn smirnov_sf(n: i64, x: f64) -> f64 {
    const MINLOG: f64 = -708.3964185322641;
    if !(n > 0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    let nf = n as f64;
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    // floor(n*x) and remainder, exact via fma
    let nx = nf * x;
    let err = nf.mul_add(x, -nx);
    let mut nxfl = nx.floor();
    let mut alpha = (nx - nxfl) + err;
    if alpha < 0.0 {
        nxfl -= 1.0;
        alpha += 1.0;
    }
    if alpha >= 1.0 {
        nxfl += 1.0;
        alpha -= 1.0;
    }
    let nxfl = nxfl as i64;
    let mut n1mxfl = n - nxfl - if alpha == 0.0 { 0 } else { 1 };
    if alpha == 0.0 {
        n1mxfl -= 1;
    }
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let t = ((nf - 1.0) * x.ln_1p()).exp();
        return 1.0 - x * t;
    }
    if -2.0 * nf * x * x < MINLOG {
        return 0.0;
    }
    if nxfl >= n - 1 {
        return (nf * (-x).ln_1p()).exp();
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 { logp.exp() } else { 1.0 + logp.exp_m1() };
    }
    // Lower sum: sf = x * sum_{v=0}^{n1mxfl} C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v)
    let n_terms = n1mxfl + 1;
    let vmid = n / 2;
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    let mut log_c = 0.0f64; // ln C(n, v)
    let mut log_c_comp = 0.0f64;
    for v in 0..n_terms {
        let vf = v as f64;
        let base1 = vf / nf + x;
        let base2 = (nf - vf) / nf - x;
        let lt = log_c + (vf - 1.0) * base1.ln() + (nf - vf) * base2.ln();
        let aj = lt.exp();
        // Neumaier summation
        let s = sum + aj;
        if sum.abs() >= aj.abs() {
            comp += (sum - s) + aj;
        } else {
            comp += (aj - s) + sum;
        }
        sum = s;
        if aj != 0.0 {
            if 4.0 * (n_terms - v) as f64 * aj.abs() < f64::EPSILON * (sum + comp) && v != n_terms - 1 {
                break;
            }
        } else if v > vmid {
            break;
        }
        // update ln C(n, v) -> ln C(n, v+1) with compensated accumulation
        let inc = ((nf - vf) / (vf + 1.0)).ln();
        let y = inc - log_c_comp;
        let tt = log_c + y;
        log_c_comp = (tt - log_c) - y;
        log_c = tt;
    }
    (x * (sum + comp)).clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------------------------
// Wasserstein
// ---------------------------------------------------------------------------------------------

/// Evidently `wasserstein`: `scipy.stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)`
/// (population std). Drift when `>= 0.1`. Inputs must be NaN-free.
pub fn wasserstein_norm(reference: &[f64], current: &[f64]) -> Result<f64, StatError> {
    check_nan(reference, current)?;
    let a = sorted_copy(reference);
    let b = sorted_copy(current);
    wasserstein_norm_sorted(&a, &b)
}

/// [`wasserstein_norm`] on sorted inputs.
pub fn wasserstein_norm_sorted(a: &[f64], b: &[f64]) -> Result<f64, StatError> {
    let w = wasserstein_distance_sorted(a, b)?;
    let norm = std_ddof0(a).max(0.001);
    Ok(w / norm)
}

/// `scipy.stats.wasserstein_distance(u, v)` (unweighted) on sorted inputs.
pub fn wasserstein_distance_sorted(a: &[f64], b: &[f64]) -> Result<f64, StatError> {
    non_empty(a, b)?;
    let (n1, n2) = (a.len(), b.len());
    let (f1, f2) = (n1 as f64, n2 as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    // walk pooled sorted values; between consecutive distinct pooled values the CDFs are constant
    let mut prev: Option<f64> = None;
    while i < n1 || j < n2 {
        let v = if i < n1 && (j >= n2 || a[i] <= b[j]) { a[i] } else { b[j] };
        if let Some(p) = prev {
            let delta = v - p;
            let term = (i as f64 / f1 - j as f64 / f2).abs() * delta;
            let s = sum + term;
            if sum.abs() >= term.abs() {
                comp += (sum - s) + term;
            } else {
                comp += (term - s) + sum;
            }
            sum = s;
        }
        while i < n1 && a[i] <= v {
            i += 1;
        }
        while j < n2 && b[j] <= v {
            j += 1;
        }
        prev = Some(v);
    }
    Ok(sum + comp)
}

// ---------------------------------------------------------------------------------------------
// Categorical value counts
// ---------------------------------------------------------------------------------------------

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

    fn check(&self) -> Result<(u64, u64), StatError> {
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

// ---------------------------------------------------------------------------------------------
// Chi-squared, Z-test
// ---------------------------------------------------------------------------------------------

/// Result of [`chisquare_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquareResult {
    /// Pearson statistic Σ (obs − exp)² / exp (`inf` if a key is absent from the reference).
    pub statistic: f64,
    /// `chi2.sf(statistic, k − 1)`; NaN when there is a single key (SciPy: `chdtrc(0, 0) = nan`).
    pub p_value: f64,
}

/// Evidently `chisquare`: expected = reference counts × n_cur / n_ref, observed = current counts,
/// `scipy.stats.chisquare(f_obs, f_exp)`. Drift when `p < 0.05`.
pub fn chisquare_test(counts: &CategoryCounts) -> Result<ChiSquareResult, StatError> {
    let (nr, nc) = counts.check()?;
    let k_norm = nc as f64 / nr as f64;
    let terms: Vec<f64> = counts
        .reference
        .iter()
        .zip(counts.current.iter())
        .map(|(&r, &c)| {
            let e = r as f64 * k_norm;
            let o = c as f64;
            (o - e) * (o - e) / e
        })
        .collect();
    let stat = np_sum(&terms);
    let df = terms.len() as f64 - 1.0;
    Ok(ChiSquareResult { statistic: stat, p_value: chi2_sf(df, stat) })
}

/// Evidently `z` (two-proportion Z-test): indicator "value != smallest key"; p = 2(1 − Φ(|z|)).
/// Returns `p = 1` when both samples hold the same single value. Drift when `p < 0.05`.
pub fn z_test(counts: &CategoryCounts) -> Result<f64, StatError> {
    let (nr, nc) = counts.check()?;
    let ref_unique = counts.n_unique_reference();
    let cur_unique = counts.current.iter().filter(|&&c| c > 0).count();
    if ref_unique == 1 && cur_unique == 1 {
        let ri = counts.reference.iter().position(|&c| c > 0);
        let ci = counts.current.iter().position(|&c| c > 0);
        if ri == ci {
            return Ok(1.0);
        }
    }
    // keys are sorted: index 0 is the minimum key
    let (n1, n2) = (nr as f64, nc as f64);
    let s1 = (nr - counts.reference[0]) as f64;
    let s2 = (nc - counts.current[0]) as f64;
    let p1 = s1 / n1;
    let p2 = s2 / n2;
    let p = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
    Ok(2.0 * (1.0 - ndtr(z.abs())))
}

// ---------------------------------------------------------------------------------------------
// Binning, Jensen–Shannon, PSI
// ---------------------------------------------------------------------------------------------

/// Evidently's `get_binned_data` for a **numerical** column (n = 30 is unused by Evidently's
/// code path): if the reference has > 20 distinct values, NumPy `'sturges'` bin edges over the
/// concatenated data and `np.histogram` counts (last bin closed) divided by each sample's length;
/// otherwise per-value shares over the union of values.
///
/// `integer_dtype` must be `true` iff pandas would hold the concatenated column as an integer
/// dtype (NumPy then clamps the Sturges width to ≥ 1). Returns `(reference_shares, current_shares)`
/// without zero replacement.
pub fn binned_shares_numerical(
    reference: &[f64],
    current: &[f64],
    integer_dtype: bool,
) -> Result<(Vec<f64>, Vec<f64>), StatError> {
    check_nan(reference, current)?;
    // reference.nunique() > 20 ?
    let mut seen: Vec<f64> = Vec::with_capacity(21);
    for &x in reference {
        if !seen.contains(&x) {
            seen.push(x);
            if seen.len() > 20 {
                break;
            }
        }
    }
    if seen.len() <= 20 {
        return CategoryCounts::from_f64(reference, current).shares();
    }
    let (mut mn, mut mx) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in reference.iter().chain(current.iter()) {
        mn = mn.min(x);
        mx = mx.max(x);
    }
    let edges = sturges_edges(mn, mx, reference.len() + current.len(), integer_dtype)?;
    let r = histogram_unsorted(reference, &edges)
        .into_iter()
        .map(|c| c as f64 / reference.len() as f64)
        .collect();
    let c =
        histogram_unsorted(current, &edges).into_iter().map(|c| c as f64 / current.len() as f64).collect();
    Ok((r, c))
}

/// [`binned_shares_numerical`] on sorted, NaN-free inputs.
pub fn binned_shares_numerical_sorted(
    a: &[f64],
    b: &[f64],
    integer_dtype: bool,
) -> Result<(Vec<f64>, Vec<f64>), StatError> {
    non_empty(a, b)?;
    let Some(edges) = binning_edges_sorted(a, b, integer_dtype)? else {
        return CategoryCounts::from_sorted_f64(a, b).shares();
    };
    let r = histogram_sorted(a, &edges).into_iter().map(|c| c as f64 / a.len() as f64).collect();
    let c = histogram_sorted(b, &edges).into_iter().map(|c| c as f64 / b.len() as f64).collect();
    Ok((r, c))
}

/// The Sturges edges [`binned_shares_numerical_sorted`] bins with, or `None` when the reference
/// has ≤ 20 distinct values and the shares are per value. Inputs sorted, NaN-free, non-empty.
pub(crate) fn binning_edges_sorted(
    a: &[f64],
    b: &[f64],
    integer_dtype: bool,
) -> Result<Option<Vec<f64>>, StatError> {
    non_empty(a, b)?;
    let mut n_vals = 0usize;
    for (i, &v) in a.iter().enumerate() {
        if i == 0 || v != a[i - 1] {
            n_vals += 1;
            if n_vals > 20 {
                break;
            }
        }
    }
    if n_vals <= 20 {
        return Ok(None);
    }
    let mn = a[0].min(b[0]);
    let mx = a[a.len() - 1].max(b[b.len() - 1]);
    sturges_edges(mn, mx, a.len() + b.len(), integer_dtype).map(Some)
}

/// `np.histogram_bin_edges(concat, bins='sturges')` given the pooled min, max and size.
fn sturges_edges(mn: f64, mx: f64, size: usize, integer_dtype: bool) -> Result<Vec<f64>, StatError> {
    if !(mn.is_finite() && mx.is_finite()) {
        return Err(StatError::NonFiniteRange);
    }
    let (mut first, mut last) = (mn, mx);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let size = size as f64;
    let mut width = (mx - mn) / (size.log2() + 1.0);
    let n_bins = if width != 0.0 {
        if integer_dtype && width < 1.0 {
            width = 1.0;
        }
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    Ok(np_linspace(first, last, n_bins + 1))
}

/// `np.linspace(start, stop, num)` (endpoint=True, float64).
fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = num as f64 - 1.0;
    let delta = stop - start;
    let mut y: Vec<f64> = (0..num).map(|i| i as f64).collect();
    if num > 1 {
        let step = delta / div;
        if step == 0.0 {
            for v in y.iter_mut() {
                *v = *v / div * delta;
            }
        } else {
            for v in y.iter_mut() {
                *v *= step;
            }
        }
    } else {
        for v in y.iter_mut() {
            *v *= delta;
        }
    }
    for v in y.iter_mut() {
        *v += start;
    }
    if num > 1 {
        y[num - 1] = stop;
    }
    y
}

/// `np.histogram(sorted_values, edges)[0]`: bin i = [e_i, e_{i+1}), last bin closed.
fn histogram_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let nb = edges.len() - 1;
    let mut cum = Vec::with_capacity(edges.len());
    for (k, &e) in edges.iter().enumerate() {
        if k < nb {
            cum.push(sorted.partition_point(|&x| x < e));
        } else {
            cum.push(sorted.partition_point(|&x| x <= e));
        }
    }
    (0..nb).map(|k| cum[k + 1].saturating_sub(cum[k]) as u64).collect()
}

/// `np.histogram(values, edges)[0]` without sorting: bin = #(edges[..nb] <= x) - 1
/// (values outside [e_0, e_nb] are ignored, x == e_nb goes to the last bin).
fn histogram_unsorted(values: &[f64], edges: &[f64]) -> Vec<u64> {
    let nb = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[nb]);
    let inner = &edges[..nb];
    let mut counts = vec![0u64; nb];
    for &x in values {
        if x < lo || x > hi {
            continue;
        }
        let c = inner.partition_point(|&e| e <= x);
        counts[c - 1] += 1;
    }
    counts
}

/// Evidently's `feel_zeroes` replacement: zeros → (min non-zero)/1e6 if that min ≤ 1e-4,
/// else 1e-4.
fn feel_zeroes(v: &mut [f64]) {
    let mn = v.iter().copied().filter(|&x| x != 0.0).fold(f64::INFINITY, f64::min);
    if !mn.is_finite() {
        return; // all zero: Python would raise on min([]); leave as is
    }
    let rep = if mn <= 0.0001 { mn / 1e6 } else { 0.0001 };
    for x in v.iter_mut() {
        if *x == 0.0 {
            *x = rep;
        }
    }
}

/// `scipy.spatial.distance.jensenshannon(p, q)` (natural log).
pub fn jensenshannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let sp = np_sum(p);
    let sq = np_sum(q);
    let mut left = Vec::with_capacity(p.len());
    let mut right = Vec::with_capacity(p.len());
    for (&pi, &qi) in p.iter().zip(q.iter()) {
        let (pn, qn) = (pi / sp, qi / sq);
        let m = (pn + qn) / 2.0;
        left.push(rel_entr(pn, m));
        right.push(rel_entr(qn, m));
    }
    let js = np_sum(&left) + np_sum(&right);
    (js / 2.0).sqrt()
}

fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// PSI of two share vectors, zeros replaced as Evidently does (`feel_zeroes`).
pub(crate) fn psi_from_shares(mut r: Vec<f64>, mut c: Vec<f64>) -> f64 {
    feel_zeroes(&mut r);
    feel_zeroes(&mut c);
    let terms: Vec<f64> = r.iter().zip(c.iter()).map(|(&a, &b)| (a - b) * (a / b).ln()).collect();
    np_sum(&terms)
}

/// Evidently `jensenshannon` for a numerical column (binning of [`binned_shares_numerical`],
/// no zero replacement). Drift when `>= 0.1`.
pub fn jensenshannon_numerical(
    reference: &[f64],
    current: &[f64],
    integer_dtype: bool,
) -> Result<f64, StatError> {
    let (r, c) = binned_shares_numerical(reference, current, integer_dtype)?;
    Ok(jensenshannon_distance(&r, &c))
}

/// Evidently `jensenshannon` for a categorical column (per-value shares). Drift when `>= 0.1`.
pub fn jensenshannon_categorical(counts: &CategoryCounts) -> Result<f64, StatError> {
    let (r, c) = counts.shares()?;
    Ok(jensenshannon_distance(&r, &c))
}

/// Evidently `psi` for a numerical column (binning of [`binned_shares_numerical`], zeros
/// replaced). Drift when `>= 0.1`; see [`psi_band`].
pub fn psi_numerical(reference: &[f64], current: &[f64], integer_dtype: bool) -> Result<f64, StatError> {
    let (r, c) = binned_shares_numerical(reference, current, integer_dtype)?;
    Ok(psi_from_shares(r, c))
}

/// Evidently `psi` for a categorical column (per-value shares, zeros replaced).
pub fn psi_categorical(counts: &CategoryCounts) -> Result<f64, StatError> {
    let (r, c) = counts.shares()?;
    Ok(psi_from_shares(r, c))
}

/// Conventional PSI bands: `< 0.1` "none", `< 0.25` "moderate", otherwise "major"
/// (NaN → "major" is avoided: NaN returns "none").
pub fn psi_band(value: f64) -> &'static str {
    if value >= 0.25 {
        "major"
    } else if value >= 0.1 {
        "moderate"
    } else {
        "none"
    }
}

// ---------------------------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------------------------

fn polevl(x: f64, c: &[f64]) -> f64 {
    c.iter().fold(0.0, |acc, &k| acc * x + k)
}

fn p1evl(x: f64, c: &[f64]) -> f64 {
    c.iter().fold(1.0, |acc, &k| acc * x + k)
}

const ERFC_P: [f64; 9] = [
    2.46196981473530512524E-10,
    5.64189564831068821977E-1,
    7.46321056442269912687E0,
    4.86371970985681366614E1,
    1.96520832956077098242E2,
    5.26445194995477358631E2,
    9.34528527171957607540E2,
    1.02755188689515710272E3,
    5.57535335369399327526E2,
];
const ERFC_Q: [f64; 8] = [
    1.32281951154744992508E1,
    8.67072140885989742329E1,
    3.54937778887819891062E2,
    9.75708501743205489753E2,
    1.82390916687909736289E3,
    2.24633760818710981792E3,
    1.65666309194161350182E3,
    5.57535340817727675546E2,
];
const ERFC_R: [f64; 6] = [
    5.64189583547755073984E-1,
    1.27536670759978104416E0,
    5.01905042251180477414E0,
    6.16021097993053585195E0,
    7.40974269950448939160E0,
    2.97886665372100240670E0,
];
const ERFC_S: [f64; 6] = [
    2.26052863220117276590E0,
    9.39603524938001434673E0,
    1.20489539808096656605E1,
    1.70814450747565897222E1,
    9.60896809063285878198E0,
    3.36907645100081516050E0,
];
const ERF_T: [f64; 5] = [
    9.60497373987051638749E0,
    9.00260197203842689217E1,
    2.23200534594684319226E3,
    7.00332514112805075473E3,
    5.55923013010394962768E4,
];
const ERF_U: [f64; 5] = [
    3.35617141647503099647E1,
    5.21357949780152679795E2,
    4.59432382970980127987E3,
    2.26290000613890934246E4,
    4.92673942608635921086E4,
];

/// Error function (Cephes rational approximations, ~1e-16 relative).
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return -erf(-x);
    }
    if x > 1.0 {
        return 1.0 - erfc(x);
    }
    let z = x * x;
    x * polevl(z, &ERF_T) / p1evl(z, &ERF_U)
}

/// Complementary error function (Cephes rational approximations).
pub fn erfc(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a.abs();
    if x < 1.0 {
        return 1.0 - erf(a);
    }
    let z = -a * a;
    if z < -709.782712893384 {
        return if a < 0.0 { 2.0 } else { 0.0 };
    }
    let z = z.exp();
    let (p, q) = if x < 8.0 {
        (polevl(x, &ERFC_P), p1evl(x, &ERFC_Q))
    } else {
        (polevl(x, &ERFC_R), p1evl(x, &ERFC_S))
    };
    let mut y = (z * p) / q;
    if a < 0.0 {
        y = 2.0 - y;
    }
    if y == 0.0 {
        return if a < 0.0 { 2.0 } else { 0.0 };
    }
    y
}

/// Standard normal CDF Φ (`scipy.special.ndtr`).
pub fn ndtr(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < 1.0 {
        0.5 + 0.5 * erf(x)
    } else {
        let y = 0.5 * erfc(z);
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

/// ln Γ(x) for x > 0 (Lanczos g = 7, n = 9; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_93,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_13,
        -176.615_029_162_140_59,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_571_6e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Stirling-series remainder: ln Γ(a) − [(a − ½) ln a − a + ½ ln 2π], for a ≥ 10.
fn stirlerr(a: f64) -> f64 {
    let r = 1.0 / a;
    let r2 = r * r;
    r * (1.0 / 12.0
        - r2 * (1.0 / 360.0
            - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 - r2 * (1.0 / 1188.0 - r2 * 691.0 / 360360.0)))))
}

/// ln(x^a e^{-x} / Γ(a)), computed without cancellation for large a.
fn log_igam_prefactor(a: f64, x: f64) -> f64 {
    if a >= 10.0 {
        let t = (x - a) / a;
        let l1pmx = if t.abs() < 0.25 {
            // ln(1+t) - t = -t²/2 + t³/3 - ... (converges fast for |t| < 1/4)
            let mut sum = 0.0;
            let mut pw = t * t;
            let mut k = 2.0;
            loop {
                let term = pw / k;
                let sgn = if (k as i64) % 2 == 0 { -1.0 } else { 1.0 };
                sum += sgn * term;
                if term.abs() <= 1e-17 * sum.abs() {
                    break;
                }
                pw *= t;
                k += 1.0;
                if k > 200.0 {
                    break;
                }
            }
            sum
        } else {
            t.ln_1p() - t
        };
        a * l1pmx + 0.5 * (a / (2.0 * std::f64::consts::PI)).ln() - stirlerr(a)
    } else {
        a * x.ln() - x - ln_gamma(a)
    }
}

/// Regularized upper incomplete gamma Q(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || x < 0.0 || a < 0.0 {
        return f64::NAN;
    }
    if a == 0.0 {
        return if x > 0.0 { 0.0 } else { f64::NAN };
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let lp = log_igam_prefactor(a, x);
    if x < a + 1.0 {
        // series for P
        let mut ap = a;
        let mut term = 1.0 / a;
        let mut sum = term;
        for _ in 0..100_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - lp.exp() * sum
    } else {
        // Lentz continued fraction for Q
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..100_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        lp.exp() * h
    }
}

/// Chi-squared survival function `scipy.special.chdtrc(df, x)` = Q(df/2, x/2).
pub fn chi2_sf(df: f64, x: f64) -> f64 {
    if x.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    gamma_q(df / 2.0, x / 2.0)
}
