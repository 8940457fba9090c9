//! One customer at a time, for `churnflow serve`: the model's input schema, a JSON object
//! checked field by field and encoded exactly as `score` encodes a table row, the probability,
//! and exact per-feature contributions to it.
//!
//! Fields are the model's feature columns by name (for a model trained on a `snapshot` table,
//! the raw export's column names, which ingest keeps). A field may be `null` — a missing value,
//! imputed as in training (a blank string counts as missing too, as Telco's `TotalCharges` " "
//! does in `score`). A field that is absent, of the wrong type, not finite, negative where
//! training saw only non-negative values, or a category the model does not know is a
//! [`FieldProblem`]; every problem of a customer is reported at once. Fields the model does
//! not read are ignored, as `score` ignores extra columns.
//!
//! Contributions ([`Model::explain`]) add up exactly to the model's output:
//! `base_value + Σ contributions = output`, where the output is
//! - the log-odds for logistic regression (the linear model's additive terms, each centred on
//!   its training mean so the base value is the log-odds of the average training input);
//! - the log-odds for gradient boosting too — the model is additive in log-odds, so its
//!   contributions are the path-dependent TreeSHAP values ([`super::tree_shap`]) of its trees,
//!   summed over the trees, and the base value is `base_score` plus the trees' expected
//!   values (covers are hessian sums, as in XGBoost's `pred_contribs`);
//! - the probability for decision trees and forests (TreeSHAP; a forest's are the mean of its
//!   trees').
//!
//! Inputs expanded by the model (one-hot categories, log terms) are summed back into the
//! column they came from.

use crate::contract::StageError;
use crate::model::boosting;
use crate::model::encoded::{sources_of, Encoded, FeatureSpec};
use crate::model::file::{Estimator, Model};
use crate::model::logistic;
use crate::model::tree::Tree;
use crate::model::tree_shap::{PreparedTree, ShapScratch, TreeView};
use serde::Serialize;
use serde_json::{Map, Value};

/// One thing wrong with one field of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

/// The type and allowed values of one input field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// A number; `minimum` is 0 when training saw no negative value. `seen` is the training
    /// range (informative, not enforced).
    Number { minimum: Option<f64>, seen: Option<[f64; 2]> },
    /// One of `values` (the training vocabulary).
    Category { values: Vec<String> },
}

/// One input field of the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputField {
    pub name: String,
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// What a request to score one customer must carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSchema {
    /// The id field (optional in a request; echoed in the response). Models trained on a raw
    /// snapshot also accept the raw id column's name (listed in `id_aliases`).
    pub id_field: String,
    pub id_aliases: Vec<String>,
    pub fields: Vec<InputField>,
}

/// A customer checked against the model and encoded.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Option<String>,
    /// Per model feature (model order), the value as given, except that a numeric field given
    /// as text holds the number it was read as; `null` when missing.
    pub values: Vec<Value>,
    encoded: Encoded,
}

/// The scale a model's output and its contributions are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputSpace {
    LogOdds,
    Probability,
}

/// One feature's share of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub feature: String,
    pub value: Value,
    pub contribution: f64,
}

/// A prediction taken apart: `base_value + Σ contribution = output` (in `space`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub space: OutputSpace,
    pub base_value: f64,
    pub output: f64,
    /// One per model feature, in model order.
    pub contributions: Vec<Contribution>,
}

/// Per-thread scratch space for explanations (TreeSHAP's path buffer, the dense row).
#[derive(Debug, Default)]
pub struct ExplainScratch {
    shap: ShapScratch,
    expanded: Vec<f64>,
}

impl Model {
    /// The fields a request carries, with their types and allowed values.
    pub fn input_schema(&self) -> InputSchema {
        let fields = self
            .features
            .iter()
            .map(|f| match f {
                FeatureSpec::Numeric { name, range, .. } => InputField {
                    name: name.clone(),
                    kind: FieldKind::Number {
                        minimum: range.filter(|r| r[0] >= 0.0).map(|_| 0.0),
                        seen: *range,
                    },
                },
                FeatureSpec::Categorical { name, categories, .. } => InputField {
                    name: name.clone(),
                    kind: FieldKind::Category { values: categories.clone() },
                },
            })
            .collect();
        let id_aliases = self
            .snapshot
            .as_ref()
            .map(|s| s.id_column.clone())
            .filter(|raw| *raw != self.id_column)
            .into_iter()
            .collect();
        InputSchema { id_field: self.id_column.clone(), id_aliases, fields }
    }

    /// Checks and encodes one customer given as a JSON object.
    pub fn customer(&self, object: &Map<String, Value>) -> Result<Customer, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let id = self.id_of(object, &mut problems);
        let mut numeric = Vec::new();
        let mut categorical = Vec::new();
        let mut values = Vec::with_capacity(self.features.len());
        for f in &self.features {
            let name = f.name();
            let Some(given) = object.get(name) else {
                problems.push(FieldProblem { field: name.to_string(), problem: "missing field".into() });
                values.push(Value::Null);
                continue;
            };
            values.push(given.clone());
            match f {
                FeatureSpec::Numeric { median, range, .. } => match number(given) {
                    Ok(Some(x)) if x < 0.0 && range.is_some_and(|r| r[0] >= 0.0) => {
                        problems.push(FieldProblem {
                            field: name.to_string(),
                            problem: format!("{x} is out of range: must be ≥ 0"),
                        });
                    }
                    Ok(x) => {
                        if given.is_string() {
                            // Text traffic (a CSV body) keeps the number it was read as, so the
                            // prediction log and the reasons type it as JSON traffic would.
                            let typed =
                                x.and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number);
                            *values.last_mut().expect("pushed above") = typed;
                        }
                        numeric.push(vec![x.unwrap_or(*median)]);
                    }
                    Err(problem) => problems.push(FieldProblem { field: name.to_string(), problem }),
                },
                FeatureSpec::Categorical { categories, .. } => match category(given) {
                    Ok(None) => categorical.push(vec![u32::MAX]),
                    Ok(Some(s)) => match categories.iter().position(|c| *c == s) {
                        Some(k) => categorical.push(vec![k as u32]),
                        None => problems.push(FieldProblem {
                            field: name.to_string(),
                            problem: format!("unknown value '{s}' (allowed: {})", categories.join(", ")),
                        }),
                    },
                    Err(problem) => problems.push(FieldProblem { field: name.to_string(), problem }),
                },
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let encoded = Encoded { n: 1, numeric, categorical, sources: sources_of(&self.features) };
        Ok(Customer { id, values, encoded })
    }

    fn id_of(&self, object: &Map<String, Value>, problems: &mut Vec<FieldProblem>) -> Option<String> {
        let raw = self.snapshot.as_ref().map(|s| s.id_column.as_str());
        let (field, value) = std::iter::once(self.id_column.as_str())
            .chain(raw)
            .find_map(|k| object.get(k).map(|v| (k, v)))?;
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => None,
            _ => {
                problems.push(FieldProblem {
                    field: field.to_string(),
                    problem: "expected a non-empty string".into(),
                });
                None
            }
        }
    }

    /// P(churned = 1) of a checked customer — bit for bit what `score` gives the same row.
    pub fn probability(&self, customer: &Customer) -> f64 {
        let data = &customer.encoded;
        match &self.estimator {
            Estimator::LogisticRegression { intercept, coefficients, .. } => {
                logistic::predict_one(&self.features, *intercept, coefficients, data, 0)
            }
            Estimator::DecisionTree { tree } => leaf_value(tree, &dense_row(data)),
            Estimator::RandomForest { trees } => {
                let x = dense_row(data);
                // Summed in tree order, then divided, as the batch prediction does.
                let mut sum = 0.0;
                for tree in trees {
                    sum += leaf_value(tree, &x);
                }
                sum / trees.len().max(1) as f64
            }
            Estimator::GradientBoosting { base_score, trees, .. } => {
                boosting::sigmoid(boosted_margin(*base_score, trees, &dense_row(data)))
            }
        }
    }

    /// The customer's prediction taken apart feature by feature (see the module docs). Tree
    /// models written before node covers were recorded cannot be explained (an error that says
    /// to retrain).
    pub fn explain(
        &self,
        customer: &Customer,
        scratch: &mut ExplainScratch,
    ) -> Result<Explanation, StageError> {
        let data = &customer.encoded;
        let width = data.sources.len();
        let owner = self.expanded_owner();
        let mut per_feature = vec![0.0; self.features.len()];
        let (space, base_value, output) = match &self.estimator {
            Estimator::LogisticRegression { intercept, coefficients, .. } => {
                let mut base = *intercept;
                let mut output = *intercept;
                let centres = self.expanded_centres();
                for j in 0..width {
                    let (m, s) = centres.scale[j];
                    let z = (data.value(0, j) - m) / s;
                    let term = coefficients[j] * z;
                    output += term;
                    base += coefficients[j] * centres.mean[j];
                    per_feature[owner[j]] += coefficients[j] * (z - centres.mean[j]);
                }
                (OutputSpace::LogOdds, base, output)
            }
            Estimator::DecisionTree { tree } => {
                let x = dense(data, &mut scratch.expanded);
                let mut phi = vec![0.0; width];
                let prepared = &self.prepared_trees()?[0];
                prepared.add_contributions(x, &mut phi, &mut scratch.shap);
                for (j, v) in phi.iter().enumerate() {
                    per_feature[owner[j]] += v;
                }
                (OutputSpace::Probability, prepared.expected_value(), leaf_value(tree, x))
            }
            Estimator::RandomForest { trees } => {
                let x = dense(data, &mut scratch.expanded);
                let mut phi = vec![0.0; width];
                let (mut base, mut output) = (0.0, 0.0);
                for (tree, prepared) in trees.iter().zip(self.prepared_trees()?) {
                    prepared.add_contributions(x, &mut phi, &mut scratch.shap);
                    base += prepared.expected_value();
                    output += leaf_value(tree, x);
                }
                let n = trees.len() as f64;
                for (j, v) in phi.iter().enumerate() {
                    per_feature[owner[j]] += v / n;
                }
                (OutputSpace::Probability, base / n, output / n)
            }
            Estimator::GradientBoosting { base_score, trees, .. } => {
                let x = dense(data, &mut scratch.expanded);
                let mut phi = vec![0.0; width];
                let mut base = *base_score;
                for prepared in self.prepared_trees()? {
                    prepared.add_contributions(x, &mut phi, &mut scratch.shap);
                    base += prepared.expected_value();
                }
                for (j, v) in phi.iter().enumerate() {
                    per_feature[owner[j]] += v;
                }
                (OutputSpace::LogOdds, base, boosted_margin(*base_score, trees, x))
            }
        };
        let contributions = self
            .features
            .iter()
            .zip(per_feature)
            .zip(&customer.values)
            .map(|((f, contribution), value)| Contribution {
                feature: f.name().to_string(),
                value: value.clone(),
                contribution,
            })
            .collect();
        Ok(Explanation { space, base_value, output, contributions })
    }

    /// Builds now what explaining needs (each tree's leaf paths, for tree models), so the first
    /// [`Model::explain`] does not pay for it; a server calls this while loading a model.
    pub fn prepare_explanations(&self) -> Result<(), StageError> {
        self.prepared_trees().map(|_| ())
    }

    /// The trees of a tree model prepared for TreeSHAP, built on first use.
    fn prepared_trees(&self) -> Result<&[PreparedTree], StageError> {
        let trees = match &self.estimator {
            Estimator::LogisticRegression { .. } => return Ok(&[]),
            Estimator::DecisionTree { tree } => std::slice::from_ref(tree),
            Estimator::RandomForest { trees } | Estimator::GradientBoosting { trees, .. } => trees.as_slice(),
        };
        self.explain_cache
            .trees(|| trees.iter().map(|t| shap_view(t).map(|view| PreparedTree::new(&view))).collect())
            .map_err(|e| e.clone())
    }

    /// Expanded input → index of the feature it comes from.
    fn expanded_owner(&self) -> Vec<usize> {
        self.features.iter().enumerate().flat_map(|(i, f)| std::iter::repeat_n(i, f.width())).collect()
    }

    /// The logistic model's view of each expanded input: how it is scaled, and its mean over
    /// the training rows on that scale (0 for standardised inputs, the category's share for
    /// one-hot inputs).
    fn expanded_centres(&self) -> Centres {
        let mut scale = Vec::new();
        let mut mean = Vec::new();
        for f in &self.features {
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
}

struct Centres {
    scale: Vec<(f64, f64)>,
    mean: Vec<f64>,
}

/// A tree as TreeSHAP reads it; trees without node covers (older files) cannot be explained.
fn shap_view(tree: &Tree) -> Result<TreeView<'_>, StageError> {
    if tree.cover.len() != tree.feature.len() {
        return Err(StageError::new(
            "this tree model was trained before churnflow recorded node covers, so its predictions \
             cannot be explained; retrain it ('churnflow repro --force train') or serve with reasons=false"
                .to_string(),
        ));
    }
    Ok(TreeView {
        feature: &tree.feature,
        threshold: &tree.threshold,
        left: &tree.left,
        right: &tree.right,
        value: &tree.value,
        cover: &tree.cover,
    })
}

/// The leaf value a dense row reaches (the comparisons the batch walk makes).
fn leaf_value(tree: &Tree, x: &[f64]) -> f64 {
    let mut i = 0usize;
    for _ in 0..tree.feature.len() {
        let f = tree.feature[i];
        if f < 0 {
            return tree.value[i];
        }
        i = if x[f as usize] <= tree.threshold[i] { tree.left[i] as usize } else { tree.right[i] as usize };
    }
    tree.value[i]
}

/// A boosted model's log-odds for a dense row: `base_score` plus the leaf values, added in
/// tree order as the batch prediction adds them (so the probability is the same to the bit).
fn boosted_margin(base_score: f64, trees: &[Tree], x: &[f64]) -> f64 {
    let mut margin = base_score;
    for tree in trees {
        margin += leaf_value(tree, x);
    }
    margin
}

fn dense_row(data: &Encoded) -> Vec<f64> {
    (0..data.sources.len()).map(|j| data.value(0, j)).collect()
}

/// The one row of `data` as a dense vector of expanded inputs (raw units, one-hot 0/1).
fn dense<'a>(data: &Encoded, buffer: &'a mut Vec<f64>) -> &'a [f64] {
    buffer.clear();
    buffer.extend((0..data.sources.len()).map(|j| data.value(0, j)));
    buffer
}

/// A numeric field: a JSON number, or a string holding one; null or a blank string is missing.
fn number(v: &Value) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            n.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| "not a finite number".into())
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(format!("expected a number, got the string '{s}'")),
        },
        other => Err(format!("expected a number, got {}", json_type(other))),
    }
}

/// A categorical field: a string (trimmed, as training trimmed it) or a number written as text;
/// null or a blank string is missing.
fn category(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(format!("expected a string, got {}", json_type(other))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
