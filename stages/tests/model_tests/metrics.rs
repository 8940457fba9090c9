//! Metrics against scikit-learn and against brute force.

use crate::support::Rng;
use churnflow_stages::testing::metrics::{self, Confusion, Economics, Ranking};

// Produced once with scikit-learn 1.9.1 / numpy 2.4.6:
//   rng = np.random.default_rng(7); n = 40; y = rng.integers(0, 2, n)
//   p = np.round(np.clip(0.3*y + rng.random(n)*0.7, 0, 1), 2); p[0] = 0.0; p[1] = 1.0
//   roc_auc_score(y, p), average_precision_score(y, p), log_loss(y, p), brier_score_loss(y, p)
// The rounding makes ties (0.36 four times), p[0] = 0 with y = 1 exercises log-loss clipping.
const Y: [u8; 40] = [
    1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 0, 1,
];
const P: [f64; 40] = [
    0.0, 1.0, 0.73, 0.33, 0.32, 0.66, 0.63, 0.64, 0.44, 0.36, 0.35, 0.47, 0.31, 0.13, 0.48, 0.44, 0.26, 0.3,
    0.58, 0.11, 0.49, 0.62, 0.36, 0.59, 0.75, 0.52, 0.36, 0.38, 0.36, 0.91, 0.55, 0.72, 0.34, 0.57, 0.53,
    0.41, 0.87, 0.57, 0.69, 0.71,
];
const SK_AUC: f64 = 0.6276041666666666;
const SK_AP: f64 = 0.7718157547109752;
const SK_LOG_LOSS: f64 = 1.5095398542365;
const SK_BRIER: f64 = 0.24237999999999998;

#[test]
fn auc_pr_auc_log_loss_brier_match_scikit_learn_to_1e9() {
    assert!((metrics::auc_roc(&Y, &P).unwrap() - SK_AUC).abs() < 1e-9);
    assert!(
        (metrics::average_precision(&Y, &P).unwrap() - SK_AP).abs() < 1e-9,
        "pr_auc must be average precision"
    );
    assert!((metrics::log_loss(&Y, &P).unwrap() - SK_LOG_LOSS).abs() < 1e-9);
    assert!((metrics::brier(&Y, &P).unwrap() - SK_BRIER).abs() < 1e-9);
}

fn pairwise_auc(y: &[u8], p: &[f64]) -> f64 {
    let (mut s, mut n) = (0.0, 0.0);
    for i in 0..y.len() {
        for j in 0..y.len() {
            if y[i] == 1 && y[j] == 0 {
                n += 1.0;
                s += if p[i] > p[j] {
                    1.0
                } else if p[i] == p[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    s / n
}

#[test]
fn auc_with_ties_equals_pairwise_count() {
    let mut rng = Rng(3);
    let y: Vec<u8> = (0..300).map(|_| u8::from(rng.unit() < 0.3)).collect();
    let p: Vec<f64> = y.iter().map(|&l| ((0.2 * f64::from(l) + rng.unit()) * 10.0).round() / 10.0).collect();
    assert!((metrics::auc_roc(&y, &p).unwrap() - pairwise_auc(&y, &p)).abs() < 1e-12);
}

#[test]
fn bootstrap_auc_with_multiplicities_equals_auc_of_the_expanded_sample() {
    // The O(n) resample AUC must equal the AUC of the rows repeated `count` times.
    let mut rng = Rng(11);
    let y: Vec<u8> = (0..200).map(|_| u8::from(rng.unit() < 0.4)).collect();
    let p: Vec<f64> = (0..200).map(|_| (rng.unit() * 20.0).round() / 20.0).collect();
    let counts: Vec<u32> = (0..200).map(|_| (rng.next_u64() % 4) as u32).collect();
    let (mut ey, mut ep) = (vec![], vec![]);
    for i in 0..200 {
        for _ in 0..counts[i] {
            ey.push(y[i]);
            ep.push(p[i]);
        }
    }
    let fast = Ranking::new(&p).auc(&y, Some(&counts)).unwrap();
    assert!((fast - pairwise_auc(&ey, &ep)).abs() < 1e-12);
}

#[test]
fn auc_difference_ci_contains_the_difference_and_is_reproducible() {
    let mut rng = Rng(5);
    let y: Vec<u8> = (0..1000).map(|_| u8::from(rng.unit() < 0.3)).collect();
    let a: Vec<f64> = y.iter().map(|&l| 0.8 * f64::from(l) + rng.unit()).collect();
    let b: Vec<f64> = y.iter().map(|&l| 0.4 * f64::from(l) + rng.unit()).collect();
    let d = metrics::auc_difference(&y, &a, &b, 300, 0.95, 9).unwrap();
    assert!(d.ci_low < d.diff && d.diff < d.ci_high, "{d:?}");
    assert!(d.ci_low > 0.0, "a is clearly better than b: {d:?}");
    let again = metrics::auc_difference(&y, &a, &b, 300, 0.95, 9).unwrap();
    assert_eq!(d, again);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(pool.install(|| metrics::auc_difference(&y, &a, &b, 300, 0.95, 9).unwrap()), d);
}

#[test]
fn undefined_metrics_are_none_not_panics() {
    assert_eq!(metrics::auc_roc(&[1, 1], &[0.2, 0.3]), None);
    assert_eq!(metrics::average_precision(&[0, 0], &[0.2, 0.3]), None);
    assert_eq!(metrics::log_loss(&[], &[]), None);
    assert_eq!(metrics::lift_at(&[0, 0], &[0.1, 0.2], 0.1), None);
    assert!(metrics::auc_difference(&[1, 1], &[0.1, 0.2], &[0.3, 0.4], 10, 0.95, 1).is_none());
}

#[test]
fn max_profit_threshold_equals_brute_force() {
    let econ = Economics { contact_cost: 10.0, saved_value: 200.0, success_rate: 0.3 };
    let (t, profit) = econ.best_threshold(&Y, &P).unwrap();
    let mut best = f64::MIN;
    for &cand in &P {
        best = best.max(econ.profit(&Confusion::at(&Y, &P, cand)));
    }
    assert_eq!(profit, best);
    assert_eq!(econ.profit(&Confusion::at(&Y, &P, t)), profit);
}

#[test]
fn confusion_counts_predict_churn_at_or_above_threshold() {
    let c = Confusion::at(&[1, 0, 1, 0], &[0.5, 0.5, 0.4, 0.1], 0.5);
    assert_eq!((c.tp, c.fp, c.fn_, c.tn), (1, 1, 1, 1));
    assert_eq!(c.recall(), 0.5);
}

#[test]
fn top_decile_lift_counts_the_top_tenth() {
    // 100 rows, 10 positives all at the top: lift = 1.0 / 0.1 = 10.
    let y: Vec<u8> = (0..100).map(|i| u8::from(i < 10)).collect();
    let p: Vec<f64> = (0..100).map(|i| 1.0 - i as f64 / 100.0).collect();
    assert!((metrics::lift_at(&y, &p, 0.1).unwrap() - 10.0).abs() < 1e-12);
}
