//! Kind `train`: the train split → a model file ([`super::file`]), and optionally k-fold
//! cross-validation scores.
//!
//! The id column (default: the first) and the label column (default `churned`, 0/1) are not
//! features; every other column is, unless listed in `exclude_columns`. Strings are
//! categorical, numbers numeric. The preprocessing is fitted on this table only.
//!
//! Class weighting `balanced` gives each class the weight n / (2 · n_class) (scikit-learn's
//! `class_weight="balanced"`), for every algorithm: it enters the logistic loss, the Gini
//! impurity of splits and the leaf probabilities, and the gradients and hessians of boosting.
//! With `none` every row weighs 1; a map `{0: w0, 1: w1}` gives each label its own weight.
//!
//! Gradient boosting with early stopping holds out a validation slice of this table: within
//! each class, the `round(validation_fraction · n_class)` customers with the smallest
//! `blake3(seed' ‖ id)` (seed' = `seed` mixed with a constant, so the slice is not the band
//! next to the split stage's test cut when both use the same seed), at least one row of each
//! class staying in training. The slice only measures the loss; no tree is fitted on it.
//!
//! The params are [`super::params`]; what each algorithm does with them is its file in
//! [`super::estimators`].

use crate::contract::{plain, Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::data::snapshot::SnapshotSpec;
use crate::io::hash_file;
use crate::io::json;
use crate::io::table::{self, column};
use crate::io::values::{id_values, label_values};
use crate::model::encoded::{self, PrepOptions};
use crate::model::estimators::TrainingData;
use crate::model::file::{Lineage, Model, FORMAT_TAG, FORMAT_VERSION};
use crate::model::folds::stratified_folds;
use crate::model::metrics;
use crate::model::params::{class_weights, Learner, TrainParams};
use crate::model::tuning::{self, TrainingTable};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

pub(crate) struct Train;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainSettings {
    /// The train split (Parquet or CSV).
    pub input: String,
    /// The model file to write (JSON).
    pub model: String,
    /// Optional k-fold cross-validation scores (JSON, a metrics out).
    #[serde(default)]
    pub cv: Option<String>,
    /// Optional: ingest's `snapshot.json` (layout `snapshot`). The model then carries the
    /// cleaning, so `churnflow score` accepts the raw table (e.g. the Telco CSV) as exported.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// The report of a `train.tune` search (a `.json` metrics out; every trial goes to its twin
    /// `<name>_trials.json`); required with `tune`.
    #[serde(default)]
    pub tuning: Option<String>,
}

impl Kind for Train {
    const NAME: &'static str = "train";
    const PARAMS_SECTION: &'static str = "train";
    const CODE_VERSION: u32 = 2;
    type Settings = TrainSettings;
    type Params = TrainParams;

    fn io(s: &TrainSettings, p: &TrainParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        check(p)?;
        let mut outs = vec![OutDecl::out(&s.model)];
        outs.extend(s.cv.as_ref().map(OutDecl::metrics));
        match (&p.tune, &s.tuning) {
            (Some(_), None) => {
                return Err(KindIoError::setting(
                    "the params set train.tune but the stage has no `tuning` report to write \
                     the trials to: add `tuning: reports/tuning.json` under its `with:` in \
                     pipeline.yaml",
                ))
            }
            (None, Some(t)) => {
                return Err(KindIoError::setting(format!(
                    "the setting `tuning: {t}` needs a search to report: add a `tune` section under \
                     `train` in params.yaml (see docs/stages-model.md#tuning), or remove the setting"
                )))
            }
            (Some(_), Some(report)) => {
                let Some(trials) = tuning::trials_path(report) else {
                    return Err(KindIoError::setting(format!(
                        "the setting `tuning: {report}` must name a .json file (a metrics file; every \
                         trial goes to the twin file <name>_trials.json next to it)"
                    )));
                };
                outs.push(OutDecl::metrics(report));
                outs.push(OutDecl { cache: false, ..OutDecl::out(trials) });
            }
            (None, None) => {}
        }
        let mut deps = vec![s.input.clone()];
        deps.extend(s.snapshot.clone());
        Ok((deps, outs))
    }

    /// A param of one algorithm that the chosen one does not read
    /// ([`crate::model::params::Algorithm::reads`]).
    fn unread_by(p: &TrainParams, key: &str) -> Option<String> {
        (p.algorithm.reads(key) == Some(false)).then(|| p.algorithm.name().to_string())
    }

    fn run(
        root: &Path,
        s: TrainSettings,
        p: TrainParams,
        _inv: &Invocation,
    ) -> Result<StageSummary, StageError> {
        check(&p).map_err(|e| StageError::new(String::from(e)))?;
        let input = root.join(&s.input);
        let (p, mut model, tuned) = match (&p.tune, &s.tuning) {
            (Some(tune), Some(report)) => {
                let df = table::read_table(&input)?;
                let names = df.get_column_names();
                let id_column = p
                    .id_column
                    .clone()
                    .unwrap_or_else(|| names.first().map_or(String::new(), |n| n.to_string()));
                let table = TrainingTable {
                    df: &df,
                    file: &input,
                    id_column: &id_column,
                    label_column: &p.label_column,
                };
                let found = tuning::tune(
                    &table,
                    tune,
                    p.algorithm,
                    |o| with_overrides(&p, o),
                    |rows, candidate| train_frame(rows, &input, String::new(), candidate),
                )?;
                json::write_json(&root.join(report), &found.report)?;
                let trials = tuning::trials_path(report).ok_or_else(|| {
                    StageError::new(format!("the setting `tuning: {report}` must name a .json file"))
                })?;
                json::write_json(&root.join(trials), &found.trials)?;
                let mut model = train_frame(&df, &input, hash_file(&input)?, &found.params)?;
                model.tuning = Some(found.summary.clone());
                (found.params, model, Some(found.summary))
            }
            _ => {
                let model = train_file(&input, &p)?;
                (p, model, None)
            }
        };
        if let Some(spec) = &s.snapshot {
            model.snapshot = Some(SnapshotSpec::read(&root.join(spec), spec)?);
        }
        model.save(&root.join(&s.model))?;
        let mut summary = format!(
            "{} on {} rows ({} churners), {} inputs",
            model.algorithm.name(),
            model.lineage.training_rows,
            model.lineage.training_positives,
            model.expanded_features.len()
        );
        if p.learner == Learner::Linfa {
            summary.push_str(", fitted by linfa-trees");
        }
        summary.push_str(&model.estimator.describe());
        if let Some(t) = &tuned {
            summary.push_str(&format!(
                "; params: best of {} {} candidates by {}-fold CV AUC {:.4} ± {:.4}",
                t.trials, t.search, t.cv, t.cv_auc_mean, t.cv_auc_std
            ));
        }
        if let Some(cv_path) = &s.cv {
            let folds = if p.cv_folds == 0 { 5 } else { p.cv_folds };
            let cv = cross_validate(&input, &p, folds)?;
            if let Some(mean) = cv.auc_roc_mean {
                summary.push_str(&format!(", {folds}-fold CV AUC {mean:.4}"));
            }
            json::write_json(&root.join(cv_path), &cv)?;
        }
        Ok(StageSummary { summary })
    }
}

/// The train params checked, and their `tune` section (bounds, keys, every value of the space
/// through [`with_overrides`]).
fn check(p: &TrainParams) -> Result<(), KindIoError> {
    p.check_keyed()?;
    if let Some(tune) = &p.tune {
        tune.check(p.algorithm, |overrides| with_overrides(p, overrides))?;
    }
    Ok(())
}

/// A tuning candidate: `p` with `overrides` (train param → value) in place of its own values
/// and without `tune`, checked.
fn with_overrides(p: &TrainParams, overrides: &Map<String, Value>) -> Result<TrainParams, String> {
    let base = TrainParams { tune: None, ..p.clone() };
    let mut value = serde_json::to_value(base).map_err(|e| format!("train: {e}"))?;
    if let Value::Object(map) = &mut value {
        map.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let params: TrainParams = serde_path_to_error::deserialize(value)
        .map_err(|e| format!("train.{}: {}", e.path(), plain(&e.inner().to_string())))?;
    params.check()?;
    Ok(params)
}

/// Trains a model on a table file.
pub(crate) fn train_file(input: &Path, params: &TrainParams) -> Result<Model, StageError> {
    let df = table::read_table(input)?;
    let data_hash = hash_file(input)?;
    train_frame(&df, input, data_hash, params)
}

/// Trains on an in-memory table (`file` names it in messages).
pub fn train_frame(
    df: &DataFrame,
    file: &Path,
    data_hash: String,
    params: &TrainParams,
) -> Result<Model, StageError> {
    params.check().map_err(StageError::new)?;
    let params = params.resolved();
    if df.height() == 0 {
        return Err(StageError::new(format!("{}: the training table has no rows", file.display())));
    }
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let id_column = params.id_column.clone().unwrap_or_else(|| names[0].clone());
    column(df, &id_column, file)?;
    let y = label_values(column(df, &params.label_column, file)?, file)?;
    for excluded in &params.exclude_columns {
        column(df, excluded, file)?;
    }
    let feature_columns: Vec<String> = names
        .iter()
        .filter(|c| **c != id_column && **c != params.label_column && !params.exclude_columns.contains(c))
        .cloned()
        .collect();
    if feature_columns.is_empty() {
        return Err(StageError::new(format!(
            "{}: no feature columns besides the id '{id_column}' and the label '{}'",
            file.display(),
            params.label_column
        )));
    }
    let positives = y.iter().filter(|&&v| v == 1).count();
    if positives == 0 || positives == y.len() {
        let only = if positives == 0 { 0 } else { 1 };
        return Err(StageError::new(format!(
            "{}: every one of the {} training rows has {} = {only}; a churn model needs both \
             churners (1) and non-churners (0) — check the label column and the split",
            file.display(),
            y.len(),
            params.label_column
        )));
    }
    let features = encoded::fit_features(
        df,
        &feature_columns,
        &PrepOptions {
            max_categories: params.max_categories,
            log_terms: params.log_terms && params.algorithm.log_terms(),
        },
        file,
    )?;
    let data = encoded::encode_training(&features, df, file)?;
    let class_weights = class_weights(&params.class_weight, &y);
    let weights: Vec<f64> = y.iter().map(|&l| class_weights[l as usize]).collect();
    let ids = || id_values(column(df, &id_column, file)?, file);
    let training =
        TrainingData { features: &features, data: &data, y: &y, weights: &weights, class_weights, ids: &ids };
    let (estimator, raw_importance) = params.algorithm.fit(&params, &training)?;
    let total: f64 = raw_importance.iter().sum();
    let feature_importance =
        raw_importance.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
    let params_value = serde_json::to_value(&params)
        .map_err(|e| StageError::new(format!("cannot record the train params: {e}")))?;
    Ok(Model {
        format: FORMAT_TAG.into(),
        format_version: FORMAT_VERSION,
        algorithm: params.algorithm,
        id_column,
        label_column: params.label_column.clone(),
        expanded_features: encoded::expanded_names(&features),
        features,
        class_weights,
        decision_threshold: params.threshold,
        risk_tiers: params.risk_tiers,
        estimator,
        feature_importance,
        snapshot: None,
        tuning: None,
        lineage: Lineage {
            training_data_blake3: data_hash,
            training_rows: y.len(),
            training_positives: positives,
            params: params_value,
            stages_version: env!("CARGO_PKG_VERSION").into(),
        },
        explain_cache: Default::default(),
    })
}

/// k-fold cross-validation scores of the train params on the training table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CvReport {
    pub schema_version: u32,
    pub folds: usize,
    pub algorithm: String,
    /// Per fold: AUC on the held-out fold, or null when that fold could not be trained.
    pub auc_roc: Vec<Option<f64>>,
    pub auc_roc_mean: Option<f64>,
    pub auc_roc_std: Option<f64>,
    /// Why a fold failed, if one did.
    pub errors: Vec<String>,
}

/// Stratified k-fold CV ([`stratified_folds`], seeded with the train seed); the preprocessing
/// is refitted inside every fold.
pub(crate) fn cross_validate(input: &Path, params: &TrainParams, k: usize) -> Result<CvReport, StageError> {
    let df = table::read_table(input)?;
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let id_column = params.id_column.clone().unwrap_or_else(|| names.first().cloned().unwrap_or_default());
    let ids = id_values(column(&df, &id_column, input)?, input)?;
    let y = label_values(column(&df, &params.label_column, input)?, input)?;
    let fold = stratified_folds(&ids, &y, k, params.seed);
    let mut aucs = Vec::with_capacity(k);
    let mut errors = Vec::new();
    for f in 0..k {
        let held: Vec<bool> = fold.iter().map(|&x| x == f).collect();
        let held_mask = BooleanChunked::from_slice("held".into(), &held);
        let fit_mask = !&held_mask;
        let result = (|| {
            let fit_df = df.filter(&fit_mask).map_err(|e| StageError::new(e.to_string()))?;
            let held_df = df.filter(&held_mask).map_err(|e| StageError::new(e.to_string()))?;
            let model = train_frame(&fit_df, input, String::new(), params)?;
            let p = model.predict_table(&held_df, input)?;
            let held_y: Vec<u8> = y.iter().zip(&held).filter(|(_, &h)| h).map(|(&l, _)| l).collect();
            Ok::<_, StageError>(metrics::auc_roc(&held_y, &p))
        })();
        match result {
            Ok(a) => aucs.push(a),
            Err(e) => {
                errors.push(format!("fold {}: {}", f + 1, e.message));
                aucs.push(None);
            }
        }
    }
    let ok: Vec<f64> = aucs.iter().flatten().copied().collect();
    let mean = (!ok.is_empty()).then(|| ok.iter().sum::<f64>() / ok.len() as f64);
    let std = mean
        .filter(|_| ok.len() > 1)
        .map(|m| (ok.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (ok.len() - 1) as f64).sqrt());
    Ok(CvReport {
        schema_version: 1,
        folds: k,
        algorithm: params.algorithm.name().into(),
        auc_roc: aucs,
        auc_roc_mean: mean,
        auc_roc_std: std,
        errors,
    })
}
