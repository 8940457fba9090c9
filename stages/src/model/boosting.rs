//! Gradient-boosted trees (`algorithm: gradient_boosting`): binary log-loss boosting on the
//! binned inputs of [`super::tree`], written here rather than taken from a crate so that the
//! trees are our [`Tree`] arrays (TreeSHAP and the batch walk read them unchanged) and a fit is
//! a pure function of its inputs and seed.
//!
//! The model's log-odds are `base_score + Σ_t leaf_t(x)` and the probability is their sigmoid.
//! `base_score` is the log-odds of the weighted churn rate of the rows trained on. Round `t`
//! takes the gradient `g = w·(p − y)` and hessian `h = w·p·(1 − p)` of the weighted log-loss
//! at every row (`w` = class weight), and grows one tree leaf-wise (LightGBM's best-first
//! order) on gradient/hessian histograms over the ≤ 256 bins per input:
//!
//! * a leaf's best split maximises `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)` over every
//!   input of the tree and every bin boundary, with at least `min_samples_leaf` rows and a
//!   hessian sum of at least `min_child_weight` on each side; the leaf with the largest gain
//!   is split next, until `max_leaves` leaves, `max_depth`, or no split gains;
//! * after a split, the histogram of the child with fewer rows is built from its rows and the
//!   other child's is the parent's minus it (histogram subtraction); histogram buffers are
//!   pooled, and each leaf's rows and their gradients sit contiguously ("ordered gradients"),
//!   partitioned in place at every split;
//! * the one-hot inputs of a categorical column are mutually exclusive, so they share one
//!   histogram over the category index (LightGBM's exclusive feature bundling, exact here):
//!   the histogram of input "contract = two-year" is that category's bin against the rest.
//!   Numeric inputs have their own histogram over their bins;
//! * a leaf's value is `−G/(H+λ) · learning_rate`; a node's `cover` is its hessian sum.
//!
//! Rows: with `subsample < 1` each tree draws its rows (Bernoulli, without replacement), with
//! `colsample < 1` its inputs, from its own stream `SplitMix64::for_task(seed, t)`. Early
//! stopping: the caller marks validation rows, which never enter gradients; after every round
//! their weighted log-loss is computed, and when it has not improved for
//! `early_stopping_rounds` rounds boosting stops and the trees up to the best round are kept.
//!
//! Determinism: threads split the inputs of a histogram (each input's histogram is summed by
//! one thread, in row order) and the per-row updates (each row's own value); every sum over
//! rows runs in one fixed order. The fitted trees are therefore bit-identical whatever the
//! number of threads.

use crate::model::encoded::{Encoded, Source};
use crate::model::sampling::SplitMix64;
use crate::model::tree::{self, Binned, Tree};
use rayon::prelude::*;
use std::borrow::Cow;

/// Growth and boosting settings (checked by the caller).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoostParams {
    /// Maximum boosting rounds.
    pub n_trees: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub max_leaves: usize,
    pub min_samples_leaf: usize,
    /// Minimum hessian sum of a child (> 0).
    pub min_child_weight: f64,
    /// λ, the L2 penalty on leaf values.
    pub l2: f64,
    /// Share of the training rows each tree draws, in (0, 1].
    pub subsample: f64,
    /// Share of the inputs each tree may split on, in (0, 1].
    pub colsample: f64,
    /// Stop after this many rounds without a better validation loss (0 = off).
    pub early_stopping_rounds: usize,
    pub seed: u64,
}

/// A fitted ensemble.
#[derive(Debug, Clone)]
pub(crate) struct Boosted {
    pub base_score: f64,
    pub trees: Vec<Tree>,
    /// Split gain per expanded input, summed over the kept trees.
    pub importance: Vec<f64>,
    /// Rounds run (more than the trees kept when early stopping cut the ensemble back).
    pub rounds: usize,
    /// Weighted validation log-loss at the kept round (`None` without validation rows).
    pub validation_log_loss: Option<f64>,
}

/// Rows per task of the per-row passes (gradients, margin updates). Fixed, so the work split
/// never depends on the thread count (each row's result does not either).
const ROW_CHUNK: usize = 8192;
/// Below this many (row, input) pairs a histogram is built on the calling thread.
const PARALLEL_WORK: usize = 32_768;

/// `1 / (1 + e^(−m))`: the probability of a margin.
#[inline]
pub(crate) fn sigmoid(m: f64) -> f64 {
    1.0 / (1.0 + (-m).exp())
}

/// P(churned = 1) for every encoded row: the sigmoid of `base_score + Σ leaf values`.
pub(crate) fn predict(base_score: f64, trees: &[Tree], data: &Encoded) -> Vec<f64> {
    let mut out = tree::predict_sum(trees, data, base_score);
    for m in &mut out {
        *m = sigmoid(*m);
    }
    out
}

/// `ln(1 + e^m) − y·m`: the log-loss of margin `m` for label `y`, without overflow.
fn log_loss(m: f64, y: u8) -> f64 {
    let softplus = if m > 0.0 { m + (-m).exp().ln_1p() } else { m.exp().ln_1p() };
    softplus - if y == 1 { m } else { 0.0 }
}

/// Fits the ensemble. `weights[r]` is row r's class weight; rows with `validation[r]` only
/// measure the validation loss. `data` is `encoded` binned. The training rows must hold
/// both labels.
pub(crate) fn fit(
    data: &Binned,
    encoded: &Encoded,
    y: &[u8],
    weights: &[f64],
    validation: &[bool],
    params: &BoostParams,
) -> Boosted {
    let n = data.n;
    let p = data.bins.len();
    let train_rows: Vec<u32> = (0..n as u32).filter(|&r| !validation[r as usize]).collect();
    let valid_rows: Vec<u32> = (0..n as u32).filter(|&r| validation[r as usize]).collect();
    let (mut wp, mut wn) = (0.0, 0.0);
    for &r in &train_rows {
        if y[r as usize] == 1 {
            wp += weights[r as usize];
        } else {
            wn += weights[r as usize];
        }
    }
    let base_score = if wp > 0.0 && wn > 0.0 { (wp / wn).ln() } else { 0.0 };
    let mut margin = vec![base_score; n];
    let mut gradients = vec![Gh::default(); n];
    let mut grower = Grower::new(data, Columns::new(data, encoded), params);
    let mut is_train = vec![false; n];
    for &r in &train_rows {
        is_train[r as usize] = true;
    }
    let stopping = params.early_stopping_rounds > 0 && !valid_rows.is_empty();
    let valid_weight: f64 = valid_rows.iter().map(|&r| weights[r as usize]).sum();
    let mut trees: Vec<Tree> = Vec::new();
    let mut gains: Vec<Vec<(u32, f64)>> = Vec::new();
    let (mut best_loss, mut best_round, mut since_best) = (f64::INFINITY, 0usize, 0usize);
    let mut in_sample = vec![false; n];
    let mut features: Vec<usize> = (0..p).collect();
    for t in 0..params.n_trees {
        let mut rng = SplitMix64::for_task(params.seed, t as u64);
        // The tree's rows and inputs.
        let sample: Vec<u32> = if params.subsample < 1.0 {
            let cut = (params.subsample * 2f64.powi(64)) as u64;
            let drawn: Vec<u32> = train_rows.iter().copied().filter(|_| rng.next_u64() < cut).collect();
            if drawn.is_empty() {
                train_rows.clone()
            } else {
                drawn
            }
        } else {
            train_rows.clone()
        };
        let k = ((params.colsample * p as f64).round() as usize).clamp(1, p.max(1));
        if k < p {
            for i in 0..k {
                let j = i + rng.below(p - i);
                features.swap(i, j);
            }
        }
        let mut active: Vec<usize> = features[..k.min(p)].to_vec();
        active.sort_unstable();
        let mut active_columns: Vec<usize> =
            active.iter().map(|&j| grower.columns.inputs[j].column()).collect();
        active_columns.sort_unstable();
        active_columns.dedup();
        // Gradients and hessians at the current margins (one value per row: any split of the
        // rows gives the same numbers).
        gradients.par_chunks_mut(ROW_CHUNK).enumerate().for_each(|(c, chunk)| {
            for (i, gh) in chunk.iter_mut().enumerate() {
                let r = c * ROW_CHUNK + i;
                let q = sigmoid(margin[r]);
                let w = weights[r];
                *gh = Gh { g: (w * (q - f64::from(y[r]))) as f32, h: (w * q * (1.0 - q)) as f32 };
            }
        });
        let Some(grown) = grower.grow(&sample, &gradients, &active, &active_columns) else {
            break; // no hessian left: every training row is predicted with certainty
        };
        // Margins: the tree's rows through the partition, every other row through the bins.
        for &r in &sample {
            in_sample[r as usize] = true;
        }
        for leaf in &grown.leaves {
            let value = grown.tree.value[leaf.node];
            for &r in &grower.rows[leaf.start..leaf.end] {
                margin[r as usize] += value;
            }
        }
        let (tree_ref, split_bin) = (&grown.tree, &grown.split_bin);
        margin.par_chunks_mut(ROW_CHUNK).enumerate().for_each(|(c, chunk)| {
            for (i, m) in chunk.iter_mut().enumerate() {
                let r = c * ROW_CHUNK + i;
                if !in_sample[r] && (is_train[r] || stopping) {
                    *m += binned_leaf_value(tree_ref, split_bin, data, r);
                }
            }
        });
        for &r in &sample {
            in_sample[r as usize] = false;
        }
        trees.push(grown.tree);
        gains.push(grown.gains);
        if stopping {
            let mut total = 0.0;
            for &r in &valid_rows {
                total += weights[r as usize] * log_loss(margin[r as usize], y[r as usize]);
            }
            let loss = total / valid_weight;
            if loss < best_loss {
                (best_loss, best_round, since_best) = (loss, trees.len(), 0);
            } else {
                since_best += 1;
                if since_best >= params.early_stopping_rounds {
                    break;
                }
            }
        }
    }
    let rounds = trees.len();
    if stopping && best_round > 0 {
        trees.truncate(best_round);
        gains.truncate(best_round);
    }
    let mut importance = vec![0.0; p];
    for tree_gains in &gains {
        for &(j, gain) in tree_gains {
            importance[j as usize] += gain;
        }
    }
    Boosted {
        base_score,
        trees,
        importance,
        rounds,
        validation_log_loss: (stopping && best_round > 0).then_some(best_loss),
    }
}

/// The leaf value row `r` reaches, walking the tree by bins (the same route as by thresholds:
/// bin ≤ b ⟺ x ≤ threshold b).
fn binned_leaf_value(tree: &Tree, split_bin: &[u16], data: &Binned, r: usize) -> f64 {
    let mut i = 0usize;
    while tree.feature[i] >= 0 {
        let j = tree.feature[i] as usize;
        i = if u16::from(data.bins[j][r]) <= split_bin[i] {
            tree.left[i] as usize
        } else {
            tree.right[i] as usize
        };
    }
    tree.value[i]
}

/// Where an input's histogram comes from.
#[derive(Debug, Clone, Copy)]
enum InputHist {
    /// Its own column, binned as in [`Binned`].
    Own(usize),
    /// A one-hot input: bin `k` of its categorical column's shared category column.
    Category { column: usize, k: usize },
}

impl InputHist {
    fn column(self) -> usize {
        match self {
            InputHist::Own(c) | InputHist::Category { column: c, .. } => c,
        }
    }
}

/// The columns histograms are built over: every numeric input's bins, and per categorical
/// feature (of at most 255 categories) its category index, with "none of them" as the last bin.
struct Columns<'a> {
    bins: Vec<Cow<'a, [u8]>>,
    n_bins: Vec<usize>,
    /// Input j → its histogram.
    inputs: Vec<InputHist>,
}

impl<'a> Columns<'a> {
    fn new(data: &'a Binned, encoded: &Encoded) -> Columns<'a> {
        let mut categories = vec![0usize; encoded.categorical.len()];
        for source in &encoded.sources {
            if let Source::OneHot(c, _) = *source {
                categories[c] += 1;
            }
        }
        let mut columns = Columns { bins: Vec::new(), n_bins: Vec::new(), inputs: Vec::new() };
        let mut shared: Vec<Option<usize>> = vec![None; categories.len()];
        for (j, source) in encoded.sources.iter().enumerate() {
            let hist = match *source {
                Source::OneHot(c, k) if categories[c] < 256 => {
                    let column = *shared[c].get_or_insert_with(|| {
                        let none = categories[c] as u8;
                        let index = encoded.categorical[c].iter().map(|&v| {
                            if v < u32::from(none) {
                                v as u8
                            } else {
                                none
                            }
                        });
                        columns.bins.push(Cow::Owned(index.collect()));
                        columns.n_bins.push(categories[c] + 1);
                        columns.bins.len() - 1
                    });
                    InputHist::Category { column, k: k as usize }
                }
                _ => {
                    columns.bins.push(Cow::Borrowed(data.bins[j].as_slice()));
                    columns.n_bins.push(data.thresholds[j].len() + 1);
                    InputHist::Own(columns.bins.len() - 1)
                }
            };
            columns.inputs.push(hist);
        }
        columns
    }
}

/// A row's gradient and hessian, in single precision as LightGBM keeps them (half the memory
/// traffic of the histogram loop; every sum of them is in double precision).
#[derive(Debug, Clone, Copy, Default)]
struct Gh {
    g: f32,
    h: f32,
}

/// One histogram bin: sums of gradients and hessians, and the row count.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

/// A histogram: 256 bins for each input (only the input's own bins are used).
type Histogram = Vec<[Bin; 256]>;

/// The best split of a leaf.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
    /// Gradient and hessian sums and row count of the left side.
    g: f64,
    h: f64,
    n: usize,
}

/// A leaf of the tree being grown: its node, its rows `rows[start..end]`, their sums.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    /// Its best split and its histogram's slot in the pool, while it may still be split.
    candidate: Option<Candidate>,
}

/// A leaf's best split and the pool slot of its histogram.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    split: Split,
    hist: usize,
}

/// A grown tree, with what the booster needs besides it.
struct Grown {
    tree: Tree,
    /// The bin of each split node (the threshold's index), for walking rows by bins.
    split_bin: Vec<u16>,
    /// (input, gain) of every split.
    gains: Vec<(u32, f64)>,
    leaves: Vec<Leaf>,
}

/// Grows the trees of one fit, reusing its buffers across them.
struct Grower<'a> {
    data: &'a Binned,
    params: BoostParams,
    columns: Columns<'a>,
    /// The rows of the tree being grown, each leaf's contiguous, with their gradients beside.
    rows: Vec<u32>,
    ordered: Vec<Gh>,
    scratch_rows: Vec<u32>,
    scratch_gh: Vec<Gh>,
    /// Histogram buffers and the free ones.
    pool: Vec<Histogram>,
    free: Vec<usize>,
}

impl<'a> Grower<'a> {
    fn new(data: &'a Binned, columns: Columns<'a>, params: &BoostParams) -> Grower<'a> {
        Grower {
            data,
            params: *params,
            columns,
            rows: Vec::new(),
            ordered: Vec::new(),
            scratch_rows: Vec::new(),
            scratch_gh: Vec::new(),
            pool: Vec::new(),
            free: Vec::new(),
        }
    }

    fn take_slot(&mut self) -> usize {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        self.pool.push(vec![[Bin::default(); 256]; self.columns.bins.len()]);
        self.pool.len() - 1
    }

    /// Grows one tree on `sample` (sorted row indices) over the inputs `active` (sorted), whose
    /// histograms are those of `columns` (sorted). `None` when the rows carry no hessian.
    fn grow(
        &mut self,
        sample: &[u32],
        gradients: &[Gh],
        active: &[usize],
        columns: &[usize],
    ) -> Option<Grown> {
        let params = self.params;
        self.rows.clear();
        self.rows.extend_from_slice(sample);
        self.ordered.clear();
        self.ordered.extend(sample.iter().map(|&r| gradients[r as usize]));
        let (mut g, mut h) = (0.0, 0.0);
        for gh in &self.ordered {
            g += f64::from(gh.g);
            h += f64::from(gh.h);
        }
        if !(h > 0.0 && h.is_finite() && g.is_finite()) {
            return None;
        }
        let mut tree = Tree {
            feature: vec![],
            threshold: vec![],
            left: vec![],
            right: vec![],
            value: vec![],
            cover: vec![],
        };
        let mut split_bin = Vec::new();
        let mut gains = Vec::new();
        let root = push_node(&mut tree, &mut split_bin, leaf_value(g, h, &params), h);
        self.free.clear();
        self.free.extend((0..self.pool.len()).rev());
        let mut root = Leaf { node: root, start: 0, end: sample.len(), depth: 0, g, h, candidate: None };
        if self.splittable(&root) {
            let slot = self.take_slot();
            self.build(slot, 0, sample.len(), columns);
            self.consider(&mut root, slot, active);
        }
        let mut leaves = vec![root];
        while leaves.len() < params.max_leaves {
            // The leaf with the largest gain (ties: the earliest node).
            let best = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, leaf)| leaf.candidate.map(|c| (i, leaf.node, c)))
                .max_by(|a, b| a.2.split.gain.total_cmp(&b.2.split.gain).then(b.1.cmp(&a.1)));
            let Some((at, _, Candidate { split, hist: parent_slot })) = best else {
                break;
            };
            let parent = leaves[at];
            let mid = self.partition(parent.start, parent.end, split.feature, split.bin);
            debug_assert_eq!(mid - parent.start, split.n);
            let (gl, hl) = (split.g, split.h);
            let (gr, hr) = (parent.g - gl, parent.h - hl);
            let left = push_node(&mut tree, &mut split_bin, leaf_value(gl, hl, &params), hl);
            let right = push_node(&mut tree, &mut split_bin, leaf_value(gr, hr, &params), hr);
            tree.feature[parent.node] = split.feature as i32;
            tree.threshold[parent.node] = self.data.thresholds[split.feature][split.bin];
            tree.left[parent.node] = left as u32;
            tree.right[parent.node] = right as u32;
            split_bin[parent.node] = split.bin as u16;
            gains.push((split.feature as u32, split.gain));
            let depth = parent.depth + 1;
            let mut l =
                Leaf { node: left, start: parent.start, end: mid, depth, g: gl, h: hl, candidate: None };
            let mut r =
                Leaf { node: right, start: mid, end: parent.end, depth, g: gr, h: hr, candidate: None };
            let more = leaves.len() + 1 < params.max_leaves;
            if more && (self.splittable(&l) || self.splittable(&r)) {
                // Build the smaller child's histogram; the larger child's is the parent's minus
                // it, in the parent's buffer.
                let small_slot = self.take_slot();
                let (small, large) =
                    if l.end - l.start <= r.end - r.start { (&mut l, &mut r) } else { (&mut r, &mut l) };
                self.build(small_slot, small.start, small.end, columns);
                self.subtract(parent_slot, small_slot, columns);
                self.consider(small, small_slot, active);
                self.consider(large, parent_slot, active);
            } else {
                self.free.push(parent_slot);
            }
            leaves[at] = l;
            leaves.push(r);
        }
        Some(Grown { tree, split_bin, gains, leaves })
    }

    /// Keeps `leaf`'s best split with its histogram in `slot`, or frees the slot when the leaf
    /// cannot be split.
    fn consider(&mut self, leaf: &mut Leaf, slot: usize, active: &[usize]) {
        let split = if self.splittable(leaf) { self.best_split(slot, leaf, active) } else { None };
        match split {
            Some(split) => leaf.candidate = Some(Candidate { split, hist: slot }),
            None => self.free.push(slot),
        }
    }

    /// Whether a leaf may be split at all (depth, rows, hessian).
    fn splittable(&self, leaf: &Leaf) -> bool {
        let p = &self.params;
        leaf.depth < p.max_depth
            && leaf.end - leaf.start >= 2 * p.min_samples_leaf
            && leaf.h >= 2.0 * p.min_child_weight
    }

    /// The histograms of `rows[start..end]` over `columns`, into pool slot `slot`.
    fn build(&mut self, slot: usize, start: usize, end: usize, columns: &[usize]) {
        let rows = &self.rows[start..end];
        let gh = &self.ordered[start..end];
        let (bins_of, n_bins) = (&self.columns.bins, &self.columns.n_bins);
        let hist = &mut self.pool[slot];
        let fill = |c: usize, bins: &mut [Bin; 256]| {
            bins[..n_bins[c]].fill(Bin::default());
            let col: &[u8] = &bins_of[c];
            for (&r, x) in rows.iter().zip(gh) {
                let bin = &mut bins[col[r as usize] as usize];
                bin.g += f64::from(x.g);
                bin.h += f64::from(x.h);
                bin.n += 1;
            }
        };
        if rows.len() * columns.len() < PARALLEL_WORK {
            for &c in columns {
                fill(c, &mut hist[c]);
            }
        } else {
            let mut on = vec![false; hist.len()];
            for &c in columns {
                on[c] = true;
            }
            hist.par_iter_mut().enumerate().filter(|(c, _)| on[*c]).for_each(|(c, bins)| fill(c, bins));
        }
    }

    /// `pool[from] -= pool[small]` over `columns`.
    fn subtract(&mut self, from: usize, small: usize, columns: &[usize]) {
        debug_assert_ne!(from, small);
        let (a, b) = if from < small {
            let (lo, hi) = self.pool.split_at_mut(small);
            (&mut lo[from], &hi[0])
        } else {
            let (lo, hi) = self.pool.split_at_mut(from);
            (&mut hi[0], &lo[small])
        };
        for &c in columns {
            let n = self.columns.n_bins[c];
            for (x, s) in a[c][..n].iter_mut().zip(&b[c][..n]) {
                x.g -= s.g;
                x.h -= s.h;
                x.n -= s.n;
            }
        }
    }

    /// The best split of `leaf` from its histograms in `slot` (ties: lower input, lower bin).
    fn best_split(&self, slot: usize, leaf: &Leaf, active: &[usize]) -> Option<Split> {
        let p = &self.params;
        let hist = &self.pool[slot];
        let count = leaf.end - leaf.start;
        let (g, h) = (leaf.g, leaf.h);
        let parent_score = g * g / (h + p.l2);
        let mut best: Option<Split> = None;
        // Left side (g, h, n) at the boundary after `bin` of input `j`: the split's gain if allowed.
        let mut consider = |j: usize, bin: usize, gl: f64, hl: f64, nl: usize| {
            let nr = count - nl;
            let (gr, hr) = (g - gl, h - hl);
            if nl < p.min_samples_leaf
                || nr < p.min_samples_leaf
                || hl < p.min_child_weight
                || hr < p.min_child_weight
            {
                return;
            }
            let gain = gl * gl / (hl + p.l2) + gr * gr / (hr + p.l2) - parent_score;
            if gain > 0.0 && gain.is_finite() && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split { gain, feature: j, bin, g: gl, h: hl, n: nl });
            }
        };
        for &j in active {
            if self.data.thresholds[j].is_empty() {
                continue;
            }
            match self.columns.inputs[j] {
                InputHist::Own(c) => {
                    let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0usize);
                    for (b, bin) in hist[c][..self.columns.n_bins[c] - 1].iter().enumerate() {
                        if bin.n == 0 {
                            continue; // the same split as at the bin before (the first wins)
                        }
                        gl += bin.g;
                        hl += bin.h;
                        nl += bin.n as usize;
                        if count - nl < p.min_samples_leaf {
                            break;
                        }
                        consider(j, b, gl, hl, nl);
                    }
                }
                InputHist::Category { column, k } => {
                    // One-hot 0 (every other category, or none) goes left of the threshold 0.5.
                    let rest = hist[column][k];
                    consider(j, 0, g - rest.g, h - rest.h, count - rest.n as usize);
                }
            }
        }
        best
    }

    /// Stable in-place partition of `rows[start..end]` (and their gradients): bin ≤ `bin` of
    /// input `feature` first. Returns where the right side starts.
    fn partition(&mut self, start: usize, end: usize, feature: usize, bin: usize) -> usize {
        let col = self.data.bins[feature].as_slice();
        let rows = &mut self.rows[start..end];
        let ordered = &mut self.ordered[start..end];
        let n = rows.len();
        self.scratch_rows.resize(n, 0);
        self.scratch_gh.resize(n, Gh::default());
        let (spill_rows, spill_gh) = (&mut self.scratch_rows[..n], &mut self.scratch_gh[..n]);
        // Branch-free: every row is written to both sides and one cursor moves (the side a row
        // takes is unpredictable, a branch on it would mispredict half the time).
        let (mut left, mut right) = (0, 0);
        for i in 0..n {
            let (r, gh) = (rows[i], ordered[i]);
            let goes_left = usize::from(usize::from(col[r as usize]) <= bin);
            rows[left] = r;
            ordered[left] = gh;
            spill_rows[right] = r;
            spill_gh[right] = gh;
            left += goes_left;
            right += 1 - goes_left;
        }
        rows[left..].copy_from_slice(&spill_rows[..right]);
        ordered[left..].copy_from_slice(&spill_gh[..right]);
        start + left
    }
}

/// `−G/(H+λ) · learning_rate` (0 when the denominator vanishes).
fn leaf_value(g: f64, h: f64, p: &BoostParams) -> f64 {
    let d = h + p.l2;
    if d > 0.0 {
        -g / d * p.learning_rate
    } else {
        0.0
    }
}

fn push_node(tree: &mut Tree, split_bin: &mut Vec<u16>, value: f64, cover: f64) -> usize {
    tree.feature.push(-1);
    tree.threshold.push(0.0);
    tree.left.push(0);
    tree.right.push(0);
    tree.value.push(value);
    tree.cover.push(cover);
    split_bin.push(0);
    tree.feature.len() - 1
}
