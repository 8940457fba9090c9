//! A temporary project holding fixture files, and the calls the engine would make.

use churnflow_stages::testing::validate::ValidationReport;
use churnflow_stages::{run, Invocation, StageError, StageSummary};
use polars::prelude::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const SNAPSHOT_DATE: &str = "2024-06-30";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn empty() -> Project {
        Project { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// A project with the hand-made events fixture under raw/.
    pub fn events_small() -> Project {
        let p = Project::empty();
        for f in ["customers.csv", "transactions.csv", "cdr.csv", "support_tickets.csv"] {
            let text = std::fs::read_to_string(fixtures().join("events_small").join(f)).expect("fixture");
            p.write(&format!("raw/{f}"), &text);
        }
        p
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }

    /// Replaces `from` by `to` in a file (the text must be there).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    pub fn append(&self, rel: &str, line: &str) {
        let mut text = self.read(rel);
        text.push_str(line);
        text.push('\n');
        self.write(rel, &text);
    }

    pub fn run(&self, kind: &str, settings: Value, params: Value) -> Result<StageSummary, StageError> {
        let inv = Invocation {
            root: self.root().to_path_buf(),
            stage: kind.to_string(),
            settings,
            params,
            baseline_model: None,
            baseline_training_data: None,
        };
        run(kind, &inv)
    }

    pub fn ingest_events(&self) -> Result<StageSummary, StageError> {
        self.run(
            "ingest",
            json!({
                "layout": "events",
                "customers": "raw/customers.csv",
                "transactions": "raw/transactions.csv",
                "cdr": "raw/cdr.csv",
                "support_tickets": "raw/support_tickets.csv",
                "out": "data/ingested",
            }),
            Value::Null,
        )
    }

    pub fn validate(&self, params: Value) -> Result<StageSummary, StageError> {
        self.run(
            "validate",
            json!({
                "input": "data/ingested",
                "report": "reports/validation.json",
                "html": "reports/validation.html",
                "snapshot_date": SNAPSHOT_DATE,
            }),
            params,
        )
    }

    pub fn report(&self) -> ValidationReport {
        serde_json::from_str(&self.read("reports/validation.json")).expect("report JSON")
    }

    pub fn features(&self) -> Result<StageSummary, StageError> {
        self.run(
            "features",
            json!({
                "input": "data/ingested",
                "validation_report": "reports/validation.json",
                "out": "data/features.parquet",
            }),
            json!({ "snapshot_date": SNAPSHOT_DATE }),
        )
    }

    pub fn parquet(&self, rel: &str) -> DataFrame {
        let f = std::fs::File::open(self.path(rel)).expect("open parquet");
        ParquetReader::new(f).finish().expect("read parquet")
    }
}

/// The ingest error for the fixture after an edit, as text.
pub fn ingest_error(p: &Project) -> String {
    match p.ingest_events() {
        Ok(o) => panic!("ingest should fail, got {o:?}"),
        Err(e) => e.message,
    }
}

pub fn f64_at(df: &DataFrame, column: &str, row: usize) -> f64 {
    df.column(column)
        .unwrap_or_else(|_| panic!("column {column}"))
        .get(row)
        .expect("row")
        .extract::<f64>()
        .unwrap_or_else(|| panic!("{column}[{row}] is null"))
}

pub fn str_at(df: &DataFrame, column: &str, row: usize) -> String {
    df.column(column).expect("column").str().expect("string column").get(row).expect("non-null").to_string()
}
