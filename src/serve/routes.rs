//! The endpoints, and the middleware every request passes (timeout → 503, metrics).
//!
//! Bodies are read as bytes and parsed here, and every handler fails with one [`ApiError`], so
//! every error has one JSON shape: `{"error": "..."}`, plus
//! `"problems": [{"field", "problem", "row"?}]` for 422 (`row` counts from 1, as the data
//! stages count rows).

use super::model_slot::Serving;
use super::reasons::Reason;
use super::telemetry::{ModelLabels, RequestLabels, RouteLabels};
use super::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use churnflow_stages::{Customer, ExplainScratch, FieldProblem, PredictionLogRecord};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The web page at `/`: a form built from `/openapi.json`, no external URLs.
const PAGE: &str = include_str!("page.html");

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = state.options.body_limit;
    Router::new()
        .route("/", only("GET", get(page)))
        .route("/predict", only("POST", post(predict)))
        .route("/predict/batch", only("POST", post(predict_batch)))
        .route("/health", only("GET", get(health)))
        .route("/ready", only("GET", get(ready)))
        .route("/model", only("GET", get(model)))
        .route("/metrics", only("GET", get(metrics)))
        .route("/openapi.json", only("GET", get(openapi)))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// `route` answering any other method with a JSON 405 that names the one it takes.
fn only(method: &'static str, route: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    route.fallback(move || async move { ApiError::MethodNotAllowed { allowed: method } })
}

/// Request ids: the caller's `x-request-id`, else the server's start time and a counter.
pub(crate) struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new() -> RequestIds {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        RequestIds { prefix: format!("{start:x}"), next: AtomicU64::new(1) }
    }

    fn make(&self, headers: &HeaderMap) -> String {
        headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed)))
    }
}

/// Timeout (503 instead of a hung connection), request counts and latency by route.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    state.telemetry.in_flight.inc();
    let response = match tokio::time::timeout(state.options.timeout, next.run(request)).await {
        Ok(r) => r,
        Err(_) => ApiError::Timeout { millis: state.options.timeout.as_millis() }.into_response(),
    };
    let t = &state.telemetry;
    t.in_flight.dec();
    t.requests
        .get_or_create(&RequestLabels { route: route.clone(), status: response.status().as_u16() })
        .inc();
    t.latency.get_or_create(&RouteLabels { route }).observe(started.elapsed().as_secs_f64());
    response
}

/// Everything a handler can fail with; each is one status and one JSON body.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400: the body is not JSON/CSV at all.
    Malformed(String),
    /// 422: well-formed, but these fields are wrong.
    Invalid(Vec<RowProblem>),
    /// 422: well-formed, but not the shape this endpoint takes.
    WrongShape(&'static str),
    /// 404: no customer with this id in `--features`.
    UnknownCustomer { id_field: String, id: String },
    /// 404: no such endpoint.
    NoRoute,
    /// 405: the endpoint exists for another method.
    MethodNotAllowed { allowed: &'static str },
    /// 413: the body or the batch is larger than the server takes.
    TooLarge(String),
    /// 503: the request outlived `--timeout`.
    Timeout { millis: u128 },
    /// 503: the model does not answer its canary.
    NotReady,
    /// 500: the server could not do what it should have.
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) | ApiError::WrongShape(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnknownCustomer { .. } | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout { .. } | ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Malformed(m) | ApiError::TooLarge(m) | ApiError::Internal(m) => m.clone(),
            ApiError::Invalid(problems) => {
                let n = problems.len();
                format!("{n} invalid field{}", if n == 1 { "" } else { "s" })
            }
            ApiError::WrongShape(m) => (*m).to_string(),
            ApiError::UnknownCustomer { id_field, id } => {
                format!("no customer with {id_field} '{id}' in the features table")
            }
            ApiError::NoRoute => "no such endpoint; see /openapi.json".into(),
            ApiError::MethodNotAllowed { allowed } => {
                format!("this endpoint takes {allowed} only; see /openapi.json")
            }
            ApiError::Timeout { millis } => {
                format!("the request took longer than {millis} ms; try again or send fewer customers")
            }
            ApiError::NotReady => "the model does not answer".into(),
        }
    }

    /// A body axum could not read: too large (413) or cut off (400).
    fn body(rejection: BytesRejection) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(
                "the body is larger than the server takes (start serve with a larger --body-limit, or send fewer customers)".into(),
            )
        } else {
            ApiError::Malformed(format!("the body could not be read: {}", rejection.body_text()))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = json!({"error": self.message()});
        let allow = match self {
            ApiError::Invalid(problems) => {
                body["problems"] = json!(problems);
                None
            }
            ApiError::MethodNotAllowed { allowed } => Some(allowed),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(allowed) = allow {
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allowed));
        }
        response
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct RowProblem {
    /// 1-based position in the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<usize>,
    field: String,
    problem: String,
}

fn problems_of(row: Option<usize>, problems: Vec<FieldProblem>) -> Vec<RowProblem> {
    problems.into_iter().map(|p| RowProblem { row, field: p.field, problem: p.problem }).collect()
}

#[derive(Debug, Deserialize)]
struct PredictQuery {
    reasons: Option<bool>,
    top_k: Option<usize>,
}

impl PredictQuery {
    fn top_k(&self, state: &AppState) -> usize {
        if self.reasons == Some(false) {
            0
        } else {
            self.top_k.unwrap_or(state.options.top_k)
        }
    }
}

/// One answered prediction.
#[derive(Debug, Serialize)]
struct Prediction {
    id: Option<String>,
    churn_probability: f64,
    churn_prediction: u8,
    risk_tier: &'static str,
    threshold: f64,
    model_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_space: Option<churnflow_stages::OutputSpace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<Vec<Reason>>,
}

thread_local! {
    static SCRATCH: RefCell<ExplainScratch> = RefCell::new(ExplainScratch::default());
}

/// Scores one checked customer with `serving`, with `top_k` reasons (none when 0). Fails only
/// for a tree model too old to be explained (no node covers).
fn score(
    state: &AppState,
    serving: &Serving,
    customer: &Customer,
    top_k: usize,
) -> Result<Prediction, ApiError> {
    let probability = serving.model.probability(customer);
    let explanation = if top_k > 0 {
        let e = SCRATCH.with(|s| serving.model.explain(customer, &mut s.borrow_mut()));
        Some(e.map_err(|e| ApiError::Internal(e.to_string()))?)
    } else {
        None
    };
    state.telemetry.probability.observe(probability);
    Ok(Prediction {
        id: customer.id.clone(),
        churn_probability: probability,
        churn_prediction: u8::from(probability >= serving.threshold),
        risk_tier: serving.tier(probability),
        threshold: serving.threshold,
        model_id: serving.id.clone(),
        output_space: explanation.as_ref().map(|e| e.space),
        base_value: explanation.as_ref().map(|e| e.base_value),
        reasons: explanation.map(|e| state.templates.top(&e, top_k)),
    })
}

fn log_prediction(
    state: &AppState,
    request_id: &str,
    customer: &Customer,
    serving: &Serving,
    p: &Prediction,
    started: Instant,
) {
    let Some(log) = &state.log else { return };
    let inputs: Map<String, Value> = serving
        .schema
        .fields
        .iter()
        .zip(&customer.values)
        .map(|(f, v)| (f.name.clone(), v.clone()))
        .collect();
    log.record(PredictionLogRecord {
        time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        request_id: request_id.to_string(),
        model_id: serving.id.clone(),
        id: customer.id.clone(),
        inputs,
        churn_probability: p.churn_probability,
        churn_prediction: p.churn_prediction,
        risk_tier: p.risk_tier.to_string(),
        top_reason: p.reasons.as_ref().and_then(|r| r.first()).map(|r| r.feature.clone()),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
    });
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))
}

async fn predict(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Query(query) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let request_id = state.request_ids.make(&headers);
    let serving = state.serving.load_full();
    let Value::Object(object) = parse_json(&body.map_err(ApiError::body)?)? else {
        return Err(ApiError::Invalid(vec![RowProblem {
            row: None,
            field: String::new(),
            problem: "expected a JSON object with the customer's fields".into(),
        }]));
    };
    let object = lookup(&state, &serving, object)?;
    let customer =
        serving.model.customer(&object).map_err(|problems| ApiError::Invalid(problems_of(None, problems)))?;
    let prediction = score(&state, &serving, &customer, query.top_k(&state))?;
    state.telemetry.predictions.get_or_create(&ModelLabels { model_id: serving.id.clone() }).inc();
    log_prediction(&state, &request_id, &customer, &serving, &prediction, started);
    Ok(with_request_id(Json(prediction).into_response(), &request_id))
}

/// With `--features`: a body that carries the id and none of the model's fields is looked up.
fn lookup(
    state: &AppState,
    serving: &Serving,
    object: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let Some(table) = &state.lookup else { return Ok(object) };
    if serving.schema.fields.iter().any(|f| object.contains_key(&f.name)) {
        return Ok(object);
    }
    let Some(id) = object.get(&serving.schema.id_field) else { return Ok(object) };
    let id = match id {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::Invalid(vec![RowProblem {
                row: None,
                field: serving.schema.id_field.clone(),
                problem: "expected a string".into(),
            }]))
        }
    };
    table.row(&id).ok_or_else(|| ApiError::UnknownCustomer { id_field: serving.schema.id_field.clone(), id })
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

async fn predict_batch(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Query(query) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let request_id = state.request_ids.make(&headers);
    let body = body.map_err(ApiError::body)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let rows = if is_csv {
        csv_rows(&body)?
    } else {
        match parse_json(&body)? {
            Value::Array(items) => items,
            Value::Object(mut o) if o.get("customers").is_some_and(Value::is_array) => match o.remove("customers") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            _ => {
                return Err(ApiError::WrongShape(
                    "expected a JSON array of customers, {\"customers\": [...]}, or a CSV body (Content-Type: text/csv)",
                ))
            }
        }
    };
    let max = state.options.max_batch;
    if rows.len() > max {
        return Err(ApiError::TooLarge(format!(
            "{} customers in one batch; at most {max} (split the batch, or start serve with a larger --max-batch)",
            rows.len()
        )));
    }
    let top_k = query.top_k(&state);
    let work = state.clone();
    // Batches are CPU work: off the async workers, in parallel.
    tokio::task::spawn_blocking(move || batch(&work, rows, top_k, &request_id, started))
        .await
        .map_err(|_| ApiError::Internal("the batch could not be scored".into()))?
}

fn batch(
    state: &AppState,
    rows: Vec<Value>,
    top_k: usize,
    request_id: &str,
    started: Instant,
) -> Result<Response, ApiError> {
    use rayon::prelude::*;
    let serving = state.serving.load_full();
    let checked: Vec<Result<Customer, Vec<RowProblem>>> = rows
        .par_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => serving.model.customer(o).map_err(|p| problems_of(Some(i + 1), p)),
            _ => Err(vec![RowProblem {
                row: Some(i + 1),
                field: String::new(),
                problem: "expected an object".into(),
            }]),
        })
        .collect();
    let mut problems = Vec::new();
    let mut customers = Vec::with_capacity(checked.len());
    for c in checked {
        match c {
            Ok(c) => customers.push(c),
            Err(p) => problems.extend(p),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    let predictions: Vec<Prediction> =
        customers.par_iter().map(|c| score(state, &serving, c, top_k)).collect::<Result<_, _>>()?;
    state
        .telemetry
        .predictions
        .get_or_create(&ModelLabels { model_id: serving.id.clone() })
        .inc_by(predictions.len() as u64);
    for (c, p) in customers.iter().zip(&predictions) {
        log_prediction(state, request_id, c, &serving, p, started);
    }
    let body = json!({"model_id": serving.id, "count": predictions.len(), "predictions": predictions});
    Ok(with_request_id(Json(body).into_response(), request_id))
}

/// A CSV body as one JSON object per row (every cell a string; the model parses numbers).
fn csv_rows(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let headers =
        reader.headers().map_err(|e| ApiError::Malformed(format!("the body is not valid CSV: {e}")))?.clone();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| ApiError::Malformed(format!("the body is not valid CSV (record {}): {e}", i + 1)))?;
        let object: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push(Value::Object(object));
    }
    Ok(rows)
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the served model answers a canary: a customer with every field missing.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let serving = state.serving.load_full();
    let blank: Map<String, Value> =
        serving.schema.fields.iter().map(|f| (f.name.clone(), Value::Null)).collect();
    match serving.model.customer(&blank).map(|c| serving.model.probability(&c)) {
        Ok(p) if p.is_finite() => Json(json!({"status": "ready", "model_id": serving.id})).into_response(),
        _ => ApiError::NotReady.into_response(),
    }
}

async fn model(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.serving.load().card())
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // The monitor's gauges, when it has written them (a small file, replaced atomically).
    let drift = tokio::fs::read_to_string(&state.options.drift_gauges).await.ok();
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.telemetry.render(drift.as_deref()),
    )
        .into_response()
}

async fn openapi(State(state): State<Arc<AppState>>) -> Json<Value> {
    let serving = state.serving.load();
    Json(super::openapi::document(&serving.schema, &serving.id, state.options.max_batch))
}

async fn not_found() -> ApiError {
    ApiError::NoRoute
}
