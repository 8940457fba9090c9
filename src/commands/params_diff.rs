//! `churnflow params diff`: the params that stages declare, compared between two sides
//! (HEAD vs the workspace by default), with the stages each one feeds.
//!
//! Only declared params are shown — keys in a stage's `params:`, `${}` keys used in its
//! `cmd`/settings, and a built-in kind's params section — because only those can change a
//! result. A declared section is flattened to its leaves (`train` → `train.max_depth`, …).
//! A param declared at either side is shown with its value in each side's params.yaml
//! (null where that file lacks it); its stages are those declaring it on either side.
use crate::commands::metrics::FormatArgs;
use crate::compare::{self, Side};
use crate::error::Result;
use crate::metrics::{cell, flatten, Flat};
use crate::table::Table;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Subcommand)]
pub enum ParamsCommand {
    /// Compare declared params: HEAD vs the workspace by default, REV_A vs the workspace,
    /// or REV_A vs REV_B.
    Diff(ParamsDiffArgs),
}

#[derive(Args)]
pub struct ParamsDiffArgs {
    /// Zero, one or two git revisions (old first).
    #[arg(value_name = "REV", num_args = 0..=2)]
    pub revs: Vec<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Also list the params that did not change.
    #[arg(long)]
    pub all: bool,
}

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

pub fn run(root: &Path, command: ParamsCommand) -> Result<u8> {
    let ParamsCommand::Diff(args) = command;
    let (old_rev, new_rev) = compare::sides(root, &args.revs)?;
    let old = Side::load(root, old_rev, false)?;
    let new = Side::load(root, new_rev, false)?;
    for side in [&old, &new] {
        if side.pipeline.is_none() {
            eprintln!("note: {} has no pipeline.yaml, so it declares no params", side.rev.label());
        }
    }
    let rows = rows(&old, &new, args.all);
    if args.format.json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| json!({"param": r.param, "old": r.old, "new": r.new, "stages": r.stages}))
            .collect();
        crate::commands::print_json(&json!({
            "schema": 1, "old": old.rev.to_json(), "new": new.rev.to_json(), "rows": rows,
        }))?;
        return Ok(0);
    }
    let (ol, nl) = (old.rev.label(), new.rev.label());
    let mut t = Table::new(&["Param", ol, nl, "Stages"], &[false, true, true, false]);
    for r in &rows {
        t.push(vec![r.param.clone(), cell(r.old.as_ref()), cell(r.new.as_ref()), r.stages.join(", ")]);
    }
    let mut out = String::new();
    if args.format.md {
        out.push_str(&format!("### Params: {ol} → {nl}\n\n"));
    }
    if rows.is_empty() {
        out.push_str("No declared param changed.\n");
    } else if args.format.md {
        out.push_str(&t.markdown());
    } else {
        out.push_str(&t.text());
    }
    print!("{out}");
    Ok(0)
}
