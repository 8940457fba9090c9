//! Kind `promote`: decides whether the evaluated challenger becomes champion. It only decides:
//! it writes the decision file; the engine appends it to the registry (compare-and-swap on the
//! baseline, audit log).
//!
//! Gates, in this order (a gate whose bound is not set in `promotion` params is skipped):
//!
//! | gate | passes when |
//! |---|---|
//! | `min_auc_roc` | metrics.auc_roc ≥ bound (default 0.5) |
//! | `min_recall` | metrics.recall ≥ bound |
//! | `max_auc_drop` | baseline AUC − challenger AUC ≤ bound (default 0.01); passes with no baseline |
//! | `require_ci_above` | lower end of the bootstrap CI of AUC(challenger) − AUC(baseline) ≥ bound (e.g. -0.02); passes with no baseline |
//! | `max_fairness_gap` | metrics.fairness_<fairness_metric>_gap ≤ bound; fails when no gap was measured |
//! | `max_drift_share` | the `drift` metrics file (kind `drift`, comparing the rows the challenger was evaluated on with its own training data) shows a share of drifted columns ≤ bound; fails when that stage compared nothing |
//! | `baseline_comparable` | the baseline could score the test rows (or `allow_incomparable_baseline`) |
//!
//! A failing gate is a normal outcome: the stage succeeds and the decision says `promote:
//! false` with the first failing gate as `reason`.

use crate::contract::{Invocation, Kind, KindIoError, OutDecl, StageError, StageSummary};
use crate::io::hash_file;
use crate::io::json;
use crate::model::file::load_model;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

pub(crate) struct Promote;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromoteSettings {
    pub metrics: String,
    pub comparison: String,
    pub model: String,
    /// The decision file to write (e.g. reports/promotion.json).
    pub decision: String,
    /// The metrics file of a `drift` stage, for the `max_drift_share` gate.
    #[serde(default)]
    pub drift: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PromoteParams {
    pub min_auc_roc: Option<f64>,
    pub min_recall: Option<f64>,
    pub max_auc_drop: Option<f64>,
    pub require_ci_above: Option<f64>,
    pub max_fairness_gap: Option<f64>,
    /// Refuse a challenger whose evaluation data drifted from its training data: the largest
    /// share of drifted columns the `drift` metrics may show.
    pub max_drift_share: Option<f64>,
    /// Which gap `max_fairness_gap` bounds: recall (default), fpr, predicted_positive_rate, auc.
    pub fairness_metric: String,
    pub allow_incomparable_baseline: bool,
}

impl Default for PromoteParams {
    fn default() -> Self {
        PromoteParams {
            min_auc_roc: Some(0.5),
            min_recall: None,
            max_auc_drop: Some(0.01),
            require_ci_above: None,
            max_fairness_gap: None,
            max_drift_share: None,
            fairness_metric: "recall".into(),
            allow_incomparable_baseline: false,
        }
    }
}

impl PromoteParams {
    pub(crate) fn check(&self) -> Result<(), KindIoError> {
        if !["recall", "fpr", "predicted_positive_rate", "auc"].contains(&self.fairness_metric.as_str()) {
            return Err(KindIoError::param(
                "promotion.fairness_metric",
                format!(
                    "promotion.fairness_metric: '{}' is not one of recall, fpr, predicted_positive_rate, auc",
                    self.fairness_metric
                ),
            ));
        }
        for (name, v) in [
            ("min_auc_roc", self.min_auc_roc),
            ("min_recall", self.min_recall),
            ("max_auc_drop", self.max_auc_drop),
            ("require_ci_above", self.require_ci_above),
            ("max_fairness_gap", self.max_fairness_gap),
            ("max_drift_share", self.max_drift_share),
        ] {
            if let Some(x) = v {
                if !(-1.0..=1.0).contains(&x) {
                    let key = format!("promotion.{name}");
                    return Err(KindIoError::param(&key, format!("{key} must be between -1 and 1, got {x}")));
                }
            }
        }
        Ok(())
    }
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub name: String,
    pub observed: Option<f64>,
    pub bound: Option<f64>,
    pub passed: bool,
    pub detail: String,
}

/// The decision file (`schema_version` 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub schema_version: u32,
    pub promote: bool,
    /// The first gate that stopped promotion, or why it promotes.
    pub reason: String,
    pub gates: Vec<Gate>,
    /// The model file, project-relative as written in the settings.
    pub model: String,
    pub model_blake3: String,
    pub baseline_model_blake3: Option<String>,
    pub algorithm: Option<String>,
    /// The evaluated decision threshold (for `score` with this model).
    pub threshold: Option<f64>,
    /// no_baseline | compared | same_model | incomparable
    pub comparison_status: String,
    /// The headline metrics, for the registry and audit log.
    pub metrics: serde_json::Map<String, Value>,
}

impl Kind for Promote {
    const NAME: &'static str = "promote";
    const PARAMS_SECTION: &'static str = "promotion";
    const CODE_VERSION: u32 = 1;
    type Settings = PromoteSettings;
    type Params = PromoteParams;

    /// The decision file is applied to the registry by the engine, under the project lock.
    fn registry_decision(s: &PromoteSettings) -> Option<String> {
        Some(s.decision.clone())
    }

    fn io(s: &PromoteSettings, p: &PromoteParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        p.check()?;
        if p.max_drift_share.is_some() && s.drift.is_none() {
            return Err(KindIoError::param(
                "promotion.max_drift_share",
                "promotion.max_drift_share is set but the promote stage has no `drift:` setting; \
                 name the metrics file of a `drift` stage (e.g. drift: reports/drift_metrics.json)",
            ));
        }
        let mut deps = vec![s.metrics.clone(), s.comparison.clone(), s.model.clone()];
        deps.extend(s.drift.clone());
        Ok((deps, vec![OutDecl { cache: false, ..OutDecl::out(&s.decision) }]))
    }

    fn run(
        root: &Path,
        s: PromoteSettings,
        p: PromoteParams,
        _inv: &Invocation,
    ) -> Result<StageSummary, StageError> {
        p.check().map_err(StageError::new)?;
        let drift = s.drift.as_ref().map(|d| root.join(d));
        let inputs = DecisionInputs {
            metrics: &root.join(&s.metrics),
            comparison: &root.join(&s.comparison),
            model: &root.join(&s.model),
            model_display: &s.model,
            drift: drift.as_deref(),
        };
        let d = decide(&inputs, &p)?;
        json::write_json(&root.join(&s.decision), &d)?;
        let verdict = if d.promote { "promote" } else { "keep the champion" };
        Ok(StageSummary { summary: format!("{verdict}: {}", d.reason) })
    }
}

/// `max_drift_share`: the share of drifted columns a `drift` stage measured.
fn drift_gate(path: &Path, bound: f64) -> Result<Gate, StageError> {
    let drift: serde_json::Map<String, Value> = json::read_json(path, "drift metrics")?;
    if drift.get("compared").and_then(Value::as_bool) == Some(false) {
        return Ok(gate(
            "max_drift_share",
            None,
            bound,
            false,
            format!(
                "the drift stage compared nothing ({}); compare the evaluation rows with the challenger's \
                 own training data (reference: a table, e.g. the split's train table)",
                path.display()
            ),
        ));
    }
    let share = drift.get("share").and_then(Value::as_f64).ok_or_else(|| {
        StageError::new(format!("{}: not the metrics of a `drift` stage (no `share`)", path.display()))
    })?;
    Ok(gate(
        "max_drift_share",
        Some(share),
        bound,
        share <= bound,
        format!("at most a share of {bound} of the columns may drift between training and evaluation data"),
    ))
}

fn gate(name: &str, observed: Option<f64>, bound: f64, passed: bool, detail: String) -> Gate {
    Gate { name: name.into(), observed, bound: Some(bound), passed, detail }
}

/// The files a decision reads.
pub(crate) struct DecisionInputs<'a> {
    pub(crate) metrics: &'a Path,
    pub(crate) comparison: &'a Path,
    pub(crate) model: &'a Path,
    /// The model as the settings name it.
    pub(crate) model_display: &'a str,
    /// The metrics of a `drift` stage.
    pub(crate) drift: Option<&'a Path>,
}

/// The reason of a promotion over a champion. The gates are a non-inferiority test, so a
/// challenger whose AUC difference is significantly below 0 can pass them; the reason says so
/// rather than only "passed".
fn against_champion(diff: Option<&Value>, max_auc_drop: Option<f64>, gates: usize) -> String {
    let passed = format!("passed all {gates} gates against the champion");
    let Some((d, low, high)) =
        diff.and_then(|d| Some((d["diff"].as_f64()?, d["ci_low"].as_f64()?, d["ci_high"].as_f64()?)))
    else {
        return passed;
    };
    let measured = format!("AUC {d:+.4}, CI [{low:+.4}, {high:+.4}]");
    if high < 0.0 {
        let margin = max_auc_drop.map_or(String::new(), |b| format!(" but within max_auc_drop {b}"));
        format!("challenger is worse than the champion ({measured} entirely below 0){margin}; {passed}")
    } else if low > 0.0 {
        format!("challenger is better than the champion ({measured} entirely above 0); {passed}")
    } else {
        passed
    }
}

/// Reads the evaluation outputs and applies the gates.
pub(crate) fn decide(inputs: &DecisionInputs<'_>, p: &PromoteParams) -> Result<Decision, StageError> {
    let DecisionInputs {
        metrics: metrics_path,
        comparison: comparison_path,
        model: model_path,
        model_display,
        drift,
    } = *inputs;
    let metrics: serde_json::Map<String, Value> = json::read_json(metrics_path, "metrics")?;
    let comparison: Value = json::read_json(comparison_path, "comparison")?;
    let model_hash = hash_file(model_path)?;
    let model = load_model(model_path)?;
    let compared_hash = comparison["challenger"]["model_blake3"].as_str().unwrap_or_default();
    if compared_hash != model_hash {
        return Err(StageError::new(format!(
            "{}: this comparison was made for another model (blake3 {compared_hash}), not {} \
             (blake3 {model_hash}); re-run evaluate",
            comparison_path.display(),
            model_path.display()
        )));
    }
    let status = comparison["status"].as_str().unwrap_or("no_baseline").to_string();
    let baseline_hash = comparison["baseline"]["model_blake3"].as_str().map(String::from);
    let num = |k: &str| metrics.get(k).and_then(Value::as_f64);
    let mut gates = Vec::new();
    if let Some(b) = p.min_auc_roc {
        let o = num("auc_roc");
        gates.push(gate(
            "min_auc_roc",
            o,
            b,
            o.is_some_and(|v| v >= b),
            format!("test AUC must be at least {b}"),
        ));
    }
    if let Some(b) = p.min_recall {
        let o = num("recall");
        gates.push(gate(
            "min_recall",
            o,
            b,
            o.is_some_and(|v| v >= b),
            format!("recall at the threshold must be at least {b}"),
        ));
    }
    let diff = comparison.get("auc_roc_diff").filter(|d| !d.is_null());
    let has_baseline = status == "compared" || status == "same_model";
    if let Some(b) = p.max_auc_drop {
        let drop = diff.and_then(|d| d["diff"].as_f64()).map(|d| -d);
        gates.push(if has_baseline {
            gate(
                "max_auc_drop",
                drop,
                b,
                drop.is_some_and(|v| v <= b),
                format!("AUC may fall at most {b} below the champion's"),
            )
        } else {
            gate("max_auc_drop", None, b, true, "no baseline champion to compare with".into())
        });
    }
    if let Some(b) = p.require_ci_above {
        let low = diff.and_then(|d| d["ci_low"].as_f64());
        gates.push(if has_baseline {
            gate(
                "require_ci_above",
                low,
                b,
                low.is_some_and(|v| v >= b),
                format!("the lower end of the CI of the AUC difference must be at least {b}"),
            )
        } else {
            gate("require_ci_above", None, b, true, "no baseline champion to compare with".into())
        });
    }
    if let Some(b) = p.max_fairness_gap {
        let key = format!("fairness_{}_gap", p.fairness_metric);
        let o = num(&key);
        let detail = if o.is_some() {
            format!("{key} must be at most {b}")
        } else {
            format!(
                "no {key} was measured: set evaluation.fairness_columns (groups need ≥ min_group_size rows)"
            )
        };
        gates.push(gate("max_fairness_gap", o, b, o.is_some_and(|v| v <= b), detail));
    }
    if let (Some(b), Some(path)) = (p.max_drift_share, drift) {
        gates.push(drift_gate(path, b)?);
    }
    if status == "incomparable" {
        gates.push(Gate {
            name: "baseline_comparable".into(),
            observed: None,
            bound: None,
            passed: p.allow_incomparable_baseline,
            detail: comparison["reason"].as_str().unwrap_or("the baseline could not be compared").to_string(),
        });
    }
    let failed = gates.iter().find(|g| !g.passed);
    let (promote, reason) = if status == "same_model" {
        (false, "this model is already the champion".to_string())
    } else if let Some(g) = failed {
        let observed = g.observed.map_or("not measured".into(), |v| format!("{v:.4}"));
        (false, format!("gate {} failed: {} (observed {observed})", g.name, g.detail))
    } else if has_baseline {
        (true, against_champion(diff, p.max_auc_drop, gates.len()))
    } else if status == "incomparable" {
        (true, format!("passed all {} gates; the baseline was incomparable and that is allowed", gates.len()))
    } else {
        (true, format!("passed all {} gates; no earlier champion to compare with", gates.len()))
    };
    let headline = [
        "auc_roc",
        "auc_roc_ci_low",
        "auc_roc_ci_high",
        "pr_auc",
        "recall",
        "precision",
        "f1",
        "log_loss",
        "brier",
        "threshold",
        "top_decile_lift",
        "expected_profit",
        "n",
        "auc_roc_diff",
        "auc_roc_diff_ci_low",
        "auc_roc_diff_ci_high",
    ];
    let mut m = serde_json::Map::new();
    for k in headline {
        if let Some(v) = metrics.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    for (k, v) in &metrics {
        if k.starts_with("fairness_") {
            m.insert(k.clone(), v.clone());
        }
    }
    Ok(Decision {
        schema_version: 1,
        promote,
        reason,
        gates,
        model: model_display.to_string(),
        model_blake3: model_hash,
        baseline_model_blake3: baseline_hash,
        algorithm: Some(model.algorithm.name().into()),
        threshold: num("threshold"),
        comparison_status: status,
        metrics: m,
    })
}
