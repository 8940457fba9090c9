//! Reasons a person can read: the largest contributions of a prediction, each with a
//! direction and a sentence from a template keyed by feature and direction.
//!
//! Templates have built-in defaults for every feature the `features` kind writes, and can be
//! overridden (or added for other columns, such as a snapshot export's) in params.yaml:
//!
//! ```yaml
//! serving:
//!   reasons:
//!     Contract:
//!       increases_risk: "{value} contract raises the risk"
//!       decreases_risk: "A {value} contract lowers the risk"
//! ```
//!
//! `{value}` is the customer's value (numbers shortened), `{feature}` the column name. A
//! feature without a template reads "{feature} = {value} raises the risk" / "… lowers it".

use churnflow_stages::{Contribution, Explanation};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which way a feature pushes the prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    IncreasesRisk,
    DecreasesRisk,
}

/// One reason of a prediction.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Reason {
    pub feature: String,
    pub value: Value,
    pub contribution: f64,
    pub direction: Direction,
    pub sentence: String,
}

/// The two sentences of one feature.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonTemplate {
    pub increases_risk: String,
    pub decreases_risk: String,
}

/// Templates by feature name: the defaults, then the params' overrides.
#[derive(Debug, Clone, Default)]
pub(crate) struct Templates {
    by_feature: BTreeMap<String, ReasonTemplate>,
}

const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "recency_days",
        "{value} days since the last payment raises the risk",
        "A payment {value} days ago lowers the risk",
    ),
    ("frequency", "Only {value} payments so far raises the risk", "{value} payments so far lowers the risk"),
    (
        "monetary_total",
        "{value} EUR paid in total raises the risk",
        "{value} EUR paid in total lowers the risk",
    ),
    (
        "monetary_avg",
        "An average payment of {value} EUR raises the risk",
        "An average payment of {value} EUR lowers the risk",
    ),
    (
        "monetary_std",
        "Payments that vary by {value} EUR raise the risk",
        "Steady payments (spread {value} EUR) lower the risk",
    ),
    ("tenure_days", "{value} days as a customer raises the risk", "{value} days with us lowers the risk"),
    (
        "recent_frequency",
        "{value} payments in the last 30 days raises the risk",
        "{value} payments in the last 30 days lowers the risk",
    ),
    (
        "recent_monetary",
        "{value} EUR paid in the last 30 days raises the risk",
        "{value} EUR paid in the last 30 days lowers the risk",
    ),
    (
        "activity_trend",
        "A payment trend of {value} raises the risk",
        "A payment trend of {value} lowers the risk",
    ),
    (
        "calls_count_30d",
        "{value} calls in the last 30 days raises the risk",
        "{value} calls in the last 30 days lowers the risk",
    ),
    (
        "calls_duration_avg_30d",
        "Calls averaging {value} s raise the risk",
        "Calls averaging {value} s lower the risk",
    ),
    (
        "calls_duration_total_30d",
        "{value} s on the phone in 30 days raises the risk",
        "{value} s on the phone in 30 days lowers the risk",
    ),
    (
        "data_usage_gb_30d",
        "{value} GB of data in 30 days raises the risk",
        "{value} GB of data in 30 days lowers the risk",
    ),
    (
        "international_calls_ratio",
        "A share of {value} international calls raises the risk",
        "A share of {value} international calls lowers the risk",
    ),
    (
        "peak_hour_ratio",
        "A share of {value} peak-hour calls raises the risk",
        "A share of {value} peak-hour calls lowers the risk",
    ),
    (
        "unique_contacts_30d",
        "{value} people called in 30 days raises the risk",
        "{value} people called in 30 days lowers the risk",
    ),
    (
        "support_tickets_90d",
        "{value} support tickets in 90 days raises the risk",
        "{value} support tickets in 90 days lowers the risk",
    ),
    (
        "support_escalations_90d",
        "{value} escalated tickets in 90 days raises the risk",
        "{value} escalated tickets in 90 days lowers the risk",
    ),
    (
        "avg_resolution_time_h",
        "Tickets taking {value} h to resolve raise the risk",
        "Tickets resolved in {value} h lower the risk",
    ),
    (
        "complaint_ratio",
        "A complaint share of {value} raises the risk",
        "A complaint share of {value} lowers the risk",
    ),
    (
        "unresolved_tickets",
        "{value} unresolved tickets raises the risk",
        "{value} unresolved tickets lowers the risk",
    ),
    (
        "frustration_index",
        "A frustration index of {value} raises the risk",
        "A frustration index of {value} lowers the risk",
    ),
    ("contract_type", "A {value} contract raises the risk", "A {value} contract lowers the risk"),
    ("payment_method", "Paying by {value} raises the risk", "Paying by {value} lowers the risk"),
    ("age_group", "The {value} age group raises the risk", "The {value} age group lowers the risk"),
    ("region", "Living in {value} raises the risk", "Living in {value} lowers the risk"),
    (
        "plan_monthly_eur",
        "A plan of {value} EUR a month raises the risk",
        "A plan of {value} EUR a month lowers the risk",
    ),
];

impl Templates {
    /// The defaults with `overrides` (the params' `serving.reasons` section, if any) on top.
    pub fn new(overrides: BTreeMap<String, ReasonTemplate>) -> Templates {
        let mut by_feature: BTreeMap<String, ReasonTemplate> = DEFAULTS
            .iter()
            .map(|(f, up, down)| {
                (
                    f.to_string(),
                    ReasonTemplate { increases_risk: up.to_string(), decreases_risk: down.to_string() },
                )
            })
            .collect();
        by_feature.extend(overrides);
        Templates { by_feature }
    }

    fn sentence(&self, c: &Contribution, direction: Direction) -> String {
        let verb = match direction {
            Direction::IncreasesRisk => "raises",
            Direction::DecreasesRisk => "lowers",
        };
        if is_missing(&c.value) {
            // A template reads as a fact about the value ("A plan of … EUR"); there is none.
            return format!("A missing {} (filled in as in training) {verb} the risk", c.feature);
        }
        let value = shown(&c.value);
        let template = self.by_feature.get(&c.feature).map(|t| match direction {
            Direction::IncreasesRisk => t.increases_risk.as_str(),
            Direction::DecreasesRisk => t.decreases_risk.as_str(),
        });
        let text = template.unwrap_or(match direction {
            Direction::IncreasesRisk => "{feature} = {value} raises the risk",
            Direction::DecreasesRisk => "{feature} = {value} lowers the risk",
        });
        capitalise(&text.replace("{feature}", &c.feature).replace("{value}", &value))
    }

    /// The `k` largest contributions (by size, ties by model order), zero ones left out.
    pub fn top(&self, explanation: &Explanation, k: usize) -> Vec<Reason> {
        let mut order: Vec<&Contribution> =
            explanation.contributions.iter().filter(|c| c.contribution != 0.0).collect();
        order.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        order
            .into_iter()
            .take(k)
            .map(|c| {
                let direction =
                    if c.contribution > 0.0 { Direction::IncreasesRisk } else { Direction::DecreasesRisk };
                Reason {
                    feature: c.feature.clone(),
                    value: c.value.clone(),
                    contribution: c.contribution,
                    direction,
                    sentence: self.sentence(c, direction),
                }
            })
            .collect()
    }
}

/// Null or a blank string: a value the model imputed.
fn is_missing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A present value as a sentence shows it: numbers with at most two decimals.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), two_decimals),
        other => other.to_string(),
    }
}

/// A number as people read it in a sentence or a hint: whole numbers as they are, others with
/// at most two decimals (22.676566756679232 → 22.68).
pub(super) fn two_decimals(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use churnflow_stages::OutputSpace;
    use serde_json::json;

    fn explanation(pairs: &[(&str, Value, f64)]) -> Explanation {
        Explanation {
            space: OutputSpace::LogOdds,
            base_value: 0.0,
            output: pairs.iter().map(|p| p.2).sum(),
            contributions: pairs
                .iter()
                .map(|(f, v, c)| Contribution { feature: f.to_string(), value: v.clone(), contribution: *c })
                .collect(),
        }
    }

    #[test]
    fn the_largest_contributions_come_first_with_their_direction_and_sentence() {
        let e = explanation(&[
            ("tenure_days", json!(1095.0), -0.8),
            ("contract_type", json!("month-to-month"), 1.2),
            ("region", json!("north"), 0.0),
            ("frequency", json!(3), 0.1),
        ]);
        let reasons = Templates::new(BTreeMap::new()).top(&e, 3);
        let features: Vec<&str> = reasons.iter().map(|r| r.feature.as_str()).collect();
        assert_eq!(features, ["contract_type", "tenure_days", "frequency"]);
        assert_eq!(reasons[0].direction, Direction::IncreasesRisk);
        assert_eq!(reasons[0].sentence, "A month-to-month contract raises the risk");
        assert_eq!(reasons[1].direction, Direction::DecreasesRisk);
        assert_eq!(reasons[1].sentence, "1095 days with us lowers the risk");
    }

    #[test]
    fn params_override_a_template_and_unknown_features_get_the_generic_sentence() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "tenure".to_string(),
            ReasonTemplate {
                increases_risk: "only {value} months with us raises the risk".into(),
                decreases_risk: "{value} months with us lowers it".into(),
            },
        );
        let t = Templates::new(overrides);
        let e = explanation(&[("tenure", json!(36), -0.5), ("MonthlyCharges", json!(70.35), 0.2)]);
        let reasons = t.top(&e, 5);
        assert_eq!(reasons[0].sentence, "36 months with us lowers it");
        assert_eq!(reasons[1].sentence, "MonthlyCharges = 70.35 raises the risk");
    }

    #[test]
    fn a_missing_value_is_named_as_missing_not_put_in_the_template() {
        let e = explanation(&[("plan_monthly_eur", json!(null), -0.4), ("region", json!(" "), 0.3)]);
        let reasons = Templates::new(BTreeMap::new()).top(&e, 5);
        assert_eq!(
            reasons[0].sentence,
            "A missing plan_monthly_eur (filled in as in training) lowers the risk"
        );
        assert_eq!(reasons[1].sentence, "A missing region (filled in as in training) raises the risk");
    }
}
