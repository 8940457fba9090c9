//! `decision_tree`: one CART tree on binned inputs ([`crate::model::tree`]), or linfa-trees'
//! tree converted into ours (`learner: linfa`, [`crate::model::linfa_tree`]). Leaves hold
//! probabilities; contributions are the tree's TreeSHAP values, in probability.

use super::{dense_row, Estimator, Explained, OutputSpace, Row, TrainingData, Tunable};
use crate::contract::{KindIoError, StageError};
use crate::model::encoded::{Encoded, FeatureSpec};
use crate::model::linfa_tree::{self, LinfaTreeParams};
use crate::model::params::{Algorithm, Learner, MaxFeatures, ParamKind, TrainParams};
use crate::model::sampling::SplitMix64;
use crate::model::tree::{self, Binned, NodeValues, Tree, TreeParams};
use serde::{Deserialize, Serialize};

/// Default `max_depth`.
const MAX_DEPTH: usize = 6;

/// One tree whose leaves hold P(churned = 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionTree {
    pub tree: Tree,
}

impl Estimator for DecisionTree {
    const NAME: &'static str = "decision_tree";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::new("class_weight", ParamKind::Choice),
        Tunable::new("max_categories", ParamKind::Whole),
        Tunable::new("max_depth", ParamKind::Whole),
        Tunable::new("max_features", ParamKind::CountOrShare),
        Tunable::new("min_samples_leaf", ParamKind::Whole),
    ];

    fn check_params(params: &TrainParams) -> Result<(), KindIoError> {
        if params.learner == Learner::Linfa && params.algorithm != Algorithm::DecisionTree {
            return Err(KindIoError::param(
                "train.learner",
                format!(
                    "train.learner: linfa is offered for algorithm decision_tree only, not {}: \
                     linfa-ensemble's forest votes hard labels and drops sample weights, linfa has \
                     no gradient boosting and linfa-logistic no sample weights",
                    params.algorithm.name()
                ),
            ));
        }
        if params.learner == Learner::Linfa && params.max_features.is_some_and(|m| m != MaxFeatures::All) {
            return Err(KindIoError::param(
                "train.max_features",
                "train.max_features: linfa-trees tries every input at every node; remove \
                 max_features or use learner: churnflow",
            ));
        }
        Ok(())
    }

    fn resolve(params: &mut TrainParams) {
        params.max_depth = Some(params.max_depth.unwrap_or(MAX_DEPTH));
        params.max_features = Some(params.max_features.unwrap_or(MaxFeatures::All));
    }

    fn fit(params: &TrainParams, t: &TrainingData) -> Result<(Self, Vec<f64>), StageError> {
        let max_depth = params.max_depth.unwrap_or(MAX_DEPTH);
        if params.learner == Learner::Linfa {
            let limits = LinfaTreeParams { max_depth, min_samples_leaf: params.min_samples_leaf };
            let (fitted, _) = linfa_tree::fit(t.data, t.y, t.class_weights, limits)
                .map_err(|e| StageError::new(e.to_string()))?;
            return Ok((DecisionTree { tree: fitted.tree }, fitted.importance));
        }
        let mut rng = SplitMix64::new(params.seed);
        let binned = Binned::new(t.data);
        let limits = TreeParams {
            max_depth,
            min_samples_leaf: params.min_samples_leaf,
            max_features: params
                .max_features
                .unwrap_or(MaxFeatures::All)
                .resolve(t.data.sources.len())
                .map_err(StageError::new)?,
        };
        let (tree, importance) = tree::fit(&binned, t.y, t.weights, limits, &mut rng);
        Ok((DecisionTree { tree }, importance))
    }

    fn check(&self, width: usize) -> Result<(), String> {
        self.tree.check(width, NodeValues::Probabilities)
    }

    fn predict(&self, _features: &[FeatureSpec], data: &Encoded) -> Vec<f64> {
        self.tree.predict(data)
    }

    fn predict_one(&self, _features: &[FeatureSpec], data: &Encoded) -> f64 {
        self.tree.leaf_value(&dense_row(data))
    }

    fn trees(&self) -> &[Tree] {
        std::slice::from_ref(&self.tree)
    }

    fn contributions(&self, row: &mut Row, phi: &mut [f64]) -> Explained {
        let prepared = &row.trees[0];
        prepared.add_contributions(row.dense, phi, row.shap);
        Explained {
            space: OutputSpace::Probability,
            base_value: prepared.expected_value(),
            output: self.tree.leaf_value(row.dense),
        }
    }
}
