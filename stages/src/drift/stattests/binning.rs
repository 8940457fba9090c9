//! Evidently's binning of a numerical column (NumPy's Sturges edges and histogram) into
//! the shares that Jensen–Shannon and PSI compare.

use super::*;

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
pub(super) fn sturges_edges(
    mn: f64,
    mx: f64,
    size: usize,
    integer_dtype: bool,
) -> Result<Vec<f64>, StatError> {
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
pub(super) fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
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
pub(super) fn histogram_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
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
pub(super) fn histogram_unsorted(values: &[f64], edges: &[f64]) -> Vec<u64> {
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
