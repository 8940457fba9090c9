//! The prediction log: every answered prediction as one JSON line, written by a background
//! thread so that requests never wait for the disk.
//!
//! Requests hand records to a bounded queue ([`PredictionLog::record`] never blocks); when the
//! queue is full the record is dropped and counted (`churnflow_prediction_log_dropped_total`
//! in /metrics). The writer appends to `predictions-<UTC time>-<n>.jsonl` in the log folder and
//! starts a new file when the current one reaches the rotation size, so finished files never
//! change again and can be read (polars `read_ndjson`, `churnflow drift --current DIR`) while
//! the server runs. Lines are flushed whenever the queue runs empty and on shutdown.
//!
//! One line: `{"time", "request_id", "model_id", "id", "inputs": {field: value},
//! "churn_probability", "churn_prediction", "risk_tier", "top_reason", "latency_ms"}`.

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// One logged prediction.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LogRecord {
    pub time: String,
    pub request_id: String,
    pub model_id: String,
    pub id: Option<String>,
    pub inputs: Map<String, Value>,
    pub churn_probability: f64,
    pub churn_prediction: u8,
    pub risk_tier: &'static str,
    pub top_reason: Option<String>,
    pub latency_ms: f64,
}

/// Where and how the log is written.
#[derive(Debug, Clone)]
pub(crate) struct LogOptions {
    pub dir: PathBuf,
    /// A new file is started when the current one reaches this size.
    pub rotate_bytes: u64,
    /// Records waiting to be written at most; more are dropped and counted.
    pub queue: usize,
}

/// The sending side, shared by the request handlers.
pub(crate) struct PredictionLog {
    sender: Option<SyncSender<LogRecord>>,
    /// `churnflow_prediction_log_dropped_total`, shared with /metrics.
    dropped: Counter<u64, AtomicU64>,
    writer: Option<JoinHandle<()>>,
}

impl PredictionLog {
    /// Creates the folder and starts the writer thread; records dropped for a full queue are
    /// counted in `dropped`.
    pub fn start(options: LogOptions, dropped: Counter<u64, AtomicU64>) -> std::io::Result<PredictionLog> {
        std::fs::create_dir_all(&options.dir)?;
        let (sender, receiver) = mpsc::sync_channel(options.queue.max(1));
        let writer = std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || write_loop(receiver, &options))?;
        Ok(PredictionLog { sender: Some(sender), dropped, writer: Some(writer) })
    }

    /// Queues a record, or counts it as dropped when the queue is full.
    pub fn record(&self, record: LogRecord) {
        if let Some(sender) = &self.sender {
            match sender.try_send(record) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.dropped.inc();
                }
            }
        }
    }
}

impl Drop for PredictionLog {
    /// Closes the queue and waits for the writer to write what is queued and flush.
    fn drop(&mut self) {
        self.sender.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The current file of the log and its size.
struct Segment {
    out: BufWriter<File>,
    written: u64,
}

fn write_loop(receiver: Receiver<LogRecord>, options: &LogOptions) {
    let mut segment: Option<Segment> = None;
    let mut sequence = 0u64;
    let mut line = Vec::with_capacity(512);
    loop {
        let first = match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Write what is waiting, then flush once the queue has run empty, so a reader sees
        // whole lines soon without a flush per line under load.
        let mut next = Some(first);
        while let Some(record) = next {
            write_record(&record, &mut line, &mut segment, &mut sequence, options);
            next = receiver.try_recv().ok();
        }
        if let Some(s) = segment.as_mut() {
            report(s.out.flush());
        }
    }
    if let Some(mut s) = segment {
        report(s.out.flush());
    }
}

fn write_record(
    record: &LogRecord,
    line: &mut Vec<u8>,
    segment: &mut Option<Segment>,
    sequence: &mut u64,
    options: &LogOptions,
) {
    line.clear();
    if serde_json::to_writer(&mut *line, record).is_err() {
        return;
    }
    line.push(b'\n');
    if segment.as_ref().is_none_or(|s| s.written >= options.rotate_bytes) {
        if let Some(mut old) = segment.take() {
            report(old.out.flush());
        }
        *sequence += 1;
        match open_segment(&options.dir, *sequence) {
            Ok(s) => *segment = Some(s),
            Err(e) => {
                eprintln!("serve: cannot open a prediction log file in {}: {e}", options.dir.display());
                return;
            }
        }
    }
    if let Some(s) = segment.as_mut() {
        report(s.out.write_all(line));
        s.written += line.len() as u64;
    }
}

fn open_segment(dir: &Path, sequence: u64) -> std::io::Result<Segment> {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string().replace([':', '-'], "");
    let path = dir.join(format!("predictions-{stamp}-{sequence:04}.jsonl"));
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let written = file.metadata()?.len();
    Ok(Segment { out: BufWriter::with_capacity(1 << 16, file), written })
}

fn report(result: std::io::Result<()>) {
    if let Err(e) = result {
        eprintln!("serve: cannot write the prediction log: {e}");
    }
}
