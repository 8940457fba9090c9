//! The whole built-in pipeline through the engine: generate -> ... -> promote, the registry,
//! `score` and `models`.
use crate::support::Project;

fn project() -> Project {
    crate::support::demo_project(1500, 11)
}

fn set_param(p: &Project, from: &str, to: &str) {
    let text = p.read("params.yaml");
    assert!(text.contains(from), "params.yaml has no '{from}'");
    p.write("params.yaml", &text.replacen(from, to, 1));
}

#[test]
fn the_demo_pipeline_promotes_a_first_champion_and_then_is_fresh() {
    let p = project();
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("8 ran"), "{}", r.all());
    assert!(r.stderr().contains("promoted model"), "{}", r.all());
    assert!(r.stderr().contains("drift: done in"), "{}", r.all());
    let drift: serde_json::Value = serde_json::from_str(&p.read("reports/drift_metrics.json")).unwrap();
    assert_eq!(drift["compared"], false, "no champion to compare the first month with");
    let metrics: serde_json::Value = serde_json::from_str(&p.read("reports/metrics.json")).unwrap();
    let auc = metrics["auc_roc"].as_f64().unwrap();
    assert!(auc > 0.75, "demo AUC {auc}");
    assert!(p.read("reports/model_card.md").contains("Model card"));
    let list = p.ok(&["models", "list", "--json"]).json();
    assert_eq!(list["events"].as_array().unwrap().len(), 1);
    assert!(list["champion"].is_string());
    // Promoting the challenger does not make its own evaluation stale: no rerun loop.
    let again = p.ok(&["repro"]);
    assert!(again.stderr().contains("0 ran, 0 restored, 8 up to date"), "{}", again.all());
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
    p.ok(&["models", "verify"]);
}

/// While the challenger a stage compares is missing (a fresh clone before `checkout`), the
/// champion it will be compared with is unknown: status says the model is missing, and does
/// not invent a baseline change.
#[test]
fn a_missing_challenger_is_not_reported_as_a_baseline_change() {
    let p = project();
    p.ok(&["repro"]);
    set_param(&p, "l2: 1.0", "l2: 0.3");
    p.ok(&["repro"]); // a second champion: evaluate's baseline is now the first one
    std::fs::remove_file(p.path("models/model.json")).unwrap();
    let status = p.ok(&["status"]).stdout();
    assert!(status.contains("train: out models/model.json is missing"), "{status}");
    assert!(!status.contains("baseline champion changed"), "{status}");
    p.ok(&["checkout"]);
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}

#[test]
fn retuning_retrains_and_evaluates_against_the_current_champion() {
    let p = project();
    p.ok(&["repro"]);
    let champion = p.ok(&["models", "list", "--json"]).json()["champion"].clone();
    set_param(&p, "l2: 1.0", "l2: 0.3");
    let status = p.ok(&["status"]).stdout();
    assert!(status.contains("train: param train.l2 1.0 -> 0.3"), "{status}");
    assert!(!status.contains("features:"), "{status}");
    let r = p.ok(&["repro"]);
    // train, evaluate, promote, and drift (against the champion now there is one)
    assert!(r.stderr().contains("4 ran, 0 restored, 4 up to date"), "{}", r.all());
    let comparison: serde_json::Value = serde_json::from_str(&p.read("reports/comparison.json")).unwrap();
    assert_eq!(comparison["status"], "compared", "{comparison}");
    let events = p.ok(&["models", "list", "--json"]).json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["baseline"], champion, "the challenger was compared with the champion");
    let again = p.ok(&["repro"]);
    assert!(again.stderr().contains("0 ran"), "{}", again.all());
}

#[test]
fn a_challenger_that_fails_a_gate_is_recorded_not_promoted_and_exits_0() {
    let p = project();
    set_param(&p, "min_auc_roc: 0.75", "min_auc_roc: 0.999");
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("not promoted"), "{}", r.all());
    let decision: serde_json::Value = serde_json::from_str(&p.read("reports/promotion.json")).unwrap();
    assert_eq!(decision["promote"], false);
    let list = p.ok(&["models", "list", "--json"]).json();
    assert!(list["champion"].is_null());
    assert_eq!(list["events"][0]["action"], "reject");
    let r = p.run(&["score", "--input", "data/features.parquet", "--output", "scores.csv"]);
    assert_eq!(r.code(), 2, "no champion to score with:\n{}", r.all());
}

#[test]
fn score_with_the_registry_champion_writes_one_row_per_customer() {
    let p = project();
    p.ok(&["repro"]);
    let s = p
        .ok(&[
            "score",
            "--model",
            "registry:champion",
            "--input",
            "data/features.parquet",
            "--output",
            "out/scores.csv",
            "--json",
        ])
        .json();
    assert_eq!(s["rows"], 1500);
    let csv = p.read("out/scores.csv");
    let header = csv.lines().next().unwrap();
    assert_eq!(header, "customer_id,churn_probability,churn_prediction,risk_tier");
    assert_eq!(csv.lines().count(), 1501);
    // The champion's bytes live in registry/, so scoring works without the store.
    std::fs::remove_dir_all(p.path("artifacts")).unwrap();
    p.ok(&["score", "--input", "data/features.parquet", "--output", "out/again.parquet"]);
    assert!(p.path("out/again.parquet").is_file());
}

#[test]
fn score_names_missing_columns_and_exits_2() {
    let p = project();
    p.ok(&["repro"]);
    let r = p.run(&["score", "--input", "data/raw/customers.csv", "--output", "x.csv"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("missing columns the model needs: recency_days"), "{}", r.all());
}

#[test]
fn rollback_restores_the_previous_champion_and_is_audited() {
    let p = project();
    p.ok(&["repro"]);
    let first = p.ok(&["models", "list", "--json"]).json()["champion"].clone();
    set_param(&p, "l2: 1.0", "l2: 0.3");
    set_param(&p, "max_auc_drop: 0.01", "max_auc_drop: 1.0");
    set_param(&p, "require_ci_above: -0.02", "require_ci_above: -1.0");
    p.ok(&["repro"]);
    let second = p.ok(&["models", "list", "--json"]).json()["champion"].clone();
    assert_ne!(first, second);
    p.ok(&["models", "rollback", "--reason", "second model misbehaves"]);
    let list = p.ok(&["models", "list", "--json"]).json();
    assert_eq!(list["champion"], first);
    assert_eq!(list["events"].as_array().unwrap().last().unwrap()["action"], "rollback");
    p.ok(&["models", "verify"]);
}

#[test]
fn a_tampered_audit_log_fails_verification() {
    let p = project();
    p.ok(&["repro"]);
    let log = p.read("registry/audit.jsonl").replace("\"promote\"", "\"reject\"");
    p.write("registry/audit.jsonl", &log);
    let r = p.run(&["models", "verify"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("registry verification failed"), "{}", r.all());
}

#[test]
fn init_scaffolds_projects_that_run_at_once() {
    let p = Project::new();
    p.ok(&["init", "events-demo"]);
    p.ok(&["init", "telco-demo", "--example", "telco"]);
    for (dir, stages) in [("events-demo", 8), ("telco-demo", 7)] {
        let r = p.ok(&["-C", dir, "repro"]);
        assert!(r.stderr().contains(&format!("{stages} ran")), "{dir}:\n{}", r.all());
        assert!(p.read(&format!("{dir}/.gitignore")).contains("/artifacts/"));
    }
    let again = p.run(&["init", "events-demo"]);
    assert_eq!(again.code(), 2, "init refuses to overwrite a project:\n{}", again.all());
}

#[test]
fn init_makes_a_git_repository_unless_it_is_inside_one_already() {
    let p = Project::new();
    let r = p.ok(&["init", "alone"]);
    assert!(p.path("alone/.git").is_dir(), "{}", r.all());
    assert!(r.stdout().contains("initialised a git repository"), "{}", r.all());
    assert!(r.stdout().contains("git commit"), "the next step says how to get a side to diff against");
    // the tour's hand-made files are ignored, so `git status` stays about the pipeline
    p.ok(&["-C", "alone", "repro"]);
    p.ok(&["-C", "alone", "report"]);
    p.ok(&["-C", "alone", "score", "--input", "data/features.parquet", "--output", "scores.csv"]);
    let out = std::process::Command::new("git")
        .args(["-C", "alone", "status", "--porcelain", "--untracked-files=all"])
        .current_dir(p.root())
        .output()
        .expect("git status");
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(p.path("alone/reports/index.html").is_file() && p.path("alone/scores.csv").is_file());
    assert!(!status.contains("index.html") && !status.contains("scores.csv"), "{status}");
    crate::gitrepo::git(&p, &["init", "-q"]);
    let r = p.ok(&["init", "inside"]);
    assert!(!p.path("inside/.git").exists(), "no repository nested in the user's own");
    assert!(!r.stdout().contains("initialised a git repository"), "{}", r.all());
}

#[test]
fn a_promotion_refused_by_the_registry_records_nothing_and_is_retried() {
    let p = project();
    p.ok(&["repro"]);
    // The registry changes between this challenger's evaluation and its promotion (here it is
    // reset, so the baseline the challenger was compared against is no longer the baseline).
    set_param(&p, "l2: 1.0", "l2: 0.3");
    p.ok(&["repro", "evaluate"]);
    std::fs::remove_dir_all(p.path("registry")).unwrap();
    let r = p.run(&["repro", "--single-item", "promote"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("registry changed since this challenger was evaluated"), "{}", r.all());
    let status = p.ok(&["status"]).stdout();
    assert!(status.contains("promote:"), "promote must not be recorded as fresh:\n{status}");
    // The next full repro re-evaluates against the registry as it now is, and decides again.
    let again = p.ok(&["repro"]);
    assert!(again.stderr().contains("evaluate: done"), "{}", again.all());
    assert!(again.stderr().contains("promoted model"), "{}", again.all());
}
