//! A CART classification tree with class weights and leaf probabilities, trained on binned
//! features (at most 256 bins per input, like LightGBM/scikit-learn's histogram trees).
//!
//! Why not linfa-trees: its leaves keep only the majority class (hard labels), and churn needs
//! calibrated-ish probabilities for AUC, lift and profit. Here every leaf stores the weighted
//! fraction of churners among the training rows that reached it, so `predict` returns
//! probabilities with as many distinct values as there are leaves.
//!
//! Invariants: depth is always bounded (`max_depth` ≥ 1) and every leaf holds at least
//! `min_samples_leaf` training rows; a split is taken only when it lowers the weighted Gini
//! impurity; ties between splits go to the first candidate (feature order, then lower bin),
//! so a fit is a pure function of its inputs and its random stream.

use crate::model::encoded::{Encoded, Source};
use crate::model::sampling::SplitMix64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// A fitted tree, stored as parallel arrays (node 0 is the root). A node with
/// `feature[i] < 0` is a leaf with output `value[i]` (a probability in a decision tree or a
/// forest, a log-odds margin in a boosted ensemble); otherwise rows with
/// `x[feature] <= threshold` go to `left[i]`, the others to `right[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub feature: Vec<i32>,
    pub threshold: Vec<f64>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    pub value: Vec<f64>,
    /// The training weight that reached each node (class weight × bootstrap count, summed; in
    /// a boosted tree the hessian sum, as XGBoost records it): what TreeSHAP needs to take
    /// expectations over the inputs a coalition leaves out. Empty in files written before it
    /// was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cover: Vec<f64>,
}

impl Tree {
    pub(crate) fn predict(&self, data: &Encoded) -> Vec<f64> {
        predict_mean(std::slice::from_ref(self), data)
    }

    /// The leaf value a dense row of expanded inputs reaches (the comparisons the batch walk
    /// makes, so the same value to the bit).
    pub(crate) fn leaf_value(&self, x: &[f64]) -> f64 {
        let mut i = 0usize;
        for _ in 0..self.feature.len() {
            let f = self.feature[i];
            if f < 0 {
                return self.value[i];
            }
            i = if x[f as usize] <= self.threshold[i] {
                self.left[i] as usize
            } else {
                self.right[i] as usize
            };
        }
        self.value[i]
    }

    /// The tree as one array of 24-byte nodes, for fast prediction.
    pub(crate) fn packed(&self) -> Vec<PackedNode> {
        (0..self.feature.len())
            .map(|i| PackedNode {
                // A leaf keeps its probability where a split keeps its threshold.
                value: if self.feature[i] < 0 { self.value[i] } else { self.threshold[i] },
                feature: self.feature[i],
                left: self.left[i],
                right: self.right[i],
            })
            .collect()
    }

    /// Structural check of a loaded tree: children in range and after their parent (so no
    /// cycles), features in range, node values that are probabilities in [0, 1] or, for
    /// [`NodeValues::Margins`], finite numbers.
    pub(crate) fn check(&self, width: usize, values: NodeValues) -> Result<(), String> {
        let n = self.feature.len();
        if n == 0
            || self.threshold.len() != n
            || self.left.len() != n
            || self.right.len() != n
            || self.value.len() != n
        {
            return Err("tree arrays are empty or of different lengths".into());
        }
        if !self.cover.is_empty()
            && (self.cover.len() != n || self.cover.iter().any(|c| !(c.is_finite() && *c > 0.0)))
        {
            return Err("tree node covers are not one positive weight per node".into());
        }
        for i in 0..n {
            match values {
                NodeValues::Probabilities if !(0.0..=1.0).contains(&self.value[i]) => {
                    return Err(format!("tree node {i} has probability {} outside [0, 1]", self.value[i]));
                }
                NodeValues::Margins if !self.value[i].is_finite() => {
                    return Err(format!("tree node {i} has the non-finite margin {}", self.value[i]));
                }
                _ => {}
            }
            if self.feature[i] >= 0 && !self.threshold[i].is_finite() {
                return Err(format!("tree node {i} has the non-finite threshold {}", self.threshold[i]));
            }
            if self.feature[i] >= 0 {
                let (l, r) = (self.left[i] as usize, self.right[i] as usize);
                if self.feature[i] as usize >= width || l <= i || r <= i || l >= n || r >= n {
                    return Err(format!("tree node {i} points outside the tree or the features"));
                }
            }
        }
        Ok(())
    }
}

/// What a tree's node values are, for [`Tree::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeValues {
    /// Decision trees and forests: churn probabilities in [0, 1].
    Probabilities,
    /// Boosted trees: log-odds margins, any finite number.
    Margins,
}

/// One node of a packed tree: a leaf when `feature < 0` (then `value` is its probability),
/// else rows with `x[feature] <= value` go to `left`, the others to `right`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackedNode {
    pub value: f64,
    pub feature: i32,
    pub left: u32,
    pub right: u32,
}

/// Walks a packed tree for one dense row (at most `nodes.len()` steps: no cycles on loaded trees).
#[inline]
pub(crate) fn walk(nodes: &[PackedNode], row: &[f64]) -> f64 {
    let mut i = 0usize;
    for _ in 0..nodes.len() {
        let node = nodes[i];
        if node.feature < 0 {
            return node.value;
        }
        i = if row[node.feature as usize] <= node.value { node.left as usize } else { node.right as usize };
    }
    nodes[i].value
}

/// Rows per prediction task: a dense row-major block of this many rows stays in cache.
const PREDICT_BLOCK: usize = 2048;

/// Mean leaf probability over `trees` (one tree: its own probabilities; a forest: soft
/// voting): [`predict_sum`] from 0, divided by the number of trees.
pub(crate) fn predict_mean(trees: &[Tree], data: &Encoded) -> Vec<f64> {
    let n_trees = trees.len().max(1) as f64;
    let mut out = predict_sum(trees, data, 0.0);
    for o in &mut out {
        *o /= n_trees;
    }
    out
}

/// `start` plus the leaf values of `trees`, added one tree after the other in tree order (so
/// the result does not depend on the thread count). Rows are cut into blocks; each block is
/// made dense and row-major once, then every tree (packed into 24-byte nodes) walks every row
/// of it.
pub(crate) fn predict_sum(trees: &[Tree], data: &Encoded, start: f64) -> Vec<f64> {
    let packed: Vec<Vec<PackedNode>> = trees.iter().map(Tree::packed).collect();
    let p = data.sources.len();
    let mut out = vec![start; data.n];
    out.par_chunks_mut(PREDICT_BLOCK).enumerate().for_each(|(b, chunk)| {
        let first = b * PREDICT_BLOCK;
        let mut dense = vec![0.0; chunk.len() * p];
        for (i, row) in dense.chunks_exact_mut(p.max(1)).enumerate().take(chunk.len()) {
            for (j, x) in row.iter_mut().enumerate().take(p) {
                *x = data.value(first + i, j);
            }
        }
        for nodes in &packed {
            for (i, o) in chunk.iter_mut().enumerate() {
                *o += walk(nodes, &dense[i * p..(i + 1) * p]);
            }
        }
    });
    out
}

/// Expanded inputs cut into at most 256 bins, column-major.
pub(crate) struct Binned {
    pub n: usize,
    pub bins: Vec<Vec<u8>>,
    /// `thresholds[j][b]`: the split point between bin `b` and `b + 1` (midpoint of the values).
    pub thresholds: Vec<Vec<f64>>,
}

impl Binned {
    /// Bins every expanded input of `data` with quantile cut points (exact for ≤ 256 values).
    pub(crate) fn new(data: &Encoded) -> Binned {
        use rayon::prelude::*;
        let p = data.sources.len();
        let cols: Vec<(Vec<u8>, Vec<f64>)> = (0..p)
            .into_par_iter()
            .map(|j| {
                if let Source::OneHot(c, k) = data.sources[j] {
                    // 0/1 values: one cut point at 0.5 when both occur (no sort needed).
                    let bins: Vec<u8> = data.categorical[c].iter().map(|&v| u8::from(v == k)).collect();
                    let ones = bins.iter().filter(|&&b| b == 1).count();
                    let thresholds = if ones == 0 || ones == bins.len() { Vec::new() } else { vec![0.5] };
                    let bins = if thresholds.is_empty() { vec![0; bins.len()] } else { bins };
                    return (bins, thresholds);
                }
                let values: Vec<f64> = (0..data.n).map(|r| data.value(r, j)).collect();
                let thresholds = cut_points(&values, 256);
                let bins = values.iter().map(|v| thresholds.partition_point(|t| t < v) as u8).collect();
                (bins, thresholds)
            })
            .collect();
        let (bins, thresholds) = cols.into_iter().unzip();
        Binned { n: data.n, bins, thresholds }
    }
}

/// At most `max_bins - 1` cut points: midpoints between consecutive distinct values, thinned to
/// quantiles when there are too many.
fn cut_points(values: &[f64], max_bins: usize) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for v in sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= 1 {
        return Vec::new();
    }
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| w[0].0 + (w[1].0 - w[0].0) / 2.0).collect();
    }
    // Quantile cut points: close a bin when it holds about n / max_bins rows.
    let n = values.len();
    let target = n.div_ceil(max_bins);
    let mut cuts = Vec::new();
    let mut in_bin = 0;
    for w in distinct.windows(2) {
        in_bin += w[0].1;
        if in_bin >= target && cuts.len() + 1 < max_bins {
            cuts.push(w[0].0 + (w[1].0 - w[0].0) / 2.0);
            in_bin = 0;
        }
    }
    cuts
}

/// Growth limits of one tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeParams {
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    /// Inputs considered at each node (sampled without replacement when < all).
    pub max_features: usize,
}

/// Fits one tree. `weights[r]` is row r's weight (class weight × bootstrap count; 0 = not
/// used). Returns the tree and the weighted Gini decrease per expanded input.
pub(crate) fn fit(
    data: &Binned,
    y: &[u8],
    weights: &[f64],
    params: TreeParams,
    rng: &mut SplitMix64,
) -> (Tree, Vec<f64>) {
    let p = data.bins.len();
    let mut rows: Vec<u32> = (0..data.n as u32).filter(|&r| weights[r as usize] > 0.0).collect();
    let mut tree = Tree {
        feature: vec![],
        threshold: vec![],
        left: vec![],
        right: vec![],
        value: vec![],
        cover: vec![],
    };
    let mut importance = vec![0.0; p];
    let mut features: Vec<usize> = (0..p).collect();
    let mut scratch: Vec<u32> = Vec::with_capacity(rows.len());
    // Work stack: (node index, row range, depth). Nodes are numbered in creation order.
    let root = new_node(&mut tree);
    let mut stack = vec![(root, 0usize, rows.len(), 0usize)];
    while let Some((node, start, end, depth)) = stack.pop() {
        let node_rows = &rows[start..end];
        let (wp, wn) = totals(node_rows, y, weights);
        let w = wp + wn;
        tree.value[node] = if w > 0.0 { wp / w } else { 0.0 };
        tree.cover[node] = w;
        let count = end - start;
        if depth >= params.max_depth || count < 2 * params.min_samples_leaf || wp == 0.0 || wn == 0.0 {
            continue;
        }
        // Candidate inputs: a partial Fisher-Yates shuffle picks max_features of them.
        let k = params.max_features.clamp(1, p);
        if k < p {
            for i in 0..k {
                let j = i + rng.below(p - i);
                features.swap(i, j);
            }
        }
        let mut candidates: Vec<usize> = features[..k].to_vec();
        candidates.sort_unstable();
        let parent_impurity = w * gini(wp, w);
        let mut best: Option<(f64, usize, usize)> = None; // (gain, feature, bin)
        for &j in &candidates {
            let n_bins = data.thresholds[j].len() + 1;
            if n_bins < 2 {
                continue;
            }
            let col = &data.bins[j];
            let mut hp = [0.0f64; 256];
            let mut hn = [0.0f64; 256];
            let mut hc = [0u32; 256];
            for &r in node_rows {
                let r = r as usize;
                let b = col[r] as usize;
                if y[r] == 1 {
                    hp[b] += weights[r];
                } else {
                    hn[b] += weights[r];
                }
                hc[b] += 1;
            }
            let (mut lp, mut ln, mut lc) = (0.0, 0.0, 0usize);
            for b in 0..n_bins - 1 {
                lp += hp[b];
                ln += hn[b];
                lc += hc[b] as usize;
                let rc = count - lc;
                if lc < params.min_samples_leaf {
                    continue;
                }
                if rc < params.min_samples_leaf {
                    break;
                }
                let (lw, rp, rn) = (lp + ln, wp - lp, wn - ln);
                let rw = rp + rn;
                if lw <= 0.0 || rw <= 0.0 {
                    continue;
                }
                let gain = parent_impurity - lw * gini(lp, lw) - rw * gini(rp, rw);
                if gain > 1e-12 * w && best.is_none_or(|(g, _, _)| gain > g) {
                    best = Some((gain, j, b));
                }
            }
        }
        let Some((gain, j, b)) = best else { continue };
        importance[j] += gain;
        // Stable partition of the node's rows: bin ≤ b to the left.
        scratch.clear();
        let col = &data.bins[j];
        let mut write = start;
        for i in start..end {
            let r = rows[i];
            if col[r as usize] as usize <= b {
                rows[write] = r;
                write += 1;
            } else {
                scratch.push(r);
            }
        }
        rows[write..end].copy_from_slice(&scratch);
        let left = new_node(&mut tree);
        let right = new_node(&mut tree);
        tree.feature[node] = j as i32;
        tree.threshold[node] = data.thresholds[j][b];
        tree.left[node] = left as u32;
        tree.right[node] = right as u32;
        // Right first on the stack so the left subtree is grown first (deterministic order).
        stack.push((right, write, end, depth + 1));
        stack.push((left, start, write, depth + 1));
    }
    (tree, importance)
}

fn new_node(tree: &mut Tree) -> usize {
    tree.feature.push(-1);
    tree.threshold.push(0.0);
    tree.left.push(0);
    tree.right.push(0);
    tree.value.push(0.0);
    tree.cover.push(0.0);
    tree.feature.len() - 1
}

fn totals(rows: &[u32], y: &[u8], weights: &[f64]) -> (f64, f64) {
    let (mut wp, mut wn) = (0.0, 0.0);
    for &r in rows {
        let r = r as usize;
        if y[r] == 1 {
            wp += weights[r];
        } else {
            wn += weights[r];
        }
    }
    (wp, wn)
}

/// Gini impurity of a node with positive weight `wp` out of `w`.
#[inline]
fn gini(wp: f64, w: f64) -> f64 {
    let q = wp / w;
    2.0 * q * (1.0 - q)
}
