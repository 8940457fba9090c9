//! What `/metrics` shows, in the Prometheus text format (prometheus-client):
//!
//! * `churnflow_http_requests_in_flight` — requests being answered now;
//! * `churnflow_http_requests_total{route, status}` and
//!   `churnflow_http_request_duration_seconds{route}` (histogram);
//! * `churnflow_prediction_probability` — the histogram of served churn probabilities;
//! * `churnflow_predictions_total{model_id}` — customers scored, by model;
//! * `churnflow_model_info{model_id, algorithm}` — 1 for the model being served;
//! * `churnflow_model_reloads_total{result}` — hot swaps done and failed;
//! * `churnflow_prediction_log_dropped_total` — log lines dropped because the queue was full;
//! * and, when `churnflow monitor` has written its gauges file (`--drift-gauges`), its
//!   `churnflow_drift_*` gauges, spliced in before the end marker.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ModelLabels {
    pub model_id: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ModelInfoLabels {
    pub model_id: String,
    pub algorithm: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReloadLabels {
    pub result: String,
}

/// The server's metrics and the registry that encodes them.
pub(crate) struct Telemetry {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub in_flight: Gauge,
    pub latency: Family<RouteLabels, Histogram>,
    pub probability: Histogram,
    pub predictions: Family<ModelLabels, Counter>,
    pub model_info: Family<ModelInfoLabels, Gauge>,
    pub reloads: Family<ReloadLabels, Counter>,
    pub log_dropped: Counter<u64, AtomicU64>,
    /// The labels of the model currently marked 1 in `model_info`.
    serving: Mutex<Option<ModelInfoLabels>>,
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("churnflow");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let in_flight = Gauge::default();
        registry.register("http_requests_in_flight", "Requests being answered now", in_flight.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs … ~1.6 s.
            Histogram::new(exponential_buckets(0.00005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route",
            latency.clone(),
        );
        let probability = Histogram::new((1..=10).map(|i| f64::from(i) / 10.0));
        registry.register("prediction_probability", "Churn probabilities served", probability.clone());
        let predictions = Family::<ModelLabels, Counter>::default();
        registry.register("predictions", "Customers scored, by model", predictions.clone());
        let model_info = Family::<ModelInfoLabels, Gauge>::default();
        registry.register("model_info", "1 for the model being served", model_info.clone());
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "model_reloads",
            "Hot swaps of the served model (result: ok|failed)",
            reloads.clone(),
        );
        let log_dropped = Counter::<u64, AtomicU64>::default();
        registry.register(
            "prediction_log_dropped",
            "Prediction log lines dropped because the writer queue was full",
            log_dropped.clone(),
        );
        Telemetry {
            registry,
            requests,
            in_flight,
            latency,
            probability,
            predictions,
            model_info,
            reloads,
            log_dropped,
            serving: Mutex::new(None),
        }
    }

    /// Marks `model_id` as the model being served (and the previous one as not).
    pub fn set_serving(&self, model_id: &str, algorithm: &str) {
        let labels = ModelInfoLabels { model_id: model_id.to_string(), algorithm: algorithm.to_string() };
        let mut serving = self.serving.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = serving.take() {
            self.model_info.get_or_create(&old).set(0);
        }
        self.model_info.get_or_create(&labels).set(1);
        *serving = Some(labels);
    }

    /// The text exposition.
    /// The exposition, with `extra` (OpenMetrics text without `# EOF`) before the end marker.
    pub fn render(&self, extra: Option<&str>) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        match (extra, out.strip_suffix(EOF)) {
            (Some(extra), Some(head)) if !extra.is_empty() => {
                let newline = if extra.ends_with('\n') { "" } else { "\n" };
                format!("{head}{extra}{newline}{EOF}")
            }
            _ => out,
        }
    }
}

/// The end marker of an OpenMetrics exposition.
const EOF: &str = "# EOF\n";
