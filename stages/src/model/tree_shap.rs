//! Exact Shapley contributions of one tree's output (path-dependent TreeSHAP, Lundberg et al.
//! 2018, Algorithm 2).
//!
//! For a row `x`, the contribution of input `j` is its Shapley value in the game whose value of
//! a coalition `S` is `E[f(x) | x_S]`, where the expectation over the inputs outside `S` follows
//! the training rows down the tree: at a split on an input in `S` the row goes its own way, at
//! any other split both children are visited, weighted by the share of training weight
//! (`cover`) that went each way. The contributions add up exactly:
//! `expected_value(tree) + Σ_j φ_j = f(x)`.
//!
//! The walk visits every node once and keeps, per root-to-node path, the proportions of all
//! coalition sizes ("pweights"); the cost is O(leaves · depth²) per row, with one scratch buffer
//! of O(depth²) reused across calls (it grows to the deepest tree it has seen).

/// A tree as TreeSHAP needs it: node 0 is the root; `feature[i] < 0` marks a leaf whose output is
/// `value[i]`; otherwise rows with `x[feature] <= threshold` go `left`; `cover[i]` is the
/// training weight that reached node `i` (positive for every node).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeView<'a> {
    pub(crate) feature: &'a [i32],
    pub(crate) threshold: &'a [f64],
    pub(crate) left: &'a [u32],
    pub(crate) right: &'a [u32],
    pub(crate) value: &'a [f64],
    pub(crate) cover: &'a [f64],
}

impl TreeView<'_> {
    fn is_leaf(&self, i: usize) -> bool {
        self.feature[i] < 0
    }

    /// The tree's output for `x`.
    pub(crate) fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        while !self.is_leaf(i) {
            i = self.hot_child(i, x);
        }
        self.value[i]
    }

    fn hot_child(&self, i: usize, x: &[f64]) -> usize {
        let f = self.feature[i] as usize;
        if x[f] <= self.threshold[i] {
            self.left[i] as usize
        } else {
            self.right[i] as usize
        }
    }

    /// `E[f(X)]` over the training weight: the cover-weighted mean of the leaf outputs (the
    /// base value the contributions start from).
    pub(crate) fn expected_value(&self) -> f64 {
        let root = self.cover[0];
        (0..self.feature.len())
            .filter(|&i| self.is_leaf(i))
            .map(|i| self.value[i] * self.cover[i] / root)
            .sum()
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: i32,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

/// Reusable scratch space for [`add_contributions`]; grows to the deepest tree it has seen.
#[derive(Debug, Default)]
pub(crate) struct ShapScratch {
    path: Vec<PathElement>,
}

/// Adds the tree's TreeSHAP contributions for row `x` to `phi` (one slot per input).
pub(crate) fn add_contributions(tree: &TreeView<'_>, x: &[f64], phi: &mut [f64], scratch: &mut ShapScratch) {
    recurse(tree, x, phi, &mut scratch.path, 0, 0, 0, 1.0, 1.0, -1);
}

/// One node of the walk. The path of this node lives at `path[offset..]`; its first
/// `unique_depth` elements are the parent's path, copied.
#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &TreeView<'_>,
    x: &[f64],
    phi: &mut [f64],
    buffer: &mut Vec<PathElement>,
    node: usize,
    offset: usize,
    mut unique_depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i32,
) {
    // The buffer grows to the deepest path seen and is then reused: no walk to measure the
    // tree's depth on every call (that walk cost 15 % of a 200-tree forest's explanation).
    let need = offset + 2 * (unique_depth + 2);
    if buffer.len() < need {
        buffer.resize(need.max(2 * buffer.len()), PathElement::default());
    }
    extend(&mut buffer[offset..], unique_depth, zero_fraction, one_fraction, feature);
    if tree.is_leaf(node) {
        let path = &buffer[offset..offset + unique_depth + 1];
        for i in 1..=unique_depth {
            let w = unwound_sum(path, unique_depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * tree.value[node];
        }
        return;
    }
    let split = tree.feature[node];
    let hot = tree.hot_child(node, x);
    let cold =
        if hot == tree.left[node] as usize { tree.right[node] as usize } else { tree.left[node] as usize };
    let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
    // A feature already on the path: undo its earlier split before splitting on it again.
    if let Some(k) = (1..=unique_depth).find(|&k| buffer[offset + k].feature == split) {
        incoming_zero = buffer[offset + k].zero_fraction;
        incoming_one = buffer[offset + k].one_fraction;
        unwind(&mut buffer[offset..], unique_depth, k);
        unique_depth -= 1;
    }
    let child_offset = offset + unique_depth + 1;
    let cover = tree.cover[node];
    for (child, one) in [(hot, incoming_one), (cold, 0.0)] {
        buffer.copy_within(offset..offset + unique_depth + 1, child_offset);
        let zero = tree.cover[child] / cover * incoming_zero;
        recurse(tree, x, phi, buffer, child, child_offset, unique_depth + 1, zero, one, split);
    }
}

fn extend(
    path: &mut [PathElement],
    unique_depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i32,
) {
    path[unique_depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        pweight: if unique_depth == 0 { 1.0 } else { 0.0 },
    };
    let d = unique_depth as f64;
    for i in (0..unique_depth).rev() {
        let fi = i as f64;
        path[i + 1].pweight += one_fraction * path[i].pweight * (fi + 1.0) / (d + 1.0);
        path[i].pweight = zero_fraction * path[i].pweight * (d - fi) / (d + 1.0);
    }
}

fn unwind(path: &mut [PathElement], unique_depth: usize, index: usize) {
    let one_fraction = path[index].one_fraction;
    let zero_fraction = path[index].zero_fraction;
    let d = unique_depth as f64;
    let mut next_one_portion = path[unique_depth].pweight;
    for i in (0..unique_depth).rev() {
        let fi = i as f64;
        if one_fraction != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * (d + 1.0) / ((fi + 1.0) * one_fraction);
            next_one_portion = tmp - path[i].pweight * zero_fraction * (d - fi) / (d + 1.0);
        } else {
            path[i].pweight = path[i].pweight * (d + 1.0) / (zero_fraction * (d - fi));
        }
    }
    for i in index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// The total pweight the path would have with element `index` unwound (without unwinding it).
fn unwound_sum(path: &[PathElement], unique_depth: usize, index: usize) -> f64 {
    let one_fraction = path[index].one_fraction;
    let zero_fraction = path[index].zero_fraction;
    let d = unique_depth as f64;
    let mut next_one_portion = path[unique_depth].pweight;
    let mut total = 0.0;
    for i in (0..unique_depth).rev() {
        let fi = i as f64;
        if one_fraction != 0.0 {
            let tmp = next_one_portion * (d + 1.0) / ((fi + 1.0) * one_fraction);
            total += tmp;
            next_one_portion = path[i].pweight - tmp * zero_fraction * (d - fi) / (d + 1.0);
        } else if zero_fraction != 0.0 {
            total += path[i].pweight / zero_fraction / ((d - fi) / (d + 1.0));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree with its arrays owned, for tests.
    struct Owned {
        feature: Vec<i32>,
        threshold: Vec<f64>,
        left: Vec<u32>,
        right: Vec<u32>,
        value: Vec<f64>,
        cover: Vec<f64>,
    }

    impl Owned {
        fn view(&self) -> TreeView<'_> {
            TreeView {
                feature: &self.feature,
                threshold: &self.threshold,
                left: &self.left,
                right: &self.right,
                value: &self.value,
                cover: &self.cover,
            }
        }
    }

    /// A small deterministic generator (tests only).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() * n as f64) as usize % n
        }
    }

    /// A random tree over `p` inputs, grown by routing `rows` random training rows (so covers are
    /// consistent), splitting while a node has at least 2 rows and depth < `max_depth`. Inputs
    /// repeat along paths, which exercises the unwinding.
    fn random_tree(rng: &mut Lcg, p: usize, rows: &[Vec<f64>], max_depth: usize) -> Owned {
        let mut t = Owned {
            feature: vec![],
            threshold: vec![],
            left: vec![],
            right: vec![],
            value: vec![],
            cover: vec![],
        };
        fn node(t: &mut Owned) -> usize {
            t.feature.push(-1);
            t.threshold.push(0.0);
            t.left.push(0);
            t.right.push(0);
            t.value.push(0.0);
            t.cover.push(0.0);
            t.feature.len() - 1
        }
        let root = node(&mut t);
        let all: Vec<usize> = (0..rows.len()).collect();
        let mut stack = vec![(root, all, 0)];
        while let Some((i, members, depth)) = stack.pop() {
            t.cover[i] = members.len() as f64;
            t.value[i] = rng.next();
            if depth >= max_depth || members.len() < 2 {
                continue;
            }
            let f = rng.below(p);
            let thr = rng.next();
            let (l, r): (Vec<usize>, Vec<usize>) = members.iter().partition(|&&m| rows[m][f] <= thr);
            if l.is_empty() || r.is_empty() {
                continue;
            }
            let (li, ri) = (node(&mut t), node(&mut t));
            t.feature[i] = f as i32;
            t.threshold[i] = thr;
            t.left[i] = li as u32;
            t.right[i] = ri as u32;
            stack.push((li, l, depth + 1));
            stack.push((ri, r, depth + 1));
        }
        t
    }

    /// `E[f(x) | x_S]` with the path-dependent expectation: inputs in `S` follow `x`, the others
    /// split by cover.
    fn conditional(t: &TreeView<'_>, x: &[f64], s: u32, i: usize) -> f64 {
        if t.is_leaf(i) {
            return t.value[i];
        }
        let f = t.feature[i] as usize;
        if s & (1 << f) != 0 {
            conditional(t, x, s, t.hot_child(i, x))
        } else {
            let (l, r) = (t.left[i] as usize, t.right[i] as usize);
            (t.cover[l] * conditional(t, x, s, l) + t.cover[r] * conditional(t, x, s, r)) / t.cover[i]
        }
    }

    /// Shapley values by enumerating every coalition (exponential; p ≤ 10).
    fn brute_force(t: &TreeView<'_>, x: &[f64], p: usize) -> Vec<f64> {
        let fact = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
        let mut phi = vec![0.0; p];
        for (j, out) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << p) {
                if s & (1 << j) != 0 {
                    continue;
                }
                let size = s.count_ones() as usize;
                let weight = fact(size) * fact(p - size - 1) / fact(p);
                *out += weight * (conditional(t, x, s | (1 << j), 0) - conditional(t, x, s, 0));
            }
        }
        phi
    }

    #[test]
    fn tree_shap_equals_brute_force_shapley_values_on_small_trees() {
        let mut rng = Lcg(7);
        for case in 0..60 {
            let p = 2 + case % 5;
            let rows: Vec<Vec<f64>> = (0..80).map(|_| (0..p).map(|_| rng.next()).collect()).collect();
            let tree = random_tree(&mut rng, p, &rows, 2 + case % 5);
            let view = tree.view();
            let mut scratch = ShapScratch::default();
            for _ in 0..5 {
                let x: Vec<f64> = (0..p).map(|_| rng.next()).collect();
                let mut phi = vec![0.0; p];
                add_contributions(&view, &x, &mut phi, &mut scratch);
                let expected = brute_force(&view, &x, p);
                for j in 0..p {
                    assert!(
                        (phi[j] - expected[j]).abs() < 1e-12,
                        "case {case}, input {j}: {} vs {}",
                        phi[j],
                        expected[j]
                    );
                }
            }
        }
    }

    #[test]
    fn contributions_and_base_value_add_up_to_the_prediction() {
        let mut rng = Lcg(11);
        let p = 12;
        let rows: Vec<Vec<f64>> = (0..2000).map(|_| (0..p).map(|_| rng.next()).collect()).collect();
        let tree = random_tree(&mut rng, p, &rows, 10);
        let view = tree.view();
        let mut scratch = ShapScratch::default();
        for _ in 0..100 {
            let x: Vec<f64> = (0..p).map(|_| rng.next()).collect();
            let mut phi = vec![0.0; p];
            add_contributions(&view, &x, &mut phi, &mut scratch);
            let total = view.expected_value() + phi.iter().sum::<f64>();
            assert!((total - view.predict(&x)).abs() < 1e-12, "{total} vs {}", view.predict(&x));
        }
    }

    #[test]
    fn a_single_leaf_explains_nothing() {
        let t = Owned {
            feature: vec![-1],
            threshold: vec![0.0],
            left: vec![0],
            right: vec![0],
            value: vec![0.3],
            cover: vec![10.0],
        };
        let mut phi = vec![0.0; 3];
        add_contributions(&t.view(), &[1.0, 2.0, 3.0], &mut phi, &mut ShapScratch::default());
        assert_eq!(phi, vec![0.0; 3]);
        assert_eq!(t.view().expected_value(), 0.3);
    }
}
