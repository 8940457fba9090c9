//! L2-regularised, class-weighted logistic regression fitted by Newton's method.
//!
//! Why not linfa-logistic: it has no sample weights (class weighting is required), and its
//! `predict_probabilities` returns P(more frequent training label) (linfa issue #393), which
//! for churn is P(stay). This solver models P(churned = 1) directly; a test cross-checks its
//! coefficients against linfa-logistic's and pins the orientation.
//!
//! Objective (same as scikit-learn's `LogisticRegression(C = 1 / l2)` with `sample_weight`):
//! `Σ_i w_i · logloss(y_i, σ(b + x_i·β)) + l2/2 · ‖β‖²`, intercept `b` unpenalised, over the
//! standardised one-hot inputs. Newton steps with step halving; the Hessian is summed over
//! fixed row blocks in block order, so the result does not depend on the thread count.

use crate::model::encoded::{Encoded, FeatureSpec, Source};
use rayon::prelude::*;

/// The fit failed: the inputs are collinear and the fit is not unique.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "logistic regression: the inputs are collinear and the fit is not unique; \
     set train.l2 above 0 (e.g. 1.0) or drop the duplicated columns"
)]
pub(crate) struct Collinear;

/// The fitted coefficients.
#[derive(Debug, Clone)]
pub(crate) struct Fitted {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub iterations: u32,
    pub converged: bool,
}

const BLOCK: usize = 2048;

/// `(mean, std)` of every expanded input (one-hot inputs are not scaled: `(0, 1)`).
fn scales(features: &[FeatureSpec]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for f in features {
        match f {
            FeatureSpec::Numeric { mean, std, log1p, .. } => {
                out.push((*mean, *std));
                if let Some([m, s]) = log1p {
                    out.push((*m, *s));
                }
            }
            FeatureSpec::Categorical { categories, .. } => out.extend(categories.iter().map(|_| (0.0, 1.0))),
        }
    }
    out
}

/// Standardised dense design matrix, row-major, with a trailing 1 for the intercept.
fn design(features: &[FeatureSpec], data: &Encoded) -> (Vec<f64>, usize) {
    let scales = scales(features);
    let p = data.sources.len() + 1;
    let mut x = vec![0.0; data.n * p];
    x.par_chunks_mut(p).enumerate().for_each(|(r, row)| {
        for (j, s) in data.sources.iter().enumerate() {
            row[j] = match *s {
                Source::OneHot(c, k) => f64::from(u8::from(data.categorical[c][r] == k)),
                _ => (data.value(r, j) - scales[j].0) / scales[j].1,
            };
        }
        row[p - 1] = 1.0;
    });
    (x, p)
}

/// `log(1 + e^z)` without overflow.
#[inline]
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

#[inline]
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn objective(x: &[f64], p: usize, y: &[u8], w: &[f64], beta: &[f64], l2: f64) -> f64 {
    let partial: Vec<f64> = x
        .par_chunks(BLOCK * p)
        .enumerate()
        .map(|(b, block)| {
            let mut s = 0.0;
            for (i, row) in block.chunks_exact(p).enumerate() {
                let r = b * BLOCK + i;
                let z: f64 = row.iter().zip(beta).map(|(a, c)| a * c).sum();
                s += w[r] * (softplus(z) - f64::from(y[r]) * z);
            }
            s
        })
        .collect();
    partial.iter().sum::<f64>() + 0.5 * l2 * beta[..p - 1].iter().map(|b| b * b).sum::<f64>()
}

/// Fits the model. `weights` are per-row sample weights (class weights).
pub(crate) fn fit(
    features: &[FeatureSpec],
    data: &Encoded,
    y: &[u8],
    weights: &[f64],
    l2: f64,
    max_iterations: u32,
    tolerance: f64,
) -> Result<Fitted, Collinear> {
    let (x, p) = design(features, data);
    let mut beta = vec![0.0; p];
    let mut loss = objective(&x, p, y, weights, &beta, l2);
    let mut converged = false;
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        // Gradient and Hessian (upper triangle), summed per block then in block order.
        let partial: Vec<(Vec<f64>, Vec<f64>)> = x
            .par_chunks(BLOCK * p)
            .enumerate()
            .map(|(b, block)| {
                let mut g = vec![0.0; p];
                let mut h = vec![0.0; p * p];
                for (i, row) in block.chunks_exact(p).enumerate() {
                    let r = b * BLOCK + i;
                    let z: f64 = row.iter().zip(&beta).map(|(a, c)| a * c).sum();
                    let mu = sigmoid(z);
                    let resid = weights[r] * (mu - f64::from(y[r]));
                    let curv = weights[r] * mu * (1.0 - mu);
                    for j in 0..p {
                        let xj = row[j];
                        if xj == 0.0 {
                            continue;
                        }
                        g[j] += resid * xj;
                        let cx = curv * xj;
                        let hrow = &mut h[j * p..(j + 1) * p];
                        for k in j..p {
                            hrow[k] += cx * row[k];
                        }
                    }
                }
                (g, h)
            })
            .collect();
        let mut g = vec![0.0; p];
        let mut h = vec![0.0; p * p];
        for (pg, ph) in &partial {
            for (a, b) in g.iter_mut().zip(pg) {
                *a += b;
            }
            for (a, b) in h.iter_mut().zip(ph) {
                *a += b;
            }
        }
        for j in 0..p - 1 {
            g[j] += l2 * beta[j];
            h[j * p + j] += l2;
        }
        for j in 0..p {
            for k in 0..j {
                h[j * p + k] = h[k * p + j];
            }
        }
        let step = cholesky_solve(&mut h, &g, p).ok_or(Collinear)?;
        // Step halving until the objective does not increase.
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - scale * s).collect();
            let trial_loss = objective(&x, p, y, weights, &trial, l2);
            if trial_loss.is_finite() && trial_loss <= loss + 1e-12 * loss.abs().max(1.0) {
                let change = (loss - trial_loss).abs();
                let max_step = step.iter().map(|s| (scale * s).abs()).fold(0.0, f64::max);
                beta = trial;
                loss = trial_loss;
                accepted = true;
                if max_step < tolerance || change <= 1e-14 * loss.abs().max(1.0) {
                    converged = true;
                }
                break;
            }
            scale /= 2.0;
        }
        if !accepted || converged {
            converged = true;
            break;
        }
    }
    Ok(Fitted { intercept: beta[p - 1], coefficients: beta[..p - 1].to_vec(), iterations, converged })
}

/// Solves `A x = b` for symmetric positive definite `A` (overwritten by its Cholesky factor).
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 1e-12 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * z[k];
        }
        z[i] = s / a[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in i + 1..n {
            s -= a[k * n + i] * x[k];
        }
        x[i] = s / a[i * n + i];
    }
    Some(x)
}

/// P(churned = 1) per row, computed column by column from the encoded table (no dense matrix).
pub(crate) fn predict(
    features: &[FeatureSpec],
    intercept: f64,
    coefficients: &[f64],
    data: &Encoded,
) -> Vec<f64> {
    let scales = scales(features);
    let mut z = vec![intercept; data.n];
    let mut done_categorical = vec![false; data.categorical.len()];
    for (j, source) in data.sources.iter().enumerate() {
        match *source {
            Source::Numeric(c) => {
                let (coef, (m, s)) = (coefficients[j], scales[j]);
                z.par_iter_mut()
                    .zip(data.numeric[c].par_iter())
                    .for_each(|(z, x)| *z += coef * ((x - m) / s));
            }
            Source::Log1p(c) => {
                let (coef, (m, s)) = (coefficients[j], scales[j]);
                z.par_iter_mut()
                    .zip(data.numeric[c].par_iter())
                    .for_each(|(z, x)| *z += coef * ((x.max(0.0).ln_1p() - m) / s));
            }
            Source::OneHot(c, k) => {
                // All categories of a column at once: one lookup per row.
                if done_categorical[c] {
                    continue;
                }
                done_categorical[c] = true;
                let start = j - k as usize;
                let width = data.sources[start..]
                    .iter()
                    .take_while(|s| matches!(s, Source::OneHot(c2, _) if *c2 == c))
                    .count();
                let coefs = &coefficients[start..start + width];
                z.par_iter_mut().zip(data.categorical[c].par_iter()).for_each(|(z, &k)| {
                    if let Some(v) = coefs.get(k as usize) {
                        *z += v;
                    }
                });
            }
        }
    }
    z.into_par_iter().map(sigmoid).collect()
}

/// P(churned = 1) of row `r` alone: the same sums in the same order as [`predict`], so the
/// result is bit for bit what `predict` gives that row (serving scores one customer at a time).
pub(crate) fn predict_one(
    features: &[FeatureSpec],
    intercept: f64,
    coefficients: &[f64],
    data: &Encoded,
    r: usize,
) -> f64 {
    let scales = scales(features);
    let mut z = intercept;
    for (j, source) in data.sources.iter().enumerate() {
        match *source {
            Source::Numeric(c) => {
                let (m, s) = scales[j];
                z += coefficients[j] * ((data.numeric[c][r] - m) / s);
            }
            Source::Log1p(c) => {
                let (m, s) = scales[j];
                z += coefficients[j] * ((data.numeric[c][r].max(0.0).ln_1p() - m) / s);
            }
            Source::OneHot(c, k) => {
                // The column's first input adds the coefficient of the row's category.
                if k == 0 {
                    let width = data.sources[j..]
                        .iter()
                        .take_while(|s| matches!(s, Source::OneHot(c2, _) if *c2 == c))
                        .count();
                    let category = data.categorical[c][r] as usize;
                    if category < width {
                        z += coefficients[j + category];
                    }
                }
            }
        }
    }
    sigmoid(z)
}
