//! A sweep checked before its first experiment runs: every point's params against the stage
//! kinds' own checks, and the overrides that the stage reading them ignores.
//!
//! Each point's params (params.yaml with the point's overrides, what its scratch workspace
//! will read) resolve the pipeline, as `repro` there would: a value a kind refuses
//! (`train.l2=abc`, `train.n_trees=0`) is refused here, by the same check, before anything
//! runs. A problem with a key that a `-S` set is blamed on that `-S` (params.yaml does not
//! hold the value); any other is blamed on the point, at the line of params.yaml or
//! pipeline.yaml that it is about.
//!
//! Then, for every built-in stage and every key a point sets in its params section, the kind
//! says whether it ignores the key ([`churnflow_stages::unread_by`]: `train.l2` when the
//! algorithm is `random_forest`); the sweep's points that differ only in ignored keys run
//! the same model, and one warning per key and reason says so.
use crate::error::{Diagnostic, Error, Result};
use crate::experiments::overrides::{self, describe, Override, Point};
use crate::pipeline::params::{Params, PARAMS_FILE};
use crate::pipeline::resolve::{resolve, Pipeline, StageAction};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;

/// The most problems listed when points are refused.
const MAX_PROBLEMS: usize = 10;

/// Checks every point of a sweep over `params` (params.yaml) made of `given`; returns the
/// warnings to print before it runs, or the problems of the points that cannot run
/// ([`Error::BadInput`], one line each).
pub fn check(root: &Path, params: &Params, given: &[Override], points: &[Point]) -> Result<Vec<String>> {
    let spec = Pipeline::spec(root)?;
    // Each problem once: what it says, who is blamed, and how many more points have it.
    let mut problems: Vec<(String, String, usize)> = Vec::new();
    // Per point: the keys it sets that a stage ignores; per (key, reason): the points.
    let mut ignored: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); points.len()];
    let mut groups: Vec<((&str, String), Vec<usize>)> = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let point_params = Params::from_value(overrides::apply(params, point));
        let pipeline = match resolve(root, &spec, &point_params) {
            Ok(pipeline) => pipeline,
            Err(diagnostics) => {
                for d in diagnostics {
                    let (who, what) = blame(&d, point, given, params);
                    match problems
                        .iter_mut()
                        .find(|(w, m, _)| *m == what && (*w == who || !who.starts_with("-S")))
                    {
                        Some((_, _, more)) => *more += 1,
                        None => problems.push((who, what, 0)),
                    }
                }
                continue;
            }
        };
        for stage in &pipeline.stages {
            let StageAction::Builtin { kind, params_section, .. } = &stage.action else { continue };
            let section = point_params.root().get(params_section.as_str()).unwrap_or(&Value::Null);
            for (key, _) in point {
                let Some(by) = churnflow_stages::unread_by(kind, section, key) else { continue };
                ignored[i].insert(key);
                match groups.iter_mut().find(|(g, _)| g.0 == key.as_str() && g.1 == by) {
                    Some((_, members)) if !members.contains(&i) => members.push(i),
                    Some(_) => {}
                    None => groups.push(((key.as_str(), by), vec![i])),
                }
            }
        }
    }
    if !problems.is_empty() {
        let mut lines: Vec<String> = problems
            .iter()
            .take(MAX_PROBLEMS)
            .map(|(who, what, more)| match more {
                0 => format!("{who}: {what}"),
                _ if who.starts_with("-S") => format!("{who}: {what}"),
                n => format!("{who} (and {n} more point(s)): {what}"),
            })
            .collect();
        if problems.len() > MAX_PROBLEMS {
            lines.push(format!("… and {} more", problems.len() - MAX_PROBLEMS));
        }
        return Err(Error::BadInput(lines.join("\n")));
    }
    Ok(groups
        .iter()
        .map(|((key, by), members)| {
            // The points as their stage sees them: without the keys it ignores.
            let models: HashSet<String> = members
                .iter()
                .map(|&i| {
                    let seen: Point =
                        points[i].iter().filter(|(k, _)| !ignored[i].contains(k.as_str())).cloned().collect();
                    describe(&seen)
                })
                .collect();
            let n = members.len();
            let head = format!("warning: {key} is not read by {by}");
            if models.len() == 1 && n > 1 {
                format!("{head}: the {n} {by} points with different {key} are the same model")
            } else if models.len() < n {
                format!(
                    "{head}: the {n} {by} points with different {key} are only {} different models",
                    models.len()
                )
            } else {
                let arg = given.iter().find(|o| o.key == *key).map_or(key.to_string(), |o| o.arg.clone());
                format!("{head}: -S {arg} changes nothing in the {by} point(s)")
            }
        })
        .collect())
}

/// One problem of a point: who is blamed — the `-S` that set the key it is about, else the
/// point — and what it says (at params.yaml's line for a key the point did not set).
fn blame(d: &Diagnostic, point: &Point, given: &[Override], params: &Params) -> (String, String) {
    let within = |a: &str, b: &str| a == b || a.strip_prefix(b).is_some_and(|rest| rest.starts_with('.'));
    let the_point = format!("the experiment with {}", describe(point));
    if let Some(key) = &d.key {
        let set = given
            .iter()
            .find(|o| point.iter().any(|(k, _)| *k == o.key) && (within(key, &o.key) || within(&o.key, key)));
        if let Some(o) = set {
            return (format!("-S {}", o.arg), d.message.clone());
        }
        return (the_point, Diagnostic { at: params.locate(key), hint: None, ..d.clone() }.to_string());
    }
    // Where in the point's params a problem is says nothing: they are written nowhere.
    let at = if d.file == PARAMS_FILE { None } else { d.at };
    (the_point, Diagnostic { at, hint: None, ..d.clone() }.to_string())
}
