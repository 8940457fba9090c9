//! The Jensen–Shannon distance, natural log (`jensenshannon`).

use super::*;

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

pub(super) fn rel_entr(x: f64, y: f64) -> f64 {
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
