//! The prediction-log line, one schema for both sides: `churnflow serve --log-dir` serializes a
//! [`PredictionLogRecord`] per answered prediction ([`PredictionLogRecord::write_line`]) and the
//! drift/monitor reader (`drift/log.rs`) parses each line back with
//! [`PredictionLogRecord::parse_line`].
//!
//! One line, fields in this order: `{"time", "request_id", "model_id", "id", "inputs": {field:
//! value}, "churn_probability", "churn_prediction", "risk_tier", "top_reason", "latency_ms"}`,
//! then `\n`; numbers as serde_json writes an `f64`/`u8`, absent `id`/`top_reason` as `null`.
//!
//! The `inputs` values are kept as the JSON the request gave (after the model schema's
//! checks); typing them by the model's input schema belongs here when it comes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One logged prediction: one JSON line of the serving prediction log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionLogRecord {
    /// RFC 3339 UTC with milliseconds (`2026-12-03T08:12:01.123Z`); one width, so stamps
    /// compare as strings.
    pub time: String,
    pub request_id: String,
    pub model_id: String,
    /// The customer's id, when the request had one.
    pub id: Option<String>,
    /// The model's input fields as given, in the model schema's order.
    pub inputs: Map<String, Value>,
    pub churn_probability: f64,
    pub churn_prediction: u8,
    pub risk_tier: String,
    /// The feature of the first reason, when reasons were computed.
    pub top_reason: Option<String>,
    pub latency_ms: f64,
}

/// Why a line of a prediction log could not be read.
#[derive(Debug)]
pub enum PredictionLogLineError {
    /// The line is not JSON.
    NotJson(serde_json::Error),
    /// JSON, but without an `inputs` object.
    NoInputs,
    /// An `inputs` object, but another field is missing or of the wrong type.
    BadField(serde_json::Error),
}

impl fmt::Display for PredictionLogLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PredictionLogLineError::NotJson(e) => write!(f, "not a JSON line: {e}"),
            PredictionLogLineError::NoInputs => f.write_str("no `inputs` object (not a prediction log line)"),
            PredictionLogLineError::BadField(e) => write!(f, "not a prediction log line: {e}"),
        }
    }
}

impl std::error::Error for PredictionLogLineError {}

impl PredictionLogRecord {
    /// The name of the probability field (the reader copies it next to the inputs).
    pub const PROBABILITY: &'static str = "churn_probability";

    /// Appends the record as one JSON line (with its `\n`) to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.push(b'\n');
        Ok(())
    }

    /// Reads one line (without its `\n`) written by [`PredictionLogRecord::write_line`]. A
    /// well-formed line is deserialized in one pass; only a refused one is looked at again, to
    /// say why.
    pub fn parse_line(line: &str) -> Result<PredictionLogRecord, PredictionLogLineError> {
        serde_json::from_str(line).map_err(|e| match serde_json::from_str::<Value>(line) {
            Err(not_json) => PredictionLogLineError::NotJson(not_json),
            Ok(value) if !value.get("inputs").is_some_and(Value::is_object) => {
                PredictionLogLineError::NoInputs
            }
            Ok(_) => PredictionLogLineError::BadField(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> PredictionLogRecord {
        let Value::Object(inputs) = json!({"customer_id": "C1", "amount": 12.5, "plan": "pro", "visits": 3})
        else {
            unreachable!()
        };
        PredictionLogRecord {
            time: "2026-12-03T08:12:01.123Z".into(),
            request_id: "r-1".into(),
            model_id: "abc".into(),
            id: Some("C1".into()),
            inputs,
            churn_probability: 0.1 + 0.2,
            churn_prediction: 1,
            risk_tier: "high".into(),
            top_reason: None,
            latency_ms: 0.25,
        }
    }

    #[test]
    fn a_line_has_the_fields_in_order_and_reads_back_equal() {
        let r = record();
        let mut line = Vec::new();
        r.write_line(&mut line).unwrap();
        let text = String::from_utf8(line).unwrap();
        assert_eq!(
            text,
            "{\"time\":\"2026-12-03T08:12:01.123Z\",\"request_id\":\"r-1\",\"model_id\":\"abc\",\"id\":\"C1\",\
             \"inputs\":{\"customer_id\":\"C1\",\"amount\":12.5,\"plan\":\"pro\",\"visits\":3},\
             \"churn_probability\":0.30000000000000004,\"churn_prediction\":1,\"risk_tier\":\"high\",\
             \"top_reason\":null,\"latency_ms\":0.25}\n"
        );
        assert!(text.contains(&format!("\"{}\":", PredictionLogRecord::PROBABILITY)));
        assert_eq!(PredictionLogRecord::parse_line(text.trim_end()).unwrap(), r);
    }

    #[test]
    fn bad_lines_say_why() {
        let e = PredictionLogRecord::parse_line("{").unwrap_err();
        assert!(e.to_string().starts_with("not a JSON line: "), "{e}");
        let e = PredictionLogRecord::parse_line("{\"inputs\": 3}").unwrap_err();
        assert_eq!(e.to_string(), "no `inputs` object (not a prediction log line)");
        let e = PredictionLogRecord::parse_line("{\"inputs\": {}}").unwrap_err();
        assert!(e.to_string().starts_with("not a prediction log line: missing field"), "{e}");
    }
}
