//! The served model: a [`Serving`] value (the model, its id, its operating point and what is
//! derived from it once), and how a new one is loaded from the model spec.
//!
//! The server keeps it behind an `ArcSwap`: a request takes the current `Arc<Serving>` once and
//! uses it to the end, so requests in flight finish on the model they started with while a new
//! one is swapped in (see [`super::watch`]).
use crate::error::Result;
use crate::store::model_ref::ModelSpec;
use churnflow_stages::{InputSchema, Model};
use serde_json::{json, Value};

/// A loaded model and what is derived from it once.
pub(crate) struct Serving {
    pub model: Model,
    /// blake3 of the model file.
    pub id: String,
    /// The decision threshold: the one the promotion recorded, else the model's own.
    pub threshold: f64,
    pub schema: InputSchema,
    /// The model spec it was loaded from (`registry:champion` or a path).
    pub source: String,
    pub loaded_at: String,
}

impl Serving {
    /// Loads the model `spec` names now.
    pub fn load(spec: &ModelSpec) -> Result<Serving> {
        let located = spec.locate()?;
        let model = churnflow_stages::load_model(&located.path)?;
        // Tree models prepare their leaf paths for TreeSHAP here, not on the first request. A model that
        // cannot be explained is still served: requests with reasons are told why.
        if let Err(e) = model.prepare_explanations() {
            eprintln!("serve: {e}");
        }
        let threshold = located.promoted_threshold.unwrap_or(model.decision_threshold);
        let schema = model.input_schema();
        Ok(Serving {
            model,
            id: located.id,
            threshold,
            schema,
            source: spec.describe(),
            loaded_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        })
    }

    /// The risk tier of a probability, consistent with the decision threshold.
    pub fn tier(&self, p: f64) -> &'static str {
        self.model.risk_tiers.tier(p, self.threshold)
    }

    /// `GET /model`: the card summary and lineage.
    pub fn card(&self) -> Value {
        let s = self.model.summary();
        json!({
            "model_id": self.id,
            "source": self.source,
            "loaded_at": self.loaded_at,
            "algorithm": s.algorithm,
            "format_version": s.format_version,
            "threshold": self.threshold,
            "risk_tiers": {"high": self.model.risk_tiers.high, "medium": self.model.risk_tiers.medium},
            "id_column": s.id_column,
            "features": s.features,
            "top_features": s.top_features,
            "lineage": {
                "training_data_blake3": s.training_data_blake3,
                "training_rows": s.training_rows,
                "training_positives": s.training_positives,
                "stages_version": s.stages_version,
            },
        })
    }
}
