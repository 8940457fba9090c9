//! Pearson's chi-squared test on the value counts (`chisquare`).

use super::*;

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

/// The `chisquare` score of [`super::METHODS`]: the p-value of [`chisquare_test`].
pub(super) fn chisquare_score(counts: &CategoryCounts) -> Result<f64, StatError> {
    Ok(chisquare_test(counts)?.p_value)
}
