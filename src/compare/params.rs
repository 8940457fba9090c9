//! The params that stages declare at one side, and their values compared between sides.
//!
//! Only declared params count — keys in a stage's `params:`, `${}` keys used in its
//! `cmd`/settings, and a built-in kind's params section — because only those can change a
//! result. A declared section is flattened to its leaves (`train` → `train.max_depth`, …).
//! A param declared at either side is shown with its value in each side's params.yaml
//! (null where that file lacks it); its stages are those declaring it on either side.
use crate::compare::metrics::{flatten, Flat};
use crate::compare::side::Side;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One declared param compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    pub param: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub stages: Vec<String>,
}

/// Declared leaf params of one side → the stages declaring them.
pub fn declared(side: &Side) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for stage in side.pipeline.iter().flat_map(|p| &p.stages) {
        for (key, value) in &stage.params {
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
    keys.into_iter()
        .map(|(param, stages)| ParamRow {
            old: old.params.get(&param).cloned(),
            new: new.params.get(&param).cloned(),
            stages: stages.into_iter().collect(),
            param,
        })
        .filter(|r| all || r.old != r.new)
        .collect()
}
