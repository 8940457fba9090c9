//! The two-sample Kolmogorov–Smirnov test (`ks`), with SciPy's exact and asymptotic p-values
//! and the one-sample `kstwo` distribution (Simard–L'Ecuyer: Durbin matrix, Pomeranz,
//! Pelz–Good, Smirnov) they rest on.

// The series and rational-function coefficients are Cephes'/SciPy's, written as published
// (more digits than an f64 holds; each parses to the nearest f64, as in C).
#![allow(clippy::excessive_precision)]

use super::*;

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

pub(super) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// P(D_{n,n} >= h/n) for equal sample sizes (Horner-like alternating series).
pub(super) fn prob_outside_square(n: i64, h: i64) -> f64 {
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
pub(super) fn outer_prob_inside(m0: i64, n0: i64, g: i64, h: i64) -> f64 {
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

pub(super) const E128: f64 = 3.402823669209385e38; // 2^128
pub(super) const EM128: f64 = 2.938735877055719e-39; // 2^-128

/// `scipy.stats.kstwo.sf(x, n)` (support `(0.5/n, 1)`), `n` integral-valued.
pub(super) fn kstwo_sf(x: f64, n: f64) -> f64 {
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

pub(super) fn kolmogn_sf(n: i64, x: f64) -> f64 {
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

pub(super) fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
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

pub(super) fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
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
pub(super) fn kolmogn_dmtw_cdf(n: i64, d: f64) -> f64 {
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

pub(super) fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
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
pub(super) fn kolmogn_pomeranz_cdf(n: i64, x: f64) -> f64 {
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
pub(super) fn kolmogn_pelz_good_cdf(n: f64, x: f64) -> f64 {
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
pub(super) fn smirnov_sf(n: i64, x: f64) -> f64 {
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

/// The `ks` score of [`super::METHODS`]: the p-value of [`ks_2samp_sorted`].
pub(super) fn ks_score(a: &[f64], b: &[f64]) -> Result<f64, StatError> {
    Ok(ks_2samp_sorted(a, b)?.p_value)
}
