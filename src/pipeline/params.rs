//! params.yaml: loading, dotted-key lookup, and `${a.b}` interpolation into strings.
//!
//! Only the values a stage declares (or interpolates) enter its fingerprint, so each lookup
//! here is recorded by the caller. Numbers render in their shortest round-trip form, strings
//! as they are, anything else as compact JSON. `\${` writes a literal `${`.
use crate::error::{did_you_mean, Diagnostic};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

pub const PARAMS_FILE: &str = "params.yaml";

/// Where the dotted key `segments` is under `node`. A map key may itself hold dots (the
/// column `customers.plan_monthly_eur` of `validation.max_null_ratio_columns`): the shortest
/// run of segments that is a key of the mapping is taken first, then longer ones.
fn locate_in(node: &marked_yaml::Node, segments: &[&str]) -> Option<(usize, usize)> {
    if segments.is_empty() {
        return crate::pipeline::yaml::loc(node.span());
    }
    let mapping = node.as_mapping()?;
    (1..=segments.len()).find_map(|n| {
        let child = mapping.get_node(&segments[..n].join("."))?;
        locate_in(child, &segments[n..])
    })
}

#[derive(Debug, Clone, Default)]
pub struct Params {
    root: Value,
    /// The file's text, to find where a key is written (for diagnostics).
    text: String,
}

impl Params {
    /// Reads params.yaml from `dir`; a missing file is an empty set of params.
    pub fn load(dir: &Path) -> Result<Params, Diagnostic> {
        let path = dir.join(PARAMS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Params::default()),
            Err(e) => return Err(Diagnostic::new(PARAMS_FILE, None, format!("cannot read: {e}"))),
        };
        Params::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Params, Diagnostic> {
        if text.trim().is_empty() {
            return Ok(Params::default());
        }
        let root: Value = serde_yaml::from_str(text).map_err(|e| {
            let at = e.location().map(|l| (l.line(), l.column()));
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Diagnostic::new(PARAMS_FILE, at, format!("invalid params: {msg}"))
        })?;
        match root {
            Value::Object(_) => Ok(Params { root, text: text.to_string() }),
            Value::Null => Ok(Params::default()),
            _ => {
                Err(Diagnostic::new(PARAMS_FILE, Some((1, 1)), "the top level must be a mapping of sections"))
            }
        }
    }

    /// Params holding `root` (a mapping of sections), written nowhere: [`Params::locate`]
    /// finds no key. An experiment's params, checked before it runs.
    pub fn from_value(root: Value) -> Params {
        Params { root, text: String::new() }
    }

    /// Where the value of a dotted key (`train.l2`) is written in params.yaml: 1-based line
    /// and column, or `None` when the key is not there.
    pub fn locate(&self, key: &str) -> Option<(usize, usize)> {
        let node = crate::pipeline::yaml::parse(PARAMS_FILE, &self.text).ok()?;
        let segments: Vec<&str> = key.split('.').collect();
        locate_in(&node, &segments)
    }

    /// Every section and value, as one tree (`null` for an empty file).
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The value at a dotted key (`train.max_depth`), or a whole section (`train`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        let mut node = &self.root;
        for part in key.split('.') {
            node = node.as_object()?.get(part)?;
        }
        Some(node)
    }

    /// Every dotted key in the file (sections and leaves), for "did you mean" hints.
    pub fn keys(&self) -> Vec<String> {
        fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
            if let Value::Object(map) = v {
                for (k, child) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    out.push(key.clone());
                    walk(&key, child, out);
                }
            }
        }
        let mut out = Vec::new();
        walk("", &self.root, &mut out);
        out
    }

    /// A diagnostic for a key that is not in params.yaml, with a suggestion.
    pub fn missing(&self, key: &str, at: Option<(usize, usize)>, what: &str) -> Diagnostic {
        let keys = self.keys();
        let d = Diagnostic::new(
            crate::pipeline::spec::PIPELINE_FILE,
            at,
            format!("{what} uses param '{key}', which params.yaml does not define"),
        );
        match did_you_mean(key, keys.iter().map(String::as_str)) {
            Some(s) => d.hint(format!("did you mean '{s}'?")),
            None => d.hint(format!("add '{key}' to params.yaml")),
        }
    }
}

/// How a param value reads inside a command or a setting.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A problem found while interpolating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    Missing(String),
    Unterminated,
    Empty,
}

/// Finds a param value by dotted key.
pub type Lookup<'a> = dyn Fn(&str) -> Option<Value> + 'a;

/// Replaces every `${key}` in `text` with its param value; records the keys used.
pub fn interpolate(text: &str, params: &Params, used: &mut BTreeSet<String>) -> Result<String, InterpError> {
    interpolate_with(text, &|k| params.get(k).cloned(), used)
}

/// Interpolates every string inside a settings value (see [`interpolate_value_with`]).
pub fn interpolate_value(
    v: &Value,
    params: &Params,
    used: &mut BTreeSet<String>,
) -> Result<Value, InterpError> {
    interpolate_value_with(v, &|k| params.get(k).cloned(), used)
}

/// A lookup in recorded param values (pipeline.lock), where a key may be stored whole or
/// inside a recorded section.
pub fn recorded_lookup(recorded: &std::collections::BTreeMap<String, Value>, key: &str) -> Option<Value> {
    if let Some(v) = recorded.get(key) {
        return Some(v.clone());
    }
    recorded.iter().find_map(|(section, value)| {
        let rest = key.strip_prefix(section.as_str())?.strip_prefix('.')?;
        let mut node = value;
        for part in rest.split('.') {
            node = node.as_object()?.get(part)?;
        }
        Some(node.clone())
    })
}

/// [`interpolate`] with any source of values.
pub fn interpolate_with(
    text: &str,
    lookup: &Lookup,
    used: &mut BTreeSet<String>,
) -> Result<String, InterpError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'\\' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or(InterpError::Unterminated)?;
        let key = after[..end].trim();
        if key.is_empty() {
            return Err(InterpError::Empty);
        }
        let value = lookup(key).ok_or_else(|| InterpError::Missing(key.to_string()))?;
        out.push_str(&render(&value));
        used.insert(key.to_string());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolates every string inside a settings value. A string that is exactly `${key}`
/// takes the param's typed value (a number stays a number).
pub fn interpolate_value_with(
    v: &Value,
    lookup: &Lookup,
    used: &mut BTreeSet<String>,
) -> Result<Value, InterpError> {
    Ok(match v {
        Value::String(s) => {
            let trimmed = s.trim();
            let whole = trimmed.strip_prefix("${").and_then(|r| r.strip_suffix('}'));
            match whole {
                Some(key) if !key.contains("${") && !key.contains('}') && !key.trim().is_empty() => {
                    let key = key.trim();
                    let value = lookup(key).ok_or_else(|| InterpError::Missing(key.to_string()))?;
                    used.insert(key.to_string());
                    value
                }
                _ => Value::String(interpolate_with(s, lookup, used)?),
            }
        }
        Value::Array(items) => Value::Array(
            items.iter().map(|i| interpolate_value_with(i, lookup, used)).collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), interpolate_value_with(v, lookup, used)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// `v` with every object's keys sorted, so equal values encode to equal bytes.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Params {
        Params::parse(text).expect("valid params")
    }

    #[test]
    fn interpolation_renders_numbers_in_shortest_form_and_records_keys() {
        let p = params("train:\n  max_depth: 6\n  lr: 0.1\n  name: \"x y\"\n");
        let mut used = BTreeSet::new();
        let s = interpolate("fit --depth ${train.max_depth} --lr ${ train.lr } ${train.name}", &p, &mut used)
            .unwrap();
        assert_eq!(s, "fit --depth 6 --lr 0.1 x y");
        assert_eq!(used.into_iter().collect::<Vec<_>>(), vec!["train.lr", "train.max_depth", "train.name"]);
    }

    #[test]
    fn escaped_interpolation_is_literal_and_uses_no_param() {
        let p = params("a: 1\n");
        let mut used = BTreeSet::new();
        assert_eq!(interpolate(r"echo \${HOME} ${a}", &p, &mut used).unwrap(), "echo ${HOME} 1");
        assert_eq!(used.len(), 1);
    }

    #[test]
    fn missing_and_unterminated_keys_are_errors() {
        let p = params("a: 1\n");
        let mut used = BTreeSet::new();
        assert_eq!(interpolate("${b.c}", &p, &mut used), Err(InterpError::Missing("b.c".into())));
        assert_eq!(interpolate("${a", &p, &mut used), Err(InterpError::Unterminated));
    }

    #[test]
    fn a_whole_string_reference_keeps_the_param_type() {
        let p = params("split:\n  test_size: 0.25\n");
        let mut used = BTreeSet::new();
        let v = interpolate_value(&serde_json::json!({"t": "${split.test_size}"}), &p, &mut used).unwrap();
        assert_eq!(v, serde_json::json!({"t": 0.25}));
    }

    #[test]
    fn yaml_syntax_errors_carry_line_and_column() {
        let err = Params::parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert_eq!(err.file, PARAMS_FILE);
        assert!(err.at.is_some(), "{err}");
    }
}
