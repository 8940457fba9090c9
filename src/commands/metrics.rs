//! `churnflow metrics show|diff`: the values of every declared metrics file, in the
//! workspace or compared between two sides (git revisions or the workspace), with
//! `--fail-on` checks for CI.
//!
//! Exit codes: 0 ok; 1 a `--fail-on` check failed or a metrics file that should be readable
//! was not (a cached object missing from the store, invalid JSON) — the table is still
//! printed; 2 a bad revision, expression, or pipeline/params/lock file.
use crate::commands::table::{FormatArgs, Table};
use crate::compare::layout::{lay_out, Laid};
use crate::compare::metric_files::{collect, Collected, Problem};
use crate::compare::metrics::{self, change_cell, metric_cell, relative_cell, MetricCheck, Row};
use crate::compare::side::{self, Rev, Side};
use crate::error::{did_you_mean, Error, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::Path;

#[derive(Subcommand)]
pub enum MetricsCommand {
    /// Every metrics file that the pipeline declares, with its flattened keys and values.
    Show(ShowArgs),
    /// Compare metrics between two sides: HEAD vs the workspace by default, REV_A vs the
    /// workspace, or REV_A vs REV_B.
    Diff(DiffArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub format: FormatArgs,
    /// List every item of a per-item section (drift's per-column statistics) instead of one
    /// summary row and the items that drifted.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args)]
pub struct DiffArgs {
    /// Zero, one or two git revisions (old first).
    #[arg(value_name = "REV", num_args = 0..=2)]
    pub revs: Vec<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Also list the metrics that did not change, and every item of a per-item section
    /// (drift's per-column statistics) instead of one summary row and the drifted items.
    #[arg(long)]
    pub all: bool,
    /// Exit 1 when a metric is worse than a bound: KEY<V, KEY<=V, KEY>V, KEY>=V (the new
    /// value), KEY:-D / KEY:+D / KEY:-P% (the change since the old side); FILE#KEY picks a
    /// file. Repeatable.
    #[arg(long = "fail-on", value_name = "EXPR")]
    pub fail_on: Vec<String>,
}

pub fn run(root: &Path, command: MetricsCommand) -> Result<u8> {
    match command {
        MetricsCommand::Show(args) => show(root, &args),
        MetricsCommand::Diff(args) => diff(root, &args),
    }
}

fn report_problems(problems: &[&Problem]) {
    for p in problems {
        let level = if p.error { "error" } else { "note" };
        eprintln!("{level}: {}", p.message);
    }
}

fn show(root: &Path, args: &ShowArgs) -> Result<u8> {
    let side = Side::load(root, Rev::Workspace, false)?;
    let c = collect(&side, "workspace")?;
    let problems: Vec<&Problem> = c.problems.iter().collect();
    if args.format.json {
        let rows: Vec<Value> = c
            .files
            .iter()
            .flat_map(|(path, flat)| {
                let stage = c.stages.get(path).cloned();
                flat.iter().map(move |(k, v)| json!({"path": path, "stage": stage, "key": k, "value": v}))
            })
            .collect();
        let problems: Vec<Value> = problems.iter().map(|p| p.to_json()).collect();
        crate::commands::print_json(&json!({"schema": 1, "rows": rows, "problems": problems}))?;
    } else {
        let rows = metrics::diff(&Default::default(), &c.files, true);
        let laid = lay_out(&rows, &c.views, |_| true, args.all);
        let mut t = Table::new(&["Path", "Metric", "Value"], &[false, false, true]);
        for r in &laid.rows {
            t.push(vec![r.path.clone(), r.key.clone(), metric_cell(r.new.as_ref(), args.format.precision)]);
        }
        if c.stages.is_empty() {
            println!("No metrics: no stage in pipeline.yaml declares a 'metrics:' file.");
        } else if !t.rows.is_empty() {
            print!("{}", if args.format.md { t.markdown() } else { t.text() });
            print!("{}", collapsed_hint(&laid, args.format.md));
        }
    }
    report_problems(&problems);
    Ok(if problems.iter().any(|p| p.error) { 1 } else { 0 })
}

/// After a table with a collapsed section: how to list its items.
fn collapsed_hint(laid: &Laid, md: bool) -> String {
    if !laid.collapsed {
        return String::new();
    }
    let text =
        "a row named KEY.* max stands for one value per item, the largest shown; --all lists every item";
    if md {
        format!("\n_{text}._\n")
    } else {
        format!("({text})\n")
    }
}

/// The outcome of one `--fail-on` check on one row.
struct CheckOutcome {
    check: MetricCheck,
    path: Option<String>,
    key: String,
    passed: bool,
    message: String,
}

fn evaluate_checks(
    checks: &[MetricCheck],
    rows: &[Row],
    old: &Collected,
    new: &Collected,
    new_label: &str,
) -> Result<Vec<CheckOutcome>> {
    let mut out = Vec::new();
    for check in checks {
        let matching: Vec<&Row> = rows.iter().filter(|r| check.matches(r)).collect();
        if matching.is_empty() {
            let files: Vec<&String> = new.stages.keys().chain(old.stages.keys()).collect();
            let relevant = |p: &str| check.path.as_ref().is_none_or(|c| c == p);
            // A declared file the new side could not give: the metric may be in it, so the
            // check cannot pass, but it is not a typo either.
            let unread: Vec<&String> =
                new.stages.keys().filter(|p| relevant(p) && !new.files.contains_key(p.as_str())).collect();
            if !unread.is_empty() {
                let names: Vec<&str> = unread.iter().map(|p| p.as_str()).collect();
                out.push(CheckOutcome {
                    check: check.clone(),
                    path: check.path.clone(),
                    key: check.key.clone(),
                    passed: false,
                    message: format!(
                        "{}: no new value ({} could not be read at {})",
                        check.key,
                        names.join(", "),
                        new_label
                    ),
                });
                continue;
            }
            let keys: Vec<&str> = old
                .files
                .values()
                .chain(new.files.values())
                .flat_map(|f| f.keys().map(String::as_str))
                .collect();
            let mut msg = match &check.path {
                Some(p) if !files.iter().any(|f| f.as_str() == p) => format!(
                    "--fail-on '{}': no metrics file '{p}' is declared (metrics files: {})",
                    check.expr,
                    files.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                _ => format!("--fail-on '{}': no metric '{}' on either side", check.expr, check.key),
            };
            if let Some(s) = did_you_mean(&check.key, keys.iter().copied()) {
                msg.push_str(&format!(" (did you mean '{s}'?)"));
            }
            return Err(Error::BadInput(msg));
        }
        for row in matching {
            let (passed, message) = match check.evaluate(row, old.unreadable(&row.path)) {
                Ok(m) => (true, m),
                Err(m) => (false, m),
            };
            out.push(CheckOutcome {
                check: check.clone(),
                path: Some(row.path.clone()),
                key: row.key.clone(),
                passed,
                message,
            });
        }
    }
    Ok(out)
}

fn diff(root: &Path, args: &DiffArgs) -> Result<u8> {
    let checks = args
        .fail_on
        .iter()
        .map(|e| MetricCheck::parse(e).map_err(Error::BadInput))
        .collect::<Result<Vec<_>>>()?;
    let (old_rev, new_rev) = side::sides(root, &args.revs)?;
    let old_side = Side::load(root, old_rev, true)?;
    let new_side = Side::load(root, new_rev, true)?;
    let old = collect(&old_side, "old")?;
    let new = collect(&new_side, "new")?;
    let every = metrics::diff(&old.files, &new.files, true);
    let outcomes = evaluate_checks(&checks, &every, &old, &new, new_side.rev.label())?;
    let rows: Vec<&Row> = every.iter().filter(|r| args.all || r.changed()).collect();
    let problems: Vec<&Problem> = old.problems.iter().chain(&new.problems).collect();
    let (ol, nl) = (old_side.rev.label(), new_side.rev.label());
    let passed = outcomes.iter().all(|o| o.passed);

    if args.format.json {
        let checks: Vec<Value> = outcomes
            .iter()
            .map(|o| {
                json!({"expr": o.check.expr, "path": o.path, "key": o.key, "passed": o.passed, "message": o.message})
            })
            .collect();
        crate::commands::print_json(&json!({
            "schema": 1,
            "old": old_side.rev.to_json(),
            "new": new_side.rev.to_json(),
            "rows": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
            "problems": problems.iter().map(|p| p.to_json()).collect::<Vec<_>>(),
            "checks": checks,
            "passed": passed,
        }))?;
    } else {
        let mut t = Table::new(
            &["Path", "Metric", ol, nl, "Change", "Relative"],
            &[false, false, true, true, true, true],
        );
        let laid = lay_out(&every, &new.views_over(&old), |r| args.all || r.changed(), args.all);
        for r in &laid.rows {
            t.push(vec![
                r.path.clone(),
                r.key.clone(),
                metric_cell(r.old.as_ref(), args.format.precision),
                metric_cell(r.new.as_ref(), args.format.precision),
                change_cell(r.change(), args.format.precision),
                relative_cell(r.relative()),
            ]);
        }
        let mut out = String::new();
        if args.format.md {
            out.push_str(&format!("### Metrics: {ol} → {nl}\n\n"));
        }
        if rows.is_empty() {
            let what = if every.is_empty() { "No metrics on either side." } else { "No metric changed." };
            out.push_str(what);
            out.push('\n');
        } else if args.format.md {
            out.push_str(&t.markdown());
        } else {
            out.push_str(&t.text());
        }
        out.push_str(&collapsed_hint(&laid, args.format.md));
        if args.format.md {
            if !outcomes.is_empty() {
                out.push_str("\n**Checks**\n\n");
                for o in &outcomes {
                    let mark = if o.passed { "passed" } else { "**FAILED**" };
                    out.push_str(&format!("- {mark} `{}`: {}\n", o.check.expr, o.message));
                }
            }
            if !problems.is_empty() {
                out.push_str("\n**Notes**\n\n");
                for p in &problems {
                    out.push_str(&format!("- {}{}\n", if p.error { "error: " } else { "" }, p.message));
                }
            }
        }
        print!("{out}");
    }
    report_problems(&problems);
    for o in outcomes.iter().filter(|o| !o.passed) {
        eprintln!("fail-on '{}' failed: {}", o.check.expr, o.message);
    }
    if !passed {
        return Ok(1);
    }
    Ok(if problems.iter().any(|p| p.error) { 1 } else { 0 })
}
