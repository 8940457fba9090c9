//! pipeline.yaml as written: stages, their actions, deps, params and outs, with positions.
//!
//! This module only checks the shape of the file (known keys, right types). What the
//! values mean — params, paths, edges — is checked when the spec is resolved into a
//! [`crate::pipeline::resolve::Pipeline`].
use crate::error::Diagnostic;
use crate::pipeline::yaml::{self, loc, type_name, unknown_keys};
use churnflow_stages::OutRole;
use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;
use serde_json::Value;

pub const PIPELINE_FILE: &str = "pipeline.yaml";

/// A value with the 1-based (line, column) where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub at: Option<(usize, usize)>,
}

impl<T> At<T> {
    pub fn new(value: T, at: Option<(usize, usize)>) -> Self {
        At { value, at }
    }
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub stages: Vec<StageSpec>,
}

#[derive(Debug, Clone)]
pub enum ActionSpec {
    /// One or more shell commands, run in order from the project root.
    Cmd(Vec<At<String>>),
    /// A built-in kind and its `with:` settings.
    Uses { kind: At<String>, with: Value, with_at: Option<(usize, usize)> },
}

#[derive(Debug, Clone)]
pub struct OutSpec {
    pub path: At<String>,
    pub role: OutRole,
    pub cache: Option<bool>,
    pub persist: bool,
}

#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: At<String>,
    pub action: ActionSpec,
    pub deps: Vec<At<String>>,
    pub params: Vec<At<String>>,
    pub outs: Vec<OutSpec>,
    pub frozen: bool,
    pub always_changed: bool,
}

const STAGE_KEYS: &[&str] = &[
    "cmd",
    "uses",
    "with",
    "deps",
    "params",
    "outs",
    "metrics",
    "plots",
    "desc",
    "frozen",
    "always_changed",
];
const OUT_OPTIONS: &[&str] = &["cache", "persist", "desc"];

/// Parses the text of pipeline.yaml. Collects every problem it can find.
pub fn parse(text: &str) -> Result<Spec, Vec<Diagnostic>> {
    let file = PIPELINE_FILE;
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(vec![Diagnostic::new(file, None, "the file is empty")
            .hint("declare the stages under 'stages:' (see docs/pipeline.md)")]);
    }
    let root = yaml::parse(file, text).map_err(|d| vec![d])?;
    let mut errors = Vec::new();
    let Some(top) = root.as_mapping() else {
        return Err(vec![Diagnostic::new(file, loc(root.span()), "the top level must be a mapping")]);
    };
    errors.extend(unknown_keys(file, top, &["stages"], "the top level"));
    let stages_node = match top.get_node("stages") {
        Some(n) => n,
        None => {
            errors.push(
                Diagnostic::new(file, loc(top.span()), "no 'stages:' mapping")
                    .hint("declare at least one stage under 'stages:' (see docs/pipeline.md)"),
            );
            return Err(errors);
        }
    };
    let stages_map = match stages_node {
        Node::Mapping(m) if !m.is_empty() => m,
        Node::Mapping(_) => {
            errors.push(
                Diagnostic::new(file, loc(stages_node.span()), "the pipeline has no stages")
                    .hint("declare at least one stage under 'stages:'"),
            );
            return Err(errors);
        }
        Node::Scalar(s) if s.as_str().is_empty() => {
            errors.push(
                Diagnostic::new(file, loc(stages_node.span()), "the pipeline has no stages")
                    .hint("declare at least one stage under 'stages:'"),
            );
            return Err(errors);
        }
        other => {
            errors.push(Diagnostic::new(
                file,
                loc(other.span()),
                format!("'stages' must be a mapping of stage names to stages, found {}", type_name(other)),
            ));
            return Err(errors);
        }
    };
    let mut stages = Vec::new();
    for (name, node) in stages_map.iter() {
        let name_at = At::new(name.as_str().to_string(), loc(name.span()));
        if !valid_stage_name(&name_at.value) {
            errors.push(
                Diagnostic::new(file, name_at.at, format!("invalid stage name '{}'", name_at.value))
                    .hint("use letters, digits, '_' and '-' only"),
            );
            continue;
        }
        match parse_stage(name_at, node) {
            Ok(stage) => stages.push(stage),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(Spec { stages })
    } else {
        Err(errors)
    }
}

fn valid_stage_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_stage(name: At<String>, node: &Node) -> Result<StageSpec, Vec<Diagnostic>> {
    let file = PIPELINE_FILE;
    let Some(map) = node.as_mapping() else {
        return Err(vec![Diagnostic::new(
            file,
            loc(node.span()),
            format!(
                "stage '{}' must be a mapping with 'cmd' or 'uses', found {}",
                name.value,
                type_name(node)
            ),
        )]);
    };
    let what = format!("stage '{}'", name.value);
    let mut errors = unknown_keys(file, map, STAGE_KEYS, &what);

    let action = match (map.get_node("cmd"), map.get_node("uses")) {
        (Some(_), Some(uses)) => {
            errors.push(
                Diagnostic::new(file, loc(uses.span()), format!("{what} has both 'cmd' and 'uses'")).hint(
                    "a stage either runs a shell command ('cmd') or a built-in kind ('uses'); keep one",
                ),
            );
            None
        }
        (None, None) => {
            errors.push(
                Diagnostic::new(file, name.at, format!("{what} has neither 'cmd' nor 'uses'"))
                    .hint("add 'cmd: <shell command>' or 'uses: <built-in kind>' with its 'with:' settings"),
            );
            None
        }
        (Some(cmd), None) => {
            if let Some(with) = map.get_node("with") {
                errors.push(
                    Diagnostic::new(
                        file,
                        loc(with.span()),
                        format!("{what}: 'with' goes with 'uses', not 'cmd'"),
                    )
                    .hint("pass values to a command with ${param.key} in 'cmd'"),
                );
            }
            parse_cmd(&what, cmd).map_err(|d| errors.push(d)).ok()
        }
        (None, Some(uses)) => match uses.as_scalar() {
            Some(kind) if !kind.as_str().is_empty() => {
                let (with, with_at) = match map.get_node("with") {
                    None => (Value::Object(Default::default()), None),
                    Some(w @ Node::Mapping(_)) => (yaml::to_value(w), loc(w.span())),
                    Some(w) => {
                        errors.push(Diagnostic::new(
                            file,
                            loc(w.span()),
                            format!("{what}: 'with' must be a mapping of settings, found {}", type_name(w)),
                        ));
                        (Value::Null, None)
                    }
                };
                Some(ActionSpec::Uses {
                    kind: At::new(kind.as_str().to_string(), loc(kind.span())),
                    with,
                    with_at,
                })
            }
            _ => {
                errors.push(Diagnostic::new(
                    file,
                    loc(uses.span()),
                    format!("{what}: 'uses' must name a built-in kind"),
                ));
                None
            }
        },
    };

    let deps = string_list(map, "deps", &what, &mut errors);
    let params = string_list(map, "params", &what, &mut errors);
    let mut outs = Vec::new();
    for (key, role) in [("outs", OutRole::Out), ("metrics", OutRole::Metrics), ("plots", OutRole::Plots)] {
        outs.extend(out_list(map, key, role, &what, &mut errors));
    }
    let frozen = flag(map, "frozen", &what, &mut errors);
    let always_changed = flag(map, "always_changed", &what, &mut errors);

    match action {
        Some(action) if errors.is_empty() => {
            Ok(StageSpec { name, action, deps, params, outs, frozen, always_changed })
        }
        _ => Err(errors),
    }
}

fn parse_cmd(what: &str, node: &Node) -> Result<ActionSpec, Diagnostic> {
    let file = PIPELINE_FILE;
    let bad = |n: &Node| {
        Diagnostic::new(
            file,
            loc(n.span()),
            format!("{what}: 'cmd' must be a string or a list of strings, found {}", type_name(n)),
        )
    };
    match node {
        Node::Scalar(s) if !s.as_str().trim().is_empty() => {
            Ok(ActionSpec::Cmd(vec![At::new(s.as_str().to_string(), loc(s.span()))]))
        }
        Node::Scalar(s) => Err(Diagnostic::new(file, loc(s.span()), format!("{what}: 'cmd' is empty"))),
        Node::Sequence(seq) if !seq.is_empty() => {
            let mut cmds = Vec::new();
            for item in seq.iter() {
                match item.as_scalar() {
                    Some(s) if !s.as_str().trim().is_empty() => {
                        cmds.push(At::new(s.as_str().to_string(), loc(s.span())))
                    }
                    _ => return Err(bad(item)),
                }
            }
            Ok(ActionSpec::Cmd(cmds))
        }
        other => Err(bad(other)),
    }
}

fn flag(map: &MarkedMappingNode, key: &str, what: &str, errors: &mut Vec<Diagnostic>) -> bool {
    match map.get_node(key) {
        None => false,
        Some(Node::Scalar(s)) if s.as_bool().is_some() => s.as_bool().unwrap_or(false),
        Some(n) => {
            errors.push(Diagnostic::new(
                PIPELINE_FILE,
                loc(n.span()),
                format!("{what}: '{key}' must be true or false"),
            ));
            false
        }
    }
}

fn string_list(
    map: &MarkedMappingNode,
    key: &str,
    what: &str,
    errors: &mut Vec<Diagnostic>,
) -> Vec<At<String>> {
    let mut out = Vec::new();
    match map.get_node(key) {
        None => {}
        Some(Node::Sequence(seq)) => {
            for item in seq.iter() {
                match item {
                    Node::Scalar(s) if !s.as_str().is_empty() => {
                        out.push(At::new(s.as_str().to_string(), loc(s.span())))
                    }
                    other => errors.push(Diagnostic::new(
                        PIPELINE_FILE,
                        loc(other.span()),
                        format!(
                            "{what}: each entry of '{key}' must be a non-empty string, found {}",
                            type_name(other)
                        ),
                    )),
                }
            }
        }
        Some(Node::Scalar(s)) if s.as_str().is_empty() => {}
        Some(other) => errors.push(
            Diagnostic::new(
                PIPELINE_FILE,
                loc(other.span()),
                format!("{what}: '{key}' must be a list, found {}", type_name(other)),
            )
            .hint(format!("write it as '{key}: [a, b]' or one '- item' per line")),
        ),
    }
    out
}

fn out_list(
    map: &MarkedMappingNode,
    key: &str,
    role: OutRole,
    what: &str,
    errors: &mut Vec<Diagnostic>,
) -> Vec<OutSpec> {
    let file = PIPELINE_FILE;
    let mut outs = Vec::new();
    let seq = match map.get_node(key) {
        None => return outs,
        Some(Node::Sequence(seq)) => seq,
        Some(Node::Scalar(s)) if s.as_str().is_empty() => return outs,
        Some(other) => {
            errors.push(Diagnostic::new(
                file,
                loc(other.span()),
                format!("{what}: '{key}' must be a list, found {}", type_name(other)),
            ));
            return outs;
        }
    };
    for item in seq.iter() {
        match item {
            Node::Scalar(s) if !s.as_str().is_empty() => outs.push(OutSpec {
                path: At::new(s.as_str().to_string(), loc(s.span())),
                role,
                cache: None,
                persist: false,
            }),
            Node::Mapping(m) if m.len() == 1 => {
                let Some((path, options)) = m.iter().next() else { continue };
                let mut out = OutSpec {
                    path: At::new(path.as_str().to_string(), loc(path.span())),
                    role,
                    cache: None,
                    persist: false,
                };
                match options {
                    Node::Mapping(opts) => {
                        errors.extend(unknown_keys(file, opts, OUT_OPTIONS, &format!("the options of '{}'", path.as_str())));
                        let opt_what = format!("{what}, out '{}'", path.as_str());
                        if opts.get_node("cache").is_some() {
                            out.cache = Some(flag(opts, "cache", &opt_what, errors));
                        }
                        out.persist = flag(opts, "persist", &opt_what, errors);
                    }
                    Node::Scalar(s) if s.as_str().is_empty() => {}
                    other => errors.push(Diagnostic::new(
                        file,
                        loc(other.span()),
                        format!("{what}: the options of '{}' must be a mapping", path.as_str()),
                    )),
                }
                outs.push(out);
            }
            other => errors.push(
                Diagnostic::new(
                    file,
                    loc(other.span()),
                    format!("{what}: each entry of '{key}' must be a path or a one-key map 'path: {{options}}'"),
                )
                .hint(format!("for example '{key}: [reports/metrics.json]' or '{key}: [{{reports/m.json: {{cache: false}}}}]'")),
            ),
        }
    }
    outs
}
