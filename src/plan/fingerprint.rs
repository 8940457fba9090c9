//! A stage's fingerprint: blake3 over a canonical encoding of everything that decides its
//! results.
//!
//! What is in it and what is not, and why: see the design notes in [`crate::plan`].
//!
//! The key is a serialisable struct streamed as JSON into the hasher; map keys are sorted.
use crate::pipeline::resolve::{Stage, StageAction};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Bumped if the encoding below changes (every stage then reruns once).
const KEY_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ActionKey<'a> {
    Cmd(&'a [String]),
    Uses { kind: &'a str, settings: &'a Value, code_version: u32 },
}

#[derive(Serialize)]
struct StageKey<'a> {
    key_version: u32,
    action: ActionKey<'a>,
    deps: &'a BTreeMap<String, String>,
    params: &'a BTreeMap<String, Value>,
    outs: Vec<&'a str>,
    baseline: Option<&'a str>,
}

/// The fingerprint of `stage` given its deps' hashes and the baseline it would compare to.
pub fn fingerprint(stage: &Stage, deps: &BTreeMap<String, String>, baseline: Option<&str>) -> String {
    let action = match &stage.action {
        StageAction::Cmd(cmds) => ActionKey::Cmd(cmds),
        StageAction::Builtin { kind, settings, code_version, .. } => {
            ActionKey::Uses { kind, settings, code_version: *code_version }
        }
    };
    let mut outs: Vec<&str> = stage.outs.iter().map(|o| o.path.as_str()).collect();
    outs.sort_unstable();
    let key = StageKey { key_version: KEY_VERSION, action, deps, params: &stage.params, outs, baseline };
    let mut hasher = blake3::Hasher::new();
    // Writing JSON into a hasher cannot fail.
    let _ = serde_json::to_writer(&mut HashWriter(&mut hasher), &key);
    hasher.finalize().to_hex().to_string()
}

struct HashWriter<'a>(&'a mut blake3::Hasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
