//! `churnflow params diff`: the params that stages declare, compared between two sides
//! (HEAD vs the workspace by default), with the stages each one feeds.
//!
//! Which params count and how they are compared: see [`crate::compare::params`].
use crate::commands::table::{FormatArgs, Table};
use crate::compare::metrics::cell;
use crate::compare::params::rows;
use crate::compare::side::{self, Side};
use crate::error::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
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

pub fn run(root: &Path, command: ParamsCommand) -> Result<u8> {
    let ParamsCommand::Diff(args) = command;
    let (old_rev, new_rev) = side::sides(root, &args.revs)?;
    let old = Side::load(root, old_rev, false)?;
    let new = Side::load(root, new_rev, false)?;
    for side in [&old, &new] {
        if side.pipeline.is_none() {
            crate::exec::progress::info(&format!(
                "note: {} has no pipeline.yaml, so it declares no params",
                side.rev.label()
            ));
        }
    }
    let rows = rows(&old, &new, args.all);
    if args.format.json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| json!({"param": r.param, "old": r.old, "new": r.new, "stages": r.stages, "reruns": r.reruns}))
            .collect();
        crate::commands::print_json(&json!({
            "schema": 1, "old": old.rev.to_json(), "new": new.rev.to_json(), "rows": rows,
        }))?;
        return Ok(0);
    }
    let (ol, nl) = (old.rev.label(), new.rev.label());
    let mut t = Table::new(&["Param", ol, nl, "Declared by", "Reruns"], &[false, true, true, false, false]);
    for r in &rows {
        t.push(vec![
            r.param.clone(),
            cell(r.old.as_ref()),
            cell(r.new.as_ref()),
            r.stages.join(", "),
            r.reruns.join(", "),
        ]);
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
