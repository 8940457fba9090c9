//! The OpenAPI 3 document of the server, generated from the served model's input schema: each
//! field with its type, categories as enums, and the minimum the model knows.

use super::reasons::two_decimals;
use churnflow_stages::{FieldKind, InputSchema};
use serde_json::{json, Map, Value};

/// The `Customer` schema: one property per model input, all required (null = missing value).
pub(crate) fn customer_schema(schema: &InputSchema) -> Value {
    let mut properties = Map::new();
    properties.insert(
        schema.id_field.clone(),
        json!({"type": "string", "description": "The customer's id (optional; echoed in the response)."}),
    );
    for alias in &schema.id_aliases {
        properties.insert(
            alias.clone(),
            json!({"type": "string", "description": "The raw export's id column (alias of the id)."}),
        );
    }
    for field in &schema.fields {
        let property = match &field.kind {
            FieldKind::Number { minimum, seen } => {
                let mut p = json!({"type": "number", "nullable": true});
                if let Some(m) = minimum {
                    p["minimum"] = json!(m);
                }
                if let Some([lo, hi]) = seen {
                    p["description"] = json!(format!(
                        "Seen in training: {} to {}. null = missing (imputed).",
                        two_decimals(*lo),
                        two_decimals(*hi)
                    ));
                }
                p
            }
            FieldKind::Category { values } => json!({
                "type": "string",
                "nullable": true,
                "enum": values,
                "description": "null = missing (no category)."
            }),
        };
        properties.insert(field.name.clone(), property);
    }
    let required: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    json!({"type": "object", "properties": properties, "required": required})
}

/// The whole document.
pub(crate) fn document(schema: &InputSchema, model_id: &str, max_batch: usize) -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let invalid = json!({"$ref": "#/components/schemas/ValidationError"});
    let json_of = |schema: Value| json!({"application/json": {"schema": schema}});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "churnflow serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Churn predictions with reasons from model {model_id}.")
        },
        "paths": {
            "/predict": {"post": {
                "summary": "Score one customer",
                "parameters": [
                    {"name": "reasons", "in": "query", "schema": {"type": "boolean", "default": true}},
                    {"name": "top_k", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 3}}
                ],
                "requestBody": {"required": true, "content": json_of(json!({"oneOf": [
                    {"$ref": "#/components/schemas/Customer"},
                    {"$ref": "#/components/schemas/Lookup"}
                ]}))},
                "responses": {
                    "200": {"description": "The prediction", "content": json_of(json!({"$ref": "#/components/schemas/Prediction"}))},
                    "400": {"description": "Not JSON", "content": json_of(error.clone())},
                    "404": {"description": "Unknown customer id (lookup)", "content": json_of(error.clone())},
                    "413": {"description": "Body too large", "content": json_of(error.clone())},
                    "422": {"description": "Invalid fields, all listed", "content": json_of(invalid.clone())},
                    "503": {"description": "Timed out", "content": json_of(error.clone())}
                }
            }},
            "/predict/batch": {"post": {
                "summary": format!("Score up to {max_batch} customers (JSON array, {{\"customers\": [...]}}, or CSV)"),
                "parameters": [
                    {"name": "reasons", "in": "query", "schema": {"type": "boolean", "default": true}},
                    {"name": "top_k", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 3}}
                ],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"type": "array", "maxItems": max_batch, "items": {"$ref": "#/components/schemas/Customer"}}},
                    "text/csv": {"schema": {"type": "string"}}
                }},
                "responses": {
                    "200": {"description": "One prediction per customer, in order", "content": json_of(json!({
                        "type": "object",
                        "properties": {
                            "model_id": {"type": "string"},
                            "count": {"type": "integer"},
                            "predictions": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}
                        }
                    }))},
                    "400": {"description": "Not JSON or CSV", "content": json_of(error.clone())},
                    "413": {"description": "Body too large or too many customers", "content": json_of(error.clone())},
                    "422": {"description": "Invalid fields, all listed with their row", "content": json_of(invalid)},
                    "503": {"description": "Timed out", "content": json_of(error.clone())}
                }
            }},
            "/health": {"get": {"summary": "The process is alive", "responses": {"200": {"description": "ok"}}}},
            "/ready": {"get": {"summary": "A model is loaded and answering", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            "/model": {"get": {"summary": "The served model's card summary and lineage", "responses": {"200": {"description": "the model"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}}
        },
        "components": {"schemas": {
            "Customer": customer_schema(schema),
            "Lookup": {
                "type": "object",
                "properties": {schema.id_field.clone(): {"type": "string"}},
                "required": [schema.id_field.clone()],
                "description": "With --features TABLE: the customer's features are looked up by id."
            },
            "Reason": {
                "type": "object",
                "properties": {
                    "feature": {"type": "string"},
                    "value": {},
                    "contribution": {"type": "number"},
                    "direction": {"type": "string", "enum": ["increases_risk", "decreases_risk"]},
                    "sentence": {"type": "string"}
                }
            },
            "Prediction": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "nullable": true},
                    "churn_probability": {"type": "number", "minimum": 0, "maximum": 1},
                    "churn_prediction": {"type": "integer", "enum": [0, 1]},
                    "risk_tier": {"type": "string", "enum": ["low", "medium", "high"]},
                    "threshold": {"type": "number"},
                    "model_id": {"type": "string"},
                    "output_space": {"type": "string", "enum": ["log_odds", "probability"]},
                    "base_value": {"type": "number"},
                    "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}}
                },
                "required": ["churn_probability", "churn_prediction", "risk_tier", "model_id"]
            },
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "ValidationError": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "problems": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "problem": {"type": "string"}, "row": {"type": "integer"}}
                    }}
                }
            }
        }}
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn training_ranges_are_shown_with_at_most_two_decimals() {
        use crate::serve::reasons::two_decimals;
        assert_eq!(two_decimals(22.676566756679232), "22.68");
        assert_eq!(two_decimals(0.0), "0");
        assert_eq!(two_decimals(118.75), "118.75");
    }
}
