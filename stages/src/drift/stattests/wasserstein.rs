//! The Wasserstein-1 distance normed by the reference std (`wasserstein`).

use super::*;

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
