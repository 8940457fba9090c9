//! The model stages: the features table → a split, a model, its evaluation and a promotion
//! decision, and `churnflow score`.
//!
//! * kinds: [`split`], [`train`], [`evaluate`], [`promote`]; [`score`] for the command;
//! * cross-validated tuning of the train params on the train split ([`tuning`], `train.tune`);
//! * the model file format ([`file`](mod@file)): the serialised [`file::Model`], loaded with checks;
//! * the encoded training matrix and the fitted feature schema ([`encoded`]);
//! * the train params every algorithm reads ([`params`]);
//! * the algorithms ([`estimators`]): one trait, one file per algorithm, one table — fit,
//!   predict a table or one row, contributions, tunable params, their checks and defaults;
//! * the numerical engines the algorithms are built on, which read only [`encoded`] (and
//!   [`sampling`]): [`logistic`], [`tree`], [`forest`] (bagged trees), [`boosting`]
//!   (gradient-boosted trees) and [`linfa_tree`] (`learner: linfa`: linfa-trees' tree converted
//!   into ours), and TreeSHAP ([`tree_shap`]);
//! * linfa's traits (`Fit`, `PredictInplace`) over the algorithms ([`linfa_api`], public as
//!   `churnflow_stages::estimators`);
//! * classification metrics ([`metrics`]) and the seeded random streams ([`sampling`]);
//! * one customer at a time, for `serve`: the input schema, field checks, the probability and
//!   exact contributions ([`online`], with TreeSHAP in [`tree_shap`]), and the in-memory
//!   features table looked up by id ([`lookup`]).
//!
//! Layering (checked by `tests/layering.rs`): an engine never imports the model file, a kind
//! or another engine — except `forest`, `boosting` and `linfa_tree`, which are built from (or
//! into) `tree`; an algorithm (a file of `estimators/`) imports the engines, [`encoded`],
//! [`params`] and [`sampling`], never the model file, a kind or another algorithm. The file
//! format sits above the algorithms and stores what they fit; the linfa adapter (`linfa_api`)
//! reads the algorithms and the params and nothing imports it but `lib.rs`.

pub(crate) mod boosting;
pub(crate) mod encoded;
pub(crate) mod estimators;
pub(crate) mod evaluate;
pub(crate) mod file;
pub(crate) mod folds;
pub(crate) mod forest;
pub(crate) mod linfa_api;
pub(crate) mod linfa_tree;
pub(crate) mod logistic;
pub(crate) mod lookup;
pub(crate) mod metrics;
pub(crate) mod online;
pub(crate) mod params;
pub(crate) mod plots;
pub(crate) mod promote;
pub(crate) mod sampling;
pub(crate) mod score;
pub(crate) mod split;
pub(crate) mod train;
pub(crate) mod tree;
pub(crate) mod tree_shap;
pub(crate) mod tuning;
