//! Random forest: bagged CART trees ([`super::tree`]) fitted in parallel with rayon.
//!
//! Tree `t` draws its bootstrap sample and its per-node feature subsets from its own stream
//! `SplitMix64::for_task(seed, t)`, and the trees are collected in index order, so a forest is
//! byte-identical for a seed whatever the number of threads. The probability is the mean of the
//! trees' leaf probabilities (soft voting), never a majority vote of hard labels.

use crate::model::encoded::Encoded;
use crate::model::sampling::SplitMix64;
use crate::model::tree::{self, Binned, Tree, TreeParams};
use rayon::prelude::*;

/// Fits `n_trees` trees on bootstrap samples; a tree weighs row r by its bootstrap count ×
/// `row_weights[r]` (its class weight, times its sample weight through linfa). Returns the trees
/// and the summed importance.
pub(crate) fn fit(
    data: &Binned,
    y: &[u8],
    row_weights: &[f64],
    n_trees: usize,
    params: TreeParams,
    seed: u64,
) -> (Vec<Tree>, Vec<f64>) {
    let fitted: Vec<(Tree, Vec<f64>)> = (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = SplitMix64::for_task(seed, t as u64);
            let counts = rng.bootstrap_counts(data.n);
            let weights: Vec<f64> = counts.iter().zip(row_weights).map(|(&c, &w)| f64::from(c) * w).collect();
            tree::fit(data, y, &weights, params, &mut rng)
        })
        .collect();
    let p = data.bins.len();
    let mut importance = vec![0.0; p];
    let mut trees = Vec::with_capacity(n_trees);
    for (t, imp) in fitted {
        for (a, b) in importance.iter_mut().zip(&imp) {
            *a += b;
        }
        trees.push(t);
    }
    (trees, importance)
}

/// P(churned = 1): the mean of the trees' leaf probabilities (soft voting).
pub(crate) fn predict(trees: &[Tree], data: &Encoded) -> Vec<f64> {
    tree::predict_mean(trees, data)
}
