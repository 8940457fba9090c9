//! The rows of `exp show` and `exp diff`: each experiment's (and the workspace's) params
//! and metrics, flattened to dotted keys, and which columns are worth showing.
//!
//! A metric is named by its key (`auc_roc`) unless two metrics files have that key; then by
//! `file:key`. `--only-changed` drops the columns whose value is the same in every row.
use crate::compare::metric_files;
use crate::compare::metrics::{flatten, num, Flat};
use crate::compare::side::{Rev, Side};
use crate::error::{did_you_mean, Error, Result};
use crate::experiments::record::ExpRecord;
use crate::pipeline::params::Params;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The name of the workspace's row.
pub const WORKSPACE: &str = "workspace";

pub struct Row {
    pub name: String,
    /// `succeeded`, `failed`, or `workspace`.
    pub status: String,
    pub created: String,
    pub params: Flat,
    /// Metrics file → flattened values.
    pub metrics: BTreeMap<String, Flat>,
}

impl Row {
    pub fn of(record: &ExpRecord) -> Row {
        let mut params = Flat::new();
        flatten("", &record.params, &mut params);
        Row {
            name: record.name.clone(),
            status: record.status.as_str().into(),
            created: record.created.clone(),
            params,
            metrics: record.metrics.clone(),
        }
    }

    /// The workspace as it is: params.yaml and the metrics files on disk.
    pub fn workspace(root: &Path) -> Result<Row> {
        let mut params = Flat::new();
        flatten("", Params::load(root).map_err(Error::usage)?.root(), &mut params);
        let side = Side::load(root, Rev::Workspace, false)?;
        let metrics = metric_files::collect(&side, "workspace")?.files;
        Ok(Row { name: WORKSPACE.into(), status: WORKSPACE.into(), created: String::new(), params, metrics })
    }

    /// The value of a column in this row.
    pub fn value(&self, column: &Column) -> Option<&Value> {
        match column {
            Column::Param(key) => self.params.get(key),
            Column::Metric { file, key, .. } => self.metrics.get(file)?.get(key),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Param(String),
    Metric { file: String, key: String, label: String },
}

impl Column {
    pub fn label(&self) -> &str {
        match self {
            Column::Param(key) => key,
            Column::Metric { label, .. } => label,
        }
    }
}

/// Which columns to show.
#[derive(Debug, Clone, Default)]
pub struct Pick {
    pub only_changed: bool,
    /// Keep only metrics whose name contains one of these (all when empty).
    pub metrics: Vec<String>,
    pub params: ParamPick,
    /// Only metrics at the top level of their file (no nested `a.b` keys).
    pub top_level: bool,
}

/// Which params to show.
#[derive(Debug, Clone, Default)]
pub enum ParamPick {
    #[default]
    All,
    /// Those whose key contains one of these.
    Containing(Vec<String>),
    /// Exactly these keys (none when empty).
    Exactly(Vec<String>),
}

impl ParamPick {
    fn keeps(&self, key: &str) -> bool {
        match self {
            ParamPick::All => true,
            ParamPick::Containing(parts) => {
                parts.is_empty() || parts.iter().any(|p| key.contains(p.as_str()))
            }
            ParamPick::Exactly(keys) => keys.iter().any(|k| k == key),
        }
    }
}

/// The metric columns, then the param columns, of `rows`.
pub fn columns(rows: &[Row], pick: &Pick) -> (Vec<Column>, Vec<Column>) {
    let mut files_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for row in rows {
        for (file, flat) in &row.metrics {
            for key in flat.keys() {
                let files = files_of.entry(key).or_default();
                if !files.contains(&file.as_str()) {
                    files.push(file);
                }
            }
        }
    }
    let mut metrics: Vec<Column> = Vec::new();
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, files) in &files_of {
        for file in files {
            by_file.entry(file).or_default().push(key);
        }
    }
    for (file, keys) in by_file {
        for key in keys {
            let label = if files_of[key].len() > 1 { format!("{file}:{key}") } else { key.to_string() };
            metrics.push(Column::Metric { file: file.into(), key: key.into(), label });
        }
    }
    let mut params: Vec<String> = rows.iter().flat_map(|r| r.params.keys().cloned()).collect();
    params.sort();
    params.dedup();
    let params = params.into_iter().map(Column::Param).collect::<Vec<_>>();
    let keep = |c: &Column| {
        let named = match c {
            Column::Param(key) => pick.params.keeps(key),
            Column::Metric { label, .. } => {
                pick.metrics.is_empty() || pick.metrics.iter().any(|f| label.contains(f.as_str()))
            }
        };
        let changes = !pick.only_changed || rows.windows(2).any(|w| w[0].value(c) != w[1].value(c));
        let level = match c {
            Column::Metric { key, .. } => !pick.top_level || !key.contains('.'),
            Column::Param(_) => true,
        };
        named && changes && level
    };
    (metrics.into_iter().filter(|c| keep(c)).collect(), params.into_iter().filter(|c| keep(c)).collect())
}

/// Sorts the rows after the workspace's by the column labelled `by` (a metric or a param):
/// numbers by value, others as text, rows without a value last.
pub fn sort(rows: &mut [Row], by: &str, ascending: bool) -> Result<()> {
    let (metrics, params) = columns(rows, &Pick::default());
    let all: Vec<Column> = metrics.into_iter().chain(params).collect();
    let Some(column) = all.iter().find(|c| c.label() == by).cloned() else {
        let hint = did_you_mean(by, all.iter().map(|c| c.label()))
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        return Err(Error::BadInput(format!("--sort-by {by}: no metric or param has that name{hint}")));
    };
    let start = rows.iter().take_while(|r| r.name == WORKSPACE).count();
    rows[start..].sort_by(|a, b| {
        use std::cmp::Ordering;
        let (x, y) = (a.value(&column), b.value(&column));
        match (x, y) {
            (None, None) => Ordering::Equal,
            (None, _) => Ordering::Greater,
            (_, None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let order = match (num(x), num(y)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                    _ => x.to_string().cmp(&y.to_string()),
                };
                if ascending {
                    order
                } else {
                    order.reverse()
                }
            }
        }
    });
    Ok(())
}
