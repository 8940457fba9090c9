//! Reading YAML with positions: marked-yaml nodes, their line/column, and typed values.
//!
//! serde_yaml reports positions only for syntax errors; churnflow also reports semantic
//! errors (an unknown dep, a duplicate out, a bad `${}` key) at the value that caused them,
//! so the pipeline file is read as a tree of marked nodes. Scalars are typed by the YAML 1.2
//! core schema (quoted scalars stay strings; `yes`/`no` are strings).
use crate::error::Diagnostic;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, LoaderOptions, Node, Span};
use serde_json::Value;

/// 1-based (line, column) of a span's start.
pub fn loc(span: &Span) -> Option<(usize, usize)> {
    span.start().map(|m| (m.line(), m.column()))
}

/// Parses a YAML document whose top level must be a mapping.
pub fn parse(file: &str, text: &str) -> Result<Node, Diagnostic> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| load_error(file, text, e))
}

fn load_error(file: &str, text: &str, e: LoadError) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| Some((m.line(), m.column()));
    match &e {
        LoadError::TopLevelMustBeMapping(m) => {
            if text.trim().is_empty()
                || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
            {
                Diagnostic::new(file, None, "the file is empty").hint("see docs/pipeline.md for the format")
            } else {
                Diagnostic::new(file, at(m), "the top level must be a mapping of keys to values")
            }
        }
        LoadError::TopLevelMustBeSequence(m) => Diagnostic::new(file, at(m), "unexpected top level"),
        LoadError::UnexpectedAnchor(m) => {
            Diagnostic::new(file, at(m), "YAML anchors and aliases are not supported")
                .hint("write the values out")
        }
        LoadError::MappingKeyMustBeScalar(m) => {
            Diagnostic::new(file, at(m), "mapping keys must be plain strings")
        }
        LoadError::UnexpectedTag(m) => {
            Diagnostic::new(file, at(m), "YAML tags (!something) are not supported")
        }
        LoadError::ScanError(m, err) => Diagnostic::new(file, at(m), format!("invalid YAML: {err}")),
        LoadError::DuplicateKey(inner) => {
            let key = inner.key.as_str();
            Diagnostic::new(file, loc(inner.key.span()), format!("duplicate key '{key}'"))
                .hint(format!("'{key}' is already defined earlier in the same mapping; keep one"))
        }
    }
}

/// The typed value of a scalar (YAML 1.2 core schema; quoted scalars are strings).
pub fn scalar_value(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Some(b) = s.as_bool() {
        return Value::Bool(b);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    let looks_numeric =
        text.chars().next().is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if looks_numeric {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                if let Some(n) = serde_json::Number::from_f64(f) {
                    return Value::Number(n);
                }
            }
        }
    }
    Value::String(text.to_string())
}

/// Converts a node to a typed JSON value.
pub fn to_value(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_value(s),
        Node::Sequence(seq) => Value::Array(seq.iter().map(to_value).collect()),
        Node::Mapping(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.as_str().to_string(), to_value(v))).collect())
        }
    }
}

/// A short name for the node's type, for "expected X, found Y" messages.
pub fn type_name(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a single value",
        Node::Sequence(_) => "a list",
        Node::Mapping(_) => "a mapping",
    }
}

/// Finds keys of `map` that are not in `allowed`, as diagnostics with a "did you mean".
pub fn unknown_keys(file: &str, map: &MarkedMappingNode, allowed: &[&str], what: &str) -> Vec<Diagnostic> {
    map.keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| {
            let d = Diagnostic::new(file, loc(k.span()), format!("unknown key '{}' in {what}", k.as_str()));
            match crate::error::did_you_mean(k.as_str(), allowed.iter().copied()) {
                Some(s) => d.hint(format!("did you mean '{s}'?")),
                None => d.hint(format!("allowed keys: {}", allowed.join(", "))),
            }
        })
        .collect()
}
