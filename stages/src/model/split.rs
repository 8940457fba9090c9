//! Kind `split`: the features table → a train and a test table (Parquet, same columns).
//!
//! Default assignment (`method: hash_rank`): every customer gets `u = blake3(seed ‖ id)` read
//! as a number in [0, 1). Within each label class (or over all rows with `stratify: false`)
//! customers are ordered by `u` and the first `round(test_size · n_class)` go to test. So the
//! test share is exact per class, the split is a pure function of the ids (not of row order),
//! and a customer keeps its side across retrains unless its `u` lies between the old and the
//! new class cut-off (a handful of boundary customers when the table grows).
//! `method: hash_threshold` puts a customer in test iff `u < test_size`: it never moves
//! across retrains, but the test share is only binomially close to `test_size`.
//! With the setting `test_ids` (a .txt file with one id per line, or a CSV/Parquet table whose
//! id column — or first column — lists them) exactly those customers are the test set.

use crate::contract::{Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::io::io_error;
use crate::io::table::{self, column, write_table};
use crate::io::values::{id_values, label_values};
use crate::model::sampling::hash_unit;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub(crate) struct Split;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SplitSettings {
    /// The features table (Parquet or CSV).
    pub input: String,
    /// Output paths.
    pub train: String,
    pub test: String,
    /// Optional file listing the test customers; overrides test_size/seed.
    #[serde(default)]
    pub test_ids: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SplitMethod {
    #[default]
    HashRank,
    HashThreshold,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SplitParams {
    pub test_size: f64,
    pub seed: u64,
    pub stratify: bool,
    pub method: SplitMethod,
    /// Default: the first column.
    pub id_column: Option<String>,
    pub label_column: String,
}

impl Default for SplitParams {
    fn default() -> Self {
        SplitParams {
            test_size: 0.25,
            seed: 42,
            stratify: true,
            method: SplitMethod::HashRank,
            id_column: None,
            label_column: "churned".into(),
        }
    }
}

/// Counts of a finished split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitSummary {
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_positives: usize,
    pub test_positives: usize,
}

impl Kind for Split {
    const NAME: &'static str = "split";
    const PARAMS_SECTION: &'static str = "split";
    const CODE_VERSION: u32 = 1;
    type Settings = SplitSettings;
    type Params = SplitParams;

    fn io(s: &SplitSettings, p: &SplitParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        if !(p.test_size > 0.0 && p.test_size < 1.0) {
            return Err(KindIoError::param(
                "split.test_size",
                format!("split.test_size must be between 0 and 1 (exclusive), got {}", p.test_size),
            ));
        }
        let mut deps = vec![s.input.clone()];
        deps.extend(s.test_ids.clone());
        Ok((deps, vec![OutDecl::out(&s.train), OutDecl::out(&s.test)]))
    }

    fn run(
        root: &Path,
        s: SplitSettings,
        p: SplitParams,
        _inv: &Invocation,
    ) -> Result<StageSummary, StageError> {
        let test_ids = s.test_ids.as_ref().map(|t| root.join(t));
        let r = split_files(
            &root.join(&s.input),
            &root.join(&s.train),
            &root.join(&s.test),
            test_ids.as_deref(),
            &p,
        )?;
        Ok(StageSummary {
            summary: format!(
                "train {} rows ({} churners), test {} rows ({} churners)",
                r.train_rows, r.train_positives, r.test_rows, r.test_positives
            ),
        })
    }
}

/// Which rows go to test (true), from ids and labels.
pub(crate) fn assign_test(ids: &[String], labels: &[u8], p: &SplitParams) -> Vec<bool> {
    let u: Vec<f64> = ids.iter().map(|id| hash_unit(p.seed, id)).collect();
    match p.method {
        SplitMethod::HashThreshold => u.iter().map(|&v| v < p.test_size).collect(),
        SplitMethod::HashRank => {
            let mut test = vec![false; ids.len()];
            let classes: Vec<Option<u8>> = if p.stratify { vec![Some(0), Some(1)] } else { vec![None] };
            for class in classes {
                let mut rows: Vec<usize> =
                    (0..ids.len()).filter(|&r| class.is_none_or(|c| labels[r] == c)).collect();
                rows.sort_by(|&a, &b| u[a].total_cmp(&u[b]).then_with(|| ids[a].cmp(&ids[b])));
                let k = (p.test_size * rows.len() as f64).round() as usize;
                for &r in &rows[..k.min(rows.len())] {
                    test[r] = true;
                }
            }
            test
        }
    }
}

/// Splits `input` into `train` and `test` files.
pub(crate) fn split_files(
    input: &Path,
    train: &Path,
    test: &Path,
    test_ids: Option<&Path>,
    p: &SplitParams,
) -> Result<SplitSummary, StageError> {
    let df = table::read_table(input)?;
    if df.height() == 0 {
        return Err(StageError::new(format!("{}: the table has no rows", input.display())));
    }
    let id_name = match &p.id_column {
        Some(c) => c.clone(),
        None => df.get_column_names().first().map(|s| s.to_string()).unwrap_or_default(),
    };
    let ids = id_values(column(&df, &id_name, input)?, input)?;
    let labels = label_values(column(&df, &p.label_column, input)?, input)?;
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), row) {
            return Err(StageError::new(format!(
                "{}: id '{id}' appears in rows {} and {} of column '{id_name}': the split assigns \
                 customers by id, so ids must be unique",
                input.display(),
                first + 1,
                row + 1
            )));
        }
    }
    let mask = match test_ids {
        Some(path) => {
            let wanted = read_id_list(path, &id_name)?;
            let mask: Vec<bool> = ids.iter().map(|id| wanted.contains(id.as_str())).collect();
            if !mask.iter().any(|&m| m) {
                return Err(StageError::new(format!(
                    "{}: none of its {} ids is in {} (column '{id_name}')",
                    path.display(),
                    wanted.len(),
                    input.display()
                )));
            }
            mask
        }
        None => assign_test(&ids, &labels, p),
    };
    let test_mask = BooleanChunked::from_slice("test".into(), &mask);
    let train_mask = !&test_mask;
    let mut test_df =
        df.filter(&test_mask).map_err(|e| StageError::new(format!("{}: {e}", input.display())))?;
    let mut train_df =
        df.filter(&train_mask).map_err(|e| StageError::new(format!("{}: {e}", input.display())))?;
    write_table(train, &mut train_df)?;
    write_table(test, &mut test_df)?;
    let count = |want_test: bool, positive: bool| {
        mask.iter().zip(&labels).filter(|(&m, &l)| m == want_test && (!positive || l == 1)).count()
    };
    Ok(SplitSummary {
        train_rows: count(false, false),
        test_rows: count(true, false),
        train_positives: count(false, true),
        test_positives: count(true, true),
    })
}

fn read_id_list(path: &Path, id_name: &str) -> Result<HashSet<String>, StageError> {
    let is_txt = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if is_txt {
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, "read", &e))?;
        return Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect());
    }
    let df = table::read_table(path)?;
    let col = match df.column(id_name) {
        Ok(c) => c,
        Err(_) => df
            .columns()
            .first()
            .ok_or_else(|| StageError::new(format!("{}: the table has no columns", path.display())))?,
    };
    Ok(id_values(col, path)?.into_iter().collect())
}
