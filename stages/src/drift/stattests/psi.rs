//! The population stability index (`psi`) and its conventional bands.

use super::*;

/// Evidently's `feel_zeroes` replacement: zeros → (min non-zero)/1e6 if that min ≤ 1e-4,
/// else 1e-4.
pub(super) fn feel_zeroes(v: &mut [f64]) {
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

/// PSI of two share vectors, zeros replaced as Evidently does (`feel_zeroes`).
pub(crate) fn psi_from_shares(mut r: Vec<f64>, mut c: Vec<f64>) -> f64 {
    feel_zeroes(&mut r);
    feel_zeroes(&mut c);
    let terms: Vec<f64> = r.iter().zip(c.iter()).map(|(&a, &b)| (a - b) * (a / b).ln()).collect();
    np_sum(&terms)
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

/// The `psi` score of [`super::METHODS`]: [`psi_from_shares`] on copies of the shares.
pub(super) fn psi_score(r: &[f64], c: &[f64]) -> f64 {
    psi_from_shares(r.to_vec(), c.to_vec())
}
