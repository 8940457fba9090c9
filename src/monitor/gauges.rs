//! A drift report as Prometheus gauges (OpenMetrics text, prometheus-client), without the
//! final `# EOF`, so the text can be spliced into another exposition (`serve`'s /metrics) or
//! served alone (`monitor --metrics-addr`, which adds the `# EOF`).
//!
//! * `churnflow_drift_dataset_drift` — 1 when the dataset drifted;
//! * `churnflow_drift_share` — the share of compared columns that drifted;
//! * `churnflow_drift_drifted_columns`, `churnflow_drift_compared_columns`;
//! * `churnflow_drift_current_rows` — predictions in the window;
//! * `churnflow_drift_column_statistic{column, method}` and `churnflow_drift_column_drift{column}`;
//! * `churnflow_drift_prediction_statistic{method}` — the served scores' drift, when compared;
//! * `churnflow_drift_last_check_timestamp_seconds`.
use churnflow_stages::DriftReport;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ColumnMethod {
    column: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ColumnName {
    column: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodName {
    method: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The end marker of an OpenMetrics exposition.
pub(crate) const EOF: &str = "# EOF\n";

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = F64Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// The gauges of `report`, checked at `at`, as OpenMetrics text without `# EOF`.
pub(crate) fn render(report: &DriftReport, at: SystemTime) -> String {
    let mut registry = Registry::with_prefix("churnflow_drift");
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    gauge(&mut registry, "dataset_drift", "1 when the dataset drifted", flag(report.dataset_drift));
    gauge(&mut registry, "share", "Share of the compared columns that drifted", report.share);
    gauge(&mut registry, "drifted_columns", "Columns that drifted", report.drifted_columns as f64);
    gauge(&mut registry, "compared_columns", "Columns compared", report.compared_columns as f64);
    gauge(
        &mut registry,
        "current_rows",
        "Rows (predictions) in the current window",
        report.current.rows as f64,
    );
    let statistic = Family::<ColumnMethod, F64Gauge>::default();
    let drift = Family::<ColumnName, F64Gauge>::default();
    for c in &report.columns {
        let labels = ColumnMethod { column: c.column.clone(), method: c.method.to_string() };
        statistic.get_or_create(&labels).set(c.statistic);
        drift.get_or_create(&ColumnName { column: c.column.clone() }).set(flag(c.drift));
    }
    registry.register("column_statistic", "Each column's drift statistic (p-value or distance)", statistic);
    registry.register("column_drift", "1 when the column drifted", drift);
    if let Some(p) = &report.prediction_drift {
        let family = Family::<MethodName, F64Gauge>::default();
        family.get_or_create(&MethodName { method: p.method.to_string() }).set(p.statistic);
        registry.register("prediction_statistic", "Drift statistic of the served churn probability", family);
    }
    let seconds = at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    gauge(&mut registry, "last_check_timestamp_seconds", "When the check ran (Unix time)", seconds);
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &registry);
    text.strip_suffix(EOF).map(str::to_string).unwrap_or(text)
}
