//! Random forest: bagged CART trees ([`crate::tree`]) fitted in parallel with rayon.
//!
//! Tree `t` draws its bootstrap sample and its per-node feature subsets from its own stream
//! `SplitMix64::for_task(seed, t)`, and the trees are collected in index order, so a forest is
//! byte-identical for a seed whatever the number of threads. The probability is the mean of the
//! trees' leaf probabilities (soft voting), never a majority vote of hard labels.

use crate::model::Encoded;
use crate::sampling::SplitMix64;
use crate::tree::{self, Binned, Tree, TreeParams};
use rayon::prelude::*;

/// Fits `n_trees` trees on bootstrap samples. Returns the trees and the summed importance.
pub(crate) fn fit(
    data: &Binned,
    y: &[u8],
    class_weights: [f64; 2],
    n_trees: usize,
    params: TreeParams,
    seed: u64,
) -> (Vec<Tree>, Vec<f64>) {
    let fitted: Vec<(Tree, Vec<f64>)> = (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = SplitMix64::for_task(seed, t as u64);
            let counts = rng.bootstrap_counts(data.n);
            let weights: Vec<f64> = counts
                .iter()
                .zip(y)
                .map(|(&c, &label)| f64::from(c) * class_weights[label as usize])
                .collect();
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

/// Rows per prediction task: a dense row-major block of this many rows stays in cache.
const PREDICT_BLOCK: usize = 2048;

/// Mean leaf probability over the trees. Rows are cut into blocks; each block is made dense
/// and row-major once, then every tree (packed into 24-byte nodes) walks every row of it.
/// The sum over trees runs in tree order, so the result does not depend on the thread count.
pub(crate) fn predict(trees: &[Tree], data: &Encoded) -> Vec<f64> {
    let packed: Vec<Vec<tree::PackedNode>> = trees.iter().map(Tree::packed).collect();
    let p = data.sources.len();
    let n_trees = trees.len().max(1) as f64;
    let mut out = vec![0.0; data.n];
    out.par_chunks_mut(PREDICT_BLOCK).enumerate().for_each(|(b, chunk)| {
        let start = b * PREDICT_BLOCK;
        let mut dense = vec![0.0; chunk.len() * p];
        for (i, row) in dense.chunks_exact_mut(p.max(1)).enumerate().take(chunk.len()) {
            for (j, x) in row.iter_mut().enumerate().take(p) {
                *x = data.value(start + i, j);
            }
        }
        for nodes in &packed {
            for (i, o) in chunk.iter_mut().enumerate() {
                *o += tree::walk(nodes, &dense[i * p..(i + 1) * p]);
            }
        }
        for o in chunk.iter_mut() {
            *o /= n_trees;
        }
    });
    out
}
