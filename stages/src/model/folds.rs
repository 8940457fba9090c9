//! The one stratified K-fold partition of a training table, used by `train.cv_folds`
//! ([`super::train`]) and by `train.tune` ([`super::tuning`]).
//!
//! Within each class the rows are ordered by `blake3(seed ‖ id)` (then by id) and fold = rank
//! mod k: every fold holds the class shares of the table, and the folds depend on the ids and
//! the seed, not on row order.

use crate::model::sampling::hash_unit;

/// Fold (0..k) of every row, for ids `ids` with labels `y` (0 or 1).
pub(crate) fn stratified_folds(ids: &[String], y: &[u8], k: usize, seed: u64) -> Vec<usize> {
    let keys: Vec<f64> = ids.iter().map(|id| hash_unit(seed, id)).collect();
    let mut fold = vec![0usize; ids.len()];
    for class in [0u8, 1] {
        let mut rows: Vec<usize> = (0..ids.len()).filter(|&r| y[r] == class).collect();
        rows.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then_with(|| ids[a].cmp(&ids[b])));
        for (rank, &r) in rows.iter().enumerate() {
            fold[r] = rank % k;
        }
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_independent_of_row_order() {
        let ids: Vec<String> = (0..103).map(|i| format!("c{i}")).collect();
        let y: Vec<u8> = (0..103).map(|i| u8::from(i % 4 == 0)).collect();
        let folds = stratified_folds(&ids, &y, 5, 9);
        for f in 0..5 {
            let pos = (0..103).filter(|&r| folds[r] == f && y[r] == 1).count();
            assert!((5..=6).contains(&pos), "fold {f}: {pos} positives");
        }
        let rev_ids: Vec<String> = ids.iter().rev().cloned().collect();
        let rev_y: Vec<u8> = y.iter().rev().copied().collect();
        let rev = stratified_folds(&rev_ids, &rev_y, 5, 9);
        for r in 0..103 {
            assert_eq!(folds[r], rev[102 - r]);
        }
    }
}
