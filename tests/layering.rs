//! The engine's layers, enforced: which folder of `src/` may use which, and no import
//! circles between files.
//!
//! Reads every `crate::…` path in `src/` (comments excluded, `use crate::a::{b, c}` groups
//! expanded), maps it to the file that defines it, and checks two things:
//!
//! 1. each file uses only the layers its own layer may use ([`LAYERS`]);
//! 2. the file-level graph of those uses has no cycle;
//! 3. a command's file never uses another command's file ([`COMMANDS_SHARED`]).
//!
//! A failure names the file, the line and the rule that was broken.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every layer (a folder of `src/`, or a top-level file), the layers it may use (besides
/// itself), and why. From the bottom up.
const LAYERS: &[(&str, &[&str], &str)] = &[
    ("pipeline", &["error"], "pipeline reads only the files the user writes"),
    ("store", &["error"], "store knows files and hashes, not stages"),
    ("error", &["compare", "store"], "error only wraps the layers' own error enums"),
    ("remote", &["error", "store"], "remote -> store: objects and run records elsewhere, nothing of stages"),
    ("plan", &["error", "pipeline", "store"], "plan -> pipeline/store"),
    (
        "exec",
        &["error", "pipeline", "plan", "remote", "store"],
        "exec -> plan -> pipeline/store; remote for repro --pull",
    ),
    ("compare", &["error", "pipeline", "store"], "compare -> pipeline/store"),
    ("report", &["error", "compare", "pipeline", "store"], "report -> compare"),
    ("serve", &["error", "store"], "serve -> store (models and the registry), nothing of the pipeline"),
    (
        "drift",
        &["error", "pipeline", "store"],
        "drift -> store (the champion's training data) and params.yaml",
    ),
    (
        "monitor",
        &["drift", "error", "serve", "store"],
        "monitor -> drift (the report), serve (its shutdown signal), store (the audit log)",
    ),
    (
        "experiments",
        &["error", "compare", "exec", "pipeline", "plan", "store"],
        "experiments -> exec (a repro in a scratch workspace), compare (its metrics files)",
    ),
    (
        "commands",
        &[
            "error",
            "compare",
            "drift",
            "exec",
            "experiments",
            "monitor",
            "pipeline",
            "plan",
            "remote",
            "report",
            "serve",
            "store",
        ],
        "nothing below cli/commands imports them; commands never import cli",
    ),
    (
        "cli",
        &[
            "error",
            "commands",
            "compare",
            "drift",
            "exec",
            "experiments",
            "monitor",
            "pipeline",
            "plan",
            "remote",
            "report",
            "serve",
            "store",
        ],
        "cli is the top",
    ),
];

/// The files of `commands/` that every command may use: `mod.rs` (the module list and the
/// output helpers several commands print with: `print_json`, `generate_data`) and
/// `table.rs` (the comparing commands' tables and format flags; not a command). Anything
/// else two commands share belongs in a layer: a command never uses another command's file,
/// its `Args` or its `run`.
const COMMANDS_SHARED: &[&str] = &["commands/mod.rs", "commands/table.rs"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Use {
    file: PathBuf,
    line: usize,
    path: Vec<String>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/plan/mod.rs` -> [plan], `src/plan/predict.rs` ->
/// [plan, predict], `src/lib.rs` -> [].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every `crate::` path in `code` (one line), with `{a, b::c}` groups expanded.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let (prefix, after) = segments(rest);
        if let Some(group) = after.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let (tail, _) = segments(item.trim());
                if !tail.is_empty() && tail[0] != "self" {
                    found.push(prefix.iter().cloned().chain(tail).collect());
                } else {
                    found.push(prefix.clone());
                }
            }
        } else {
            found.push(prefix);
        }
    }
    found
}

/// Leading `ident::ident::…` segments of `text`, and what follows the last `::`.
fn segments(text: &str) -> (Vec<String>, &str) {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        parts.push(rest[..end].to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    (parts, rest)
}

struct Crate {
    /// Module path -> file (relative to src/).
    modules: BTreeMap<Vec<String>, PathBuf>,
    uses: Vec<Use>,
}

fn read_crate() -> Crate {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut modules = BTreeMap::new();
    let mut uses = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).expect("under src/").to_path_buf();
        if rel != Path::new("main.rs") {
            modules.insert(module_of(&rel), rel.clone());
        }
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for path in crate_paths(code) {
                uses.push(Use { file: rel.clone(), line: n + 1, path });
            }
        }
    }
    Crate { modules, uses }
}

impl Crate {
    /// The file that defines the longest known module prefix of `path`.
    fn target(&self, path: &[String]) -> Option<&PathBuf> {
        (1..=path.len()).rev().find_map(|n| self.modules.get(&path[..n]))
    }
}

fn layer_of(rel: &Path) -> String {
    module_of(rel).first().cloned().unwrap_or_default()
}

/// The violations of the layer rules, one message each.
fn layer_violations(krate: &Crate) -> Vec<String> {
    let rules: BTreeMap<&str, (&[&str], &str)> =
        LAYERS.iter().map(|(layer, may, why)| (*layer, (*may, *why))).collect();
    let mut problems = Vec::new();
    for rel in krate.modules.values() {
        let layer = layer_of(rel);
        if !layer.is_empty() && !rules.contains_key(layer.as_str()) {
            problems.push(format!("src/{}: layer '{layer}' is not in the LAYERS table", rel.display()));
        }
    }
    for u in &krate.uses {
        let from = layer_of(&u.file);
        let Some((may, why)) = rules.get(from.as_str()) else { continue };
        let to = u.path.first().cloned().unwrap_or_default();
        if to == from || may.contains(&to.as_str()) || !rules.contains_key(to.as_str()) {
            continue;
        }
        let why = if matches!(to.as_str(), "cli" | "commands") {
            "nothing below cli/commands imports them"
        } else {
            why
        };
        problems.push(format!(
            "src/{}:{}: `{from}` may not use `crate::{}` (layer `{to}`); allowed: {}; rule: {why}",
            u.file.display(),
            u.line,
            u.path.join("::"),
            may.join(", "),
        ));
    }
    problems
}

/// Uses of one command's file by another file of `commands/`, one message each.
fn command_violations(krate: &Crate) -> Vec<String> {
    let mut problems = Vec::new();
    for u in krate.uses.iter().filter(|u| layer_of(&u.file) == "commands") {
        let Some(to) = krate.target(&u.path) else { continue };
        let shared = COMMANDS_SHARED.iter().any(|s| Path::new(s) == to.as_path());
        if layer_of(to) == "commands" && *to != u.file && !shared {
            problems.push(format!(
                "src/{}:{}: uses `crate::{}` of src/{}; a command never uses another command's file \
                 (move what both need into a layer; shared output only in {})",
                u.file.display(),
                u.line,
                u.path.join("::"),
                to.display(),
                COMMANDS_SHARED.join(", "),
            ));
        }
    }
    problems
}

/// File-level import cycles, each as `a.rs -> b.rs -> a.rs` with the line of every step.
fn cycles(krate: &Crate) -> Vec<String> {
    let mut edges: BTreeMap<&PathBuf, BTreeMap<&PathBuf, usize>> = BTreeMap::new();
    for u in &krate.uses {
        if let Some(to) = krate.target(&u.path) {
            if *to != u.file {
                edges.entry(&u.file).or_default().entry(to).or_insert(u.line);
            }
        }
    }
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state: BTreeMap<&PathBuf, u8> = BTreeMap::new();
    let mut found = Vec::new();
    fn visit<'a>(
        node: &'a PathBuf,
        edges: &BTreeMap<&'a PathBuf, BTreeMap<&'a PathBuf, usize>>,
        state: &mut BTreeMap<&'a PathBuf, u8>,
        stack: &mut Vec<(&'a PathBuf, usize)>,
        found: &mut Vec<String>,
    ) {
        state.insert(node, 1);
        for (&next, &line) in edges.get(node).into_iter().flatten() {
            stack.push((node, line));
            match state.get(next).copied().unwrap_or(0) {
                0 => visit(next, edges, state, stack, found),
                1 => {
                    let start = stack.iter().position(|(f, _)| *f == next).unwrap_or(0);
                    let steps: Vec<String> = stack[start..]
                        .iter()
                        .map(|(f, l)| format!("src/{}:{l}", f.display()))
                        .chain(std::iter::once(format!("src/{}", next.display())))
                        .collect();
                    found.push(steps.join(" -> "));
                }
                _ => {}
            }
            stack.pop();
        }
        state.insert(node, 2);
    }
    for file in krate.modules.values() {
        if state.get(file).copied().unwrap_or(0) == 0 {
            visit(file, &edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let krate = read_crate();
    assert!(krate.uses.len() > 100, "the scanner found too few crate:: paths: {}", krate.uses.len());
    let problems = layer_violations(&krate);
    assert!(problems.is_empty(), "layering rules broken:\n{}", problems.join("\n"));
}

#[test]
fn no_command_uses_another_command() {
    let krate = read_crate();
    let problems = command_violations(&krate);
    assert!(problems.is_empty(), "command files use each other:\n{}", problems.join("\n"));
}

#[test]
fn no_file_imports_itself_through_a_circle() {
    let krate = read_crate();
    let found = cycles(&krate);
    assert!(found.is_empty(), "import circles between files:\n{}", found.join("\n"));
}

#[test]
fn the_scanner_reads_grouped_and_nested_paths() {
    assert_eq!(
        crate_paths("use crate::store::{self, objects::Store, short_hash}; // crate::x"),
        vec![
            vec!["store".to_string()],
            vec!["store".into(), "objects".into(), "Store".into()],
            vec!["store".into(), "short_hash".into()],
            vec!["x".to_string()],
        ]
    );
    assert_eq!(crate_paths("let n = mycrate::a::b;"), Vec::<Vec<String>>::new());
    assert_eq!(module_of(Path::new("plan/mod.rs")), vec!["plan".to_string()]);
    assert_eq!(module_of(Path::new("plan/predict.rs")), vec!["plan".to_string(), "predict".into()]);
}
