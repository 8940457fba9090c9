//! The two-proportion Z-test (`z`).

use super::*;

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
