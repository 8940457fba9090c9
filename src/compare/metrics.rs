//! Metrics values: flattening nested files to dotted keys, diffing two sides row by row, and
//! the `--fail-on` checks that let a CI step fail when a metric gets worse than a bound.
//!
//! Flattening: nested objects become dotted keys (`{"fairness": {"gap": 0.1}}` →
//! `fairness.gap`); arrays, strings, booleans and null are leaf values shown as they are.
//! Keys are sorted, so rows are stable whatever order a stage writes its keys in.
//!
//! A row's `change` is `new − old` when both are numbers, rounded to the decimals the two
//! values are written with (so 0.87 − 0.85 is 0.02, not 0.020000000000000018); `relative`
//! is `change / |old|`, null when old is 0 or either side is not a number.
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A metrics file flattened: dotted key → value, sorted by key.
pub type Flat = BTreeMap<String, Value>;

/// Flattens a value into dotted keys under `prefix` (a non-empty object adds one level
/// per key; anything else, an empty object included, is a leaf named `prefix`).
pub fn flatten(prefix: &str, value: &Value, out: &mut Flat) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// Parses a metrics file (JSON, or YAML for `.yaml`/`.yml`) and flattens it. A file whose
/// top level is not an object is refused: its values would have no names.
pub fn parse_file(path: &str, bytes: &[u8]) -> Result<Flat, String> {
    let value: Value = if path.ends_with(".yaml") || path.ends_with(".yml") {
        serde_yaml::from_slice(bytes).map_err(|e| format!("{path} is not valid YAML: {e}"))?
    } else {
        serde_json::from_slice(bytes).map_err(|e| format!("{path} is not valid JSON: {e}"))?
    };
    match &value {
        Value::Object(map) => {
            let mut flat = Flat::new();
            for (k, v) in map {
                flatten(k, v, &mut flat);
            }
            Ok(flat)
        }
        other => Err(format!(
            "{path}: a metrics file must hold a JSON object of named values, found {}",
            kind_name(other)
        )),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One compared value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub path: String,
    pub key: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl Row {
    pub fn changed(&self) -> bool {
        self.old != self.new
    }

    /// `new − old` when both are numbers.
    pub fn change(&self) -> Option<f64> {
        let (o, n) = (num(self.old.as_ref()?)?, num(self.new.as_ref()?)?);
        let decimals = decimals(o).max(decimals(n));
        Some(round_to(n - o, decimals))
    }

    /// `change / |old|`, when old is a non-zero number.
    pub fn relative(&self) -> Option<f64> {
        let o = num(self.old.as_ref()?)?;
        if o == 0.0 {
            return None;
        }
        Some(self.change()? / o.abs())
    }

    /// The row as JSON: path, key, old, new, change, relative (absent values are null).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("path".into(), Value::String(self.path.clone()));
        m.insert("key".into(), Value::String(self.key.clone()));
        m.insert("old".into(), self.old.clone().unwrap_or(Value::Null));
        m.insert("new".into(), self.new.clone().unwrap_or(Value::Null));
        m.insert("change".into(), self.change().map(number).unwrap_or(Value::Null));
        m.insert("relative".into(), self.relative().map(number).unwrap_or(Value::Null));
        Value::Object(m)
    }
}

/// A JSON number holding `x` (an integer when it is one and fits).
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// A JSON value as a number, if it is one.
pub fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Digits after the point in the shortest form of `x`.
fn decimals(x: f64) -> usize {
    let s = format!("{x}");
    s.split_once('.').map(|(_, f)| f.len()).unwrap_or(0)
}

fn round_to(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}").parse().unwrap_or(x)
}

/// Rows for every key of every file on either side; unchanged rows only with `all`.
/// `old`/`new` map a file path to its flattened values (a file missing on a side is absent).
pub fn diff(old: &BTreeMap<String, Flat>, new: &BTreeMap<String, Flat>, all: bool) -> Vec<Row> {
    let empty = Flat::new();
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut rows = Vec::new();
    for path in paths {
        let (o, n) = (old.get(path).unwrap_or(&empty), new.get(path).unwrap_or(&empty));
        let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let row = Row {
                path: path.clone(),
                key: key.clone(),
                old: o.get(key).cloned(),
                new: n.get(key).cloned(),
            };
            if all || row.changed() {
                rows.push(row);
            }
        }
    }
    rows
}

/// A value as a table cell: strings bare, numbers in shortest form, absent as `-`.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Significant decimals a person reads by default (`--precision`); JSON keeps every digit.
pub const DEFAULT_PRECISION: usize = 4;

/// `x` for a person: `precision` decimals, more below 1 so that `precision` significant
/// digits show (0.000135827 → 0.0001358), trailing zeros trimmed (4159.999999999999 → 4160).
pub fn shown(x: f64, precision: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs().log10().floor() as i64;
    let precision = precision as i64;
    let decimals = if magnitude < 0 { precision - 1 - magnitude } else { precision }.clamp(0, 17) as usize;
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

/// A metric value as a table cell: numbers [`shown`] with `precision`, the rest as [`cell`].
pub fn metric_cell(v: Option<&Value>, precision: usize) -> String {
    match v.and_then(Value::as_f64) {
        Some(x) if v.is_some_and(Value::is_number) => shown(x, precision),
        _ => cell(v),
    }
}

/// A signed change (`+0.02`, `-3`) with `precision`, or `-` when there is none.
pub fn change_cell(x: Option<f64>, precision: usize) -> String {
    match x {
        None => "-".into(),
        Some(x) if x > 0.0 => format!("+{}", shown(x, precision)),
        Some(x) => shown(x, precision),
    }
}

/// A signed percentage with two decimals (`+2.35%`), or `-`.
pub fn relative_cell(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) => format!("{:+.2}%", x * 100.0),
    }
}

/// What a `--fail-on` check compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// The new value against a constant: fails when `new OP value` holds.
    Value { op: Op, value: f64 },
    /// The change: a negative limit fails when the metric drops by more than |limit|, a
    /// positive one when it rises by more than limit. `percent`: relative to |old|.
    Change { limit: f64, percent: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
    fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// One parsed `--fail-on` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCheck {
    pub expr: String,
    /// Only this metrics file, when written `FILE#KEY`.
    pub path: Option<String>,
    pub key: String,
    pub bound: Bound,
}

pub const FAIL_ON_HELP: &str = "write KEY<VALUE, KEY<=VALUE, KEY>VALUE or KEY>=VALUE to fail when the new value \
     is beyond a bound (e.g. 'auc_roc<0.8'), or KEY:-LIMIT / KEY:+LIMIT to fail when it drops / rises by more \
     than LIMIT against the old side (e.g. 'auc_roc:-0.01', 'log_loss:+5%'); prefix FILE# to pick one metrics \
     file (e.g. 'reports/metrics.json#auc_roc')";

impl MetricCheck {
    /// Parses `KEY<0.8`, `KEY>=0.8`, `KEY:-0.01`, `KEY:+2%`, each optionally `FILE#KEY…`.
    pub fn parse(expr: &str) -> Result<MetricCheck, String> {
        let bad = |why: &str| format!("--fail-on '{expr}': {why}; {FAIL_ON_HELP}");
        let text = expr.trim();
        let (target, bound) = if let Some(i) = text.find(['<', '>']) {
            let (target, rest) = text.split_at(i);
            let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
                (Op::Le, v)
            } else if let Some(v) = rest.strip_prefix(">=") {
                (Op::Ge, v)
            } else if let Some(v) = rest.strip_prefix('<') {
                (Op::Lt, v)
            } else {
                (Op::Gt, &rest[1..])
            };
            let value =
                parse_number(value).ok_or_else(|| bad(&format!("'{}' is not a number", value.trim())))?;
            (target, Bound::Value { op, value })
        } else if let Some(i) = text.rfind(':') {
            let (target, rest) = text.split_at(i);
            let rest = rest[1..].trim();
            if !rest.starts_with(['+', '-']) {
                return Err(bad("a change limit needs a sign: '-' for a drop, '+' for a rise"));
            }
            let (digits, percent) = match rest.strip_suffix('%') {
                Some(d) => (d, true),
                None => (rest, false),
            };
            let limit =
                parse_number(digits).ok_or_else(|| bad(&format!("'{rest}' is not a signed number")))?;
            let limit = if percent { limit / 100.0 } else { limit };
            (
                target,
                Bound::Change {
                    limit: if rest.starts_with('-') { -limit.abs() } else { limit.abs() },
                    percent,
                },
            )
        } else {
            return Err(bad("no comparison found"));
        };
        let target = target.trim();
        let (path, key) = match target.rsplit_once('#') {
            Some((p, k)) => (Some(p.trim().to_string()), k.trim().to_string()),
            None => (None, target.to_string()),
        };
        if key.is_empty() || path.as_deref() == Some("") {
            return Err(bad("no metric named"));
        }
        Ok(MetricCheck { expr: text.to_string(), path, key, bound })
    }

    /// Does this check concern `row`?
    pub fn matches(&self, row: &Row) -> bool {
        row.key == self.key && self.path.as_ref().is_none_or(|p| *p == row.path)
    }

    /// Evaluates the check on one row: `Ok(note)` passes, `Err(why)` fails.
    /// `old_unreadable`: the old side of this file could not be read (not merely absent).
    pub fn evaluate(&self, row: &Row, old_unreadable: bool) -> Result<String, String> {
        let at = format!("{}#{}", row.path, row.key);
        let new = match &row.new {
            None => return Err(format!("{at} has no new value")),
            Some(v) => num(v).ok_or_else(|| format!("{at} is {}, not a number", cell(Some(v))))?,
        };
        match self.bound {
            Bound::Value { op, value } => {
                if op.holds(new, value) {
                    Err(format!("{at} = {} {} {}", number(new), op.text(), number(value)))
                } else {
                    Ok(format!("{at} = {}", number(new)))
                }
            }
            Bound::Change { limit, percent } => {
                let Some(old) = row.old.as_ref() else {
                    if old_unreadable {
                        return Err(format!(
                            "{at}: the old side could not be read, so the change is unknown"
                        ));
                    }
                    return Ok(format!("{at} = {} (no old value to compare with)", number(new)));
                };
                let Some(_) = num(old) else {
                    return Err(format!("{at}: the old value {} is not a number", cell(Some(old))));
                };
                let change = if percent {
                    match row.relative() {
                        Some(r) => r,
                        None => {
                            return Err(format!(
                                "{at}: the old value is 0, so a relative change is undefined"
                            ))
                        }
                    }
                } else {
                    row.change().unwrap_or(0.0)
                };
                let amount =
                    |x: f64| if percent { format!("{:.2}%", x * 100.0) } else { shown(x, DEFAULT_PRECISION) };
                let signed = if percent {
                    relative_cell(Some(change))
                } else {
                    change_cell(Some(change), DEFAULT_PRECISION)
                };
                let (worse, dir) = if limit.is_sign_negative() {
                    (change < limit, "drop")
                } else {
                    (change > limit, "rise")
                };
                if worse {
                    let verb = if limit.is_sign_negative() { "dropped" } else { "rose" };
                    Err(format!("{at} {verb} by {} (limit {})", amount(change.abs()), amount(limit.abs())))
                } else {
                    Ok(format!("{at} changed by {signed} (limit: a {dir} of {})", amount(limit.abs())))
                }
            }
        }
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_flatten_to_dotted_keys_and_leaves_stay_as_they_are() {
        let flat =
            parse_file("m.json", br#"{"b": {"c": 1, "d": {"e": "x"}}, "a": [1, 2], "z": {}}"#).unwrap();
        let keys: Vec<&str> = flat.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b.c", "b.d.e", "z"]);
        assert_eq!(flat["a"], json!([1, 2]));
        assert_eq!(flat["z"], json!({}));
        let odd = parse_file("m.json", br#"{"": 1, "a": {"": 2}}"#).unwrap();
        assert_eq!(odd.keys().collect::<Vec<_>>(), ["", "a."]);
        assert!(parse_file("m.json", b"{}").unwrap().is_empty());
    }

    #[test]
    fn a_metrics_file_that_is_not_an_object_is_refused() {
        assert!(parse_file("m.json", b"[1]").unwrap_err().contains("must hold a JSON object"));
        assert!(parse_file("m.json", b"{").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn numbers_show_four_significant_decimals_and_no_float_noise() {
        assert_eq!(shown(4159.999999999999, 4), "4160");
        assert_eq!(shown(-0.0057219812328466475, 4), "-0.005722");
        assert_eq!(shown(0.37037037037037035, 4), "0.3704");
        assert_eq!(shown(0.00013582716938529546, 4), "0.0001358");
        assert_eq!(shown(0.8418427977251507, 2), "0.84");
        assert_eq!(shown(1.0636, 4), "1.0636");
        assert_eq!(shown(12.5, 4), "12.5");
        assert_eq!(shown(3.0, 4), "3");
        assert_eq!(shown(-0.00000001, 4), "-0.00000001");
        assert_eq!(metric_cell(Some(&Value::from(0.84184)), 2), "0.84");
        assert_eq!(metric_cell(Some(&Value::from("abc")), 2), "abc");
        assert_eq!(metric_cell(Some(&Value::Bool(true)), 2), "true");
        assert_eq!(change_cell(Some(0.0094339622), 4), "+0.009434");
    }

    #[test]
    fn change_is_rounded_to_the_decimals_of_its_inputs() {
        let row = Row { path: "m".into(), key: "k".into(), old: Some(json!(0.85)), new: Some(json!(0.87)) };
        assert_eq!(row.change(), Some(0.02));
        assert_eq!(row.relative(), Some(0.02 / 0.85));
        let zero = Row { old: Some(json!(0)), new: Some(json!(3)), ..row.clone() };
        assert_eq!((zero.change(), zero.relative()), (Some(3.0), None));
        let text = Row { old: Some(json!("a")), new: Some(json!("b")), ..row };
        assert_eq!((text.change(), text.relative()), (None, None));
    }

    #[test]
    fn fail_on_expressions_parse_into_bounds() {
        let c = MetricCheck::parse("auc_roc<0.8").unwrap();
        assert_eq!((c.key.as_str(), c.bound), ("auc_roc", Bound::Value { op: Op::Lt, value: 0.8 }));
        let c = MetricCheck::parse("reports/m.json#fair.gap>=0.1").unwrap();
        assert_eq!(c.path.as_deref(), Some("reports/m.json"));
        assert_eq!(c.bound, Bound::Value { op: Op::Ge, value: 0.1 });
        assert_eq!(
            MetricCheck::parse("auc:-0.01").unwrap().bound,
            Bound::Change { limit: -0.01, percent: false }
        );
        assert_eq!(
            MetricCheck::parse("loss:+5%").unwrap().bound,
            Bound::Change { limit: 0.05, percent: true }
        );
        for bad in ["auc", "auc<x", "auc:0.01", "<0.8", "#a<1", "a:-"] {
            assert!(MetricCheck::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_drop_beyond_the_limit_fails_and_within_it_passes() {
        let row = Row { path: "m".into(), key: "auc".into(), old: Some(json!(0.85)), new: Some(json!(0.83)) };
        assert!(MetricCheck::parse("auc:-0.01").unwrap().evaluate(&row, false).is_err());
        assert!(MetricCheck::parse("auc:-0.05").unwrap().evaluate(&row, false).is_ok());
        assert!(
            MetricCheck::parse("auc:-0.02").unwrap().evaluate(&row, false).is_ok(),
            "exactly the limit passes"
        );
        assert!(MetricCheck::parse("auc<0.84").unwrap().evaluate(&row, false).is_err());
        assert!(MetricCheck::parse("auc<0.8").unwrap().evaluate(&row, false).is_ok());
        let new_only = Row { old: None, ..row };
        assert!(MetricCheck::parse("auc:-0.01").unwrap().evaluate(&new_only, false).is_ok());
        assert!(MetricCheck::parse("auc:-0.01").unwrap().evaluate(&new_only, true).is_err());
        let rise = Row { path: "m".into(), key: "auc".into(), old: Some(json!(0.8)), new: Some(json!(0.9)) };
        assert!(
            MetricCheck::parse("auc:-0").unwrap().evaluate(&rise, false).is_ok(),
            "-0: any drop fails, a rise passes"
        );
        assert!(MetricCheck::parse("auc:+0").unwrap().evaluate(&rise, false).is_err());
    }
}
