//! `churnflow exp`: run experiments (params overridden, sweeps, N at once), show and compare
//! them, apply one to the workspace, remove records.
use crate::commands::table::{self, Table};
use crate::compare::metrics::{self as metric, change_cell, diff as diff_rows, metric_cell};
use crate::error::{Error, Result};
use crate::exec::progress::{info, Progress};
use crate::experiments::apply::apply;
use crate::experiments::check;
use crate::experiments::overrides::{self, describe};
use crate::experiments::record::{valid_name, ExpRecord, Records, Status};
use crate::experiments::rows::{self, ParamPick, Pick, Row, WORKSPACE};
use crate::experiments::runner::{Experiment, Sweep};
use crate::plan::predict::plan;
use crate::plan::project::Project;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

#[derive(Subcommand)]
pub enum ExpCommand {
    /// Run the pipeline with params overridden in a scratch workspace (params.yaml and the
    /// workspace's outs stay as they are); several values make a sweep.
    #[command(after_help = "Examples:\n  churnflow exp run -S train.l2=0.3\n  \
        churnflow exp run -S 'train.l2=0.1,0.3,1,3' -S 'train.max_depth=range(4,12,2)' -j 2\n  \
        churnflow exp run -S 'train.l2=loguniform(0.01,10)' --random 20 --seed 1 -j 2\n  \
        churnflow exp run -S train.algorithm=random_forest --name forest")]
    Run(RunArgs),
    /// The experiments and the workspace as a table of metrics and params.
    #[command(after_help = "Examples:\n  churnflow exp show --only-changed --sort-by auc_roc\n  \
        churnflow exp show --metric auc --metric recall --md\n  churnflow exp show --csv > experiments.csv")]
    Show(ShowArgs),
    /// Params and metrics of two experiments (or one and the workspace) side by side.
    #[command(
        after_help = "Examples:\n  churnflow exp diff exp-3 exp-7\n  churnflow exp diff workspace exp-3 --md"
    )]
    Diff(DiffArgs),
    /// Make an experiment the workspace: its params into params.yaml (comments kept), its
    /// outs from the store; then `repro` recomputes nothing.
    #[command(after_help = "Examples:\n  churnflow exp apply exp-3 && churnflow repro")]
    Apply(ApplyArgs),
    /// Remove experiment records (`churnflow gc` then frees what only they kept).
    #[command(after_help = "Examples:\n  churnflow exp remove exp-3 exp-4")]
    Remove(RemoveArgs),
    /// Remove the records of failed, old, or all experiments.
    #[command(
        after_help = "Examples:\n  churnflow exp gc --failed\n  churnflow exp gc --older-than 30d --dry-run\n  \
        churnflow exp gc --all && churnflow gc"
    )]
    Gc(GcArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// Override a param: KEY=VALUE (read as YAML). Several values make a sweep:
    /// KEY=a,b,c, KEY=range(start,stop[,step]), KEY=choice(a,b); with --random also
    /// KEY=uniform(lo,hi) and KEY=loguniform(lo,hi). Repeatable: the grid of all combinations.
    #[arg(short = 'S', long = "set-param", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The experiment's name (a sweep's are NAME-1, NAME-2, …); default exp-N.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Run N points drawn at random from the sweep instead of the whole grid.
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// The seed of --random.
    #[arg(long, default_value_t = 0, requires = "random", value_name = "S")]
    pub seed: u64,
    /// Experiments run at once (each gets the cores divided among them).
    #[arg(short, long, default_value_t = 1, value_name = "N")]
    pub jobs: usize,
    /// Print the experiments' records as JSON.
    #[arg(long)]
    pub json: bool,
    /// In the closing table, only metrics whose name contains this text (default: the
    /// top-level metrics that differ between the experiments). Repeatable.
    #[arg(long = "metric", value_name = "TEXT")]
    pub metrics: Vec<String>,
}

#[derive(Args)]
pub struct OutputArgs {
    /// Machine-readable JSON (with "schema": 1).
    #[arg(long, group = "format")]
    pub json: bool,
    /// A GitHub-flavoured Markdown table.
    #[arg(long, group = "format")]
    pub md: bool,
    /// Significant decimals of metrics in text and Markdown (JSON keeps every digit).
    #[arg(long, default_value_t = metric::DEFAULT_PRECISION, value_name = "N")]
    pub precision: usize,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Comma-separated values, one row per experiment.
    #[arg(long, group = "format")]
    pub csv: bool,
    /// Sort by this metric or param (highest first unless --ascending).
    #[arg(long, value_name = "NAME")]
    pub sort_by: Option<String>,
    /// With --sort-by: lowest first.
    #[arg(long, requires = "sort_by")]
    pub ascending: bool,
    /// Leave out the columns that are the same in every row.
    #[arg(long)]
    pub only_changed: bool,
    /// Only metrics whose name contains this text. Repeatable.
    #[arg(long = "metric", value_name = "TEXT")]
    pub metrics: Vec<String>,
    /// Only params whose key contains this text. Repeatable.
    #[arg(long = "param", value_name = "TEXT")]
    pub params: Vec<String>,
    /// Only these experiments (default: all, after the workspace).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Args)]
pub struct DiffArgs {
    /// The old side: an experiment, or `workspace`.
    pub a: String,
    /// The new side: an experiment, or `workspace`.
    pub b: String,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Also list the params and metrics that are the same.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args)]
pub struct ApplyArgs {
    /// The experiment to apply.
    pub name: String,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// The experiments to remove.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Args)]
pub struct GcArgs {
    /// Remove the records of failed experiments.
    #[arg(long)]
    pub failed: bool,
    /// Remove the records of experiments older than this (e.g. 30d, 12h).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub older_than: Option<Duration>,
    /// Remove every record.
    #[arg(long)]
    pub all: bool,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(root: &Path, command: ExpCommand) -> Result<u8> {
    match command {
        ExpCommand::Run(args) => run_experiments(root, &args),
        ExpCommand::Show(args) => show(root, &args),
        ExpCommand::Diff(args) => diff(root, &args),
        ExpCommand::Apply(args) => apply_one(root, &args),
        ExpCommand::Remove(args) => remove(root, &args),
        ExpCommand::Gc(args) => gc(root, &args),
    }
}

fn run_experiments(root: &Path, args: &RunArgs) -> Result<u8> {
    if args.jobs == 0 {
        return Err(Error::BadInput("-j 0: run at least one experiment at a time".into()));
    }
    if args.random == Some(0) {
        return Err(Error::BadInput("--random 0: draw at least one point".into()));
    }
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let sweep = Sweep::prepare(root, args.jobs)?;
    let parsed = overrides::parse_all(&args.set, sweep.params())?;
    let points = match args.random {
        Some(n) => overrides::random(&parsed, n, args.seed),
        None => overrides::grid(&parsed)?,
    };
    // Every point passes the stages' checks before the first runs; then what changes nothing.
    for warning in check::check(root, sweep.params(), &parsed, &points)? {
        crate::exec::progress::warn(&warning);
    }
    let records = Records::new(&store);
    let names: Vec<String> = match &args.name {
        Some(name) if points.len() == 1 => vec![name.clone()],
        Some(name) => (1..=points.len()).map(|i| format!("{name}-{i}")).collect(),
        None => {
            let first = records.next_number()?;
            (first..first + points.len()).map(|i| format!("exp-{i}")).collect()
        }
    };
    for name in &names {
        valid_name(name)?;
        if records.exists(name) {
            return Err(Error::BadInput(format!(
                "an experiment named '{name}' exists; choose another --name, or `churnflow exp remove {name}`"
            )));
        }
    }
    if !sweep.skipped.is_empty() {
        info(&format!(
            "{} experiment(s); not run inside them: {} (promotion runs after `churnflow exp apply`)",
            points.len(),
            sweep.skipped.join(", ")
        ));
    }
    let experiments: Vec<Experiment> =
        names.into_iter().zip(points).map(|(name, point)| Experiment { name, point }).collect();
    let progress = Progress::new(false);
    let started = std::time::Instant::now();
    let done = sweep.run(experiments, &progress)?;
    let failed: Vec<&str> =
        done.iter().filter(|r| r.status == Status::Failed).map(|r| r.name.as_str()).collect();
    progress.line(&format!(
        "{} experiment(s) in {:.1}s{}",
        done.len(),
        started.elapsed().as_secs_f64(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(", {} failed: {}", failed.len(), failed.join(", "))
        }
    ));
    if args.json {
        let list: Vec<Value> = done.iter().map(record_json).collect();
        crate::commands::print_json(&json!({"schema": 1, "experiments": list}))?;
    } else {
        let rows: Vec<Row> = done.iter().map(Row::of).collect();
        let overridden: Vec<String> = done.iter().flat_map(|r| r.overrides.keys().cloned()).collect();
        let pick = Pick {
            only_changed: rows.len() > 1,
            top_level: args.metrics.is_empty(),
            metrics: args.metrics.clone(),
            params: ParamPick::Exactly(overridden),
        };
        let t = table(&rows, &pick, metric::DEFAULT_PRECISION);
        print_fitted(&t, None, "see them all: churnflow exp show --only-changed --md; choose: --metric");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

/// A record as `exp show --json` and `exp run --json` give it (the lock left out).
fn record_json(r: &ExpRecord) -> Value {
    json!({
        "name": r.name, "status": r.status.as_str(), "created": r.created, "seconds": r.seconds,
        "base_commit": r.base_commit, "overrides": r.overrides, "params": r.params,
        "metrics": r.metrics, "stages": r.stages, "error": r.error,
    })
}

/// The table of `rows`: experiment, status, metrics, params.
fn table(rows: &[Row], pick: &Pick, precision: usize) -> Table {
    let (metrics, params) = rows::columns(rows, pick);
    let mut headers = vec!["Experiment".to_string(), "Created".into(), "State".into()];
    headers.extend(metrics.iter().chain(&params).map(|c| c.label().to_string()));
    let mut right = vec![false, false, false];
    right.extend(metrics.iter().map(|_| true));
    right.extend(params.iter().map(|_| false));
    let mut t = Table { headers, right, rows: Vec::new() };
    for row in rows {
        let mut cells = vec![row.name.clone(), short_time(&row.created), row.status.clone()];
        cells.extend(metrics.iter().map(|c| metric_cell(row.value(c), precision)));
        cells.extend(params.iter().map(|c| metric::cell(row.value(c))));
        t.push(cells);
    }
    t
}

/// `2026-12-03T16:11:33Z` → `2026-12-03 16:11`.
fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).map(|s| s.replace('T', " ")).unwrap_or_else(|| rfc3339.to_string())
}

fn load_rows(root: &Path, names: &[String]) -> Result<(Vec<Row>, Vec<ExpRecord>)> {
    let records = Records::new(&Store::new(root));
    let all = if names.is_empty() {
        records.list()?
    } else {
        names.iter().map(|n| records.get(n)).collect::<Result<Vec<_>>>()?
    };
    let mut rows = vec![Row::workspace(root)?];
    rows.extend(all.iter().map(Row::of));
    Ok((rows, all))
}

fn show(root: &Path, args: &ShowArgs) -> Result<u8> {
    let (mut rows, records) = load_rows(root, &args.names)?;
    if let Some(by) = &args.sort_by {
        rows::sort(&mut rows, by, args.ascending)?;
    }
    let pick = Pick {
        only_changed: args.only_changed,
        metrics: args.metrics.clone(),
        params: ParamPick::Containing(args.params.clone()),
        top_level: false,
    };
    if args.output.json {
        let by_name: BTreeMap<&str, &ExpRecord> = records.iter().map(|r| (r.name.as_str(), r)).collect();
        let (metrics, params) = rows::columns(&rows, &pick);
        let list: Vec<Value> = rows
            .iter()
            .map(|row| {
                let mut v = match by_name.get(row.name.as_str()) {
                    Some(r) => record_json(r),
                    None => json!({"name": row.name, "status": row.status}),
                };
                v["values"] = metrics
                    .iter()
                    .chain(&params)
                    .map(|c| (c.label().to_string(), row.value(c).cloned().unwrap_or(Value::Null)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                v
            })
            .collect();
        crate::commands::print_json(&json!({"schema": 1, "experiments": list}))?;
        return Ok(0);
    }
    let t = table(&rows, &pick, args.output.precision);
    if args.csv {
        let mut w = csv::Writer::from_writer(std::io::stdout().lock());
        let full = |rows: &[Row]| -> Vec<Vec<String>> {
            let (metrics, params) = rows::columns(rows, &pick);
            rows.iter()
                .map(|row| {
                    let mut cells = vec![row.name.clone(), row.created.clone(), row.status.clone()];
                    cells.extend(metrics.iter().chain(&params).map(|c| csv_cell(row.value(c))));
                    cells
                })
                .collect()
        };
        let io = |e: csv::Error| Error::io("cannot write to stdout", std::io::Error::other(e));
        w.write_record(&t.headers).map_err(io)?;
        for cells in full(&rows) {
            w.write_record(&cells).map_err(io)?;
        }
        w.flush().map_err(|e| Error::io("cannot write to stdout", e))?;
        return Ok(0);
    }
    if rows.len() == 1 {
        info("No experiments yet: `churnflow exp run -S KEY=VALUE` runs one.");
    }
    if args.output.md {
        print!("{}", t.markdown());
    } else {
        let how = "see them all: --md, --csv, --json, or exp diff A B; choose: --metric, --param";
        print_fitted(&t, args.sort_by.as_deref(), how);
    }
    Ok(0)
}

/// Prints the text of `t` (an experiments [`table`]) fitted to the terminal
/// ([`table::output_width`]), and on stderr which columns that left out and `how` to see them.
/// The columns are kept in this order: the experiment's name, the `--sort-by` column, the
/// state when an experiment failed, the params that differ between the rows, the metrics that
/// do, the state, the time, then the columns that are the same in every row.
fn print_fitted(t: &Table, sort_by: Option<&str>, how: &str) {
    let Some(width) = table::output_width() else {
        print!("{}", t.text());
        return;
    };
    let n = t.headers.len();
    // Differs between two rows that have a value (the workspace may have no metrics yet).
    let changed = |i: usize| {
        let mut values = t.rows.iter().map(|r| r[i].as_str()).filter(|c| !c.is_empty() && *c != "-");
        values.next().is_some_and(|first| values.any(|c| c != first))
    };
    let metric = |i: usize| t.right.get(i).copied().unwrap_or(false);
    let (name, created, state) = (0, 1, 2);
    let failed = t.rows.iter().any(|r| r[state] == Status::Failed.as_str());
    let mut priority = vec![name];
    priority.extend(sort_by.and_then(|by| t.headers.iter().position(|h| h == by)));
    if failed {
        priority.push(state);
    }
    priority.extend((3..n).filter(|&i| !metric(i) && changed(i)));
    priority.extend((3..n).filter(|&i| metric(i) && changed(i)));
    priority.extend([state, created]);
    let (text, left) = t.fit(width, &priority);
    print!("{text}");
    if !left.is_empty() {
        info(&table::left_out_note(&left, width, how));
    }
}

/// A value in a CSV cell: numbers with every digit, strings as they are.
fn csv_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn diff(root: &Path, args: &DiffArgs) -> Result<u8> {
    let records = Records::new(&Store::new(root));
    let side = |name: &str| -> Result<Row> {
        if name == WORKSPACE {
            Row::workspace(root)
        } else {
            records.get(name).map(|r| Row::of(&r))
        }
    };
    let (a, b) = (side(&args.a)?, side(&args.b)?);
    let params: Vec<(String, Option<Value>, Option<Value>)> = {
        let keys: std::collections::BTreeSet<&String> = a.params.keys().chain(b.params.keys()).collect();
        keys.into_iter()
            .map(|k| (k.clone(), a.params.get(k).cloned(), b.params.get(k).cloned()))
            .filter(|(_, x, y)| args.all || x != y)
            .collect()
    };
    let metric_rows = diff_rows(&a.metrics, &b.metrics, args.all);
    if args.output.json {
        let params: Vec<Value> =
            params.iter().map(|(k, x, y)| json!({"key": k, "old": x, "new": y})).collect();
        let metrics: Vec<Value> = metric_rows.iter().map(|r| r.to_json()).collect();
        crate::commands::print_json(
            &json!({"schema": 1, "old": args.a, "new": args.b, "params": params, "metrics": metrics}),
        )?;
        return Ok(0);
    }
    let mut t = Table::new(&["Kind", "Name", &args.a, &args.b, "Change"], &[false, false, true, true, true]);
    for (k, x, y) in &params {
        t.push(vec![
            "param".into(),
            k.clone(),
            metric::cell(x.as_ref()),
            metric::cell(y.as_ref()),
            String::new(),
        ]);
    }
    let files = a.metrics.keys().chain(b.metrics.keys()).collect::<std::collections::BTreeSet<_>>().len();
    for r in &metric_rows {
        let name = if files > 1 { format!("{}:{}", r.path, r.key) } else { r.key.clone() };
        t.push(vec![
            "metric".into(),
            name,
            metric_cell(r.old.as_ref(), args.output.precision),
            metric_cell(r.new.as_ref(), args.output.precision),
            change_cell(r.change(), args.output.precision),
        ]);
    }
    if t.rows.is_empty() {
        info(&format!("{} and {} have the same params and metrics", args.a, args.b));
        return Ok(0);
    }
    print!("{}", if args.output.md { t.markdown() } else { t.text() });
    Ok(0)
}

fn apply_one(root: &Path, args: &ApplyArgs) -> Result<u8> {
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let record = Records::new(&store).get(&args.name)?;
    let applied = apply(root, &record)?;
    for (key, old, new) in &applied.params {
        info(&format!("params.yaml: {key}: {} -> {}", metric::cell(old.as_ref()), metric::cell(Some(new))));
    }
    if applied.rewritten {
        crate::exec::progress::warn(
            "warning: params.yaml was written whole (a changed value spans several lines): its comments are gone",
        );
    }
    if !applied.checkout.problems.is_empty() {
        return Err(Error::CheckoutIncomplete(applied.checkout.problems));
    }
    let project = Project::load(root)?;
    let all = vec![true; project.pipeline.stages.len()];
    let stale: Vec<String> =
        plan(&project, &all, false)?.into_iter().filter(|p| !p.fresh).map(|p| p.stage).collect();
    info(&format!(
        "applied {} ({}): {} out(s) restored; `churnflow repro` now runs {}",
        record.name,
        describe(&record.overrides.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        applied.checkout.restored,
        if stale.is_empty() { "nothing".into() } else { stale.join(", ") }
    ));
    Ok(0)
}

fn remove(root: &Path, args: &RemoveArgs) -> Result<u8> {
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let records = Records::new(&store);
    // Every name is checked before anything is removed.
    for name in &args.names {
        records.get(name)?;
    }
    for name in &args.names {
        records.remove(name)?;
        info(&format!("removed {name}"));
    }
    info("`churnflow gc` frees the store objects that only these experiments kept");
    Ok(0)
}

fn gc(root: &Path, args: &GcArgs) -> Result<u8> {
    if !(args.failed || args.all || args.older_than.is_some()) {
        return Err(Error::BadInput("say which records go: --failed, --older-than AGE, or --all".into()));
    }
    let store = Store::new(root);
    let _lock = ProjectLock::acquire(store.dir())?;
    let records = Records::new(&store);
    let cutoff = args.older_than.and_then(|age| SystemTime::now().checked_sub(age));
    let doomed: Vec<ExpRecord> = records
        .list()?
        .into_iter()
        .filter(|r| {
            let old = cutoff.is_some_and(|c| humantime::parse_rfc3339(&r.created).is_ok_and(|t| t < c));
            args.all || (args.failed && r.status == Status::Failed) || old
        })
        .collect();
    for r in &doomed {
        if args.dry_run {
            println!("would remove {}", r.name);
        } else {
            records.remove(&r.name)?;
            println!("removed {}", r.name);
        }
    }
    if doomed.is_empty() {
        info("no experiment records match");
    } else if !args.dry_run {
        info("`churnflow gc` frees the store objects that only these experiments kept");
    }
    Ok(0)
}
