//! Kind `drift`: the drift report inside a pipeline. The current data (a new month's
//! features, the rows a challenger is evaluated on) against a reference: a table, or
//! `registry:champion` — the data the champion was trained on, which the engine finds in the
//! store and hands over (`Invocation::baseline_training_data`). Writes the JSON report and
//! optionally the HTML page (both `cache: false`: small, kept in git) and a metrics file of
//! the summary, so `metrics diff` shows drift from one run to the next. Params section
//! `drift`, the same as `churnflow drift` reads.
//!
//! With `registry:champion` and `model:` set, the reference is the newest champion that is not
//! that model, so promoting the challenger the pipeline just trained does not make the stage
//! stale. With no earlier champion there is nothing to compare: the report says so and the metrics
//! hold `compared: false`.

use crate::contract::{
    BaselineUse, Invocation, ItemSection, Kind, KindIoError, MetricsView, OutDecl, StageError, StageSummary,
};
use crate::drift::report::{DriftOptions, DriftParams, DriftReport, DriftSide};
use crate::drift::{html, COMPARED_NOTHING};
use crate::io::json;
use crate::model::file::load_model;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::Path;

pub(crate) struct Drift;

/// The reference that names the registry's champion.
const CHAMPION: &str = "registry:champion";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DriftSettings {
    /// A table (Parquet/CSV), or `registry:champion`.
    pub reference: String,
    /// A table (Parquet/CSV) or a prediction-log folder.
    pub current: String,
    /// With `registry:champion`: the challenger this pipeline trains; the reference is then the
    /// newest champion that is not this model.
    #[serde(default)]
    pub model: Option<String>,
    /// The JSON report (`churnflow drift --json`'s format).
    pub report: String,
    /// The HTML page.
    #[serde(default)]
    pub html: Option<String>,
    /// The summary as metrics.
    pub metrics: String,
}

impl DriftSettings {
    fn against_champion(&self) -> Result<bool, KindIoError> {
        if self.reference == CHAMPION {
            return Ok(true);
        }
        if self.reference.starts_with("registry:") {
            return Err(KindIoError::setting(format!(
                "reference '{}': a pipeline compares against `registry:champion` (its identity enters \
                 the fingerprint) or a table path; for another registry model use `churnflow drift`",
                self.reference
            )));
        }
        if self.model.is_some() {
            return Err(KindIoError::setting(format!(
                "model: only with `reference: registry:champion` (it says which champion to skip); \
                 the reference here is the table {}",
                self.reference
            )));
        }
        Ok(false)
    }
}

impl Kind for Drift {
    const NAME: &'static str = "drift";
    const PARAMS_SECTION: &'static str = "drift";
    const CODE_VERSION: u32 = 2;
    type Settings = DriftSettings;
    type Params = DriftParams;

    fn baseline(s: &DriftSettings) -> Option<BaselineUse> {
        (s.reference == CHAMPION).then(|| BaselineUse { challenger: s.model.clone(), training_data: true })
    }

    fn io(s: &DriftSettings, p: &DriftParams) -> Result<(Vec<String>, Vec<OutDecl>), KindIoError> {
        p.check_bounds()?;
        let mut deps = vec![s.current.clone()];
        if s.against_champion()? {
            deps.extend(s.model.clone());
        } else {
            deps.push(s.reference.clone());
        }
        let mut outs = vec![OutDecl { cache: false, ..OutDecl::out(&s.report) }];
        outs.extend(s.html.as_ref().map(|h| OutDecl { cache: false, ..OutDecl::out(h) }));
        outs.push(OutDecl::metrics(&s.metrics).with_view(METRICS_VIEW));
        Ok((deps, outs))
    }

    fn run(
        root: &Path,
        s: DriftSettings,
        _p: DriftParams,
        inv: &Invocation,
    ) -> Result<StageSummary, StageError> {
        let mut options = DriftOptions { params: inv.params.clone(), ..DriftOptions::default() };
        let reference = if s.against_champion().map_err(StageError::new)? {
            let (Some(data), Some(model)) = (&inv.baseline_training_data, &inv.baseline_model) else {
                return write_not_compared(root, &s);
            };
            let champion = load_model(model)?;
            if !options.id_columns.contains(&champion.id_column) {
                options.id_columns.push(champion.id_column.clone());
            }
            options.label_column = champion.label_column.clone();
            options.reference_model = Some(model.clone());
            let id = model.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            DriftSide {
                path: data.clone(),
                shown: format!("registry:champion (the training data of {})", id.get(..12).unwrap_or(&id)),
            }
        } else {
            DriftSide { path: root.join(&s.reference), shown: s.reference.clone() }
        };
        let current = DriftSide { path: root.join(&s.current), shown: s.current.clone() };
        let report = crate::drift::drift_report(&reference, &current, &options)?;
        json::write_json(&root.join(&s.report), &report)?;
        if let Some(h) = &s.html {
            json::write_text(&root.join(h), &report.html())?;
        }
        json::write_json(&root.join(&s.metrics), &metrics(&report))?;
        Ok(StageSummary { summary: report.summary() })
    }
}

/// No champion yet: every out says so.
fn write_not_compared(root: &Path, s: &DriftSettings) -> Result<StageSummary, StageError> {
    json::write_json(
        &root.join(&s.report),
        &json!({ "schema": 1, "compared": false, "reason": COMPARED_NOTHING }),
    )?;
    if let Some(h) = &s.html {
        json::write_text(&root.join(h), &html::render_not_compared(COMPARED_NOTHING))?;
    }
    json::write_json(&root.join(&s.metrics), &json!({ "compared": false }))?;
    Ok(StageSummary { summary: COMPARED_NOTHING.to_string() })
}

/// How a person sees the metrics file: after the model's metrics, the per-column statistics
/// as one row plus the columns that drifted.
const METRICS_VIEW: MetricsView = MetricsView {
    monitoring: true,
    items: Some(ItemSection {
        key: "columns",
        noun: "columns",
        flagged_by: "drifted_column_names",
        flag: "drifted",
    }),
};

/// The summary as metrics: dataset drift, the share and counts, prediction and label drift,
/// the AUC on current data, each column's statistic (`columns.<name>`) and the names of the
/// columns that drifted (`drifted_column_names`, most drifted first).
fn metrics(report: &DriftReport) -> Value {
    let mut m = Map::new();
    m.insert("compared".into(), json!(true));
    m.insert("dataset_drift".into(), json!(report.dataset_drift));
    m.insert("share".into(), json!(report.share));
    m.insert("drifted_columns".into(), json!(report.drifted_columns));
    let drifted: Vec<&str> = report.columns.iter().filter(|c| c.drift).map(|c| c.column.as_str()).collect();
    m.insert("drifted_column_names".into(), json!(drifted));
    m.insert("compared_columns".into(), json!(report.compared_columns));
    m.insert("current_rows".into(), json!(report.current.rows));
    for (key, d) in [("prediction_drift", &report.prediction_drift), ("label_drift", &report.label_drift)] {
        if let Some(d) = d {
            m.insert(key.into(), json!({ "statistic": d.statistic, "drift": d.drift }));
        }
    }
    if let Some(auc) = report.current_auc_roc {
        m.insert("current_auc_roc".into(), json!(auc));
    }
    let columns: Map<String, Value> =
        report.columns.iter().map(|c| (c.column.clone(), json!(c.statistic))).collect();
    m.insert("columns".into(), Value::Object(columns));
    Value::Object(m)
}
