//! Classification metrics on (label, probability) pairs, written to agree with scikit-learn:
//! `roc_auc_score` (ties count one half), `average_precision_score` (pr_auc: Σ (Rₙ − Rₙ₋₁)·Pₙ
//! over distinct thresholds, not a trapezoid), `log_loss` (probabilities clipped to
//! [ε, 1 − ε] with ε = f64::EPSILON), `brier_score_loss`; plus the confusion matrix at a
//! threshold (predict churn when p ≥ threshold), top-decile lift, expected retention profit,
//! curves for plots and a paired bootstrap of the AUC difference that costs O(n) per resample.
//!
//! Every function takes labels as 0/1 bytes and scores as f64 and never panics: an undefined
//! metric (e.g. AUC with one class) is `None`.

use crate::model::sampling::SplitMix64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Row indices sorted by score ascending, and the start of each run of tied scores.
#[derive(Debug, Clone)]
pub struct Ranking {
    order: Vec<u32>,
    /// Start offsets (in `order`) of each group of equal scores, plus a final `n`.
    groups: Vec<u32>,
}

impl Ranking {
    pub fn new(scores: &[f64]) -> Ranking {
        let mut order: Vec<u32> = (0..scores.len() as u32).collect();
        order.sort_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]).then(a.cmp(&b)));
        let mut groups = Vec::new();
        for (i, &r) in order.iter().enumerate() {
            if i == 0 || scores[r as usize] != scores[order[i - 1] as usize] {
                groups.push(i as u32);
            }
        }
        groups.push(order.len() as u32);
        Ranking { order, groups }
    }

    /// Walks the groups of equal scores from the highest score down, yielding after each group
    /// its score and the cumulative (true positives, false positives) at that threshold.
    pub fn descending<'a>(
        &'a self,
        y: &'a [u8],
        scores: &'a [f64],
    ) -> impl Iterator<Item = (f64, u64, u64)> + 'a {
        self.groups.windows(2).rev().scan((0u64, 0u64), move |(tp, fp), g| {
            let rows = &self.order[g[0] as usize..g[1] as usize];
            for &r in rows {
                if y[r as usize] == 1 {
                    *tp += 1;
                } else {
                    *fp += 1;
                }
            }
            Some((scores[rows[0] as usize], *tp, *fp))
        })
    }

    /// Mann-Whitney AUC with row multiplicities (`None` = each row once). O(n).
    pub fn auc(&self, y: &[u8], counts: Option<&[u32]>) -> Option<f64> {
        let (mut neg_below, mut sum, mut pos_total) = (0.0f64, 0.0f64, 0.0f64);
        for g in self.groups.windows(2) {
            let (mut pos, mut neg) = (0.0, 0.0);
            for &r in &self.order[g[0] as usize..g[1] as usize] {
                let r = r as usize;
                let c = counts.map_or(1.0, |c| f64::from(c[r]));
                if y[r] == 1 {
                    pos += c;
                } else {
                    neg += c;
                }
            }
            sum += pos * (neg_below + 0.5 * neg);
            neg_below += neg;
            pos_total += pos;
        }
        if pos_total == 0.0 || neg_below == 0.0 {
            None
        } else {
            Some(sum / (pos_total * neg_below))
        }
    }
}

/// ROC AUC (scikit-learn `roc_auc_score`).
pub fn auc_roc(y: &[u8], p: &[f64]) -> Option<f64> {
    Ranking::new(p).auc(y, None)
}

/// Average precision (scikit-learn `average_precision_score`).
pub fn average_precision(y: &[u8], p: &[f64]) -> Option<f64> {
    let positives = y.iter().filter(|&&v| v == 1).count();
    if positives == 0 {
        return None;
    }
    let ranking = Ranking::new(p);
    let (mut prev_recall, mut ap) = (0.0, 0.0);
    for (_, tp, fp) in ranking.descending(y, p) {
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// Mean log loss, probabilities clipped to [ε, 1 − ε].
pub fn log_loss(y: &[u8], p: &[f64]) -> Option<f64> {
    if y.is_empty() {
        return None;
    }
    let eps = f64::EPSILON;
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&t, &q)| {
            let q = q.clamp(eps, 1.0 - eps);
            if t == 1 {
                -q.ln()
            } else {
                -(1.0 - q).ln()
            }
        })
        .sum();
    Some(total / y.len() as f64)
}

/// Mean squared error of the probabilities.
pub fn brier(y: &[u8], p: &[f64]) -> Option<f64> {
    if y.is_empty() {
        return None;
    }
    Some(y.iter().zip(p).map(|(&t, &q)| (q - f64::from(t)).powi(2)).sum::<f64>() / y.len() as f64)
}

/// The confusion matrix at `threshold` (churn predicted when p ≥ threshold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Confusion {
    pub tn: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tp: u64,
}

impl Confusion {
    pub fn at(y: &[u8], p: &[f64], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        for (&t, &q) in y.iter().zip(p) {
            match (t == 1, q >= threshold) {
                (true, true) => c.tp += 1,
                (true, false) => c.fn_ += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }
    pub fn n(&self) -> u64 {
        self.tn + self.fp + self.fn_ + self.tp
    }
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.tp + self.tn, self.n())
    }
    /// scikit-learn's `zero_division=0`: 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp).unwrap_or(0.0)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_).unwrap_or(0.0)
    }
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_).unwrap_or(0.0)
    }
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn).unwrap_or(0.0)
    }
    pub fn predicted_positive_rate(&self) -> f64 {
        ratio(self.tp + self.fp, self.n()).unwrap_or(0.0)
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    if b == 0 {
        None
    } else {
        Some(a as f64 / b as f64)
    }
}

/// Retention economics (params `evaluation.economics`): contacting a customer costs
/// `contact_cost`; a contacted churner is kept with probability `success_rate`, worth
/// `saved_value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Economics {
    pub contact_cost: f64,
    pub saved_value: f64,
    pub success_rate: f64,
}

impl Default for Economics {
    fn default() -> Self {
        Economics { contact_cost: 10.0, saved_value: 200.0, success_rate: 0.3 }
    }
}

impl Economics {
    /// Expected profit of contacting everyone predicted to churn.
    pub fn profit(&self, c: &Confusion) -> f64 {
        c.tp as f64 * self.success_rate * self.saved_value - (c.tp + c.fp) as f64 * self.contact_cost
    }

    /// The threshold (one of the scores) with the largest expected profit; ties go to the
    /// higher threshold (fewer contacts). Returns (threshold, profit).
    pub fn best_threshold(&self, y: &[u8], p: &[f64]) -> Option<(f64, f64)> {
        let ranking = Ranking::new(p);
        let mut best: Option<(f64, f64)> = None;
        for (threshold, tp, fp) in ranking.descending(y, p) {
            let profit = self.profit(&Confusion { tp, fp, ..Confusion::default() });
            if best.is_none_or(|(_, b)| profit > b) {
                best = Some((threshold, profit));
            }
        }
        best
    }
}

/// Positive rate among the top `fraction` of rows by score (ties broken by row order, the
/// first ⌈fraction·n⌉ rows counted) divided by the overall positive rate.
pub fn lift_at(y: &[u8], p: &[f64], fraction: f64) -> Option<f64> {
    let n = y.len();
    let positives = y.iter().filter(|&&v| v == 1).count();
    if n == 0 || positives == 0 {
        return None;
    }
    let k = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let top = order[..k].iter().filter(|&&r| y[r] == 1).count();
    Some((top as f64 / k as f64) / (positives as f64 / n as f64))
}

/// Points of the ROC curve (fpr, tpr, threshold), one per distinct score, highest first,
/// starting at (0, 0).
pub fn roc_curve(y: &[u8], p: &[f64]) -> Vec<(f64, f64, f64)> {
    let ranking = Ranking::new(p);
    let pos = y.iter().filter(|&&v| v == 1).count().max(1) as f64;
    let neg = y.iter().filter(|&&v| v == 0).count().max(1) as f64;
    let mut points = vec![(0.0, 0.0, f64::INFINITY)];
    points.extend(
        ranking.descending(y, p).map(|(threshold, tp, fp)| (fp as f64 / neg, tp as f64 / pos, threshold)),
    );
    points
}

/// Points of the precision-recall curve (recall, precision, threshold), highest threshold first.
pub fn pr_curve(y: &[u8], p: &[f64]) -> Vec<(f64, f64, f64)> {
    let ranking = Ranking::new(p);
    let pos = y.iter().filter(|&&v| v == 1).count().max(1) as f64;
    ranking
        .descending(y, p)
        .map(|(threshold, tp, fp)| (tp as f64 / pos, tp as f64 / (tp + fp) as f64, threshold))
        .collect()
}

/// Cumulative gains: for each k in 0..=points, the share of churners among the top k/points of
/// customers by score.
pub fn gains_curve(y: &[u8], p: &[f64], points: usize) -> Vec<(f64, f64)> {
    let n = y.len();
    let positives = y.iter().filter(|&&v| v == 1).count().max(1) as f64;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let mut cumulative = Vec::with_capacity(n + 1);
    cumulative.push(0usize);
    for &r in &order {
        let last = cumulative.last().copied().unwrap_or(0);
        cumulative.push(last + usize::from(y[r] == 1));
    }
    (0..=points)
        .map(|k| {
            let fraction = k as f64 / points as f64;
            let m = ((fraction * n as f64).round() as usize).min(n);
            (fraction, cumulative[m] as f64 / positives)
        })
        .collect()
}

/// Reliability diagram: `bins` equal-width probability bins with mean prediction, observed
/// churn rate and count (empty bins omitted).
pub fn calibration(y: &[u8], p: &[f64], bins: usize) -> Vec<(f64, f64, u64)> {
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    let mut count = vec![0u64; bins];
    for (&t, &q) in y.iter().zip(p) {
        let b = ((q * bins as f64) as usize).min(bins - 1);
        sum_p[b] += q;
        sum_y[b] += f64::from(t);
        count[b] += 1;
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (sum_p[b] / count[b] as f64, sum_y[b] / count[b] as f64, count[b]))
        .collect()
}

/// Keeps at most `max` points of a curve (evenly spaced, first and last kept).
pub fn thin<T: Clone>(points: &[T], max: usize) -> Vec<T> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let step = (points.len() - 1) as f64 / (max - 1) as f64;
    (0..max).map(|i| points[((i as f64 * step).round() as usize).min(points.len() - 1)].clone()).collect()
}

/// Result of a paired bootstrap of AUC(challenger) − AUC(baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AucDiff {
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    pub resamples: usize,
    /// Resamples with a single class (AUC undefined), skipped.
    pub skipped: usize,
}

/// Percentile bootstrap interval of a statistic of AUCs; each resample draws the same rows
/// for every score vector (paired), from `SplitMix64::for_task(seed, resample)`.
fn bootstrap<F>(y: &[u8], rankings: &[Ranking], resamples: usize, seed: u64, stat: F) -> (Vec<f64>, usize)
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    let n = y.len();
    let values: Vec<Option<f64>> = (0..resamples)
        .into_par_iter()
        .map(|b| {
            let counts = SplitMix64::for_task(seed, b as u64).bootstrap_counts(n);
            let aucs: Option<Vec<f64>> = rankings.iter().map(|r| r.auc(y, Some(&counts))).collect();
            aucs.map(|a| stat(&a))
        })
        .collect();
    let skipped = values.iter().filter(|v| v.is_none()).count();
    let mut kept: Vec<f64> = values.into_iter().flatten().collect();
    kept.sort_by(f64::total_cmp);
    (kept, skipped)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Linear interpolation between order statistics (numpy's default).
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Paired bootstrap CI of AUC(a) − AUC(b). `None` when the AUC is undefined on the full data.
pub fn auc_difference(
    y: &[u8],
    a: &[f64],
    b: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<AucDiff> {
    let rankings = [Ranking::new(a), Ranking::new(b)];
    let diff = rankings[0].auc(y, None)? - rankings[1].auc(y, None)?;
    let (sorted, skipped) = bootstrap(y, &rankings, resamples, seed, |v| v[0] - v[1]);
    let alpha = (1.0 - confidence) / 2.0;
    Some(AucDiff {
        diff,
        ci_low: percentile(&sorted, alpha),
        ci_high: percentile(&sorted, 1.0 - alpha),
        confidence,
        resamples,
        skipped,
    })
}

/// One evaluation's bootstrap: the percentile interval of AUC(`p`), and with a `baseline` the
/// paired interval of AUC(`p`) − AUC(`baseline`), both from the same resamples — exactly what
/// [`auc_interval`] and [`auc_difference`] give with this seed, with each resample drawn once
/// and the challenger ranked once. With no resamples there is no interval, and the
/// difference has NaN bounds.
pub fn auc_bootstrap(
    y: &[u8],
    p: &[f64],
    baseline: Option<&[f64]>,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> (Option<(f64, f64)>, Option<AucDiff>) {
    let mut rankings = vec![Ranking::new(p)];
    rankings.extend(baseline.map(Ranking::new));
    let full: Vec<Option<f64>> = rankings.iter().map(|r| r.auc(y, None)).collect();
    let n = y.len();
    let draws: Vec<Vec<Option<f64>>> = (0..resamples)
        .into_par_iter()
        .map(|b| {
            let counts = SplitMix64::for_task(seed, b as u64).bootstrap_counts(n);
            rankings.iter().map(|r| r.auc(y, Some(&counts))).collect()
        })
        .collect();
    let alpha = (1.0 - confidence) / 2.0;
    let interval = full[0].and_then(|_| {
        let mut kept: Vec<f64> = draws.iter().filter_map(|d| d[0]).collect();
        kept.sort_by(f64::total_cmp);
        (!kept.is_empty()).then(|| (percentile(&kept, alpha), percentile(&kept, 1.0 - alpha)))
    });
    let diff = match (full[0], full.get(1).copied().flatten()) {
        (Some(a), Some(b)) => {
            let mut kept: Vec<f64> = draws.iter().filter_map(|d| Some(d[0]? - d[1]?)).collect();
            kept.sort_by(f64::total_cmp);
            Some(AucDiff {
                diff: a - b,
                ci_low: percentile(&kept, alpha),
                ci_high: percentile(&kept, 1.0 - alpha),
                confidence,
                resamples,
                skipped: resamples - kept.len(),
            })
        }
        _ => None,
    };
    (interval, diff)
}

/// Bootstrap CI of one AUC: (low, high).
pub fn auc_interval(y: &[u8], p: &[f64], resamples: usize, confidence: f64, seed: u64) -> Option<(f64, f64)> {
    let rankings = [Ranking::new(p)];
    rankings[0].auc(y, None)?;
    let (sorted, _) = bootstrap(y, &rankings, resamples, seed, |v| v[0]);
    if sorted.is_empty() {
        return None;
    }
    let alpha = (1.0 - confidence) / 2.0;
    Some((percentile(&sorted, alpha), percentile(&sorted, 1.0 - alpha)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bootstrap_gives_exactly_the_interval_and_the_paired_difference() {
        let mut rng = SplitMix64::new(3);
        let y: Vec<u8> = (0..3000).map(|_| u8::from(rng.below(4) == 0)).collect();
        let a: Vec<f64> = y.iter().map(|&l| f64::from(l) * 0.3 + rng.below(1000) as f64 / 1000.0).collect();
        let b: Vec<f64> = y.iter().map(|&l| f64::from(l) * 0.1 + rng.below(1000) as f64 / 1000.0).collect();
        let (ci, diff) = auc_bootstrap(&y, &a, Some(&b), 300, 0.95, 42);
        assert!(ci.is_some() && diff.is_some());
        assert_eq!(ci, auc_interval(&y, &a, 300, 0.95, 42));
        assert_eq!(diff, auc_difference(&y, &a, &b, 300, 0.95, 42));
        assert_eq!(auc_bootstrap(&y, &a, None, 300, 0.95, 42), (ci, None));
        let (none, unbounded) = auc_bootstrap(&y, &a, Some(&b), 0, 0.95, 42);
        assert_eq!(none, None);
        assert!(unbounded.is_some_and(|d| d.ci_low.is_nan() && d.resamples == 0 && d.skipped == 0));
    }
}
