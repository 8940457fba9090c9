//! Exact Shapley contributions of one tree's output (path-dependent TreeSHAP, Lundberg et al.
//! 2018).
//!
//! For a row `x`, the contribution of input `j` is its Shapley value in the game whose value of
//! a coalition `S` is `E[f(x) | x_S]`, where the expectation over the inputs outside `S` follows
//! the training rows down the tree: at a split on an input in `S` the row goes its own way, at
//! any other split both children are visited, weighted by the share of training weight
//! (`cover`) that went each way. The contributions add up exactly:
//! `expected_value(tree) + Σ_j φ_j = f(x)`.
//!
//! Two ways to the same numbers:
//! - [`PreparedTree`] (used by `explain`): per leaf, the inputs its path splits on are merged
//!   into one interval each, with `z_j` = the product of the cover shares of input `j`'s
//!   splits along the path, and `o_j` = 1 if the row satisfies the interval, else 0. The
//!   leaf (value `v`, `k` path inputs) adds to input `i`
//!   `v · (o_i - z_i) · Σ_{S ⊆ P∖{i}} w_{|S|} Π_{j ∈ S} o_j Π_{j ∉ S, j ≠ i} z_j`, with the
//!   Shapley weights `w_s = s! (k-1-s)! / k! = ∫₀¹ tˢ (1-t)^(k-1-s) dt`. Summed under the
//!   integral, that is `v · (o_i - z_i) · ∫₀¹ Π_{j ≠ i} (o_j t + z_j (1 - t)) dt`: a polynomial
//!   of degree `k - 1` in `t`, so Gauss–Legendre quadrature with `⌈k/2⌉` nodes computes it
//!   exactly (the identity behind Linear TreeSHAP, Yu et al. 2022). With prefix and suffix
//!   products over the path, a leaf costs O(k · ⌈k/2⌉) multiply-adds with no division and no
//!   branch on the data; paths of up to 8 inputs run a fixed 4-node kernel the compiler
//!   vectorises.
//! - [`add_contributions`] (tests; the reference): Algorithm 2 of the paper, a walk that visits
//!   every node once and keeps, per root-to-node path, the proportions of all coalition sizes
//!   ("pweights").

use crate::contract::StageError;

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
    #[cfg(test)]
    fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        while !self.is_leaf(i) {
            i = self.hot_child(i, x);
        }
        self.value[i]
    }

    #[cfg(test)]
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

/// What explaining a tree model's predictions needs, derived from it once: every tree
/// prepared (or why it cannot be). A model keeps one; a loaded or cloned model starts empty
/// and fills it on first use; it takes no part in comparing models.
#[derive(Default)]
pub(crate) struct ExplainCache {
    trees: std::sync::OnceLock<Result<Vec<PreparedTree>, StageError>>,
}

impl ExplainCache {
    /// The prepared trees, built by `prepare` on the first call.
    pub(crate) fn trees(
        &self,
        prepare: impl FnOnce() -> Result<Vec<PreparedTree>, StageError>,
    ) -> Result<&[PreparedTree], &StageError> {
        self.trees.get_or_init(prepare).as_deref()
    }
}

impl Clone for ExplainCache {
    fn clone(&self) -> Self {
        ExplainCache::default()
    }
}

impl PartialEq for ExplainCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for ExplainCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExplainCache")
    }
}

/// A tree prepared once for explaining many rows: its expected value and, per leaf, its value
/// and its path inputs.
#[derive(Debug, Clone)]
pub(crate) struct PreparedTree {
    expected_value: f64,
    inputs: Vec<PathInput>,
    /// Leaf `l`'s inputs are `inputs[input_start[l]..input_start[l + 1]]`.
    input_start: Vec<u32>,
    leaf_value: Vec<f64>,
    /// The 4-node Gauss–Legendre rule on [0, 1], for paths of up to [`SHORT_PATH`] inputs.
    short_rule: [Node; 4],
    /// `long_rules[m]`: the `m`-node rule, for every `m` up to what the longest path needs
    /// (none when every path is short).
    long_rules: Vec<Vec<Node>>,
}

/// Paths of at most this many inputs use the fixed 4-node kernel (exact to degree 7).
const SHORT_PATH: usize = 8;

/// One quadrature node: `∫₀¹ p(t) dt = Σ w · p(t)` for polynomials of low enough degree.
#[derive(Debug, Clone, Copy)]
struct Node {
    t: f64,
    w: f64,
}

/// The `M`-node Gauss–Legendre rule on [0, 1] as an array.
fn gauss_legendre<const M: usize>() -> [Node; M] {
    let rule = gauss_legendre_rule(M);
    std::array::from_fn(|i| rule[i])
}

/// Gauss–Legendre nodes and weights on [0, 1] with `m` points (exact for degree ≤ 2m - 1).
fn gauss_legendre_rule(m: usize) -> Vec<Node> {
    (0..m)
        .map(|i| {
            let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (m as f64 + 0.5)).cos();
            let mut dp = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, 0.0);
                for j in 0..m {
                    let p2 = p1;
                    p1 = p0;
                    p0 = ((2 * j + 1) as f64 * z * p1 - j as f64 * p2) / (j + 1) as f64;
                }
                dp = m as f64 * (z * p0 - p1) / (z * z - 1.0);
                let dz = p0 / dp;
                z -= dz;
                if dz.abs() < 1e-16 {
                    break;
                }
            }
            Node { t: (1.0 - z) / 2.0, w: 1.0 / ((1.0 - z * z) * dp * dp) }
        })
        .collect()
}

/// One input on a leaf's path: the row satisfies every split on it along the path iff
/// `lo < x ≤ hi` (a bound that no split set is infinite); `zero` is the product of the cover
/// shares of those splits.
#[derive(Debug, Clone, Copy)]
struct PathInput {
    feature: u32,
    lo: f64,
    hi: f64,
    zero: f64,
}

impl PathInput {
    /// The comparisons the tree makes (`x ≤ threshold` goes left; NaN goes right), merged.
    fn holds(&self, x: f64) -> bool {
        (self.hi == f64::INFINITY || x <= self.hi)
            && (self.lo == f64::NEG_INFINITY || x > self.lo || x.is_nan())
    }
}

impl PreparedTree {
    pub(crate) fn new(tree: &TreeView<'_>) -> PreparedTree {
        let mut prepared = PreparedTree {
            expected_value: tree.expected_value(),
            inputs: Vec::new(),
            input_start: vec![0],
            leaf_value: Vec::new(),
            short_rule: gauss_legendre::<4>(),
            long_rules: Vec::new(),
        };
        let mut stack: Vec<(usize, Vec<PathInput>)> = vec![(0, Vec::new())];
        while let Some((node, path)) = stack.pop() {
            if tree.is_leaf(node) {
                prepared.leaf_value.push(tree.value[node]);
                prepared.inputs.extend_from_slice(&path);
                prepared.input_start.push(prepared.inputs.len() as u32);
                continue;
            }
            let feature = tree.feature[node] as u32;
            let threshold = tree.threshold[node];
            for (child, left) in [(tree.right[node] as usize, false), (tree.left[node] as usize, true)] {
                let mut path = path.clone();
                let at = match path.iter().position(|p| p.feature == feature) {
                    Some(at) => at,
                    None => {
                        path.push(PathInput { feature, lo: f64::NEG_INFINITY, hi: f64::INFINITY, zero: 1.0 });
                        path.len() - 1
                    }
                };
                let input = &mut path[at];
                if left {
                    input.hi = input.hi.min(threshold);
                } else {
                    input.lo = input.lo.max(threshold);
                }
                input.zero *= tree.cover[child] / tree.cover[node];
                stack.push((child, path));
            }
        }
        let longest = prepared.input_start.windows(2).map(|w| (w[1] - w[0]) as usize).max().unwrap_or(0);
        if longest > SHORT_PATH {
            prepared.long_rules = (0..=longest.div_ceil(2)).map(gauss_legendre_rule).collect();
        }
        prepared
    }

    /// `E[f(X)]`, as [`TreeView::expected_value`].
    pub(crate) fn expected_value(&self) -> f64 {
        self.expected_value
    }

    /// Adds the tree's contributions for row `x` to `phi` (one slot per input).
    pub(crate) fn add_contributions(&self, x: &[f64], phi: &mut [f64], scratch: &mut ShapScratch) {
        for (leaf, &value) in self.leaf_value.iter().enumerate() {
            let inputs = &self.inputs[self.input_start[leaf] as usize..self.input_start[leaf + 1] as usize];
            match inputs.len() {
                0 => {}
                k if k <= SHORT_PATH => short_path(inputs, value, x, phi, &self.short_rule),
                k => long_path(inputs, value, x, phi, &self.long_rules[k.div_ceil(2)], scratch),
            }
        }
    }
}

/// One leaf's contributions for a path of at most [`SHORT_PATH`] inputs: the integrand at 4
/// nodes at once, in fixed-size arrays. The same computation as [`long_path`], kept apart
/// because fixed sizes let the compiler vectorise it (it is the serving hot path).
fn short_path(inputs: &[PathInput], value: f64, x: &[f64], phi: &mut [f64], nodes: &[Node; 4]) {
    let t = nodes.map(|n| n.t);
    let w = nodes.map(|n| n.w);
    let mut g = [[0.0; 4]; SHORT_PATH];
    let mut o = [0.0; SHORT_PATH];
    // suffix[j] = Π_{l ≥ j} g_l, at each node.
    let mut suffix = [[1.0; 4]; SHORT_PATH + 1];
    for (j, input) in inputs.iter().enumerate().rev() {
        o[j] = f64::from(u8::from(input.holds(x[input.feature as usize])));
        for n in 0..4 {
            g[j][n] = o[j] * t[n] + input.zero * (1.0 - t[n]);
            suffix[j][n] = g[j][n] * suffix[j + 1][n];
        }
    }
    let mut prefix = [1.0; 4];
    for (j, input) in inputs.iter().enumerate() {
        let mut integral = 0.0;
        for n in 0..4 {
            integral += w[n] * prefix[n] * suffix[j + 1][n];
            prefix[n] *= g[j][n];
        }
        phi[input.feature as usize] += value * (o[j] - input.zero) * integral;
    }
}

/// One leaf's contributions for a longer path, with `⌈k/2⌉` nodes and the scratch buffers.
fn long_path(
    inputs: &[PathInput],
    value: f64,
    x: &[f64],
    phi: &mut [f64],
    nodes: &[Node],
    scratch: &mut ShapScratch,
) {
    let (k, m) = (inputs.len(), nodes.len());
    let ShapScratch { g, suffix, prefix, o } = scratch;
    g.clear();
    g.resize(k * m, 0.0);
    suffix.clear();
    suffix.resize((k + 1) * m, 1.0);
    o.clear();
    o.resize(k, 0.0);
    for (j, input) in inputs.iter().enumerate().rev() {
        o[j] = f64::from(u8::from(input.holds(x[input.feature as usize])));
        for (n, node) in nodes.iter().enumerate() {
            g[j * m + n] = o[j] * node.t + input.zero * (1.0 - node.t);
            suffix[j * m + n] = g[j * m + n] * suffix[(j + 1) * m + n];
        }
    }
    prefix.clear();
    prefix.resize(m, 1.0);
    for (j, input) in inputs.iter().enumerate() {
        let mut integral = 0.0;
        for (n, node) in nodes.iter().enumerate() {
            integral += node.w * prefix[n] * suffix[(j + 1) * m + n];
            prefix[n] *= g[j * m + n];
        }
        phi[input.feature as usize] += value * (o[j] - input.zero) * integral;
    }
}

/// Reusable scratch space for leaves with long paths; grows to the longest path it has seen.
#[derive(Debug, Default)]
pub(crate) struct ShapScratch {
    g: Vec<f64>,
    suffix: Vec<f64>,
    prefix: Vec<f64>,
    o: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference: Algorithm 2 of Lundberg et al. 2018, a walk over every node.

    #[derive(Debug, Clone, Copy, Default)]
    struct PathElement {
        feature: i32,
        zero_fraction: f64,
        one_fraction: f64,
        pweight: f64,
    }

    /// Adds the tree's TreeSHAP contributions for row `x` to `phi` (one slot per input).
    fn add_contributions(tree: &TreeView<'_>, x: &[f64], phi: &mut [f64], buffer: &mut Vec<PathElement>) {
        recurse(tree, x, phi, buffer, 0, 0, 0, 1.0, 1.0, -1);
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
        let cold = if hot == tree.left[node] as usize {
            tree.right[node] as usize
        } else {
            tree.left[node] as usize
        };
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

    /// Both ways — the paper's walk and the prepared tree — against Shapley values computed by
    /// enumerating every coalition.
    #[test]
    fn tree_shap_equals_brute_force_shapley_values_on_small_trees() {
        let mut rng = Lcg(7);
        let mut buffer = Vec::new();
        for case in 0..60 {
            let p = 2 + case % 5;
            let rows: Vec<Vec<f64>> = (0..80).map(|_| (0..p).map(|_| rng.next()).collect()).collect();
            let tree = random_tree(&mut rng, p, &rows, 2 + case % 5);
            let view = tree.view();
            let prepared = PreparedTree::new(&view);
            for _ in 0..5 {
                let x: Vec<f64> = (0..p).map(|_| rng.next()).collect();
                let expected = brute_force(&view, &x, p);
                let (mut walked, mut closed_form) = (vec![0.0; p], vec![0.0; p]);
                add_contributions(&view, &x, &mut walked, &mut buffer);
                prepared.add_contributions(&x, &mut closed_form, &mut ShapScratch::default());
                for (name, phi) in [("walk", &walked), ("prepared", &closed_form)] {
                    for j in 0..p {
                        assert!(
                            (phi[j] - expected[j]).abs() < 1e-12,
                            "{name}, case {case}, input {j}: {} vs {}",
                            phi[j],
                            expected[j]
                        );
                    }
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
        let mut buffer = Vec::new();
        for _ in 0..100 {
            let x: Vec<f64> = (0..p).map(|_| rng.next()).collect();
            let mut phi = vec![0.0; p];
            add_contributions(&view, &x, &mut phi, &mut buffer);
            let total = view.expected_value() + phi.iter().sum::<f64>();
            assert!((total - view.predict(&x)).abs() < 1e-12, "{total} vs {}", view.predict(&x));
        }
    }

    /// Deep trees with inputs repeating along paths, rows on the thresholds and NaN inputs
    /// (which go right at every split): the prepared trees and the walk agree.
    #[test]
    fn prepared_trees_and_the_walk_agree_on_deep_trees_with_repeated_inputs_ties_and_nan() {
        let mut rng = Lcg(23);
        let p = 12;
        let rows: Vec<Vec<f64>> = (0..3000).map(|_| (0..p).map(|_| rng.next()).collect()).collect();
        for depth in [6, 9, 12] {
            let tree = random_tree(&mut rng, p, &rows, depth);
            let view = tree.view();
            let prepared = PreparedTree::new(&view);
            if depth == 12 {
                // Both kernels run: paths longer than the short one exist.
                assert!(prepared.input_start.windows(2).any(|w| (w[1] - w[0]) as usize > SHORT_PATH));
            }
            let mut scratch = ShapScratch::default();
            for r in 0..200 {
                let mut x: Vec<f64> = (0..p).map(|_| rng.next()).collect();
                if r % 3 == 0 {
                    // On a threshold of the tree (x ≤ threshold goes left).
                    let split = (0..tree.feature.len()).find(|&i| tree.feature[i] >= 0).unwrap();
                    x[tree.feature[split] as usize] = tree.threshold[split];
                }
                if r % 5 == 0 {
                    x[rng.below(p)] = f64::NAN;
                }
                let (mut fast, mut walk) = (vec![0.0; p], vec![0.0; p]);
                prepared.add_contributions(&x, &mut fast, &mut scratch);
                add_contributions(&view, &x, &mut walk, &mut Vec::new());
                for j in 0..p {
                    assert!(
                        (fast[j] - walk[j]).abs() < 1e-12,
                        "depth {depth}, input {j}: {} vs {}",
                        fast[j],
                        walk[j]
                    );
                }
                let total = prepared.expected_value() + fast.iter().sum::<f64>();
                assert!((total - view.predict(&x)).abs() < 1e-12, "{total} vs {}", view.predict(&x));
            }
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
        add_contributions(&t.view(), &[1.0, 2.0, 3.0], &mut phi, &mut Vec::new());
        assert_eq!(phi, vec![0.0; 3]);
        let prepared = PreparedTree::new(&t.view());
        prepared.add_contributions(&[1.0, 2.0, 3.0], &mut phi, &mut ShapScratch::default());
        assert_eq!(phi, vec![0.0; 3]);
        assert_eq!(prepared.expected_value(), 0.3);
        assert_eq!(t.view().expected_value(), 0.3);
    }
}
