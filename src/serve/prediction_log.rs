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
//! One line is one serialized [`PredictionLogRecord`] (the stages crate's type, which the drift
//! reader parses back): `{"time", "request_id", "model_id", "id", "inputs": {field: value},
//! "churn_probability", "churn_prediction", "risk_tier", "top_reason", "latency_ms"}`.

use churnflow_stages::PredictionLogRecord;
use prometheus_client::metrics::counter::Counter;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

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
    sender: Option<SyncSender<PredictionLogRecord>>,
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
    pub fn record(&self, record: PredictionLogRecord) {
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

fn write_loop(receiver: Receiver<PredictionLogRecord>, options: &LogOptions) {
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
    record: &PredictionLogRecord,
    line: &mut Vec<u8>,
    segment: &mut Option<Segment>,
    sequence: &mut u64,
    options: &LogOptions,
) {
    line.clear();
    if record.write_line(line).is_err() {
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn a_record_written_by_the_log_is_read_back_equal_by_the_drift_reader() {
        let dir = tempfile::tempdir().unwrap();
        let Value::Object(inputs) =
            json!({"customer_id": "C7", "amount": 70.35, "plan": "basic", "paperless": true})
        else {
            unreachable!()
        };
        let record = PredictionLogRecord {
            time: "2026-12-03T08:12:01.123Z".into(),
            request_id: "r-7".into(),
            model_id: "m1".into(),
            id: None,
            inputs,
            churn_probability: 0.6180339887498949,
            churn_prediction: 1,
            risk_tier: "medium".into(),
            top_reason: Some("plan".into()),
            latency_ms: 1.0 / 3.0,
        };
        let options = LogOptions { dir: dir.path().to_path_buf(), rotate_bytes: 1 << 20, queue: 4 };
        let log = PredictionLog::start(options, Counter::default()).unwrap();
        log.record(record.clone());
        drop(log);
        let files: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(PredictionLogRecord::parse_line(lines[0]).unwrap(), record);
    }
}
