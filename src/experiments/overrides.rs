//! `-S key=value` overrides (DVC's syntax) and the sweeps they describe.
//!
//! A value is read as YAML (`0.3`, `gradient_boosting`, `[a, b]`, `"quoted, with comma"`).
//! Several values make a sweep: a comma list (`0.1,0.3,1`), `range(start, stop[, step])`
//! (stop excluded, as in Python and Hydra), `choice(a, b, c)`; `uniform(lo, hi)` and
//! `loguniform(lo, hi)` draw from an interval and need `--random N`. Every key must already
//! be in params.yaml, so a typo is caught (with a suggestion) before anything runs; a whole
//! number given for a key params.yaml holds as a float is that float (`1` for `1.0`).
//!
//! The experiments of a sweep are the grid (every combination, the first `-S` varying
//! slowest) or, with `--random N --seed S`, N points drawn from it without repeats.
//!
//! The rules under this syntax — range expansion and its overflow checks, interval bounds,
//! grid order, number rounding, the seeded SplitMix64 — are `churnflow_stages::search`, the
//! same ones `train.tune` reads its space with; this file keeps the text syntax and the
//! messages.
use crate::error::{did_you_mean, Error, Result};
use crate::pipeline::params::Params;
use churnflow_stages::search::{self, number, RangeError, SplitMix64};
use serde_json::Value;

/// The values one `-S` allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Choices {
    /// These values, in this order.
    Values(Vec<Value>),
    /// A number drawn from [lo, hi], uniformly or on a log scale (`--random` only).
    Interval { lo: f64, hi: f64, log: bool },
}

/// One `-S key=values`, checked against params.yaml.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub choices: Choices,
    /// The argument as given (`train.l2=0.1,0.3`), for messages.
    pub arg: String,
}

/// The overrides of one experiment, in the order they were given.
pub type Point = Vec<(String, Value)>;

/// Parses `-S` arguments; every key must be in `params`.
pub fn parse_all(args: &[String], params: &Params) -> Result<Vec<Override>> {
    let mut out: Vec<Override> = Vec::new();
    for arg in args {
        let o = parse(arg, params)?;
        if out.iter().any(|p| p.key == o.key) {
            return Err(Error::BadInput(format!("-S {}: '{}' is set twice", arg, o.key)));
        }
        out.push(o);
    }
    Ok(out)
}

/// Parses one `-S key=values`.
pub fn parse(arg: &str, params: &Params) -> Result<Override> {
    let Some((key, text)) = arg.split_once('=') else {
        return Err(Error::BadInput(format!("-S '{arg}': write key=value, e.g. -S train.l2=0.3")));
    };
    let key = key.trim().to_string();
    if params.get(&key).is_none() || key.is_empty() {
        let keys = params.keys();
        let hint = match did_you_mean(&key, keys.iter().map(String::as_str)) {
            Some(s) => format!(" (did you mean '{s}'?)"),
            None => " (experiments change values that params.yaml has; add it there first)".into(),
        };
        return Err(Error::BadInput(format!("-S {arg}: params.yaml has no key '{key}'{hint}")));
    }
    let mut choices = values(text.trim()).map_err(|why| Error::BadInput(format!("-S {arg}: {why}")))?;
    if params.get(&key).is_some_and(Value::is_f64) {
        as_floats(&mut choices);
    }
    Ok(Override { key, choices, arg: arg.to_string() })
}

/// Whole numbers as floats, for a key params.yaml writes as a float: `-S train.l2=1` against
/// `l2: 1.0` is the workspace's value, not a new one (same fingerprint, nothing re-runs).
fn as_floats(choices: &mut Choices) {
    if let Choices::Values(values) = choices {
        for v in values.iter_mut() {
            if let Some(x) = v.as_f64().filter(|_| v.is_i64() || v.is_u64()) {
                *v = serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
            }
        }
    }
}

fn values(text: &str) -> Result<Choices, String> {
    if let Some(inner) = call(text, "range") {
        return range(&inner).map(Choices::Values);
    }
    if let Some(inner) = call(text, "choice") {
        let items = split_top_level(&inner);
        if items.iter().all(|s| s.trim().is_empty()) {
            return Err("choice() needs at least one value".into());
        }
        return items.iter().map(|s| yaml_value(s)).collect::<Result<_, _>>().map(Choices::Values);
    }
    for (name, log) in [("uniform", false), ("loguniform", true)] {
        if let Some(inner) = call(text, name) {
            let nums = numbers(&inner)?;
            let [lo, hi] = nums[..] else { return Err(format!("{name}(lo, hi) takes two numbers")) };
            // Every way the bounds can fail gets the one message.
            if search::check_interval(lo, hi, log).is_err() {
                return Err(format!(
                    "{name}({lo}, {hi}): needs finite numbers with lo < hi{}",
                    if log { " and lo > 0" } else { "" }
                ));
            }
            return Ok(Choices::Interval { lo, hi, log });
        }
    }
    let parts = split_top_level(text);
    parts.iter().map(|s| yaml_value(s)).collect::<Result<_, _>>().map(Choices::Values)
}

/// The inside of `name(...)`, if `text` is such a call.
fn call(text: &str, name: &str) -> Option<String> {
    let rest = text.strip_prefix(name)?.trim_start();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.to_string())
}

fn numbers(inner: &str) -> Result<Vec<f64>, String> {
    inner
        .split(',')
        .map(|s| s.trim().parse::<f64>().map_err(|_| format!("'{}' is not a number", s.trim())))
        .collect()
}

/// The most values one `range()` may give.
const MAX_RANGE: usize = 100_000;

/// `range(start, stop[, step])`: start, start+step, … while below stop (above, for a
/// negative step), by [`search::int_range`] or [`search::float_range`]. Integers stay integers.
fn range(inner: &str) -> Result<Vec<Value>, String> {
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) {
        return Err("range(start, stop[, step]) takes two or three numbers".into());
    }
    let ints: Option<Vec<i64>> = parts.iter().map(|p| p.parse::<i64>().ok()).collect();
    let values = if let Some(ints) = ints {
        search::int_range(ints[0], ints[1], ints.get(2).copied().unwrap_or(1), MAX_RANGE)
    } else {
        let nums = numbers(inner)?;
        search::float_range(nums[0], nums[1], nums.get(2).copied().unwrap_or(1.0), MAX_RANGE)
    };
    values.map_err(|e| match e {
        RangeError::ZeroStep => "range() step must not be 0".into(),
        RangeError::NotFinite => "range() needs finite numbers and a step other than 0".into(),
        RangeError::TooMany(max) => format!("range() gives more than {max} values"),
        RangeError::Empty => {
            "range() gives no values (stop is not past start in the step's direction)".into()
        }
    })
}

/// Splits on commas outside brackets and quotes.
fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{' | '(') => depth += 1,
            (None, ']' | '}' | ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out
}

/// One value read as YAML (an empty text is `null`).
fn yaml_value(text: &str) -> Result<Value, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_yaml::from_str::<Value>(text).map_err(|e| format!("'{text}' is not a YAML value: {e}"))
}

/// How many experiments the grid of `overrides` has (`None` when a value is an interval).
pub fn grid_size(overrides: &[Override]) -> Option<usize> {
    search::grid_size(overrides.iter().map(|o| match &o.choices {
        Choices::Values(v) => Some(v.len()),
        Choices::Interval { .. } => None,
    }))
}

/// Every combination, the first override varying slowest. One point when there are none.
pub fn grid(overrides: &[Override]) -> Result<Vec<Point>> {
    let Some(n) = grid_size(overrides) else {
        return Err(Error::BadInput(
            "uniform() and loguniform() draw values at random: add --random N (and --seed S)".into(),
        ));
    };
    if n > 10_000 {
        return Err(Error::BadInput(format!(
            "the grid has {n} experiments; narrow it, or sample it with --random N"
        )));
    }
    Ok((0..n).map(|i| point_at(overrides, i)).collect())
}

/// The grid point with index `i` (mixed radix, the last override varying fastest).
fn point_at(overrides: &[Override], i: usize) -> Point {
    let lists: Vec<&Vec<Value>> = overrides
        .iter()
        .map(|o| match &o.choices {
            Choices::Values(values) => values,
            Choices::Interval { .. } => unreachable!("grid points have values"),
        })
        .collect();
    let lengths: Vec<usize> = lists.iter().map(|v| v.len()).collect();
    let digits = search::grid_digits(&lengths, i);
    overrides
        .iter()
        .zip(lists)
        .zip(digits)
        .map(|((o, values), d)| (o.key.clone(), values[d].clone()))
        .collect()
}

/// `n` points drawn with `seed`: distinct grid points when every override is a list (all of
/// them, in grid order, when the grid has at most `n`), else independent draws per key.
pub fn random(overrides: &[Override], n: usize, seed: u64) -> Vec<Point> {
    let mut rng = SplitMix64::new(seed);
    if let Some(size) = grid_size(overrides) {
        if size <= n {
            return (0..size).map(|i| point_at(overrides, i)).collect();
        }
        // Distinct grid indices, without building the grid.
        let picked = search::distinct_indices(size, n, &mut rng);
        return picked.into_iter().map(|i| point_at(overrides, i)).collect();
    }
    (0..n)
        .map(|_| {
            overrides
                .iter()
                .map(|o| {
                    let value = match &o.choices {
                        Choices::Values(v) => v[(rng.next_u64() % v.len() as u64) as usize].clone(),
                        Choices::Interval { lo, hi, log } => {
                            let x = search::scale(*lo, *hi, *log, rng.unit());
                            number(search::round_significant(x, 6))
                        }
                    };
                    (o.key.clone(), value)
                })
                .collect()
        })
        .collect()
}

/// params.yaml's values with the overrides of `point` in place: what its experiment runs with.
pub fn apply(params: &Params, point: &Point) -> Value {
    let mut root = params.root().clone();
    for (key, value) in point {
        crate::pipeline::params_edit::set_value(&mut root, key, value.clone());
    }
    root
}

/// A point as `key=value key=value`, for names and progress lines.
pub fn describe(point: &Point) -> String {
    if point.is_empty() {
        return "params.yaml as it is".into();
    }
    point
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::pipeline::params_edit::inline_yaml(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Params {
        Params::parse("train:\n  l2: 1.0\n  max_depth: 8\n  algorithm: logistic_regression\n  cols: [a]\n")
            .unwrap()
    }

    fn choices(arg: &str) -> Choices {
        parse(arg, &params()).unwrap().choices
    }

    #[test]
    fn values_lists_and_ranges_parse_as_dvc_and_hydra_write_them() {
        assert_eq!(choices("train.l2=0.3"), Choices::Values(vec![json!(0.3)]));
        assert_eq!(
            choices("train.l2=0.1,0.3,1,3"),
            Choices::Values(vec![json!(0.1), json!(0.3), json!(1.0), json!(3.0)])
        );
        // Whole numbers become floats only where params.yaml has a float.
        assert_eq!(choices("train.max_depth=4,6"), Choices::Values(vec![json!(4), json!(6)]));
        // …exactly, not rounded to 12 digits.
        assert_eq!(choices("train.l2=1234567890123"), Choices::Values(vec![json!(1234567890123.0)]));
        // A range that would overflow stops at the last value it can reach.
        assert_eq!(
            choices("train.max_depth=range(9223372036854775800,9223372036854775807,5)"),
            Choices::Values(vec![json!(9223372036854775800i64), json!(9223372036854775805i64)])
        );
        assert_eq!(
            choices("train.max_depth=range(4,12,2)"),
            Choices::Values(vec![json!(4), json!(6), json!(8), json!(10)])
        );
        assert_eq!(
            choices("train.l2=range(0.1, 0.4, 0.1)"),
            Choices::Values(vec![json!(0.1), json!(0.2), json!(0.3)])
        );
        assert_eq!(choices("train.cols=[a, b]"), Choices::Values(vec![json!(["a", "b"])]));
        assert_eq!(choices("train.cols=[a, b],[c]"), Choices::Values(vec![json!(["a", "b"]), json!(["c"])]));
        assert_eq!(
            choices("train.algorithm=choice(logistic_regression, random_forest)"),
            Choices::Values(vec![json!("logistic_regression"), json!("random_forest")])
        );
        assert_eq!(
            choices("train.l2=loguniform(0.01, 10)"),
            Choices::Interval { lo: 0.01, hi: 10.0, log: true }
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_a_suggestion() {
        let e = parse("train.l3=1", &params()).unwrap_err().to_string();
        assert!(e.contains("did you mean 'train.l2'"), "{e}");
        assert!(parse("train.l2", &params()).unwrap_err().to_string().contains("key=value"));
        assert!(parse("train.l2=range(3, 1)", &params()).is_err());
        assert!(parse("train.l2=loguniform(0, 1)", &params()).is_err());
        for infinite in
            ["train.l2=uniform(0, inf)", "train.l2=uniform(-1e308, 1e308)", "train.l2=uniform(nan, 1)"]
        {
            let e = parse(infinite, &params()).unwrap_err().to_string();
            assert!(e.contains("needs finite numbers"), "{infinite}: {e}");
        }
        let twice = parse_all(&["train.l2=1".into(), "train.l2=2".into()], &params());
        assert!(twice.unwrap_err().to_string().contains("set twice"));
    }

    #[test]
    fn the_grid_is_every_combination_with_the_first_key_slowest() {
        let o =
            parse_all(&["train.l2=0.1,1".into(), "train.max_depth=range(4,8,2)".into()], &params()).unwrap();
        let g = grid(&o).unwrap();
        let shown: Vec<String> = g.iter().map(describe).collect();
        assert_eq!(
            shown,
            [
                "train.l2=0.1 train.max_depth=4",
                "train.l2=0.1 train.max_depth=6",
                "train.l2=1.0 train.max_depth=4",
                "train.l2=1.0 train.max_depth=6"
            ]
        );
        assert_eq!(grid(&[]).unwrap(), vec![Vec::new()]);
    }

    #[test]
    fn random_points_are_distinct_seeded_and_inside_their_intervals() {
        let o = parse_all(&["train.l2=range(1,101)".into(), "train.max_depth=range(1,11)".into()], &params())
            .unwrap();
        let a = random(&o, 50, 7);
        assert_eq!(a, random(&o, 50, 7), "same seed, same sweep");
        assert_ne!(a, random(&o, 50, 8));
        let distinct: std::collections::BTreeSet<String> = a.iter().map(describe).collect();
        assert_eq!(distinct.len(), 50);
        assert_eq!(random(&o[1..], 50, 7).len(), 10, "a grid smaller than N is run whole");
        let c = parse_all(&["train.l2=loguniform(0.01,10)".into()], &params()).unwrap();
        for p in random(&c, 200, 1) {
            let x = p[0].1.as_f64().unwrap();
            assert!((0.01..=10.0).contains(&x), "{x}");
        }
        assert!(grid(&c).is_err(), "an interval has no grid");
        // What 45fccd4 drew; moving the grammar to churnflow_stages::search must not change a sweep.
        let shown: Vec<String> = random(&c, 3, 1).iter().map(describe).collect();
        assert_eq!(shown, ["train.l2=0.500824", "train.l2=1.72721", "train.l2=8.1848"]);
        let shown: Vec<String> = random(&o, 3, 1).iter().map(describe).collect();
        assert_eq!(
            shown,
            [
                "train.l2=47.0 train.max_depth=6",
                "train.l2=25.0 train.max_depth=3",
                "train.l2=59.0 train.max_depth=3"
            ]
        );
    }
}
