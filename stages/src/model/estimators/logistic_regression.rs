//! `logistic_regression`: L2-regularised, class-weighted logistic regression over the
//! standardised expanded features (Newton's method, [`crate::model::logistic`]). Its
//! contributions are the linear model's terms in log-odds, each centred on its training mean.

use super::{Estimator, Explained, OutputSpace, Row, TrainingData, Tunable};
use crate::contract::{KindIoError, StageError};
use crate::model::encoded::{Encoded, FeatureSpec};
use crate::model::logistic;
use crate::model::params::{MaxFeatures, ParamKind, TrainParams};
use serde::{Deserialize, Serialize};

/// `P = σ(intercept + Σ coefficients[j] · z[j])` over the standardised expanded features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub iterations: u32,
    pub converged: bool,
}

impl Estimator for LogisticRegression {
    const NAME: &'static str = "logistic_regression";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::new("class_weight", ParamKind::Choice),
        Tunable::new("l2", ParamKind::Real),
        Tunable::new("log_terms", ParamKind::Choice),
        Tunable::new("max_categories", ParamKind::Whole),
        Tunable::new("max_iterations", ParamKind::Whole),
        Tunable::new("tolerance", ParamKind::Real),
    ];
    const LOG_TERMS: bool = true;

    fn check_params(params: &TrainParams) -> Result<(), KindIoError> {
        if params.max_iterations == 0 {
            return Err(KindIoError::param("train.max_iterations", "train.max_iterations must be ≥ 1"));
        }
        Ok(())
    }

    fn resolve(params: &mut TrainParams) {
        // Not read, but recorded in the lineage of every model file since the first.
        params.max_depth = Some(params.max_depth.unwrap_or(6));
        params.max_features = Some(params.max_features.unwrap_or(MaxFeatures::All));
    }

    fn fit(params: &TrainParams, t: &TrainingData) -> Result<(Self, Vec<f64>), StageError> {
        let fitted = logistic::fit(
            t.features,
            t.data,
            t.y,
            t.weights,
            params.l2,
            params.max_iterations,
            params.tolerance,
        )
        .map_err(|e| StageError::new(e.to_string()))?;
        let importance = fitted.coefficients.iter().map(|c| c.abs()).collect();
        let model = LogisticRegression {
            intercept: fitted.intercept,
            coefficients: fitted.coefficients,
            iterations: fitted.iterations,
            converged: fitted.converged,
        };
        Ok((model, importance))
    }

    fn check(&self, width: usize) -> Result<(), String> {
        if self.coefficients.len() != width {
            return Err("coefficient count does not match the features".into());
        }
        Ok(())
    }

    fn predict(&self, features: &[FeatureSpec], data: &Encoded) -> Vec<f64> {
        logistic::predict(features, self.intercept, &self.coefficients, data)
    }

    fn predict_one(&self, features: &[FeatureSpec], data: &Encoded) -> f64 {
        logistic::predict_one(features, self.intercept, &self.coefficients, data, 0)
    }

    fn contributions(&self, row: &mut Row, phi: &mut [f64]) -> Explained {
        let mut base = self.intercept;
        let mut output = self.intercept;
        let centres = centres(row.features);
        for (j, share) in phi.iter_mut().enumerate() {
            let (m, s) = centres.scale[j];
            let z = (row.dense[j] - m) / s;
            let term = self.coefficients[j] * z;
            output += term;
            base += self.coefficients[j] * centres.mean[j];
            *share = self.coefficients[j] * (z - centres.mean[j]);
        }
        Explained { space: OutputSpace::LogOdds, base_value: base, output }
    }
}

/// The model's view of each expanded input: how it is scaled, and its mean over the training
/// rows on that scale (0 for standardised inputs, the category's share for one-hot inputs).
struct Centres {
    scale: Vec<(f64, f64)>,
    mean: Vec<f64>,
}

fn centres(features: &[FeatureSpec]) -> Centres {
    let mut scale = Vec::new();
    let mut mean = Vec::new();
    for f in features {
        match f {
            FeatureSpec::Numeric { mean: m, std, log1p, .. } => {
                scale.push((*m, *std));
                mean.push(0.0);
                if let Some([lm, ls]) = log1p {
                    scale.push((*lm, *ls));
                    mean.push(0.0);
                }
            }
            FeatureSpec::Categorical { categories, frequencies, .. } => {
                for k in 0..categories.len() {
                    scale.push((0.0, 1.0));
                    mean.push(frequencies.get(k).copied().unwrap_or(0.0));
                }
            }
        }
    }
    Centres { scale, mean }
}
