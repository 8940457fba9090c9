//! The learning algorithms (params `train.algorithm`): one trait, [`Estimator`], one file per
//! algorithm implementing it, and one table ([`algorithms!`] below) that names them all.
//!
//! # The extension point
//!
//! An algorithm is a type that is both its fitted model (what the model file stores, serde) and
//! the rules of its params. Everything that needs an algorithm goes through the trait, by way of
//! the two enums the table generates — [`Algorithm`] (the params value) and [`Fitted`] (the
//! model file's `estimator`, tagged by `type`) — and their one dispatch each:
//!
//! * params: [`Estimator::NAME`], the params it may tune ([`Estimator::TUNABLE`], with their
//!   kinds, for `train.tune`), [`Estimator::LOG_TERMS`], the checks of its own params
//!   ([`Estimator::check_params`]) and its defaults ([`Estimator::resolve`], recorded in the
//!   model's lineage);
//! * training: [`Estimator::fit`] on the encoded matrix ([`TrainingData`]) → the model and its
//!   unnormalised importance per input (the `train` kind, its cross-validation, `train.tune`
//!   and the linfa face all fit through [`Algorithm::fit`]);
//! * scoring: [`Estimator::predict`] (a table: `score`, `evaluate`, tuning folds, linfa's
//!   `predict`) and [`Estimator::predict_one`] (one customer: `serve`), which must agree to the
//!   bit on every row — both live next to each other in the algorithm's file;
//! * explaining: [`Estimator::contributions`], exact per-input shares of the output
//!   (`base_value + Σ φ = output`), summed back to the feature columns by
//!   [`super::online`]; tree models hand their trees to TreeSHAP through [`Estimator::trees`];
//! * loading: [`Estimator::check`], the consistency of a loaded model file.
//!
//! # Adding an algorithm
//!
//! One new file here holding a type that implements [`Estimator`] (start from the smallest
//! existing one), and one line in the table. The line's variant name is the params value in
//! CamelCase (`train.algorithm: my_model` → `MyModel`), a variant of [`Algorithm`] in
//! `model/params.rs` (the params name the algorithm, so the enum lives with them; a variant
//! without a table line does not compile). A param no algorithm reads yet is also a field of
//! [`TrainParams`] there.
//! `tests/layering.rs` applies the estimator rules to every file of this folder.
//!
//! Layering: an algorithm file imports the encoded matrix, the params, the numerical engines
//! (`logistic`, `tree`, `forest`, `boosting`, `linfa_tree`, `tree_shap`), `sampling` and this
//! module — never the model file, a kind or another algorithm.

use crate::contract::{KindIoError, StageError};
use crate::model::encoded::{Encoded, FeatureSpec};
use crate::model::params::{Algorithm, ParamKind, TrainParams};
use crate::model::tree::Tree;
use crate::model::tree_shap::{PreparedTree, ShapScratch};
use serde::{Deserialize, Serialize};

/// The scale a model's output and its contributions are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputSpace {
    LogOdds,
    Probability,
}

/// A train param `train.tune` may search, and what values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tunable {
    pub key: &'static str,
    pub kind: ParamKind,
}

impl Tunable {
    pub(crate) const fn new(key: &'static str, kind: ParamKind) -> Tunable {
        Tunable { key, kind }
    }
}

/// What a fit reads: the encoded training matrix, its labels and how its rows weigh.
pub(crate) struct TrainingData<'a> {
    pub features: &'a [FeatureSpec],
    pub data: &'a Encoded,
    pub y: &'a [u8],
    /// Each row's weight: its class weight (times its sample weight, for linfa).
    pub weights: &'a [f64],
    /// `[weight of 0, weight of 1]` (what linfa-trees takes).
    pub class_weights: [f64; 2],
    /// The row ids, read when an algorithm needs them (boosting's early-stopping slice).
    pub ids: &'a dyn Fn() -> Result<Vec<String>, StageError>,
}

/// One customer to explain: its encoded row and what explaining it needs.
pub(crate) struct Row<'a> {
    pub features: &'a [FeatureSpec],
    /// The customer's encoded row as a dense vector of expanded inputs (raw units, one-hot 0/1).
    pub dense: &'a [f64],
    /// The model's trees prepared for TreeSHAP, in [`Estimator::trees`] order (empty for a
    /// model without trees).
    pub trees: &'a [PreparedTree],
    pub shap: &'a mut ShapScratch,
}

/// A prediction taken apart: `base_value + Σ φ = output`, in `space`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Explained {
    pub space: OutputSpace,
    pub base_value: f64,
    pub output: f64,
}

/// A learning algorithm: the rules of its params, its fit, and its fitted model (`Self`, which
/// the model file stores).
pub(crate) trait Estimator: Sized {
    /// Its `train.algorithm` value (and the model file's `estimator.type`).
    const NAME: &'static str;
    /// The train params it reads that `train.tune` may search, in alphabetical order.
    const TUNABLE: &'static [Tunable];
    /// Whether it reads the `ln(1 + x)` terms of `train.log_terms`.
    const LOG_TERMS: bool = false;

    /// Refuses values of the params only it reads (run for every algorithm, whichever is
    /// chosen; the shared params are checked by [`TrainParams::check`]).
    fn check_params(_params: &TrainParams) -> Result<(), KindIoError> {
        Ok(())
    }

    /// Makes its defaults explicit in `params` (recorded in the model's lineage).
    fn resolve(params: &mut TrainParams);

    /// Fits on the encoded training matrix with resolved `params`: the model and its
    /// unnormalised importance per expanded input.
    fn fit(params: &TrainParams, training: &TrainingData) -> Result<(Self, Vec<f64>), StageError>;

    /// Consistency of a loaded model with `width` expanded inputs (a message for "damaged
    /// model file: …").
    fn check(&self, width: usize) -> Result<(), String>;

    /// P(churned = 1) for every row of `data`, encoded with `features` (those it was fitted on).
    fn predict(&self, features: &[FeatureSpec], data: &Encoded) -> Vec<f64>;

    /// P(churned = 1) of the one row of `data` — bit for bit what [`Estimator::predict`] gives
    /// the same row.
    fn predict_one(&self, features: &[FeatureSpec], data: &Encoded) -> f64;

    /// The trees TreeSHAP explains (none for a model without trees).
    fn trees(&self) -> &[Tree] {
        &[]
    }

    /// Each expanded input's exact share `phi[j]` (zeroed on entry, one per input) of the
    /// output for `row`, and the base value and output they add up to.
    fn contributions(&self, row: &mut Row, phi: &mut [f64]) -> Explained;

    /// What the train stage's summary adds after the algorithm's name (e.g. trees kept).
    fn describe(&self) -> String {
        String::new()
    }
}

/// The one row of `data` as a dense vector of expanded inputs.
pub(crate) fn dense_row(data: &Encoded) -> Vec<f64> {
    (0..data.sources.len()).map(|j| data.value(0, j)).collect()
}

/// The table of algorithms: `Variant => file::Type`, one line per [`Algorithm`] variant. It
/// declares the files and generates [`Fitted`], [`ALGORITHMS`] and the one dispatch over them
/// (its `match`es are exhaustive, so a variant without a line does not compile).
macro_rules! algorithms {
    ($($variant:ident => $file:ident::$ty:ident,)+) => {
        $(mod $file;)+

        /// Every algorithm, in table order.
        pub(crate) const ALGORITHMS: &[Algorithm] = &[$(Algorithm::$variant,)+];

        /// A fitted model: the model file's `estimator`, tagged by its algorithm's name.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Fitted {
            $($variant($file::$ty),)+
        }

        impl Algorithm {
            pub fn name(self) -> &'static str {
                match self {
                    $(Algorithm::$variant => <$file::$ty as Estimator>::NAME,)+
                }
            }

            /// The train params a search may vary for it.
            pub(crate) fn tunable(self) -> &'static [Tunable] {
                match self {
                    $(Algorithm::$variant => <$file::$ty as Estimator>::TUNABLE,)+
                }
            }

            /// Whether it reads `ln(1 + x)` terms.
            pub(crate) fn log_terms(self) -> bool {
                match self {
                    $(Algorithm::$variant => <$file::$ty as Estimator>::LOG_TERMS,)+
                }
            }

            /// [`Estimator::check_params`].
            pub(crate) fn check_params(self, params: &TrainParams) -> Result<(), KindIoError> {
                match self {
                    $(Algorithm::$variant => <$file::$ty as Estimator>::check_params(params),)+
                }
            }

            /// [`Estimator::resolve`].
            pub(crate) fn resolve(self, params: &mut TrainParams) {
                match self {
                    $(Algorithm::$variant => <$file::$ty as Estimator>::resolve(params),)+
                }
            }

            /// [`Estimator::fit`] of this algorithm.
            pub(crate) fn fit(
                self,
                params: &TrainParams,
                training: &TrainingData,
            ) -> Result<(Fitted, Vec<f64>), StageError> {
                Ok(match self {
                    $(Algorithm::$variant => {
                        let (model, importance) = <$file::$ty as Estimator>::fit(params, training)?;
                        (Fitted::$variant(model), importance)
                    })+
                })
            }
        }

        impl Fitted {
            /// [`Estimator::check`].
            pub(crate) fn check(&self, width: usize) -> Result<(), String> {
                match self {
                    $(Fitted::$variant(m) => m.check(width),)+
                }
            }

            /// [`Estimator::predict`].
            pub(crate) fn predict(&self, features: &[FeatureSpec], data: &Encoded) -> Vec<f64> {
                match self {
                    $(Fitted::$variant(m) => m.predict(features, data),)+
                }
            }

            /// [`Estimator::predict_one`].
            pub(crate) fn predict_one(&self, features: &[FeatureSpec], data: &Encoded) -> f64 {
                match self {
                    $(Fitted::$variant(m) => m.predict_one(features, data),)+
                }
            }

            /// [`Estimator::trees`].
            pub(crate) fn trees(&self) -> &[Tree] {
                match self {
                    $(Fitted::$variant(m) => m.trees(),)+
                }
            }

            /// [`Estimator::contributions`].
            pub(crate) fn contributions(&self, row: &mut Row, phi: &mut [f64]) -> Explained {
                match self {
                    $(Fitted::$variant(m) => m.contributions(row, phi),)+
                }
            }

            /// [`Estimator::describe`].
            pub(crate) fn describe(&self) -> String {
                match self {
                    $(Fitted::$variant(m) => m.describe(),)+
                }
            }
        }
    };
}

algorithms! {
    LogisticRegression => logistic_regression::LogisticRegression,
    DecisionTree => decision_tree::DecisionTree,
    RandomForest => random_forest::RandomForest,
    GradientBoosting => gradient_boosting::GradientBoosting,
}

impl Algorithm {
    /// Whether this algorithm reads the train param `key` (`l2`, without `train.`), from the
    /// algorithms' own declarations ([`Estimator::TUNABLE`], [`Estimator::LOG_TERMS`]):
    /// `Some(true)` when it does; `Some(false)` when another algorithm reads it and this one
    /// does not (`l2` for `random_forest`: its value changes nothing in the fit); `None` for a
    /// param that is no one algorithm's (`seed`, `threshold`, `exclude_columns`, …: shared,
    /// or read without being searchable), of which nothing is claimed.
    pub(crate) fn reads(self, key: &str) -> Option<bool> {
        let declares =
            |a: Algorithm| a.tunable().iter().any(|t| t.key == key) || (key == "log_terms" && a.log_terms());
        if declares(self) {
            Some(true)
        } else if ALGORITHMS.iter().any(|a| declares(*a)) {
            Some(false)
        } else {
            None
        }
    }
}

impl TrainParams {
    /// Rejects values that cannot train (a usage error, before anything runs): the shared
    /// params, then every algorithm's own ([`Estimator::check_params`]) — whichever algorithm
    /// is chosen, so a bad value does not wait for the switch to the algorithm that reads it.
    /// `train.tune` is the train kind's to check (it searches through the kind's fits).
    pub fn check(&self) -> Result<(), String> {
        self.check_keyed().map_err(String::from)
    }

    /// [`TrainParams::check`], naming the params key each refusal is about.
    pub(crate) fn check_keyed(&self) -> Result<(), KindIoError> {
        self.check_shared()?;
        for algorithm in ALGORITHMS {
            algorithm.check_params(self)?;
        }
        Ok(())
    }

    /// The params with every default made explicit (recorded in the model's lineage): the
    /// chosen algorithm's defaults ([`Estimator::resolve`]).
    pub fn resolved(&self) -> TrainParams {
        let mut p = self.clone();
        self.algorithm.resolve(&mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_params_an_algorithm_reads_comes_from_its_declarations() {
        use Algorithm::*;
        assert_eq!(LogisticRegression.reads("l2"), Some(true));
        assert_eq!(GradientBoosting.reads("l2"), Some(true));
        assert_eq!(RandomForest.reads("l2"), Some(false));
        assert_eq!(DecisionTree.reads("n_trees"), Some(false));
        assert_eq!(LogisticRegression.reads("max_depth"), Some(false));
        assert_eq!(RandomForest.reads("log_terms"), Some(false));
        // Shared params, and names that are no param: nothing claimed.
        assert_eq!(RandomForest.reads("seed"), None);
        assert_eq!(RandomForest.reads("threshold"), None);
        assert_eq!(RandomForest.reads("nope"), None);
    }

    #[test]
    fn every_algorithm_is_named_as_serde_spells_it_and_tunes_in_alphabetical_order() {
        assert_eq!(ALGORITHMS[0], Algorithm::default());
        for a in ALGORITHMS {
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::json!(a.name()));
            let keys: Vec<&str> = a.tunable().iter().map(|t| t.key).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "{}", a.name());
        }
    }
}
