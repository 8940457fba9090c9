//! The params that stages declare at one side, and their values compared between sides.
//!
//! Only declared params count — keys in a stage's `params:`, `${}` keys used in its
//! `cmd`/settings, and a built-in kind's params section — because only those can change a
//! result. A declared section is flattened to its leaves (`train` → `train.max_depth`, …).
//! A param declared at either side is shown with its value in each side's params.yaml
//! (null where that file lacks it); its stages are those declaring it on either side, and
//! `reruns` adds everything downstream of them in the newer side's graph (in graph order): what
//! `repro` would run after the change.
use crate::compare::metrics::{flatten, Flat};
use crate::compare::side::Side;
use crate::pipeline::graph::Graph;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One declared param compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    pub param: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub stages: Vec<String>,
    /// The declaring stages and every stage downstream of them, in graph order.
    pub reruns: Vec<String>,
}

/// Declared leaf params of one side → the stages declaring them.
pub fn declared(side: &Side) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for stage in side.pipeline.iter().flat_map(|p| &p.stages) {
        for (key, value) in &stage.params {
            if value.is_null() {
                // A section the params file does not have (the kind's defaults apply): no row.
                continue;
            }
            let mut leaves = Flat::new();
            flatten(key, value, &mut leaves);
            for leaf in leaves.into_keys() {
                out.entry(leaf).or_default().insert(stage.name.clone());
            }
        }
    }
    out
}

/// Rows for every param declared on either side (unchanged ones only with `all`).
pub fn rows(old: &Side, new: &Side, all: bool) -> Vec<ParamRow> {
    let mut keys = declared(old);
    for (k, stages) in declared(new) {
        keys.entry(k).or_default().extend(stages);
    }
    let graph_side = if new.pipeline.is_some() { new } else { old };
    keys.into_iter()
        .map(|(param, stages)| ParamRow {
            old: old.params.get(&param).cloned(),
            new: new.params.get(&param).cloned(),
            reruns: reruns(graph_side, &stages),
            stages: stages.into_iter().collect(),
            param,
        })
        .filter(|r| all || r.old != r.new)
        .collect()
}

/// `stages` and everything downstream of them in `side`'s graph, in graph order (just
/// `stages` when the side has no valid graph).
fn reruns(side: &Side, stages: &BTreeSet<String>) -> Vec<String> {
    let Some(pipeline) = &side.pipeline else { return stages.iter().cloned().collect() };
    let Ok(graph) = Graph::build(pipeline) else { return stages.iter().cloned().collect() };
    let targets: Vec<usize> = pipeline
        .stages
        .iter()
        .enumerate()
        .filter(|(_, s)| stages.contains(&s.name))
        .map(|(i, _)| i)
        .collect();
    let keep = graph.closure(&targets, true);
    graph.order().iter().filter(|&&i| keep[i]).map(|&i| pipeline.stages[i].name.clone()).collect()
}
