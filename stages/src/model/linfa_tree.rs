//! `train.learner: linfa` for `algorithm: decision_tree`: linfa-trees 0.8.1's `DecisionTree`
//! fitted on the encoded matrix, then converted into our [`Tree`] arrays, so the model file is
//! an ordinary churnflow decision tree (score, serve with TreeSHAP reasons and evaluate's plots
//! read it unchanged).
//!
//! linfa-trees as released, and what this module does about each of its traits:
//!
//! * **Hard labels.** Its leaves keep the majority class only. The converted leaves store the
//!   weighted churn fraction of the training rows routed to them (class weights in f64, as our
//!   own tree does) and every node's `cover` is the training weight that reached it.
//! * **`<` and `<=`.** Its fit sends `x <= split` to the left child, its `predict` sends
//!   `x < split`. A split value is the midpoint of two consecutive training values, so the two
//!   agree on every training row unless the midpoint rounds onto one of the values (values at
//!   least 1e-5 apart but only an ulp or two apart, i.e. above ~7e10). We follow `predict`: the
//!   stored threshold is the largest f64 below the split value, so our `x <= threshold` is
//!   exactly its `x < split` for every finite x. A split that sends no training row one way
//!   under that rule is collapsed onto its other child.
//! * **f32 weights.** Weights are summed in f32, one row at a time, and a split's right side is
//!   the parent's sum minus the rows moved left. With fractional class weights the rounding
//!   error at 100,000 rows exceeds the minimum leaf weight and its Gini assertion
//!   (`n_samples > 0.0`) panics. We hand it integer class weights whose sums stay below 2^24,
//!   where f32 is exact: `[1, 1]` (no weights) for `class_weight: none`, else the integers
//!   `a : b` closest to the class weights' ratio with `a·n₀ + b·n₁ ≤ 2^24`
//!   ([`integer_weights`]). More than 2^24 rows is refused. Any other panic is caught and
//!   becomes an error naming linfa-trees.
//! * **Ties in `HashMap` order.** A node's label is the most frequent class, iterated in the
//!   order of a `HashMap` with a random hasher, so a tie (equal weight in both classes) gets a
//!   random label; `prune()` (always on) then merges sibling leaves with equal labels, so the
//!   tree it returns differs from run to run. The splits themselves do not depend on that order.
//!   With exact integer weights a leaf's possible labels can be recomputed from its rows (a tie
//!   allows both), and the conversion prunes canonically: siblings merge whenever their
//!   possible labels intersect. That is one of the trees linfa itself can return (the one whose
//!   ties all favour merging), and it is the same whichever tree this run returned.
//! * **`prune()` is always on** and cannot be turned off: two leaves with the same majority
//!   label become one leaf, whose probability is then the pooled churn fraction.
//!
//! Growth limits: `max_depth` as for our tree; `min_samples_leaf` becomes linfa's
//! `min_weight_leaf` = the weight of that many average rows, and its `min_weight_split` (which
//! linfa compares with a row count) `2 · min_samples_leaf`; Gini, linfa's default
//! `min_impurity_decrease` 1e-5.

use crate::model::encoded::Encoded;
use crate::model::tree::Tree;
use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use linfa::ParamGuard;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2, ArrayView2};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// f32 sums of integers are exact up to this total.
pub const EXACT_F32_TOTAL: u64 = 1 << 24;

/// Growth limits (checked by the caller: `max_depth` ≥ 1, `min_samples_leaf` ≥ 1).
#[derive(Debug, Clone, Copy)]
pub struct LinfaTreeParams {
    pub max_depth: usize,
    pub min_samples_leaf: usize,
}

/// Why a `learner: linfa` fit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinfaTreeError {
    #[error(
        "learner linfa: linfa-trees sums sample weights in f32, which is exact only up to a total \
         of 16,777,216; {0} — use learner: churnflow (the default) for this table"
    )]
    TooLarge(String),
    #[error("learner linfa: linfa-trees refused the fit: {0}")]
    Refused(String),
    #[error("learner linfa: linfa-trees panicked ({0}); use learner: churnflow (the default)")]
    Panicked(String),
    #[error("learner linfa: {0}")]
    Conversion(String),
}

/// The training rows as linfa-trees sees them.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Dense row-major inputs.
    pub x: Array2<f64>,
    /// 0/1 labels.
    pub y: Vec<u8>,
    /// Class weights `[weight of 0, weight of 1]` (probabilities and covers).
    pub class_weights: [f64; 2],
    /// What linfa sums for a row of class 0 and 1 (see [`integer_weights`]).
    pub integer_weights: [u64; 2],
}

/// A converted tree.
#[derive(Debug, Clone)]
pub struct Converted {
    pub tree: Tree,
    /// Weighted Gini decrease per input (as our own tree measures it), unnormalised.
    pub importance: Vec<f64>,
    /// Per node, the labels linfa may give the leaf (bit 0: not churned, bit 1: churned;
    /// both when its two classes weigh the same); 0 for split nodes.
    pub leaf_labels: Vec<u8>,
}

/// The integer class weights `[a, b]` handed to linfa-trees: `[1, 1]` when the class weights
/// are equal, else the pair whose ratio `b / a` is closest to `class_weights[1] /
/// class_weights[0]` (ties: the smaller `a`) among those with `a·n₀ + b·n₁ ≤ 2^24`, so every
/// f32 sum linfa forms is an exact integer. Scaling all weights by one factor changes no Gini
/// comparison; the ratio moves by at most about 1 / (a·b) (under 1e-4 at 100,000 rows).
pub fn integer_weights(class_weights: [f64; 2], counts: [u64; 2]) -> Result<[u64; 2], LinfaTreeError> {
    let [n0, n1] = counts;
    let too_large = |a: u64, b: u64| {
        LinfaTreeError::TooLarge(format!(
            "{} rows of class 0 and {} of class 1 with weights {a} and {b} sum to {}",
            n0,
            n1,
            a.saturating_mul(n0).saturating_add(b.saturating_mul(n1))
        ))
    };
    let fits = |a: u64, b: u64| a.saturating_mul(n0).saturating_add(b.saturating_mul(n1)) <= EXACT_F32_TOTAL;
    let [w0, w1] = class_weights;
    if w0 == w1 {
        return if fits(1, 1) { Ok([1, 1]) } else { Err(too_large(1, 1)) };
    }
    let ratio = w1 / w0;
    let mut best: Option<([u64; 2], f64)> = None;
    // a ≤ 2^24 / n₀ by the bound; the cap keeps tiny tables quick.
    for a in 1..=(1u64 << 20) {
        let b = ((a as f64 * ratio).round() as u64).max(1);
        if !fits(a, b) {
            if a == 1 {
                return Err(too_large(a, b));
            }
            break;
        }
        let error = (b as f64 / a as f64 - ratio).abs();
        if best.is_none_or(|(_, e)| error < e) {
            best = Some(([a, b], error));
        }
        if error == 0.0 {
            break;
        }
    }
    let ([a, b], error) = best.ok_or_else(|| too_large(1, 1))?;
    // A lopsided ratio (class 0 weighted far above class 1) may leave no exact pair close
    // to it: refuse rather than grow the tree under other weights than the leaves use.
    if error / ratio > MAX_RATIO_ERROR {
        return Err(LinfaTreeError::TooLarge(format!(
            "class weights {w0} : {w1} over {n0} and {n1} rows need integer weights that sum \
             past it (the closest that fit, {a} : {b}, are {:.1} % off)",
            100.0 * error / ratio
        )));
    }
    Ok([a, b])
}

/// The largest relative error of the integer weights' ratio that [`integer_weights`] accepts.
const MAX_RATIO_ERROR: f64 = 1e-3;

/// The dense inputs, the labels and linfa's integer weights for a fit.
pub fn prepare(x: Array2<f64>, y: Vec<u8>, class_weights: [f64; 2]) -> Result<Prepared, LinfaTreeError> {
    let positives = y.iter().filter(|&&l| l == 1).count() as u64;
    let counts = [y.len() as u64 - positives, positives];
    let integer_weights = integer_weights(class_weights, counts)?;
    Ok(Prepared { x, y, class_weights, integer_weights })
}

/// The encoded matrix, dense and row-major.
pub(crate) fn dense(data: &Encoded) -> Array2<f64> {
    let p = data.sources.len();
    Array2::from_shape_fn((data.n, p), |(r, j)| data.value(r, j))
}

/// Fits linfa-trees' tree on prepared rows (its panics caught).
pub fn fit_linfa(
    prepared: &Prepared,
    params: LinfaTreeParams,
) -> Result<DecisionTree<f64, bool>, LinfaTreeError> {
    let [a, b] = prepared.integer_weights;
    let n = prepared.y.len();
    let targets: Array1<bool> = prepared.y.iter().map(|&l| l == 1).collect();
    let mut dataset = DatasetBase::new(prepared.x.view(), targets);
    let total = if a == b {
        n as f64
    } else {
        let weights: Array1<f32> =
            prepared.y.iter().map(|&l| if l == 1 { b as f32 } else { a as f32 }).collect();
        dataset = dataset.with_weights(weights);
        let positives = prepared.y.iter().filter(|&&l| l == 1).count() as u64;
        (a * (n as u64 - positives) + b * positives) as f64
    };
    let mean_weight = total / n.max(1) as f64;
    let checked = DecisionTree::<f64, bool>::params()
        .split_quality(SplitQuality::Gini)
        .max_depth(Some(params.max_depth))
        .min_weight_leaf((params.min_samples_leaf as f64 * mean_weight) as f32)
        .min_weight_split((2 * params.min_samples_leaf) as f32)
        .check()
        .map_err(|e| LinfaTreeError::Refused(e.to_string()))?;
    match catch_quietly(|| checked.fit(&dataset)) {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(e)) => Err(LinfaTreeError::Refused(e.to_string())),
        Err(message) => Err(LinfaTreeError::Panicked(message)),
    }
}

/// Fits and converts (what `train` calls): the tree, and the unnormalised importance.
pub(crate) fn fit(
    data: &Encoded,
    y: &[u8],
    class_weights: [f64; 2],
    params: LinfaTreeParams,
) -> Result<(Converted, [u64; 2]), LinfaTreeError> {
    let prepared = prepare(dense(data), y.to_vec(), class_weights)?;
    let fitted = fit_linfa(&prepared, params)?;
    Ok((convert(&fitted, &prepared, true)?, prepared.integer_weights))
}

thread_local! {
    /// Set while [`catch_quietly`] runs on this thread: the panic hook records instead of printing.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`, turning a panic into its message (file:line and text) without printing it; other
/// threads' panics still reach the previous hook.
fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let text = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                let at =
                    info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{text}{at}")));
            } else {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|_| CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_else(|| "no message".into()))
}

/// Labels a leaf may carry: bit 0 = not churned, bit 1 = churned.
const NOT_CHURNED: u8 = 1;
const CHURNED: u8 = 2;

/// The tree between linfa's and ours: splits with linfa's split value, leaves with their
/// possible labels.
enum Node {
    Leaf { labels: u8 },
    Split { feature: usize, split: f64, left: Box<Node>, right: Box<Node> },
}

/// Converts a fitted linfa-trees tree into our arrays, with the training rows it was fitted on.
/// With `canonical`, siblings whose possible labels intersect are merged (see the module docs),
/// else the tree is kept as linfa returned it.
pub fn convert(
    fitted: &DecisionTree<f64, bool>,
    prepared: &Prepared,
    canonical: bool,
) -> Result<Converted, LinfaTreeError> {
    let x = prepared.x.view();
    let n = prepared.y.len();
    if x.nrows() != n {
        return Err(LinfaTreeError::Conversion(format!("{} rows of inputs but {n} labels", x.nrows())));
    }
    // Possible labels from linfa's own (fit-time, `<=`) routing and its integer weights.
    let mut rows: Vec<u32> = (0..n as u32).collect();
    let mut root = labelled(fitted.root_node(), x, prepared, &mut rows[..])?;
    if canonical {
        merge(&mut root);
    }
    Ok(to_arrays(&root, x, prepared))
}

/// The intermediate tree of a linfa node whose fit-time rows are `rows` (reordered in place).
fn labelled(
    node: &TreeNode<f64, bool>,
    x: ArrayView2<f64>,
    prepared: &Prepared,
    rows: &mut [u32],
) -> Result<Node, LinfaTreeError> {
    if node.is_leaf() {
        let [a, b] = prepared.integer_weights;
        let (mut w0, mut w1) = (0u64, 0u64);
        for &r in rows.iter() {
            if prepared.y[r as usize] == 1 {
                w1 += b;
            } else {
                w0 += a;
            }
        }
        let labels = match w1.cmp(&w0) {
            std::cmp::Ordering::Greater => CHURNED,
            std::cmp::Ordering::Less => NOT_CHURNED,
            std::cmp::Ordering::Equal => CHURNED | NOT_CHURNED,
        };
        // linfa's own label must be one of them, or the weights were not what it summed.
        let given = if node.prediction() == Some(true) { CHURNED } else { NOT_CHURNED };
        if labels & given == 0 {
            return Err(LinfaTreeError::Conversion(format!(
                "a leaf labelled {} by linfa-trees holds class weights {w0} (0) and {w1} (1)",
                u8::from(given == CHURNED)
            )));
        }
        return Ok(Node::Leaf { labels });
    }
    let (feature, split, _) = node.split();
    let children = node.children();
    let (Some(left), Some(right)) = (children[0].as_deref(), children[1].as_deref()) else {
        return Err(LinfaTreeError::Conversion("a split node of the linfa-trees tree lacks a child".into()));
    };
    if feature >= x.ncols() || !split.is_finite() {
        return Err(LinfaTreeError::Conversion(format!(
            "a split on input {feature} at {split} does not fit the {} inputs",
            x.ncols()
        )));
    }
    let mid = partition(rows, |r| x[[r as usize, feature]] <= split);
    let (l, r) = rows.split_at_mut(mid);
    Ok(Node::Split {
        feature,
        split,
        left: Box::new(labelled(left, x, prepared, l)?),
        right: Box::new(labelled(right, x, prepared, r)?),
    })
}

/// Bottom-up: a split whose children are both leaves with a label in common becomes a leaf
/// with the common labels (linfa's prune, a tie counting as either label).
fn merge(node: &mut Node) {
    if let Node::Split { left, right, .. } = node {
        merge(left);
        merge(right);
        if let (Node::Leaf { labels: l }, Node::Leaf { labels: r }) = (left.as_ref(), right.as_ref()) {
            if l & r != 0 {
                *node = Node::Leaf { labels: l & r };
            }
        }
    }
}

/// Stable partition: rows where `left` holds first. Returns their count.
fn partition(rows: &mut [u32], left: impl Fn(u32) -> bool) -> usize {
    let mut right = Vec::new();
    let mut write = 0;
    for i in 0..rows.len() {
        let r = rows[i];
        if left(r) {
            rows[write] = r;
            write += 1;
        } else {
            right.push(r);
        }
    }
    rows[write..].copy_from_slice(&right);
    write
}

/// The largest f64 below `x` (finite `x`): `v <= next_down(x)` ⟺ `v < x` for every finite v.
fn next_down(x: f64) -> f64 {
    if x == 0.0 {
        return -f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits - 1 } else { bits + 1 })
}

/// Our arrays, routing the training rows as linfa's `predict` does (`x < split` left).
fn to_arrays(root: &Node, x: ArrayView2<f64>, prepared: &Prepared) -> Converted {
    let n = prepared.y.len();
    let p = x.ncols();
    let y = &prepared.y;
    let weight = |r: u32| prepared.class_weights[usize::from(y[r as usize])];
    let mut tree = Tree {
        feature: vec![],
        threshold: vec![],
        left: vec![],
        right: vec![],
        value: vec![],
        cover: vec![],
    };
    let mut leaf_labels = Vec::new();
    let mut importance = vec![0.0; p];
    let mut rows: Vec<u32> = (0..n as u32).collect();
    let totals = |rows: &[u32]| {
        let (mut wp, mut wn) = (0.0, 0.0);
        for &r in rows {
            if y[r as usize] == 1 {
                wp += weight(r);
            } else {
                wn += weight(r);
            }
        }
        (wp, wn)
    };
    let root_out = push(&mut tree, &mut leaf_labels);
    // (output node, linfa-side node, row range), left subtree first.
    let mut stack = vec![(root_out, root, 0usize, n)];
    while let Some((out, mut src, start, end)) = stack.pop() {
        let (wp, wn) = totals(&rows[start..end]);
        let w = wp + wn;
        tree.value[out] = if w > 0.0 { wp / w } else { 0.0 };
        tree.cover[out] = w;
        loop {
            match src {
                Node::Leaf { labels } => {
                    leaf_labels[out] = *labels;
                    break;
                }
                Node::Split { feature, split, left, right } => {
                    let (feature, split) = (*feature, *split);
                    let mid = start + partition(&mut rows[start..end], |r| x[[r as usize, feature]] < split);
                    // No training row on one side under predict's rule: the split cannot be
                    // given a probability, and the rows all take the other child.
                    if mid == start {
                        src = right;
                        continue;
                    }
                    if mid == end {
                        src = left;
                        continue;
                    }
                    let (lp, ln) = totals(&rows[start..mid]);
                    let (rp, rn) = (wp - lp, wn - ln);
                    let gain =
                        w * gini(wp, w) - (lp + ln) * gini(lp, lp + ln) - (rp + rn) * gini(rp, rp + rn);
                    importance[feature] += gain.max(0.0);
                    let l = push(&mut tree, &mut leaf_labels);
                    let r = push(&mut tree, &mut leaf_labels);
                    tree.feature[out] = feature as i32;
                    tree.threshold[out] = next_down(split);
                    tree.left[out] = l as u32;
                    tree.right[out] = r as u32;
                    stack.push((r, right, mid, end));
                    stack.push((l, left, start, mid));
                    break;
                }
            }
        }
    }
    Converted { tree, importance, leaf_labels }
}

fn push(tree: &mut Tree, leaf_labels: &mut Vec<u8>) -> usize {
    tree.feature.push(-1);
    tree.threshold.push(0.0);
    tree.left.push(0);
    tree.right.push(0);
    tree.value.push(0.0);
    tree.cover.push(0.0);
    leaf_labels.push(0);
    tree.feature.len() - 1
}

/// Gini impurity of a node with positive weight `wp` out of `w` (0 for an empty node).
fn gini(wp: f64, w: f64) -> f64 {
    if w <= 0.0 {
        return 0.0;
    }
    let q = wp / w;
    2.0 * q * (1.0 - q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_down_turns_less_than_into_less_or_equal() {
        for s in [0.5, 1.0, -3.25, 0.0, -0.0, 1e12, f64::MIN_POSITIVE, 29.85] {
            let t = next_down(s);
            assert!(t < s);
            for v in [s, t, s - 1e-9, s + 1e-9, -s, 0.0] {
                assert_eq!(v <= t, v < s, "split {s}, value {v}");
            }
        }
    }

    #[test]
    fn integer_weights_are_exact_ratios_when_small_and_bounded_otherwise() {
        assert_eq!(integer_weights([1.0, 1.0], [10, 5]), Ok([1, 1]));
        // Balanced with 3:1 classes: weights 2/3 and 2 → 1 : 3.
        assert_eq!(integer_weights([2.0 / 3.0, 2.0], [300, 100]), Ok([1, 3]));
        // 100,000 rows, 26.5 % churners, balanced: the sums stay exact and the ratio is close.
        let (n0, n1) = (73_500u64, 26_500u64);
        let w = [100_000.0 / (2.0 * n0 as f64), 100_000.0 / (2.0 * n1 as f64)];
        let [a, b] = integer_weights(w, [n0, n1]).unwrap();
        assert!(a * n0 + b * n1 <= EXACT_F32_TOTAL);
        let ratio = w[1] / w[0];
        assert!((b as f64 / a as f64 - ratio).abs() / ratio < 1e-4, "{a}:{b} vs {ratio}");
        // Class 0 weighted far above class 1: no exact pair is near 1000 : 1.
        assert!(matches!(integer_weights([1000.0, 1.0], [n0, n1]), Err(LinfaTreeError::TooLarge(_))));
        // Too many rows to sum exactly even unweighted.
        assert!(matches!(integer_weights([1.0, 1.0], [1 << 24, 1]), Err(LinfaTreeError::TooLarge(_))));
    }

    #[test]
    fn a_panic_inside_is_caught_with_its_message_and_location() {
        let caught = catch_quietly(|| -> u8 { panic!("assertion failed: n_samples > 0.0") });
        let message = caught.unwrap_err();
        assert!(message.contains("n_samples > 0.0") && message.contains("linfa_tree.rs"), "{message}");
        assert_eq!(catch_quietly(|| 7), Ok(7));
    }
}
