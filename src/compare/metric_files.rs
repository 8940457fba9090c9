//! Every metrics file that one side declares, read and flattened, with what went wrong.
//!
//! Shared by `metrics show`, `metrics diff` and `report`: a file that cannot be read is a
//! [`Problem`] (an error when it should have been readable, else a note), never a failure.
use crate::compare::metrics::{self, Flat};
use crate::compare::side::{Content, Side};
use crate::error::Result;
use churnflow_stages::{MetricsView, OutRole};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Something worth saying about one side's metrics file.
pub(crate) struct Problem {
    pub side: &'static str,
    pub path: Option<String>,
    /// `true`: the file should have been readable and was not (exit 1).
    pub error: bool,
    pub message: String,
}

impl Problem {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "side": self.side, "path": self.path,
            "severity": if self.error { "error" } else { "note" }, "message": self.message,
        })
    }
}

/// The metrics files of one side: path → (stage, flattened values), and what went wrong.
pub(crate) struct Collected {
    pub files: BTreeMap<String, Flat>,
    pub stages: BTreeMap<String, String>,
    /// How each declared file is laid out for a person (what its stage's kind says).
    pub views: BTreeMap<String, MetricsView>,
    pub problems: Vec<Problem>,
}

impl Collected {
    /// The views of both sides' files, this side's where both declare one.
    pub(crate) fn views_over(&self, other: &Collected) -> BTreeMap<String, MetricsView> {
        let mut views = other.views.clone();
        views.extend(self.views.iter().map(|(k, v)| (k.clone(), *v)));
        views
    }

    pub(crate) fn unreadable(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.error && p.path.as_deref() == Some(path))
    }
}

/// Reads and flattens every metrics file declared at `side`.
pub(crate) fn collect(side: &Side, name: &'static str) -> Result<Collected> {
    let mut c = Collected {
        files: BTreeMap::new(),
        stages: BTreeMap::new(),
        views: BTreeMap::new(),
        problems: Vec::new(),
    };
    if side.pipeline.is_none() {
        c.problems.push(Problem {
            side: name,
            path: None,
            error: false,
            message: format!("{} has no pipeline.yaml, so it declares no metrics", side.rev.label()),
        });
    }
    for (stage, out) in side.outs(|o| o.role == OutRole::Metrics) {
        c.stages.insert(out.path.clone(), stage.to_string());
        c.views.insert(out.path.clone(), out.view);
        let mut problem = |error: bool, message: String| {
            c.problems.push(Problem { side: name, path: Some(out.path.clone()), error, message })
        };
        match side.read_out(stage, out)? {
            Content::Bytes(bytes) => match metrics::parse_file(&out.path, &bytes) {
                Ok(flat) => {
                    c.files.insert(out.path.clone(), flat);
                }
                Err(e) => problem(true, format!("{}: {e}", side.rev.label())),
            },
            Content::Absent(msg) => problem(false, msg),
            Content::Unreadable(msg) => problem(true, msg),
        }
    }
    Ok(c)
}
