//! The dependency directions of the stages crate, read from the source: every `crate::…` path
//! of every file under `src/` (use items and inline paths; comments and the `#[cfg(test)]`
//! tail of a file are skipped) is resolved to the file it names, and the edges are checked:
//!
//! 1. `io/` imports neither `data/` nor `model/`;
//! 2. `data/` never imports `model/`;
//! 3. the estimators (`model/logistic.rs`, `model/tree.rs`, `model/forest.rs`,
//!    `model/boosting.rs`, `model/linfa_tree.rs`) import only the encoded matrix
//!    (`model/encoded.rs`) and `model/sampling.rs` — `forest`, `boosting` and `linfa_tree` also
//!    `tree`;
//!    The linfa adapter (`model/linfa_api.rs`) may read the estimators, but nothing imports it
//!    except `lib.rs` (which makes it public); only it and `model/linfa_tree.rs` use the linfa
//!    crates and ndarray;
//! 4. `drift/` (data drift) reads through `io` and never imports `data/`; of `model/` it uses
//!    only `model/metrics.rs` (the one ROC AUC, scikit-learn's tie rule, for the AUC on current
//!    data) and `model/file.rs` (a champion's id and label columns); `io/`, `data/` and `model/` never import `drift/`;
//!    the statistics (`drift/stattests/`, a folder module) import nothing of the crate, only each
//!    other through `super::`;
//! 5. `contract.rs` and `search.rs` (the search-space grammar the engine's `-S` shares with
//!    `train.tune`) import nothing of the crate;
//! 6. nothing imports through the crate root (`crate::Name`): `lib.rs` is the entry point on
//!    top, not a hub;
//! 7. no import cycles between files.
//!
//! A failure names the offending file:line, the path and the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One `crate::…` path: the file and line it is written on, the path, the file it names.
struct Edge {
    from: String,
    line: usize,
    path: String,
    to: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, as a path relative to it with `/` separators.
fn source_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&src_dir(), &src_dir(), &mut out);
    out.sort();
    out
}

/// The file a module path (segments after `crate::`) is declared in: the longest prefix that
/// is a file (`a/b.rs` or `a/b/mod.rs`); `lib.rs` when no prefix is one (a root item).
fn resolve(segments: &[&str], files: &BTreeSet<String>) -> String {
    for n in (1..=segments.len()).rev() {
        let base = segments[..n].join("/");
        for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if files.contains(&candidate) {
                return candidate;
            }
        }
    }
    "lib.rs".to_string()
}

/// Expands a use tree written after `crate::` (`a::b::{c, d::{self, E}}`, `a::*`, `a as b`)
/// into plain paths; `text` starts right after `crate::`. Returns the paths and the length of
/// text consumed.
fn expand(text: &str) -> (Vec<String>, usize) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut prefix = String::new();
    loop {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let ident = &text[start..i];
        if !ident.is_empty() {
            prefix.push_str(ident);
        }
        let group_here = ident.is_empty() && prefix.is_empty() && text[i..].starts_with('{');
        if group_here || text[i..].starts_with("::") {
            if !group_here {
                i += 2;
                if !ident.is_empty() {
                    prefix.push_str("::");
                }
            }
            if text[i..].starts_with('{') {
                i += 1;
                let mut paths = Vec::new();
                loop {
                    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
                        i += 1;
                    }
                    if i >= bytes.len() || bytes[i] == b'}' {
                        return (paths, i + 1);
                    }
                    let (inner, used) = expand(&text[i..]);
                    paths.extend(inner.into_iter().map(|p| {
                        if p == "self" {
                            prefix.trim_end_matches("::").to_string()
                        } else {
                            format!("{prefix}{p}")
                        }
                    }));
                    i += used.max(1);
                }
            }
            continue;
        }
        let path = prefix.trim_end_matches("::").trim_end_matches("::self").to_string();
        // Skip an `as alias` after the path.
        let rest = &text[i..];
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("as ") {
            let after = after.trim_start();
            let alias = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
            i = text.len() - after.len() + alias;
        }
        return (if path.is_empty() { vec![] } else { vec![path] }, i);
    }
}

/// The `crate::…` edges of one file.
fn edges_of(file: &str, files: &BTreeSet<String>) -> Vec<Edge> {
    let text = std::fs::read_to_string(src_dir().join(file)).unwrap();
    let mut edges = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = match code.find("//") {
            Some(at) if !code[..at].contains('"') => &code[..at],
            _ => code,
        };
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            let after = &rest[at + "crate::".len()..];
            // `churnflow_stages::…` or `some_crate::…` would end in "crate::" too.
            let is_ours = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
            // A use tree may span lines: take the rest of the statement from the file.
            let tree = if after.trim_start().starts_with('{') || after.contains("::{") {
                let offset = text.lines().take(n).map(|l| l.len() + 1).sum::<usize>()
                    + (line.len() - line.trim_start().len())
                    + (code.len() - rest.len())
                    + at
                    + "crate::".len();
                let end = text[offset..].find(';').map_or(text.len(), |e| offset + e);
                text[offset..end].to_string()
            } else {
                after.to_string()
            };
            if is_ours {
                let (paths, _) = expand(&tree);
                for path in paths {
                    let segments: Vec<&str> = path.split("::").collect();
                    let to = resolve(&segments, files);
                    if to != file {
                        edges.push(Edge {
                            from: file.to_string(),
                            line: n + 1,
                            path: format!("crate::{path}"),
                            to,
                        });
                    }
                }
            }
            rest = after;
        }
    }
    edges
}

fn folder(file: &str) -> &str {
    file.split_once('/').map_or("", |(d, _)| d)
}

/// The numerical engines the algorithms are built on.
const ENGINES: [&str; 5] =
    ["model/logistic.rs", "model/tree.rs", "model/forest.rs", "model/boosting.rs", "model/linfa_tree.rs"];

/// The folder of the algorithms: its `mod.rs` holds the trait and the table, every other file
/// is one algorithm — so a new algorithm's file is under the rules without being listed here.
const ESTIMATORS_DIR: &str = "model/estimators/";

/// Whether `file` is an algorithm (a file of [`ESTIMATORS_DIR`] other than its `mod.rs`).
fn is_algorithm(file: &str) -> bool {
    file.starts_with(ESTIMATORS_DIR) && file != "model/estimators/mod.rs"
}

/// What an algorithm may import: the trait and the table, the params, the encoded matrix, the
/// seeded streams, the engines and TreeSHAP, and the crate's error types.
fn algorithm_may_import(to: &str) -> bool {
    ENGINES.contains(&to)
        || matches!(
            to,
            "model/estimators/mod.rs"
                | "model/params.rs"
                | "model/encoded.rs"
                | "model/sampling.rs"
                | "model/tree_shap.rs"
                | "contract.rs"
        )
}

/// The files that may use the linfa crates and ndarray.
const LINFA_FILES: [&str; 2] = ["model/linfa_api.rs", "model/linfa_tree.rs"];

/// The rule an edge breaks, if any.
fn broken_rule(e: &Edge) -> Option<&'static str> {
    let (from, to) = (e.from.as_str(), e.to.as_str());
    if to == "lib.rs" && from != "lib.rs" {
        return Some("nothing imports through the crate root; name the module that declares the item");
    }
    if folder(from) == "io" && matches!(folder(to), "data" | "model") {
        return Some("io imports neither data nor model");
    }
    if folder(from) == "data" && folder(to) == "model" {
        return Some("data never imports model");
    }
    if folder(to) == "drift" && matches!(folder(from), "io" | "data" | "model") {
        return Some("io, data and model never import drift");
    }
    if from.starts_with("drift/stattests/") {
        return Some(
            "the drift statistics (drift/stattests/) are self-contained: they import only each other (super::)",
        );
    }
    if folder(from) == "drift" {
        if folder(to) == "data" {
            return Some("drift never imports data (tables are read through io)");
        }
        if folder(to) == "model" && to != "model/metrics.rs" && to != "model/file.rs" {
            return Some(
                "drift uses only model/metrics.rs (the one ROC AUC) and model/file.rs (a champion's \
                 id and label columns) of model",
            );
        }
    }
    if ENGINES.contains(&from) {
        let allowed = to == "model/encoded.rs"
            || to == "model/sampling.rs"
            || (matches!(from, "model/forest.rs" | "model/boosting.rs" | "model/linfa_tree.rs")
                && to == "model/tree.rs");
        if !allowed {
            return Some(
                "engines (logistic, tree, forest, boosting, linfa_tree) import only the encoded \
                 matrix (model/encoded.rs) and model/sampling.rs (forest, boosting and linfa_tree \
                 also model/tree.rs)",
            );
        }
    }
    if is_algorithm(from) && !algorithm_may_import(to) {
        return Some(
            "an algorithm (a file of model/estimators/) imports only model/estimators/mod.rs (the \
             trait), model/params.rs, model/encoded.rs, model/sampling.rs, the engines, \
             model/tree_shap.rs and contract.rs — never the model file, a kind or another algorithm",
        );
    }
    if to == "model/linfa_api.rs" && from != "lib.rs" {
        return Some("nothing imports the linfa adapter (model/linfa_api.rs) but lib.rs");
    }
    if from == "contract.rs" && to != "search.rs" {
        return Some("contract.rs imports nothing of the crate but the leaf search.rs (for did-you-mean)");
    }
    if from == "search.rs" {
        return Some("search.rs (the shared search-space grammar) imports nothing of the crate");
    }
    None
}

/// A cycle in the file graph, as the list of files around it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_stages_crate_keeps_its_layers() {
    let files: BTreeSet<String> = source_files().into_iter().collect();
    assert!(files.contains("io/table.rs") && files.contains("model/encoded.rs"), "layout changed: {files:?}");
    let edges: Vec<Edge> = files.iter().flat_map(|f| edges_of(f, &files)).collect();
    assert!(edges.len() > 50, "the scanner found only {} crate:: paths", edges.len());

    let mut problems: Vec<String> = edges
        .iter()
        .filter_map(|e| {
            broken_rule(e)
                .map(|rule| format!("src/{}:{}: {} -> src/{}: {rule}", e.from, e.line, e.path, e.to))
        })
        .collect();

    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &edges {
        graph.entry(e.from.clone()).or_default().insert(e.to.clone());
    }
    if let Some(cycle) = find_cycle(&graph) {
        let lines: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let e = edges.iter().find(|e| e.from == w[0] && e.to == w[1]).unwrap();
                format!("src/{}:{}: {}", e.from, e.line, e.path)
            })
            .collect();
        problems.push(format!(
            "import cycle {}: no import cycles between files ({})",
            cycle.join(" -> "),
            lines.join("; ")
        ));
    }
    assert!(problems.is_empty(), "layering rules broken:\n{}", problems.join("\n"));
}

#[test]
fn the_scanner_reads_grouped_and_aliased_use_trees() {
    let (paths, _) = expand("io::table::{self, column, Ty as T}, x");
    assert_eq!(paths, ["io::table", "io::table::column", "io::table::Ty"]);
    let (paths, _) = expand("{contract::StageError, model::{file::Model, tree}};");
    assert_eq!(paths, ["contract::StageError", "model::file::Model", "model::tree"]);
    let (paths, _) = expand("io::table::collect_streaming(lf)");
    assert_eq!(paths, ["io::table::collect_streaming"]);
}

#[test]
fn drift_may_use_the_metrics_and_the_model_file_of_model_and_nothing_else_of_it() {
    let drift_to_train = Edge {
        from: "drift/report.rs".into(),
        line: 1,
        path: "crate::model::train".into(),
        to: "model/train.rs".into(),
    };
    assert!(broken_rule(&drift_to_train).is_some());
    let drift_to_metrics = Edge { to: "model/metrics.rs".into(), ..drift_to_train };
    assert!(broken_rule(&drift_to_metrics).is_none());
    let drift_to_model_file = Edge { to: "model/file.rs".into(), ..drift_to_metrics };
    assert!(broken_rule(&drift_to_model_file).is_none());
    let model_to_drift = Edge {
        from: "model/train.rs".into(),
        line: 1,
        path: "crate::drift".into(),
        to: "drift/mod.rs".into(),
    };
    assert!(broken_rule(&model_to_drift).is_some());
    let statistic_to_io = Edge {
        from: "drift/stattests/ks.rs".into(),
        line: 1,
        path: "crate::io::table".into(),
        to: "io/table.rs".into(),
    };
    assert!(broken_rule(&statistic_to_io).is_some());
    let report_to_statistics =
        Edge { from: "drift/report.rs".into(), to: "drift/stattests/mod.rs".into(), ..statistic_to_io };
    assert!(broken_rule(&report_to_statistics).is_none());
}

#[test]
fn only_the_linfa_adapter_and_the_linfa_learner_use_the_linfa_crates() {
    let mut problems = Vec::new();
    for file in source_files() {
        if LINFA_FILES.contains(&file.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(src_dir().join(&file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("#[cfg(test)]") {
                break;
            }
            if code.starts_with("//") {
                continue;
            }
            for name in ["linfa::", "linfa_trees::", "ndarray::"] {
                let used = code.match_indices(name).any(|(at, _)| {
                    !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                });
                if used {
                    problems.push(format!("src/{file}:{}: uses {name}", n + 1));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "only {LINFA_FILES:?} use the linfa crates and ndarray:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_linfa_rules_catch_what_they_name() {
    let edge =
        |from: &str, to: &str| Edge { from: from.into(), line: 1, path: "crate::x".into(), to: to.into() };
    assert!(broken_rule(&edge("model/linfa_tree.rs", "model/tree.rs")).is_none());
    assert!(broken_rule(&edge("model/linfa_tree.rs", "model/file.rs")).is_some());
    assert!(broken_rule(&edge("model/linfa_api.rs", "model/logistic.rs")).is_none());
    assert!(broken_rule(&edge("model/train.rs", "model/linfa_api.rs")).is_some());
    assert!(broken_rule(&edge("lib.rs", "model/linfa_api.rs")).is_none());
}

#[test]
fn the_search_grammar_imports_nothing_of_the_crate() {
    let search_to_model = Edge {
        from: "search.rs".into(),
        line: 1,
        path: "crate::model::sampling".into(),
        to: "model/sampling.rs".into(),
    };
    assert!(broken_rule(&search_to_model).is_some());
    let model_to_search = Edge {
        from: "model/tuning.rs".into(),
        line: 1,
        path: "crate::search".into(),
        to: "search.rs".into(),
    };
    assert!(broken_rule(&model_to_search).is_none());
}

#[test]
fn every_file_of_the_estimators_folder_is_an_algorithm_of_the_table_and_uses_no_other() {
    let algorithms: Vec<String> = source_files().into_iter().filter(|f| is_algorithm(f)).collect();
    assert!(algorithms.len() >= 4, "found only {algorithms:?} in src/{ESTIMATORS_DIR}");
    let table = std::fs::read_to_string(src_dir().join("model/estimators/mod.rs")).unwrap();
    let stems: Vec<&str> =
        algorithms.iter().map(|f| f.trim_start_matches(ESTIMATORS_DIR).trim_end_matches(".rs")).collect();
    let mut problems = Vec::new();
    for (file, stem) in algorithms.iter().zip(&stems) {
        if !table.contains(&format!("=> {stem}::")) {
            problems.push(format!("src/{file}: no line `Variant => {stem}::Type,` in the table"));
        }
        // `super::` paths are invisible to the crate:: scanner; an algorithm reaches a sibling
        // only that way.
        let text = std::fs::read_to_string(src_dir().join(file)).unwrap();
        for other in stems.iter().filter(|o| *o != stem) {
            if text.contains(&format!("super::{other}")) {
                problems.push(format!(
                    "src/{file}: uses the algorithm {other}; algorithms never import each other"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "estimators folder:\n{}", problems.join("\n"));
}

#[test]
fn the_algorithm_rules_catch_what_they_name() {
    let edge =
        |from: &str, to: &str| Edge { from: from.into(), line: 1, path: "crate::x".into(), to: to.into() };
    assert!(broken_rule(&edge("model/estimators/random_forest.rs", "model/forest.rs")).is_none());
    assert!(broken_rule(&edge("model/estimators/random_forest.rs", "model/params.rs")).is_none());
    assert!(broken_rule(&edge("model/estimators/new_one.rs", "model/file.rs")).is_some());
    assert!(broken_rule(&edge("model/estimators/new_one.rs", "model/train.rs")).is_some());
    assert!(broken_rule(&edge("model/estimators/new_one.rs", "model/estimators/decision_tree.rs")).is_some());
    assert!(broken_rule(&edge("model/estimators/mod.rs", "model/params.rs")).is_none());
}
