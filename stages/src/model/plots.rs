//! The plots file (`schema_version` 1): what `evaluate` writes and `churnflow report` draws.
//! One type for the writer and the reader, so the two cannot disagree on a key — they once
//! did, and the report drew 3 of its 7 plots.
//!
//! The challenger's curves sit at the top level; the champion's, computed on the same test
//! rows at the same threshold, under `baseline` when there was one to compare with.

use crate::model::file::Model;
use crate::model::metrics::{self, Confusion};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The schema this build writes and reads.
pub const PLOTS_SCHEMA: u32 = 1;

/// Points kept per ROC and PR curve.
const CURVE_POINTS: usize = 201;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotsFile {
    pub schema_version: u32,
    #[serde(flatten)]
    pub challenger: PlotData,
    /// The champion on the same test rows, when evaluate compared with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<PlotData>,
    /// Evaluate's fairness report (per column and group), as in the model card.
    #[serde(default)]
    pub fairness: Value,
}

/// One model's curves on the test rows. `evaluate` writes every part; a plots file written
/// by another stage (a `cmd`) may leave parts out, and the report says which plot it cannot
/// draw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlotData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc: Option<Roc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<Pr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gains: Option<Gains>,
    /// Cumulative lift per decile contacted (1 = the top 10 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lift: Option<Vec<LiftPoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion: Option<ConfusionAt>,
    /// The model's largest importances, largest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_importance: Option<Vec<Importance>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    /// `null` for the infinite first threshold.
    #[serde(default)]
    pub threshold: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pr {
    pub recall: Vec<f64>,
    pub precision: Vec<f64>,
    #[serde(default)]
    pub threshold: Vec<f64>,
}

/// Ten equal-width bins of predicted probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub mean_predicted: Vec<f64>,
    pub fraction_positive: Vec<f64>,
    #[serde(default)]
    pub count: Vec<u64>,
}

/// Customers contacted in descending score order, against churners found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gains {
    pub fraction_contacted: Vec<f64>,
    pub fraction_churners: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiftPoint {
    pub decile: u32,
    pub cumulative_lift: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionAt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub tn: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tp: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    pub feature: String,
    pub importance: f64,
}

impl PlotData {
    /// `model`'s curves for labels `y` and scores `p`, its confusion matrix at `threshold`.
    pub(crate) fn of(model: &Model, y: &[u8], p: &[f64], threshold: f64) -> PlotData {
        let roc = metrics::thin(&metrics::roc_curve(y, p), CURVE_POINTS);
        let pr = metrics::thin(&metrics::pr_curve(y, p), CURVE_POINTS);
        let cal = metrics::calibration(y, p, 10);
        let gains = metrics::gains_curve(y, p, 100);
        let c = Confusion::at(y, p, threshold);
        PlotData {
            roc: Some(Roc {
                fpr: roc.iter().map(|r| r.0).collect(),
                tpr: roc.iter().map(|r| r.1).collect(),
                threshold: roc.iter().map(|r| r.2.is_finite().then_some(r.2)).collect(),
            }),
            pr: Some(Pr {
                recall: pr.iter().map(|r| r.0).collect(),
                precision: pr.iter().map(|r| r.1).collect(),
                threshold: pr.iter().map(|r| r.2).collect(),
            }),
            calibration: Some(Calibration {
                mean_predicted: cal.iter().map(|r| r.0).collect(),
                fraction_positive: cal.iter().map(|r| r.1).collect(),
                count: cal.iter().map(|r| r.2).collect(),
            }),
            gains: Some(Gains {
                fraction_contacted: gains.iter().map(|r| r.0).collect(),
                fraction_churners: gains.iter().map(|r| r.1).collect(),
            }),
            // Undefined (left out) when the test rows hold no churner.
            lift: Some(
                (1..=10u32)
                    .filter_map(|d| {
                        let cumulative_lift = metrics::lift_at(y, p, f64::from(d) / 10.0)?;
                        Some(LiftPoint { decile: d, cumulative_lift })
                    })
                    .collect(),
            ),
            confusion: Some(ConfusionAt {
                threshold: Some(threshold),
                tn: c.tn,
                fp: c.fp,
                fn_: c.fn_,
                tp: c.tp,
            }),
            feature_importance: Some(
                model
                    .top_features(30)
                    .into_iter()
                    .map(|(feature, importance)| Importance { feature, importance })
                    .collect(),
            ),
        }
    }
}
