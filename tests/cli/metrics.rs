//! `metrics show` and `metrics diff` on a git history: exact rows, cached files read from
//! the store, `--fail-on`, and bad revisions or lock files.
use crate::gitrepo::{commit_all, git, init};
use crate::support::Project;
use serde_json::{json, Value};

/// Metrics per version: numbers chosen to be exact in binary, so changes are exact too.
const M1: &str =
    r#"{"auc_roc": 0.5, "accuracy": 0.75, "model": "logreg", "fairness": {"gap": 0.25}, "old_only": 3}"#;
const M2: &str =
    r#"{"auc_roc": 0.75, "accuracy": 0.75, "model": "forest", "fairness": {"gap": 0.125}, "new_only": 7}"#;
const M3: &str = r#"{"auc_roc": 0.625, "accuracy": 0.75, "model": "forest", "fairness": {"gap": 0.125, "groups": {"age": 0.5}}, "new_only": 7}"#;

const PIPELINE: &str = r#"stages:
  fit:
    cmd: mkdir -p work && echo depth ${train.depth} > work/model.txt
    params: [split.seed]
    outs: [work/model.txt]
  evaluate:
    cmd: mkdir -p reports && cp fx/m${train.version}.json reports/metrics.json
    deps: [work/model.txt, fx]
    params: [train]
    metrics: [reports/metrics.json]
"#;

fn params(version: u32, depth: u32, other: u32, extra: &str) -> String {
    format!(
        "split:\n  seed: 7\ntrain:\n  version: {version}\n  depth: {depth}\n{extra}other:\n  x: {other}\n"
    )
}

/// Two commits (v1, then v2 with a deeper tree) and a workspace at v3 with a new param.
pub fn history() -> Project {
    let p = Project::new()
        .file("fx/m1.json", M1)
        .file("fx/m2.json", M2)
        .file("fx/m3.json", M3)
        .file("pipeline.yaml", PIPELINE)
        .file("params.yaml", &params(1, 3, 1, ""));
    init(&p);
    p.ok(&["repro"]);
    commit_all(&p, "v1");
    p.write("params.yaml", &params(2, 4, 2, ""));
    p.ok(&["repro"]);
    commit_all(&p, "v2");
    p.write("params.yaml", &params(3, 4, 3, "  lr: 0.1\n"));
    p.ok(&["repro"]);
    p
}

fn row(key: &str, old: Value, new: Value, change: Value, relative: Value) -> Value {
    json!({"path": "reports/metrics.json", "key": key, "old": old, "new": new, "change": change, "relative": relative})
}

#[test]
fn head_vs_workspace_rows_are_exact_with_a_nested_key_new_on_one_side() {
    let p = history();
    let out = p.ok(&["metrics", "diff", "--json"]).json();
    assert_eq!(out["schema"], 1);
    assert_eq!(out["old"]["rev"], "HEAD");
    assert_eq!(out["old"]["commit"], git(&p, &["rev-parse", "HEAD"]).trim());
    assert_eq!(out["new"], json!({"rev": "workspace", "commit": null}));
    assert_eq!(
        out["rows"],
        json!([
            row("auc_roc", json!(0.75), json!(0.625), json!(-0.125), json!(-0.125 / 0.75)),
            row("fairness.groups.age", Value::Null, json!(0.5), Value::Null, Value::Null),
        ])
    );
    assert_eq!(out["problems"], json!([]));
    assert_eq!(out["passed"], true);
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["schema", "old", "new", "rows", "problems", "checks", "passed"], "schema 1 is pinned");
}

#[test]
fn two_revisions_compare_old_first_with_one_sided_and_non_numeric_values() {
    let p = history();
    let out = p.ok(&["metrics", "diff", "HEAD~1", "HEAD", "--json"]).json();
    assert_eq!(out["old"]["rev"], "HEAD~1");
    assert_eq!(out["new"]["rev"], "HEAD");
    assert_eq!(
        out["rows"],
        json!([
            row("auc_roc", json!(0.5), json!(0.75), json!(0.25), json!(0.5)),
            row("fairness.gap", json!(0.25), json!(0.125), json!(-0.125), json!(-0.5)),
            row("model", json!("logreg"), json!("forest"), Value::Null, Value::Null),
            row("new_only", Value::Null, json!(7), Value::Null, Value::Null),
            row("old_only", json!(3), Value::Null, Value::Null, Value::Null),
        ])
    );
}

#[test]
fn one_revision_is_compared_with_the_workspace_and_all_includes_unchanged_rows() {
    let p = history();
    let out = p.ok(&["metrics", "diff", "HEAD~1", "--all", "--json"]).json();
    assert_eq!(out["new"]["rev"], "workspace");
    let keys: Vec<&str> =
        out["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["accuracy", "auc_roc", "fairness.gap", "fairness.groups.age", "model", "new_only", "old_only"]
    );
    assert_eq!(out["rows"][0], row("accuracy", json!(0.75), json!(0.75), json!(0), json!(0)));
}

#[test]
fn markdown_is_a_github_table_with_signed_changes() {
    let p = history();
    let md = p.ok(&["metrics", "diff", "HEAD~1", "HEAD", "--md"]).stdout();
    assert_eq!(
        md,
        "### Metrics: HEAD~1 → HEAD\n\n\
         | Path | Metric | HEAD~1 | HEAD | Change | Relative |\n\
         | --- | --- | ---: | ---: | ---: | ---: |\n\
         | reports/metrics.json | auc_roc | 0.5 | 0.75 | +0.25 | +50.00% |\n\
         | reports/metrics.json | fairness.gap | 0.25 | 0.125 | -0.125 | -50.00% |\n\
         | reports/metrics.json | model | logreg | forest | - | - |\n\
         | reports/metrics.json | new_only | - | 7 | - | - |\n\
         | reports/metrics.json | old_only | 3 | - | - | - |\n"
    );
}

#[test]
fn text_output_says_when_nothing_changed() {
    let p = history();
    commit_all(&p, "v3");
    assert_eq!(p.ok(&["metrics", "diff"]).stdout(), "No metric changed.\n");
}

#[test]
fn show_flattens_every_declared_metrics_file() {
    let p = history();
    let out = p.ok(&["metrics", "show", "--json"]).json();
    let rows = out["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows[3],
        json!({"path": "reports/metrics.json", "stage": "evaluate", "key": "fairness.groups.age", "value": 0.5})
    );
    let text = p.ok(&["metrics", "show"]).stdout();
    assert!(text.contains("reports/metrics.json  fairness.groups.age     0.5"), "{text}");
    let md = p.ok(&["metrics", "show", "--md"]).stdout();
    assert!(md.contains("| reports/metrics.json | model | forest |"), "{md}");
}

#[test]
fn fail_on_a_bound_of_the_new_value_passes_and_fails() {
    let p = history();
    p.ok(&["metrics", "diff", "HEAD~1", "HEAD", "--fail-on", "auc_roc<0.7"]);
    let r = p.run(&[
        "metrics",
        "diff",
        "HEAD~1",
        "HEAD",
        "--fail-on",
        "auc_roc<0.8",
        "--fail-on",
        "accuracy>=0.5",
    ]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("fail-on 'auc_roc<0.8' failed: reports/metrics.json#auc_roc = 0.75 < 0.8"),
        "{}",
        r.all()
    );
    assert!(r.stderr().contains("fail-on 'accuracy>=0.5' failed"), "{}", r.all());
    assert!(r.stdout().contains("auc_roc"), "the table is still printed:\n{}", r.all());
}

#[test]
fn fail_on_a_drop_against_the_old_side_in_absolute_and_relative_terms() {
    let p = history();
    // auc_roc went 0.75 -> 0.625: a drop of 0.125, or 16.67%.
    for ok in [
        "auc_roc:-0.2",
        "auc_roc:-0.125",
        "auc_roc:-20%",
        "auc_roc:+0.01",
        "reports/metrics.json#auc_roc:-0.2",
    ] {
        p.ok(&["metrics", "diff", "--fail-on", ok]);
    }
    for bad in ["auc_roc:-0.1", "auc_roc:-10%", "reports/metrics.json#auc_roc:-0.1"] {
        let r = p.run(&["metrics", "diff", "--fail-on", bad]);
        assert_eq!(r.code(), 1, "{bad}: {}", r.all());
        assert!(r.stderr().contains("reports/metrics.json#auc_roc dropped by"), "{}", r.all());
    }
    let out = p.run(&["metrics", "diff", "--json", "--fail-on", "auc_roc:-0.1"]).json();
    assert_eq!(out["passed"], false);
    assert_eq!(
        out["checks"],
        json!([{"expr": "auc_roc:-0.1", "path": "reports/metrics.json", "key": "auc_roc", "passed": false,
                "message": "reports/metrics.json#auc_roc dropped by 0.125 (limit 0.1)"}])
    );
}

#[test]
fn fail_on_a_metric_that_disappeared_fails() {
    let p = history();
    let r = p.run(&["metrics", "diff", "HEAD~1", "HEAD", "--fail-on", "old_only<1"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("reports/metrics.json#old_only has no new value"), "{}", r.all());
}

#[test]
fn bad_fail_on_expressions_and_unknown_metrics_are_usage_errors() {
    let p = history();
    let r = p.run(&["metrics", "diff", "--fail-on", "auc_roc~0.8"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("--fail-on 'auc_roc~0.8': no comparison found"), "{}", r.all());
    let r = p.run(&["metrics", "diff", "--fail-on", "auc_rco<0.8"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr().contains("no metric 'auc_rco' on either side (did you mean 'auc_roc'?)"),
        "{}",
        r.all()
    );
    assert_eq!(r.stdout(), "", "nothing is printed before a usage error");
}

#[test]
fn an_unknown_revision_is_a_usage_error() {
    let p = history();
    let r = p.run(&["metrics", "diff", "no-such-rev", "--json"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("unknown git revision 'no-such-rev'"), "{}", r.all());
    let r = p.run(&["metrics", "diff", "HEAD", "HEAD~9"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("'HEAD~9'"), "{}", r.all());
}

#[test]
fn outside_a_git_repository_diff_says_so() {
    let p = Project::new().file("fx/m1.json", M1).file("fx/m2.json", M2).file("fx/m3.json", M3);
    p.write("pipeline.yaml", PIPELINE);
    p.write("params.yaml", &params(1, 3, 1, ""));
    p.ok(&["repro"]);
    let r = p.run(&["metrics", "diff"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("is not in a git repository"), "{}", r.all());
}

#[test]
fn a_lock_from_a_newer_churnflow_at_a_revision_is_a_usage_error() {
    let p = history();
    let lock = p.read("pipeline.lock");
    p.write("pipeline.lock", &lock.replace("schema: 1", "schema: 99"));
    commit_all(&p, "future");
    p.write("pipeline.lock", &lock);
    let r = p.run(&["metrics", "diff"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr().contains("HEAD:pipeline.lock: written by a newer churnflow (lock schema 99"),
        "{}",
        r.all()
    );
    assert!(r.stderr().contains("upgrade churnflow"), "{}", r.all());
}

#[test]
fn a_lock_from_a_newer_churnflow_in_the_workspace_is_a_usage_error() {
    let p = history();
    let lock = p.read("pipeline.lock");
    p.write("pipeline.lock", &lock.replace("schema: 1", "schema: 2"));
    let r = p.run(&["metrics", "diff", "HEAD~1", "HEAD"]);
    assert_eq!(r.code(), 0, "two revisions never read the workspace lock: {}", r.all());
    let r = p.run(&["metrics", "diff"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("pipeline.lock: written by a newer churnflow (lock schema 2"), "{}", r.all());
}

#[test]
fn a_broken_pipeline_at_a_revision_names_the_revision() {
    let p = history();
    let good = p.read("pipeline.yaml");
    p.write("pipeline.yaml", "stages:\n  a:\n    dpes: [x]\n    cmd: echo\n");
    commit_all(&p, "broken");
    p.write("pipeline.yaml", &good);
    let r = p.run(&["metrics", "diff"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("HEAD:pipeline.yaml:3:5: unknown key 'dpes'"), "{}", r.all());
}

const CACHED: &str = r#"stages:
  evaluate:
    cmd: mkdir -p reports && cp fx/m${train.version}.json reports/metrics.json
    deps: [fx]
    params: [train.version]
    metrics: [{reports/metrics.json: {cache: true}}]
"#;

/// A cached metrics file: kept out of git, so a revision's values come from the store.
fn cached_history() -> Project {
    let p = Project::new()
        .file("fx/m1.json", M1)
        .file("fx/m2.json", M2)
        .file("pipeline.yaml", CACHED)
        .file("params.yaml", "train:\n  version: 1\n");
    init(&p);
    p.write(".gitignore", "artifacts/\nreports/\n");
    p.ok(&["repro"]);
    commit_all(&p, "v1");
    p.write("params.yaml", "train:\n  version: 2\n");
    p.ok(&["repro"]);
    p
}

#[test]
fn a_cached_metrics_file_at_a_revision_is_read_from_the_store() {
    let p = cached_history();
    assert!(git(&p, &["ls-files"]).lines().all(|f| !f.starts_with("reports/")), "the file is not in git");
    let out = p.ok(&["metrics", "diff", "--json"]).json();
    assert_eq!(out["rows"][0], row("auc_roc", json!(0.5), json!(0.75), json!(0.25), json!(0.5)));
}

#[test]
fn a_cached_metrics_object_missing_from_the_store_says_how_to_get_it() {
    let p = cached_history();
    std::fs::remove_dir_all(p.path("artifacts")).unwrap();
    let r = p.run(&["metrics", "diff", "--json"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    let out = r.json();
    assert_eq!(out["problems"][0]["severity"], "error");
    assert_eq!(out["problems"][0]["side"], "old");
    let msg = out["problems"][0]["message"].as_str().unwrap();
    assert!(msg.contains("reports/metrics.json at HEAD is cached (not in git) and its object"), "{msg}");
    assert!(msg.contains("git checkout HEAD && churnflow checkout evaluate"), "{msg}");
    assert!(r.stderr().contains("error: reports/metrics.json at HEAD is cached"), "{}", r.all());
    // The new side is still shown, with no old values.
    assert_eq!(out["rows"][0], row("accuracy", Value::Null, json!(0.75), Value::Null, Value::Null));
    // A check on the change cannot pass when the old side could not be read.
    let r = p.run(&["metrics", "diff", "--fail-on", "auc_roc:-0.01"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("the old side could not be read"), "{}", r.all());
}

#[test]
fn a_metrics_file_not_produced_yet_is_a_note_not_an_error() {
    let p = history();
    std::fs::remove_file(p.path("reports/metrics.json")).unwrap();
    let r = p.run(&["metrics", "diff", "--json"]);
    assert_eq!(r.code(), 0, "{}", r.all());
    let out = r.json();
    assert_eq!(out["problems"][0]["severity"], "note");
    assert!(
        out["problems"][0]["message"].as_str().unwrap().contains("does not exist in the workspace"),
        "{out}"
    );
    assert_eq!(out["rows"].as_array().unwrap().len(), 5, "every HEAD value is now one-sided: {out}");
    // Checks cannot pass on a file that is not there, whether the key was known or not.
    let r = p.run(&["metrics", "diff", "--fail-on", "auc_roc<0.1"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("reports/metrics.json#auc_roc has no new value"), "{}", r.all());
    let r = p.run(&["metrics", "diff", "--fail-on", "brand_new<0.1"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("brand_new: no new value (reports/metrics.json could not be read at workspace)"),
        "{}",
        r.all()
    );
}

#[test]
fn an_invalid_metrics_file_is_an_error_naming_it() {
    let p = history();
    p.write("reports/metrics.json", "{not json");
    let r = p.run(&["metrics", "show"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("reports/metrics.json is not valid JSON"), "{}", r.all());
}

#[test]
fn a_project_in_a_subfolder_of_the_repository_reads_its_own_files_at_a_revision() {
    let p = Project::new()
        .file("proj/fx/m1.json", M1)
        .file("proj/fx/m2.json", M2)
        .file("proj/fx/m3.json", M3)
        .file("proj/pipeline.yaml", PIPELINE)
        .file("proj/params.yaml", &params(1, 3, 1, ""));
    init(&p);
    p.ok(&["-C", "proj", "repro"]);
    commit_all(&p, "v1");
    p.write("proj/params.yaml", &params(2, 3, 1, ""));
    p.ok(&["-C", "proj", "repro"]);
    let out = p.ok(&["-C", "proj", "metrics", "diff", "--json"]).json();
    assert_eq!(out["rows"][0], row("auc_roc", json!(0.5), json!(0.75), json!(0.25), json!(0.5)));
    let params = p.ok(&["-C", "proj", "params", "diff", "--json"]).json();
    assert_eq!(
        params["rows"],
        json!([{"param": "train.version", "old": 1, "new": 2, "stages": ["evaluate"], "reruns": ["evaluate"]}])
    );
}

#[test]
fn a_hand_edited_hash_in_a_revision_lock_is_reported_not_a_panic() {
    let p = cached_history();
    let lock = p.read("pipeline.lock");
    let committed = git(&p, &["show", "HEAD:pipeline.lock"]);
    let hash =
        committed.lines().find_map(|l| l.trim().strip_prefix("hash: ")).expect("an out hash").to_string();
    p.write("pipeline.lock", &committed.replace(&hash, "ünïcødé"));
    commit_all(&p, "edited lock");
    p.write("pipeline.lock", &lock);
    let r = p.run(&["metrics", "diff"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(
        r.stderr().contains("records 'ünïcødé' as the hash of reports/metrics.json, which is not a hash"),
        "{}",
        r.all()
    );
}

#[test]
fn tables_show_four_significant_decimals_or_precision_n_and_json_every_digit() {
    const NOISY_OLD: &str =
        r#"{"profit": 4159.999999999999, "auc_roc": 0.8418427977251507, "lift": -0.0057219812328466475}"#;
    const NOISY_NEW: &str =
        r#"{"profit": 4200.5, "auc_roc": 0.8231269998896613, "lift": 0.00013582716938529546}"#;
    let pipeline =
        "stages:\n  evaluate:\n    cmd: mkdir -p reports && cp fx/m${v}.json reports/metrics.json\n    \
        deps: [fx]\n    params: [v]\n    metrics: [reports/metrics.json]\n";
    let p = Project::new()
        .file("fx/m1.json", NOISY_OLD)
        .file("fx/m2.json", NOISY_NEW)
        .file("pipeline.yaml", pipeline)
        .file("params.yaml", "v: 1\n");
    init(&p);
    p.ok(&["repro"]);
    commit_all(&p, "v1");
    let show = p.ok(&["metrics", "show"]).stdout();
    for shown in ["4160", "0.8418", "-0.005722"] {
        assert!(show.contains(shown), "{shown} in:\n{show}");
    }
    assert!(!show.contains("4159.99") && !show.contains("0.84184"), "{show}");
    p.write("params.yaml", "v: 2\n");
    p.ok(&["repro"]);
    let md = p.ok(&["metrics", "diff", "--md"]).stdout();
    for shown in [
        "| 0.8418 | 0.8231 | -0.01872 |",
        "| -0.005722 | 0.0001358 | +0.005858 |",
        "| 4160 | 4200.5 | +40.5 |",
    ] {
        assert!(md.contains(shown), "{shown} in:\n{md}");
    }
    let two = p.ok(&["metrics", "diff", "--precision", "2"]).stdout();
    assert!(two.contains("0.84") && !two.contains("0.8418"), "{two}");
    let json = p.ok(&["metrics", "diff", "--json"]).json();
    let auc = json["rows"].as_array().unwrap().iter().find(|r| r["key"] == "auc_roc").unwrap().clone();
    assert_eq!(auc["old"], 0.8418427977251507);
}
