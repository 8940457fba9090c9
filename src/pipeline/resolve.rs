//! The resolved pipeline: every stage with its command or built-in kind, its params
//! interpolated, its deps and outs in normal form, and the params it declares with values.
//!
//! Resolution checks what the values mean: params that exist, paths inside the project,
//! outs that no two stages share, deps that some stage writes or that exist on disk.
//! Problems are collected and reported together, each at its line and column.
use crate::error::{did_you_mean, Diagnostic, Error, Result};
use crate::pipeline::params::{self, canonical, InterpError, Params, PARAMS_FILE};
use crate::pipeline::paths;
use crate::pipeline::spec::{self, ActionSpec, At, Spec, PIPELINE_FILE};
use churnflow_stages::{MetricsView, OutRole};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a stage runs.
#[derive(Debug, Clone, PartialEq)]
pub enum StageAction {
    /// Shell commands run in order by `/bin/sh -c` from the project root.
    Cmd(Vec<String>),
    /// A built-in kind from the stages crate, run in a child process of this binary.
    Builtin { kind: String, settings: Value, code_version: u32, params_section: String },
}

#[derive(Debug, Clone)]
pub struct Out {
    pub path: String,
    pub role: OutRole,
    /// Stored in `artifacts/` (and restorable), or kept only in the workspace and git.
    pub cache: bool,
    /// Not deleted before the stage runs; such a stage never uses run records.
    pub persist: bool,
    /// How a metrics out is laid out for a person (a kind says; a `cmd` stage's is the default).
    pub view: MetricsView,
    pub at: Option<(usize, usize)>,
}

/// The command or settings as written, before `${}` interpolation: lets `status` tell a
/// changed command from a changed param.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Cmd(Vec<String>),
    Settings(Value),
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub template: Template,
    pub at: Option<(usize, usize)>,
    pub action: StageAction,
    /// Normalised, deduplicated, in declaration order.
    pub deps: Vec<At<String>>,
    pub outs: Vec<Out>,
    /// Declared and interpolated params with their canonical values.
    pub params: BTreeMap<String, Value>,
    pub frozen: bool,
    pub always_changed: bool,
    /// For a stage that reads the registry's baseline champion (built-in `evaluate`, `drift`
    /// against `registry:champion`): its challenger dep (normalised) and what it is handed.
    pub baseline: Option<churnflow_stages::BaselineUse>,
    /// The out with a promotion decision that the engine applies to the registry.
    pub registry_decision: Option<String>,
}

impl Stage {
    /// May this stage be restored from (and write) run records? Not with `persist` outs,
    /// `always_changed`, uncached outs, or a registry side effect (promote). Whether a given
    /// run record is complete is [`crate::plan::restorable::run_record`]'s question.
    pub fn uses_run_records(&self) -> bool {
        !self.always_changed
            && self.outs.iter().all(|o| o.cache && !o.persist)
            && self.registry_decision.is_none()
    }

    /// Stores every out, `cache: false` ones included (an experiment's workspace): each can
    /// then be restored by `exp apply`, and each stage can share its run record with the
    /// sweep's other experiments. Fingerprints do not depend on it.
    pub fn cache_every_out(&mut self) {
        for out in &mut self.outs {
            out.cache = true;
        }
    }

    /// A one-line description of what the stage does, for `dag` and dry runs.
    pub fn action_text(&self) -> String {
        match &self.action {
            StageAction::Cmd(cmds) => cmds.join(" && "),
            StageAction::Builtin { kind, .. } => format!("uses: {kind}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

impl Pipeline {
    /// Reads and resolves pipeline.yaml and params.yaml in `root`.
    pub fn load(root: &Path) -> Result<Pipeline> {
        let spec = Pipeline::spec(root)?;
        let params = Params::load(root).map_err(Error::usage)?;
        resolve(root, &spec, &params).map_err(Error::Usage)
    }

    /// Reads and parses pipeline.yaml in `root`, unresolved (to [`resolve`] it against
    /// params other than params.yaml's: an experiment's).
    pub fn spec(root: &Path) -> Result<Spec> {
        let path = root.join(PIPELINE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::usage(
                    Diagnostic::new(PIPELINE_FILE, None, format!("no pipeline.yaml in {}", root.display()))
                        .hint("run churnflow in a project folder, or create one with 'churnflow init'"),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Error::usage(
                    Diagnostic::new(PIPELINE_FILE, None, "the file is not UTF-8 text")
                        .hint("save pipeline.yaml as UTF-8"),
                ))
            }
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        spec::parse(&text).map_err(Error::Usage)
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }
}

fn interp_error(e: InterpError, params: &Params, at: Option<(usize, usize)>, what: &str) -> Diagnostic {
    match e {
        InterpError::Missing(key) => params.missing(&key, at, what),
        InterpError::Unterminated => {
            Diagnostic::new(PIPELINE_FILE, at, format!("{what}: '${{' without a closing '}}'"))
                .hint("write ${section.key}, or \\${ for a literal '${'")
        }
        InterpError::Empty => Diagnostic::new(PIPELINE_FILE, at, format!("{what}: empty '${{}}'"))
            .hint("name a params.yaml key, e.g. ${train.max_depth}"),
    }
}

/// Resolves a parsed spec against params and the files on disk.
pub fn resolve(root: &Path, spec: &Spec, params: &Params) -> Result<Pipeline, Vec<Diagnostic>> {
    resolve_with(root, spec, params, true)
}

/// Resolves the spec and params of a git revision: the same checks as [`resolve`] except
/// those against the workspace (deps on disk, symlinks on out paths), which say nothing
/// about that revision.
pub fn resolve_at_revision(root: &Path, spec: &Spec, params: &Params) -> Result<Pipeline, Vec<Diagnostic>> {
    resolve_with(root, spec, params, false)
}

fn resolve_with(
    root: &Path,
    spec: &Spec,
    params: &Params,
    on_disk: bool,
) -> Result<Pipeline, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut stages = Vec::new();
    for s in &spec.stages {
        match resolve_stage(s, params) {
            Ok(stage) => stages.push(stage),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    check_outs(root, &stages, on_disk, &mut errors);
    if on_disk {
        check_deps(root, &stages, &mut errors);
    }
    if errors.is_empty() {
        Ok(Pipeline { stages })
    } else {
        Err(errors)
    }
}

fn resolve_stage(s: &spec::StageSpec, params: &Params) -> Result<Stage, Vec<Diagnostic>> {
    let name = &s.name.value;
    let what = format!("stage '{name}'");
    let mut errors = Vec::new();
    let mut used = BTreeSet::new();
    let mut declared: BTreeMap<String, Value> = BTreeMap::new();
    let mut deps: Vec<At<String>> = Vec::new();
    let mut outs: Vec<Out> = Vec::new();
    let mut baseline = None;
    let mut registry_decision = None;

    let template = match &s.action {
        ActionSpec::Cmd(cmds) => Template::Cmd(cmds.iter().map(|c| c.value.clone()).collect()),
        ActionSpec::Uses { with, .. } => Template::Settings(with.clone()),
    };
    let action = match &s.action {
        ActionSpec::Cmd(cmds) => {
            let mut resolved = Vec::new();
            for c in cmds {
                match params::interpolate(&c.value, params, &mut used) {
                    Ok(r) => resolved.push(r),
                    Err(e) => errors.push(interp_error(e, params, c.at, &what)),
                }
            }
            StageAction::Cmd(resolved)
        }
        ActionSpec::Uses { kind, with, with_at } => {
            let settings = match params::interpolate_value(with, params, &mut used) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(interp_error(e, params, *with_at, &what));
                    Value::Null
                }
            };
            let Some(section) = churnflow_stages::params_section(&kind.value) else {
                let d = Diagnostic::new(
                    PIPELINE_FILE,
                    kind.at,
                    format!("{what}: unknown built-in kind '{}'", kind.value),
                );
                errors.push(match did_you_mean(&kind.value, churnflow_stages::KINDS.iter().copied()) {
                    Some(k) => d.hint(format!("did you mean '{k}'?")),
                    None => d.hint(format!("built-in kinds: {}", churnflow_stages::KINDS.join(", "))),
                });
                return Err(errors);
            };
            if !errors.is_empty() {
                return Err(errors);
            }
            let section_params = params.get(section).cloned().unwrap_or(Value::Null);
            match churnflow_stages::describe(&kind.value, &settings, &section_params) {
                Ok(io) => {
                    for d in io.deps {
                        deps.push(At::new(d, *with_at));
                    }
                    for o in io.outs {
                        outs.push(Out {
                            path: o.path,
                            role: o.role,
                            cache: o.cache,
                            persist: false,
                            view: o.view,
                            at: *with_at,
                        });
                    }
                    declared.insert(io.params_section.to_string(), canonical(&section_params));
                    baseline = io.baseline.map(|b| churnflow_stages::BaselineUse {
                        challenger: b.challenger.and_then(|m| paths::normalize(&m).ok()),
                        ..b
                    });
                    registry_decision = io.registry_decision;
                    StageAction::Builtin {
                        kind: kind.value.clone(),
                        settings: canonical(&settings),
                        code_version: io.code_version,
                        params_section: io.params_section.to_string(),
                    }
                }
                Err(e) => {
                    errors.push(match &e.params_key {
                        Some(key) => Diagnostic::new(PARAMS_FILE, params.locate(key), e.message.clone())
                            .hint(format!(
                                "{what} (uses: {}) reads params section '{section}'; see docs/stages.md",
                                kind.value
                            ))
                            .about_key(key),
                        None => Diagnostic::new(PIPELINE_FILE, with_at.or(kind.at), format!("{what}: {e}"))
                            .hint(format!("see docs/stages.md for the settings of '{}'", kind.value)),
                    });
                    return Err(errors);
                }
            }
        }
    };

    for key in &used {
        if let Some(v) = params.get(key) {
            declared.insert(key.clone(), canonical(v));
        }
    }
    for p in &s.params {
        match params::interpolate(&p.value, params, &mut BTreeSet::new()) {
            Ok(key) => match params.get(&key) {
                Some(v) => {
                    declared.insert(key, canonical(v));
                }
                None => errors.push(params.missing(&key, p.at, &what)),
            },
            Err(e) => errors.push(interp_error(e, params, p.at, &what)),
        }
    }

    let mut normal = |raw: &At<String>, kind: &str| -> Option<String> {
        let text = match params::interpolate(&raw.value, params, &mut BTreeSet::new()) {
            Ok(t) => t,
            Err(e) => {
                errors.push(interp_error(e, params, raw.at, &what));
                return None;
            }
        };
        match paths::normalize(&text) {
            Ok(p) => Some(p),
            Err(msg) => {
                errors.push(Diagnostic::new(PIPELINE_FILE, raw.at, format!("{what}: {kind} {msg}")));
                None
            }
        }
    };
    let mut all_deps = Vec::new();
    for d in deps.iter().chain(s.deps.iter()) {
        if let Some(p) = normal(d, "dep") {
            if !all_deps.iter().any(|x: &At<String>| x.value == p) {
                all_deps.push(At::new(p, d.at));
            }
        }
    }
    let mut all_outs = Vec::new();
    for o in outs {
        if let Some(p) = normal(&At::new(o.path.clone(), o.at), "out") {
            all_outs.push(Out { path: p, ..o });
        }
    }
    for o in &s.outs {
        if let Some(p) = normal(&o.path, "out") {
            let cache = o.cache.unwrap_or(o.role == OutRole::Out);
            let view = MetricsView::default();
            all_outs.push(Out { path: p, role: o.role, cache, persist: o.persist, view, at: o.path.at });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Stage {
        name: name.clone(),
        template,
        at: s.name.at,
        action,
        deps: all_deps,
        outs: all_outs,
        params: declared,
        frozen: s.frozen,
        always_changed: s.always_changed,
        baseline,
        registry_decision,
    })
}

/// No two outs may be the same or nested; outs may not pass through symlinks.
fn check_outs(root: &Path, stages: &[Stage], on_disk: bool, errors: &mut Vec<Diagnostic>) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for stage in stages {
        for out in &stage.outs {
            for (other_stage, other) in &seen {
                if paths::is_within(&out.path, other) || paths::is_within(other, &out.path) {
                    let relation = if out.path == *other { "the same out as" } else { "an out nested with" };
                    let owner = if *other_stage == stage.name {
                        "itself".to_string()
                    } else {
                        format!("stage '{other_stage}'")
                    };
                    errors.push(
                        Diagnostic::new(
                            PIPELINE_FILE,
                            out.at,
                            format!(
                                "stage '{}' declares '{}', {relation} '{other}' of {owner}",
                                stage.name, out.path
                            ),
                        )
                        .hint("each file or folder must be written by exactly one stage; rename one of them"),
                    );
                }
            }
            seen.push((&stage.name, &out.path));
            if let Some(link) = on_disk.then(|| paths::symlink_on_path(root, &out.path)).flatten() {
                errors.push(
                    Diagnostic::new(
                        PIPELINE_FILE,
                        out.at,
                        format!("stage '{}' writes '{}', but '{link}' is a symlink", stage.name, out.path),
                    )
                    .hint("outs must be real files or folders inside the project; remove the symlink"),
                );
            }
        }
    }
}

/// Every dep is some stage's out (or inside one), or exists on disk.
fn check_deps(root: &Path, stages: &[Stage], errors: &mut Vec<Diagnostic>) {
    let outs: Vec<(&str, &str)> =
        stages.iter().flat_map(|s| s.outs.iter().map(move |o| (s.name.as_str(), o.path.as_str()))).collect();
    for stage in stages {
        for dep in &stage.deps {
            let producer = outs.iter().find(|(_, out)| paths::is_within(&dep.value, out));
            match producer {
                Some((owner, out)) if *owner == stage.name => errors.push(
                    Diagnostic::new(
                        PIPELINE_FILE,
                        dep.at,
                        format!("stage '{}' reads '{}', which is its own out '{out}'", stage.name, dep.value),
                    )
                    .hint("a stage cannot depend on what it writes; split it into two stages"),
                ),
                Some(_) => {}
                None => {
                    if std::fs::metadata(root.join(&dep.value)).is_err() {
                        let mut d = Diagnostic::new(
                            PIPELINE_FILE,
                            dep.at,
                            format!(
                                "stage '{}' reads '{}', which no stage writes and which does not exist",
                                stage.name, dep.value
                            ),
                        );
                        let siblings = sibling_names(root, &dep.value);
                        let candidates =
                            outs.iter().map(|(_, o)| *o).chain(siblings.iter().map(String::as_str));
                        d = match did_you_mean(&dep.value, candidates) {
                            Some(s) => d.hint(format!("did you mean '{s}'?")),
                            None => d.hint("create the file, fix the path, or add a stage that writes it"),
                        };
                        errors.push(d);
                    }
                }
            }
        }
    }
}

/// Project-relative paths of the entries next to `rel`, for "did you mean".
fn sibling_names(root: &Path, rel: &str) -> Vec<String> {
    let parent = rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let Ok(entries) = std::fs::read_dir(root.join(parent)) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .map(|n| if parent.is_empty() { n } else { format!("{parent}/{n}") })
        .collect()
}
