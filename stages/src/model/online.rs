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
//! column they came from. The probability and the per-input contributions are the
//! algorithm's ([`super::estimators`]); this module owns the request, its checks and the
//! summing back.

use crate::contract::StageError;
use crate::model::encoded::{sources_of, Encoded, FeatureSpec};
pub use crate::model::estimators::OutputSpace;
use crate::model::estimators::Row;
use crate::model::file::Model;
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
        self.estimator.predict_one(&self.features, &customer.encoded)
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
        let owner = self.expanded_owner();
        let trees = self.prepared_trees()?;
        let mut phi = vec![0.0; data.sources.len()];
        let mut row = Row {
            features: &self.features,
            dense: dense(data, &mut scratch.expanded),
            trees,
            shap: &mut scratch.shap,
        };
        let explained = self.estimator.contributions(&mut row, &mut phi);
        let mut per_feature = vec![0.0; self.features.len()];
        for (j, v) in phi.iter().enumerate() {
            per_feature[owner[j]] += v;
        }
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
        Ok(Explanation {
            space: explained.space,
            base_value: explained.base_value,
            output: explained.output,
            contributions,
        })
    }

    /// Builds now what explaining needs (each tree's leaf paths, for tree models), so the first
    /// [`Model::explain`] does not pay for it; a server calls this while loading a model.
    pub fn prepare_explanations(&self) -> Result<(), StageError> {
        self.prepared_trees().map(|_| ())
    }

    /// The trees of a tree model prepared for TreeSHAP, built on first use.
    fn prepared_trees(&self) -> Result<&[PreparedTree], StageError> {
        let trees = self.estimator.trees();
        if trees.is_empty() {
            return Ok(&[]);
        }
        self.explain_cache
            .trees(|| trees.iter().map(|t| shap_view(t).map(|view| PreparedTree::new(&view))).collect())
            .map_err(|e| e.clone())
    }

    /// Expanded input → index of the feature it comes from.
    fn expanded_owner(&self) -> Vec<usize> {
        self.features.iter().enumerate().flat_map(|(i, f)| std::iter::repeat_n(i, f.width())).collect()
    }
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
