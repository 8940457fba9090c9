//! `churnflow serve`: the champion answering over HTTP (axum on tokio), with reasons, metrics,
//! a prediction log and zero-downtime model swaps. docs/serving.md is the user's guide.
//!
//! The pieces: [`model_slot`] (the served model behind an `ArcSwap`, and where it comes
//! from), [`routes`] (the endpoints), [`openapi`] (the document generated from the model's
//! input schema), [`reasons`] (top contributions as sentences), [`telemetry`] (Prometheus),
//! [`prediction_log`] (JSON lines written off the request path).
//!
//! Lifecycle: the model is loaded before the port is bound (a bad model is exit 2, never a
//! server that cannot answer); then the address is printed as `listening on http://ADDR` (the
//! first line on stdout, so scripts and tests can bind port 0 and read it). SIGHUP reloads
//! the model at once; SIGTERM and Ctrl-C stop accepting connections, let the requests in
//! flight finish, flush the prediction log and exit 0.

mod model_slot;
mod openapi;
mod prediction_log;
mod reasons;
mod routes;
mod telemetry;

use crate::error::{Error, Result};
use crate::store::model_ref::ModelSpec;
use arc_swap::ArcSwap;
use model_slot::Serving;
use prediction_log::{LogOptions, PredictionLog};
use reasons::{ReasonTemplate, Templates};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use telemetry::Telemetry;

/// How to serve (built from the command's arguments).
#[derive(Debug, Clone)]
pub(crate) struct ServeOptions {
    pub model: String,
    pub addr: SocketAddr,
    pub features: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    pub log_rotate_bytes: u64,
    pub log_queue: usize,
    pub max_batch: usize,
    pub body_limit: usize,
    pub timeout: Duration,
    pub reload_interval: Duration,
    pub top_k: usize,
    /// The gauges file `churnflow monitor` writes; included in /metrics when it exists.
    pub drift_gauges: PathBuf,
}

/// Everything the handlers share.
pub(crate) struct AppState {
    pub serving: ArcSwap<Serving>,
    pub source: ModelSpec,
    pub lookup: Option<churnflow_stages::FeatureLookup>,
    pub templates: Templates,
    pub telemetry: Telemetry,
    pub log: Option<PredictionLog>,
    pub options: ServeOptions,
    pub request_ids: routes::RequestIds,
}

/// Runs the server until SIGTERM or Ctrl-C. Returns the exit code.
pub(crate) fn run(root: &Path, options: ServeOptions) -> Result<u8> {
    let source = ModelSpec::parse(root, &options.model);
    let serving = Serving::load(&source)?;
    let templates = Templates::new(reason_overrides(root)?);
    let lookup = match &options.features {
        Some(table) => {
            let path = if table.is_absolute() { table.clone() } else { root.join(table) };
            let id_column = serving.model.id_column.clone();
            Some(
                churnflow_stages::FeatureLookup::load(&path, &id_column)
                    .map_err(|e| Error::BadInput(e.to_string()))?,
            )
        }
        None => None,
    };
    let telemetry = Telemetry::new();
    let log = match &options.log_dir {
        Some(dir) => {
            let dir = if dir.is_absolute() { dir.clone() } else { root.join(dir) };
            Some(
                PredictionLog::start(
                    LogOptions {
                        dir: dir.clone(),
                        rotate_bytes: options.log_rotate_bytes,
                        queue: options.log_queue,
                    },
                    telemetry.log_dropped.clone(),
                )
                .map_err(|e| Error::io(format!("cannot start the prediction log in {}", dir.display()), e))?,
            )
        }
        None => None,
    };
    telemetry.set_serving(&serving.id, serving.model.algorithm.name());
    let state = Arc::new(AppState {
        serving: ArcSwap::from_pointee(serving),
        source,
        lookup,
        templates,
        telemetry,
        log,
        options: options.clone(),
        request_ids: routes::RequestIds::new(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .map_err(|e| Error::io("cannot start the server runtime", e))?;
    let served = runtime.block_on(serve(state));
    // Dropping the runtime ends the watcher, the last holder of the state besides the
    // router: the prediction log is then dropped, which writes what is queued and flushes.
    drop(runtime);
    served.map(|()| 0)
}

async fn serve(state: Arc<AppState>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(state.options.addr)
        .await
        .map_err(|e| Error::BadInput(format!("cannot listen on {}: {e}", state.options.addr)))?;
    let addr = listener.local_addr().map_err(|e| Error::io("cannot read the bound address", e))?;
    {
        let s = state.serving.load();
        println!("listening on http://{addr}");
        eprintln!(
            "serve: model {} ({}, {} features) from {}; threshold {:.4}",
            crate::store::short_hash(&s.id),
            s.model.algorithm.name(),
            s.model.features.len(),
            s.source,
            s.threshold
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::spawn(watch(state.clone()));
    let app = routes::router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal("serve: shutting down, finishing requests in flight"))
        .await
        .map_err(|e| Error::io("the server stopped", e))?;
    eprintln!("serve: stopped (requests in flight finished)");
    Ok(())
}

/// Reloads the model when its source names another one, every `reload_interval` and on SIGHUP.
async fn watch(state: Arc<AppState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(state.options.reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        let st = state.clone();
        let outcome = tokio::task::spawn_blocking(move || reload(&st, forced)).await;
        if let Ok(Err(e)) = outcome {
            state.telemetry.reloads.get_or_create(&telemetry::ReloadLabels { result: "failed".into() }).inc();
            eprintln!("serve: cannot load the new model, still serving the old one: {e}");
        }
    }
}

/// Swaps in the model the source names now, when it differs (or always, when `forced`).
fn reload(state: &AppState, forced: bool) -> Result<()> {
    let current = state.serving.load();
    let wanted = state.source.current_id()?;
    if wanted == current.id && !forced {
        return Ok(());
    }
    let next = Serving::load(&state.source)?;
    let (old, new) =
        (crate::store::short_hash(&current.id).to_string(), crate::store::short_hash(&next.id).to_string());
    state.telemetry.set_serving(&next.id, next.model.algorithm.name());
    state.serving.store(Arc::new(next));
    state.telemetry.reloads.get_or_create(&telemetry::ReloadLabels { result: "ok".into() }).inc();
    eprintln!("serve: now serving model {new} (was {old})");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C, printing `message` to stderr.
pub(crate) async fn shutdown_signal(message: &str) {
    use tokio::signal::unix::{signal, SignalKind};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
    eprintln!("{message}");
}

/// The `serving.reasons` section of params.yaml, if there is one.
fn reason_overrides(root: &Path) -> Result<BTreeMap<String, ReasonTemplate>> {
    let path = root.join("params.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(BTreeMap::new()) };
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| Error::BadInput(format!("params.yaml: {e}")))?;
    let Some(section) = value.get("serving").and_then(|s| s.get("reasons")) else {
        return Ok(BTreeMap::new());
    };
    serde_yaml::from_value(section.clone()).map_err(|e| {
        Error::BadInput(format!(
            "params.yaml: serving.reasons: {e} (each feature needs increases_risk and decreases_risk sentences)"
        ))
    })
}
