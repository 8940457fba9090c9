//! Kind `evaluate`: a model and the test split → metrics, predictions, plot data, the
//! comparison against the baseline champion, and the model card.
//!
//! * `metrics` (flat JSON, a metrics out): auc_roc (+ bootstrap CI), pr_auc (average
//!   precision), accuracy, precision, recall, f1, log_loss, brier, threshold, tn/fp/fn/tp,
//!   top_decile_lift, expected_profit, n, positives, positive_rate, fairness gaps and, when a
//!   baseline exists, baseline_auc_roc and auc_roc_diff with its CI.
//! * `predictions` (Parquet/CSV): id, label, probability — one row per test customer.
//! * `plots` (JSON, a plots out): ROC, PR, calibration and cumulative-gains curves, lift per
//!   decile, the confusion matrix, feature importance, fairness per group.
//! * `comparison` (JSON): challenger vs the baseline champion (`Invocation::baseline_model`) on
//!   the same test rows, with a paired bootstrap CI of the AUC difference. `status` is
//!   `no_baseline`, `compared`, `same_model` or `incomparable` (the baseline could not score
//!   these rows, e.g. a column it needs was dropped; `reason` says why).
//! * `model_card` (Markdown) and its JSON twin (same path, `.json` extension).
//!
//! The threshold is a number, `"model"` (the model's own decision threshold) or `"max_profit"`
//! (the test score that maximises expected profit under `economics`; chosen on the test set, so
//! the profit it reports is optimistic — the model card says so).

use crate::contract::{BaselineUse, Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::io::hash_file;
use crate::io::json;
use crate::io::table::{self, column, write_table};
use crate::io::values::{id_values, label_values, string_values};
use crate::model::file::{load_model, Model};
use crate::model::metrics::{self, AucDiff, Confusion, Economics};
use crate::model::plots::{PlotData, PlotsFile, PLOTS_SCHEMA};
use crate::model::tuning;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) struct Evaluate;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvaluateSettings {
    pub model: String,
    pub test: String,
    pub metrics: String,
    pub predictions: String,
    #[serde(default)]
    pub plots: Option<String>,
    #[serde(default)]
    pub comparison: Option<String>,
    #[serde(default)]
    pub model_card: Option<String>,
}

/// A fixed threshold or a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ThresholdRule {
    Fixed(f64),
    /// "max_profit" or "model".
    Rule(String),
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule::Fixed(0.5)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BootstrapParams {
    pub resamples: usize,
    pub seed: u64,
    pub confidence: f64,
}

impl Default for BootstrapParams {
    fn default() -> Self {
        BootstrapParams { resamples: 1000, seed: 42, confidence: 0.95 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EvaluateParams {
    pub threshold: ThresholdRule,
    pub economics: Economics,
    pub fairness_columns: Vec<String>,
    /// Groups smaller than this are reported but left out of the fairness gaps.
    pub min_group_size: usize,
    pub bootstrap: BootstrapParams,
    /// Model card text.
    pub intended_use: Option<String>,
    pub limitations: Vec<String>,
}

impl Default for EvaluateParams {
    fn default() -> Self {
        EvaluateParams {
            threshold: ThresholdRule::default(),
            economics: Economics::default(),
            fairness_columns: Vec::new(),
            min_group_size: 30,
            bootstrap: BootstrapParams::default(),
            intended_use: None,
            limitations: Vec::new(),
        }
    }
}

impl EvaluateParams {
    pub(crate) fn check(&self) -> Result<(), KindIoError> {
        match &self.threshold {
            ThresholdRule::Fixed(t) if !(0.0..=1.0).contains(t) => {
                return Err(KindIoError::param(
                    "evaluation.threshold",
                    format!("evaluation.threshold must be in [0, 1], got {t}"),
                ))
            }
            ThresholdRule::Rule(r) if r != "max_profit" && r != "model" => {
                return Err(KindIoError::param(
                    "evaluation.threshold",
                    format!("evaluation.threshold: '{r}' is not a number, \"max_profit\" or \"model\""),
                ))
            }
            _ => {}
        }
        let e = &self.economics;
        if !(e.contact_cost >= 0.0 && e.saved_value >= 0.0 && (0.0..=1.0).contains(&e.success_rate)) {
            return Err(KindIoError::param(
                "evaluation.economics",
                "evaluation.economics: contact_cost and saved_value must be ≥ 0 and success_rate in [0, 1]",
            ));
        }
        if !(self.bootstrap.confidence > 0.0 && self.bootstrap.confidence < 1.0) {
            return Err(KindIoError::param(
                "evaluation.bootstrap.confidence",
                format!(
                    "evaluation.bootstrap.confidence must be in (0, 1), got {}",
                    self.bootstrap.confidence
                ),
            ));
        }
        if self.bootstrap.resamples > 100_000 {
            return Err(KindIoError::param(
                "evaluation.bootstrap.resamples",
                "evaluation.bootstrap.resamples must be at most 100000",
            ));
        }
        Ok(())
    }
}

/// The JSON twin path of a model card.
pub(crate) fn card_json_path(card: &str) -> String {
    let p = Path::new(card);
    p.with_extension("json").to_string_lossy().into_owned()
}

impl Kind for Evaluate {
    const NAME: &'static str = "evaluate";
    const PARAMS_SECTION: &'static str = "evaluation";
    // 2: the plots file holds the champion's curves under `baseline`; 3: the model card says how
    // the params were chosen.
    const CODE_VERSION: u32 = 3;
    type Settings = EvaluateSettings;
    type Params = EvaluateParams;

    /// The model under evaluation is the challenger; the engine finds its baseline.
    fn baseline(s: &EvaluateSettings) -> Option<BaselineUse> {
        Some(BaselineUse { challenger: Some(s.model.clone()), training_data: false })
    }

    fn io(s: &EvaluateSettings, p: &EvaluateParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        p.check()?;
        let mut outs = vec![OutDecl::metrics(&s.metrics), OutDecl::out(&s.predictions)];
        outs.extend(s.plots.as_ref().map(OutDecl::plots));
        if let Some(c) = &s.comparison {
            outs.push(OutDecl { cache: false, ..OutDecl::out(c) });
        }
        if let Some(card) = &s.model_card {
            if card_json_path(card) == *card {
                return Err(KindIoError::setting(format!(
                    "model_card '{card}' must not end in .json (its JSON twin is written next to it)"
                )));
            }
            outs.push(OutDecl { cache: false, ..OutDecl::out(card) });
            outs.push(OutDecl { cache: false, ..OutDecl::out(card_json_path(card)) });
        }
        Ok((vec![s.model.clone(), s.test.clone()], outs))
    }

    fn run(
        root: &Path,
        s: EvaluateSettings,
        p: EvaluateParams,
        inv: &Invocation,
    ) -> Result<StageSummary, StageError> {
        p.check().map_err(StageError::new)?;
        let paths = EvaluatePaths {
            model: root.join(&s.model),
            test: root.join(&s.test),
            metrics: root.join(&s.metrics),
            predictions: root.join(&s.predictions),
            plots: s.plots.as_ref().map(|x| root.join(x)),
            comparison: s.comparison.as_ref().map(|x| root.join(x)),
            model_card: s.model_card.as_ref().map(|x| root.join(x)),
            model_display: s.model.clone(),
            test_display: s.test.clone(),
        };
        let baseline =
            inv.baseline_model.as_ref().map(|b| if b.is_absolute() { b.clone() } else { root.join(b) });
        let r = evaluate(&paths, baseline.as_deref(), &p)?;
        Ok(StageSummary { summary: r.summary })
    }
}

/// Where `evaluate` reads and writes (absolute), plus the project-relative names for the card.
#[derive(Debug, Clone)]
pub(crate) struct EvaluatePaths {
    pub model: PathBuf,
    pub test: PathBuf,
    pub metrics: PathBuf,
    pub predictions: PathBuf,
    pub plots: Option<PathBuf>,
    pub comparison: Option<PathBuf>,
    pub model_card: Option<PathBuf>,
    pub model_display: String,
    pub test_display: String,
}

/// What `evaluate` found: the stage's one-line summary (the figures are in its outs).
#[derive(Debug, Clone)]
pub(crate) struct EvaluateSummary {
    pub summary: String,
}

/// One group's metrics for fairness.
fn group_metrics(y: &[u8], p: &[f64], threshold: f64) -> Value {
    let c = Confusion::at(y, p, threshold);
    let positives = y.iter().filter(|&&v| v == 1).count();
    json!({
        "n": y.len(),
        "positives": positives,
        "positive_rate": positives as f64 / y.len().max(1) as f64,
        "auc_roc": metrics::auc_roc(y, p),
        "recall": c.recall(),
        "precision": c.precision(),
        "false_positive_rate": c.false_positive_rate(),
        "predicted_positive_rate": c.predicted_positive_rate(),
    })
}

/// Per column: groups (sorted by value, missing as "(missing)") and the largest gaps between
/// groups of at least `min_group_size` rows.
fn fairness(
    df: &DataFrame,
    columns: &[String],
    y: &[u8],
    p: &[f64],
    threshold: f64,
    min_group_size: usize,
    file: &Path,
) -> Result<(Value, Map<String, Value>), StageError> {
    let mut report = Map::new();
    let mut worst: BTreeMap<&'static str, f64> = BTreeMap::new();
    for name in columns {
        let values = string_values(column(df, name, file)?, file)?;
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (r, v) in values.into_iter().enumerate() {
            groups.entry(v.unwrap_or_else(|| "(missing)".into())).or_default().push(r);
        }
        let mut group_values = Map::new();
        let mut eligible: Vec<Value> = Vec::new();
        for (g, rows) in &groups {
            let gy: Vec<u8> = rows.iter().map(|&r| y[r]).collect();
            let gp: Vec<f64> = rows.iter().map(|&r| p[r]).collect();
            let m = group_metrics(&gy, &gp, threshold);
            if rows.len() >= min_group_size {
                eligible.push(m.clone());
            }
            group_values.insert(g.clone(), m);
        }
        let mut gaps = Map::new();
        for key in ["recall", "false_positive_rate", "predicted_positive_rate", "auc_roc"] {
            let vals: Vec<f64> = eligible
                .iter()
                .filter(|m| key != "recall" || m["positives"].as_u64().unwrap_or(0) > 0)
                .filter_map(|m| m[key].as_f64())
                .collect();
            let gap = if vals.len() >= 2 {
                let max = vals.iter().copied().fold(f64::MIN, f64::max);
                let min = vals.iter().copied().fold(f64::MAX, f64::min);
                Some(max - min)
            } else {
                None
            };
            gaps.insert(format!("{key}_gap"), json!(gap));
            if let Some(g) = gap {
                let k: &'static str = match key {
                    "recall" => "fairness_recall_gap",
                    "false_positive_rate" => "fairness_fpr_gap",
                    "predicted_positive_rate" => "fairness_predicted_positive_rate_gap",
                    _ => "fairness_auc_gap",
                };
                let e = worst.entry(k).or_insert(g);
                *e = e.max(g);
            }
        }
        report.insert(name.clone(), json!({ "groups": group_values, "gaps": gaps }));
    }
    let flat = worst.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    Ok((Value::Object(report), flat))
}

/// Runs the evaluation. `baseline` is the current champion's model file, if any.
pub(crate) fn evaluate(
    paths: &EvaluatePaths,
    baseline: Option<&Path>,
    params: &EvaluateParams,
) -> Result<EvaluateSummary, StageError> {
    let model = load_model(&paths.model)?;
    let model_hash = hash_file(&paths.model)?;
    let df = table::read_table(&paths.test)?;
    let file = paths.test.as_path();
    let ids = id_values(column(&df, &model.id_column, file)?, file)?;
    let y = label_values(column(&df, &model.label_column, file)?, file)?;
    let positives = y.iter().filter(|&&v| v == 1).count();
    if positives == 0 || positives == y.len() {
        return Err(StageError::new(format!(
            "{}: all {} test rows have {} = {}; AUC and recall need both classes in the test split",
            file.display(),
            y.len(),
            model.label_column,
            u8::from(positives > 0)
        )));
    }
    let missing_fairness: Vec<&str> =
        params.fairness_columns.iter().map(String::as_str).filter(|c| df.column(c).is_err()).collect();
    if !missing_fairness.is_empty() {
        return Err(StageError::new(format!(
            "{}: evaluation.fairness_columns names column(s) the test split does not have: {}",
            file.display(),
            missing_fairness.join(", ")
        )));
    }
    let p = model.predict_table(&df, file)?;
    let n = y.len();
    let econ = params.economics;
    let (threshold, rule) = match &params.threshold {
        ThresholdRule::Fixed(t) => (*t, "fixed"),
        ThresholdRule::Rule(r) if r == "model" => (model.decision_threshold, "model"),
        _ => (econ.best_threshold(&y, &p).map_or(0.5, |(t, _)| t), "max_profit"),
    };
    let c = Confusion::at(&y, &p, threshold);
    let auc = metrics::auc_roc(&y, &p);
    let bs = &params.bootstrap;
    // The AUC interval; with a baseline it comes from the paired bootstrap below, which draws
    // the same resamples (same seed), so each resample is drawn and ranked once.
    let mut auc_ci: Option<Option<(f64, f64)>> = None;

    // Comparison against the baseline champion.
    let mut baseline_p: Option<Vec<f64>> = None;
    let mut baseline_model: Option<Model> = None;
    let comparison = match baseline {
        None => json!({
            "schema_version": 1,
            "status": "no_baseline",
            "reason": "there is no baseline champion in the registry: nothing to compare against",
            "n": n,
            "challenger": { "model_blake3": model_hash, "algorithm": model.algorithm.name(), "auc_roc": auc },
            "baseline": null,
            "auc_roc_diff": null,
        }),
        Some(bpath) => {
            let bhash = hash_file(bpath)?;
            let scored = load_model(bpath).and_then(|b| Ok((b.predict_table(&df, file)?, b)));
            match scored {
                Err(e) => json!({
                    "schema_version": 1,
                    "status": "incomparable",
                    "reason": format!("the baseline champion could not score the test rows: {}", e.message),
                    "n": n,
                    "challenger": { "model_blake3": model_hash, "algorithm": model.algorithm.name(), "auc_roc": auc },
                    "baseline": { "model_blake3": bhash, "path": bpath.display().to_string() },
                    "auc_roc_diff": null,
                }),
                Ok((bp, bmodel)) => {
                    let (ci, diff): (Option<(f64, f64)>, Option<AucDiff>) =
                        metrics::auc_bootstrap(&y, &p, Some(&bp), bs.resamples, bs.confidence, bs.seed);
                    auc_ci = Some(ci);
                    let same = bhash == model_hash;
                    let out = json!({
                        "schema_version": 1,
                        "status": if same { "same_model" } else { "compared" },
                        "reason": if same { "the baseline champion is this very model" } else { "challenger and baseline scored the same test rows" },
                        "n": n,
                        "challenger": {
                            "model_blake3": model_hash, "algorithm": model.algorithm.name(),
                            "auc_roc": auc, "pr_auc": metrics::average_precision(&y, &p),
                            "log_loss": metrics::log_loss(&y, &p), "brier": metrics::brier(&y, &p),
                        },
                        "baseline": {
                            "model_blake3": bhash, "algorithm": bmodel.algorithm.name(),
                            "auc_roc": metrics::auc_roc(&y, &bp), "pr_auc": metrics::average_precision(&y, &bp),
                            "log_loss": metrics::log_loss(&y, &bp), "brier": metrics::brier(&y, &bp),
                            "training_data_blake3": bmodel.lineage.training_data_blake3,
                        },
                        "auc_roc_diff": diff,
                    });
                    baseline_p = Some(bp);
                    baseline_model = Some(bmodel);
                    out
                }
            }
        }
    };

    let (fair_report, fair_flat) =
        fairness(&df, &params.fairness_columns, &y, &p, threshold, params.min_group_size, file)?;

    let mut m = Map::new();
    m.insert("auc_roc".into(), json!(auc));
    let auc_ci = auc_ci
        .unwrap_or_else(|| metrics::auc_bootstrap(&y, &p, None, bs.resamples, bs.confidence, bs.seed).0);
    m.insert("auc_roc_ci_low".into(), json!(auc_ci.map(|c| c.0)));
    m.insert("auc_roc_ci_high".into(), json!(auc_ci.map(|c| c.1)));
    m.insert("pr_auc".into(), json!(metrics::average_precision(&y, &p)));
    m.insert("accuracy".into(), json!(c.accuracy()));
    m.insert("precision".into(), json!(c.precision()));
    m.insert("recall".into(), json!(c.recall()));
    m.insert("f1".into(), json!(c.f1()));
    m.insert("log_loss".into(), json!(metrics::log_loss(&y, &p)));
    m.insert("brier".into(), json!(metrics::brier(&y, &p)));
    m.insert("threshold".into(), json!(threshold));
    m.insert("tn".into(), json!(c.tn));
    m.insert("fp".into(), json!(c.fp));
    m.insert("fn".into(), json!(c.fn_));
    m.insert("tp".into(), json!(c.tp));
    m.insert("top_decile_lift".into(), json!(metrics::lift_at(&y, &p, 0.1)));
    m.insert("expected_profit".into(), json!(econ.profit(&c)));
    m.insert("expected_profit_per_customer".into(), json!(econ.profit(&c) / n as f64));
    m.insert("n".into(), json!(n));
    m.insert("positives".into(), json!(positives));
    m.insert("positive_rate".into(), json!(positives as f64 / n as f64));
    m.insert("predicted_positive_rate".into(), json!(c.predicted_positive_rate()));
    for (k, v) in fair_flat {
        m.insert(k, v);
    }
    if let Some(bp) = &baseline_p {
        m.insert("baseline_auc_roc".into(), json!(metrics::auc_roc(&y, bp)));
        if let Some(d) = comparison.get("auc_roc_diff").filter(|d| !d.is_null()) {
            m.insert("auc_roc_diff".into(), d["diff"].clone());
            m.insert("auc_roc_diff_ci_low".into(), d["ci_low"].clone());
            m.insert("auc_roc_diff_ci_high".into(), d["ci_high"].clone());
        }
    }
    json::write_json(&paths.metrics, &Value::Object(m.clone()))?;

    // Predictions.
    let mut pred_df = DataFrame::new(
        n,
        vec![
            Column::new(model.id_column.as_str().into(), ids),
            Column::new(
                model.label_column.as_str().into(),
                y.iter().map(|&v| i32::from(v)).collect::<Vec<i32>>(),
            ),
            Column::new("probability".into(), p.clone()),
        ],
    )
    .map_err(|e| StageError::new(format!("cannot build the predictions table: {e}")))?;
    write_table(&paths.predictions, &mut pred_df)?;

    if let Some(plots) = &paths.plots {
        let baseline = baseline_model.as_ref().zip(baseline_p.as_ref());
        let file = PlotsFile {
            schema_version: PLOTS_SCHEMA,
            challenger: PlotData::of(&model, &y, &p, threshold),
            baseline: baseline.map(|(bm, bp)| PlotData::of(bm, &y, bp, threshold)),
            fairness: fair_report.clone(),
        };
        json::write_json(plots, &file)?;
    }
    if let Some(cmp) = &paths.comparison {
        json::write_json(cmp, &comparison)?;
    }
    if let Some(card) = &paths.model_card {
        let card_value = model_card(&model, &model_hash, paths, &m, &comparison, &fair_report, params, rule);
        json::write_json(&card.with_extension("json"), &card_value)?;
        json::write_text(card, &render_card(&card_value))?;
    }

    let mut summary = format!(
        "{} AUC {:.4}, PR-AUC {:.4}, recall {:.3} at threshold {:.3}",
        model.algorithm.name(),
        auc.unwrap_or(f64::NAN),
        m["pr_auc"].as_f64().unwrap_or(f64::NAN),
        c.recall(),
        threshold
    );
    match comparison["status"].as_str() {
        Some("compared") | Some("same_model") => {
            if let Some(d) = comparison["auc_roc_diff"].as_object() {
                summary.push_str(&format!(
                    "; vs champion {:+.4} [{:+.4}, {:+.4}]",
                    d["diff"].as_f64().unwrap_or(f64::NAN),
                    d["ci_low"].as_f64().unwrap_or(f64::NAN),
                    d["ci_high"].as_f64().unwrap_or(f64::NAN)
                ));
            }
        }
        Some("incomparable") => summary.push_str("; baseline champion incomparable"),
        _ => summary.push_str("; no earlier champion to compare with"),
    }
    Ok(EvaluateSummary { summary })
}

#[allow(clippy::too_many_arguments)]
fn model_card(
    model: &Model,
    model_hash: &str,
    paths: &EvaluatePaths,
    metrics: &Map<String, Value>,
    comparison: &Value,
    fairness: &Value,
    params: &EvaluateParams,
    threshold_rule: &str,
) -> Value {
    let mut limitations = vec![
        "Trained and evaluated on one historical snapshot; churn drivers drift, so monitor and retrain.".to_string(),
        "Unseen categories and missing values are imputed (all-zero one-hot, training median); a large share of them in production degrades accuracy.".to_string(),
    ];
    if model.class_weights[0] != model.class_weights[1] {
        limitations.push("Class-weighted training inflates the probabilities of the minority class: rank customers by them rather than reading them as calibrated churn rates (see the calibration plot).".into());
    }
    if threshold_rule == "max_profit" {
        limitations.push("The threshold maximises expected profit on the test split itself, so the reported profit is optimistic.".into());
    }
    limitations.extend(params.limitations.iter().cloned());
    json!({
        "schema_version": 1,
        "model": {
            "algorithm": model.algorithm.name(),
            "path": paths.model_display,
            "model_blake3": model_hash,
            "format_version": model.format_version,
            "stages_version": model.lineage.stages_version,
            "decision_threshold": model.decision_threshold,
            "class_weights": model.class_weights,
            "params": model.lineage.params,
        },
        "intended_use": params.intended_use.clone().unwrap_or_else(|| "Rank current customers by their probability of churning so that a retention team can contact the riskiest first. Not for decisions about individuals' prices, credit or service eligibility.".into()),
        "data": {
            "training_data_blake3": model.lineage.training_data_blake3,
            "training_rows": model.lineage.training_rows,
            "training_positives": model.lineage.training_positives,
            "test_path": paths.test_display,
            "test_rows": metrics.get("n"),
            "test_positives": metrics.get("positives"),
            "features": model.features.iter().map(|f| f.name()).collect::<Vec<_>>(),
        },
        "params_chosen": params_chosen(model),
        "metrics": metrics,
        "threshold_rule": threshold_rule,
        "economics": params.economics,
        "top_features": model.top_features(10),
        "comparison": comparison,
        "fairness": fairness,
        "limitations": limitations,
    })
}

/// How the model's params were chosen, for the card: the CV search that picked them, or the
/// fixed values params.yaml gave (those the algorithm could have searched).
fn params_chosen(model: &Model) -> Value {
    match &model.tuning {
        Some(t) => json!({
            "method": "cv_search",
            "search": t.search,
            "trials": t.trials,
            "cv": t.cv,
            "seed": t.seed,
            "metric": t.metric,
            "best_params": t.best_params,
            "cv_auc_mean": t.cv_auc_mean,
            "cv_auc_std": t.cv_auc_std,
        }),
        None => {
            let fixed: Map<String, Value> = tuning::tunable(model.algorithm)
                .iter()
                .filter_map(|k| Some((k.to_string(), model.lineage.params.get(*k)?.clone())))
                .collect();
            json!({ "method": "fixed", "params": fixed })
        }
    }
}

/// A param value as written in params.yaml (strings bare).
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `key = value` pairs of a JSON object, in its order.
fn param_list(v: &Value) -> String {
    v.as_object().map_or(String::new(), |m| {
        m.iter().map(|(k, v)| format!("`{k}` = {}", param_text(v))).collect::<Vec<_>>().join(", ")
    })
}

fn fmt_num(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Some(Value::Null) | None => "n/a".into(),
        Some(other) => other.to_string(),
    }
}

/// The Markdown model card, rendered from its JSON twin.
pub(crate) fn render_card(card: &Value) -> String {
    let mut s = String::new();
    let m = &card["model"];
    s.push_str(&format!("# Model card: churn model ({})\n\n", m["algorithm"].as_str().unwrap_or("?")));
    s.push_str("## Intended use\n\n");
    s.push_str(card["intended_use"].as_str().unwrap_or(""));
    s.push_str("\n\n## Data\n\n");
    let d = &card["data"];
    s.push_str(&format!(
        "- Training rows: {} ({} churners)\n- Test split: `{}`, {} rows ({} churners)\n- Features ({}): {}\n\n",
        fmt_num(d.get("training_rows")),
        fmt_num(d.get("training_positives")),
        d["test_path"].as_str().unwrap_or(""),
        fmt_num(d.get("test_rows")),
        fmt_num(d.get("test_positives")),
        d["features"].as_array().map_or(0, |a| a.len()),
        d["features"].as_array().map_or(String::new(), |a| a
            .iter()
            .filter_map(|v| v.as_str())
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", "))
    ));
    s.push_str("## How the params were chosen\n\n");
    let chosen = &card["params_chosen"];
    if chosen["method"] == "cv_search" {
        s.push_str(&format!(
            "{} search over {} candidates, each scored by its mean ROC AUC over a stratified \
             {}-fold cross-validation on the training rows only (seed {}; the test split played \
             no part). Chosen: {}, with CV AUC {} ± {} (mean ± standard deviation over the \
             folds). The other params are fixed in params.yaml; every trial is in the twin of \
             the train stage's `tuning` report (`…_trials.json`).\n\n",
            match chosen["search"].as_str() {
                Some("grid") => "Grid",
                _ => "Random",
            },
            fmt_num(chosen.get("trials")),
            fmt_num(chosen.get("cv")),
            fmt_num(chosen.get("seed")),
            param_list(&chosen["best_params"]),
            fmt_num(chosen.get("cv_auc_mean")),
            fmt_num(chosen.get("cv_auc_std")),
        ));
    } else {
        s.push_str(&format!(
            "Fixed in params.yaml (`train`), no search: {}.\n\n",
            param_list(&chosen["params"])
        ));
    }
    s.push_str("## Metrics (test split)\n\n| metric | value |\n|---|---|\n");
    if let Some(metrics) = card["metrics"].as_object() {
        for (k, v) in metrics {
            s.push_str(&format!("| {k} | {} |\n", fmt_num(Some(v))));
        }
    }
    s.push_str(&format!("\nThreshold rule: {}.\n\n", card["threshold_rule"].as_str().unwrap_or("")));
    s.push_str("## Comparison with the champion\n\n");
    let c = &card["comparison"];
    s.push_str(&format!(
        "Status: {} — {}.\n",
        c["status"].as_str().unwrap_or(""),
        c["reason"].as_str().unwrap_or("")
    ));
    if let Some(d) = c["auc_roc_diff"].as_object() {
        s.push_str(&format!(
            "\nAUC difference (challenger − champion): {} ({}% CI {} to {}, {} paired bootstrap resamples).\n",
            fmt_num(d.get("diff")),
            d.get("confidence").and_then(|v| v.as_f64()).map_or("?".into(), |v| format!("{}", v * 100.0)),
            fmt_num(d.get("ci_low")),
            fmt_num(d.get("ci_high")),
            fmt_num(d.get("resamples"))
        ));
    }
    s.push_str("\n## Fairness\n\n");
    match card["fairness"].as_object() {
        Some(cols) if !cols.is_empty() => {
            for (col, v) in cols {
                s.push_str(&format!("### `{col}`\n\n| group | n | churn rate | AUC | recall | FPR | flagged |\n|---|---|---|---|---|---|---|\n"));
                if let Some(groups) = v["groups"].as_object() {
                    for (g, gm) in groups {
                        s.push_str(&format!(
                            "| {g} | {} | {} | {} | {} | {} | {} |\n",
                            fmt_num(gm.get("n")),
                            fmt_num(gm.get("positive_rate")),
                            fmt_num(gm.get("auc_roc")),
                            fmt_num(gm.get("recall")),
                            fmt_num(gm.get("false_positive_rate")),
                            fmt_num(gm.get("predicted_positive_rate"))
                        ));
                    }
                }
                let gaps = &v["gaps"];
                s.push_str(&format!(
                    "\nGaps between groups: recall {}, FPR {}, flagged rate {}, AUC {}.\n\n",
                    fmt_num(gaps.get("recall_gap")),
                    fmt_num(gaps.get("false_positive_rate_gap")),
                    fmt_num(gaps.get("predicted_positive_rate_gap")),
                    fmt_num(gaps.get("auc_roc_gap"))
                ));
            }
        }
        _ => s.push_str("No fairness columns configured (`evaluation.fairness_columns`).\n\n"),
    }
    s.push_str("## Most important inputs\n\n");
    if let Some(top) = card["top_features"].as_array() {
        for t in top {
            s.push_str(&format!("- `{}`: {}\n", t[0].as_str().unwrap_or(""), fmt_num(t.get(1))));
        }
    }
    s.push_str("\n## Limitations\n\n");
    if let Some(l) = card["limitations"].as_array() {
        for x in l {
            s.push_str(&format!("- {}\n", x.as_str().unwrap_or("")));
        }
    }
    s.push_str("\n## Lineage\n\n");
    s.push_str(&format!(
        "- Model: `{}` (blake3 `{}`), format version {}, churnflow-stages {}\n- Training data blake3: `{}`\n",
        m["path"].as_str().unwrap_or(""),
        m["model_blake3"].as_str().unwrap_or(""),
        fmt_num(m.get("format_version")),
        m["stages_version"].as_str().unwrap_or(""),
        d["training_data_blake3"].as_str().unwrap_or("")
    ));
    s
}
