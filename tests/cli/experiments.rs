//! `churnflow exp`: experiments run in scratch workspaces that share the store, sweeps,
//! records, show/diff/apply/remove/gc.
use crate::support::{counted, demo_project, Project};
use std::collections::BTreeMap;

/// prepare -> (left, right) -> join, where join writes a metrics file from both params.
/// The counters live in counts/ (created here, so the experiments' hard links append to
/// the project's files).
fn scored() -> Project {
    let p = Project::new()
        .file("data/raw.txt", "raw\n")
        .file("params.yaml", "# knobs\nleft:\n  factor: 2   # the left one\nright:\n  factor: 3\n")
        .file(
            "pipeline.yaml",
            &format!(
                r#"stages:
  prepare:
    cmd: "{prepare}"
    deps: [data/raw.txt]
    outs: [work/prepared.txt]
  left:
    cmd: "{left}"
    deps: [work/prepared.txt]
    params: [left.factor]
    outs: [work/left.txt]
  right:
    cmd: "{right}"
    deps: [work/prepared.txt]
    params: [right.factor]
    outs: [work/right.txt]
  join:
    cmd: "{join}"
    deps: [work/left.txt, work/right.txt]
    params: [left.factor, right.factor]
    outs: [work/joined.txt]
    metrics: [reports/score.json]
"#,
                prepare = counted("prepare", "sleep 0.3 && cp data/raw.txt work/prepared.txt"),
                left = counted("left", "echo left ${left.factor} | cat work/prepared.txt - > work/left.txt"),
                right = counted("right", "echo right ${right.factor} | cat work/prepared.txt - > work/right.txt"),
                join = counted(
                    "join",
                    "test ${left.factor} -ge 0 && cat work/left.txt work/right.txt > work/joined.txt && mkdir -p reports && \
                     echo '{\\\"score\\\": '$((${left.factor} * 10 + ${right.factor}))'}' > reports/score.json"
                ),
            ),
        );
    for stage in ["prepare", "left", "right", "join"] {
        p.write(&format!("counts/{stage}"), "");
    }
    p
}

fn counts(p: &Project) -> [usize; 4] {
    [p.count("prepare"), p.count("left"), p.count("right"), p.count("join")]
}

/// Every file of the workspace except the store, as path → bytes.
fn workspace_files(p: &Project) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &std::path::Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(root.join(rel)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            if child == "artifacts" || child == "counts" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &child, out);
            } else {
                out.insert(child.clone(), std::fs::read(root.join(&child)).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(p.root(), "", &mut out);
    out
}

fn record(p: &Project, name: &str) -> serde_json::Value {
    serde_json::from_str(&p.read(&format!("artifacts/exps/{name}.json"))).unwrap()
}

/// Every object in the store hashes to its name, and every run record's objects are there.
fn assert_store_verifies(p: &Project) {
    let objects = p.path("artifacts/objects");
    let mut n = 0;
    for dir in std::fs::read_dir(&objects).unwrap() {
        let dir = dir.unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap();
            let name = format!("{}{}", dir.file_name().to_string_lossy(), f.file_name().to_string_lossy());
            assert!(!name.contains(".churnflow-tmp-"), "a temp file was left in the store: {name}");
            let hash = blake3::hash(&std::fs::read(f.path()).unwrap()).to_hex().to_string();
            assert_eq!(hash, name, "object {name} does not hash to its name");
            n += 1;
        }
    }
    assert!(n > 0);
    for run in std::fs::read_dir(p.path("artifacts/runs")).unwrap() {
        let run: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.unwrap().path()).unwrap()).unwrap();
        for (path, out) in run["outs"].as_object().unwrap() {
            let h = out["hash"].as_str().unwrap();
            assert!(objects.join(&h[..2]).join(&h[2..]).is_file(), "run record of {path} names missing {h}");
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(p.path("artifacts/tmp"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.iter().all(|n| !n.to_string_lossy().starts_with("exp-")),
        "scratch left: {leftovers:?}"
    );
}

#[test]
fn an_experiment_changes_neither_params_yaml_nor_the_workspace_and_runs_only_what_its_override_reaches() {
    let p = scored();
    p.ok(&["repro"]);
    let before = workspace_files(&p);
    let r = p.ok(&["exp", "run", "-S", "left.factor=7", "--name", "seven"]);
    assert_eq!(workspace_files(&p), before, "the workspace changed:\n{}", r.all());
    assert_eq!(counts(&p), [1, 2, 1, 2], "only left and join ran again:\n{}", r.all());
    let rec = record(&p, "seven");
    assert_eq!(rec["status"], "succeeded");
    assert_eq!(rec["overrides"], serde_json::json!({"left.factor": 7}));
    assert_eq!(rec["params"]["left"]["factor"], 7);
    assert_eq!(rec["metrics"]["reports/score.json"]["score"], 73);
    assert_eq!(rec["stages"]["ran"], serde_json::json!(["left", "join"]));
    assert!(r.stdout().contains("seven") && r.stdout().contains("73"), "{}", r.all());
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
    assert_store_verifies(&p);
}

#[test]
fn a_twelve_point_sweep_on_two_jobs_computes_each_distinct_stage_run_once() {
    // The workspace never ran, so the first experiments reach `prepare` together.
    let p = scored();
    let r = p.ok(&["exp", "run", "-S", "left.factor=range(1,7)", "-S", "right.factor=3,4", "-j", "2"]);
    assert_eq!(
        counts(&p),
        [1, 6, 2, 12],
        "prepare once, left once per factor, right once per factor, join per point:\n{}",
        r.all()
    );
    let shown = p.ok(&["exp", "show", "--json"]).json();
    let exps = shown["experiments"].as_array().unwrap();
    assert_eq!(exps.len(), 13, "the workspace and 12 experiments");
    let mut scores: Vec<i64> =
        exps[1..].iter().map(|e| e["metrics"]["reports/score.json"]["score"].as_i64().unwrap()).collect();
    scores.sort();
    assert_eq!(scores, [13, 14, 23, 24, 33, 34, 43, 44, 53, 54, 63, 64]);
    assert!(!p.exists("work/joined.txt"), "the workspace's outs are untouched");
    assert_store_verifies(&p);
}

#[test]
fn a_three_job_sweep_of_the_demo_runs_ingest_validate_and_features_once_and_the_store_verifies() {
    let p = demo_project(1500, 3);
    let r =
        p.ok(&["exp", "run", "-S", "train.l2=0.1,0.3,1,3", "-S", "split.seed=1,2,3", "-j", "3", "--json"]);
    let exps = r.json()["experiments"].as_array().unwrap().clone();
    assert_eq!(exps.len(), 12, "{}", r.all());
    let ran = |stage: &str| {
        exps.iter().filter(|e| e["stages"]["ran"].as_array().unwrap().iter().any(|s| s == stage)).count()
    };
    assert_eq!([ran("ingest"), ran("validate"), ran("features")], [1, 1, 1], "{}", r.stderr());
    assert_eq!(ran("split"), 3, "once per split seed");
    assert_eq!(ran("train"), 12);
    assert!(exps.iter().all(|e| e["status"] == "succeeded"));
    assert!(exps.iter().all(|e| e["metrics"]["reports/metrics.json"]["auc_roc"].as_f64().is_some()));
    assert!(!p.exists("models/model.json") && !p.exists("pipeline.lock"), "the workspace stays as it was");
    assert_store_verifies(&p);
    assert!(
        exps.iter().all(|e| !e["stages"]["ran"].as_array().unwrap().iter().any(|s| s == "promote")),
        "promotion never runs inside an experiment"
    );
}

#[test]
fn exp_apply_writes_params_in_place_restores_outs_and_then_repro_runs_nothing() {
    let p = scored();
    p.ok(&["repro"]);
    p.ok(&["exp", "run", "-S", "left.factor=5,6"]);
    let applied = p.ok(&["exp", "apply", "exp-2"]);
    assert_eq!(
        p.read("params.yaml"),
        "# knobs\nleft:\n  factor: 6   # the left one\nright:\n  factor: 3\n",
        "the value changed in place, comments kept"
    );
    assert_eq!(p.read("reports/score.json").trim(), "{\"score\": 63}", "{}", applied.all());
    assert!(p.read("work/joined.txt").contains("left 6"));
    assert!(applied.stderr().contains("now runs nothing"), "{}", applied.all());
    let before = counts(&p);
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("0 ran, 0 restored, 4 up to date"), "{}", r.all());
    assert_eq!(counts(&p), before);
}

#[test]
fn exp_apply_on_the_demo_leaves_only_promotion_for_repro() {
    let p = demo_project(1500, 5);
    p.ok(&["repro"]);
    p.ok(&["exp", "run", "-S", "train.algorithm=decision_tree", "--name", "tree"]);
    let applied = p.ok(&["exp", "apply", "tree"]);
    assert!(applied.stderr().contains("now runs promote"), "{}", applied.all());
    let plan = p.ok(&["repro", "--dry-run", "--json"]).json();
    let running: Vec<&str> = plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] != "skip")
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(running, ["promote"], "{plan}");
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("1 ran, 0 restored, 7 up to date"), "{}", r.all());
    assert!(p.read("params.yaml").contains("algorithm: decision_tree   # logistic_regression"));
}

#[test]
fn show_sorts_filters_and_writes_markdown_csv_and_json_and_diff_compares_two() {
    let p = scored();
    p.ok(&["repro"]);
    p.ok(&["exp", "run", "-S", "left.factor=1,9,4"]);
    let text = p.ok(&["exp", "show", "--only-changed", "--sort-by", "score"]).stdout();
    let order: Vec<&str> = text.lines().skip(1).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(order, ["workspace", "exp-2", "exp-3", "exp-1"], "{text}");
    assert!(text.lines().next().unwrap().contains("left.factor") && !text.contains("right.factor"), "{text}");
    let asc = p.ok(&["exp", "show", "--sort-by", "score", "--ascending"]).stdout();
    assert!(
        asc.lines().nth(1).unwrap().starts_with("workspace")
            && asc.lines().nth(2).unwrap().starts_with("exp-1")
    );
    let md = p.ok(&["exp", "show", "--md", "--param", "left"]).stdout();
    assert!(md.starts_with("| Experiment | Created | State | score | left.factor |"), "{md}");
    let csv = p.ok(&["exp", "show", "--csv", "--only-changed"]).stdout();
    assert_eq!(csv.lines().count(), 5, "a header, the workspace and three experiments:\n{csv}");
    assert!(csv.lines().next().unwrap().starts_with("Experiment,Created,State,score,left.factor"), "{csv}");
    let json = p.ok(&["exp", "show", "--json", "exp-2"]).json();
    assert_eq!(json["experiments"][1]["values"]["score"], 93);
    let diff = p.ok(&["exp", "diff", "exp-1", "exp-2"]).stdout();
    assert!(diff.contains("left.factor") && diff.contains("score") && diff.contains("+80"), "{diff}");
    let dj = p.ok(&["exp", "diff", "workspace", "exp-2", "--json"]).json();
    assert_eq!(dj["params"][0]["key"], "left.factor");
    let bad = p.run(&["exp", "show", "--sort-by", "scor"]);
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr().contains("did you mean 'score'"), "{}", bad.all());
}

#[test]
fn bad_overrides_names_and_failed_experiments_are_reported_clearly() {
    let p = scored();
    let typo = p.run(&["exp", "run", "-S", "left.facttor=2"]);
    assert_eq!(typo.code(), 2);
    assert!(typo.stderr().contains("did you mean 'left.factor'"), "{}", typo.all());
    let grid = p.run(&["exp", "run", "-S", "left.factor=uniform(1,2)"]);
    assert_eq!(grid.code(), 2);
    assert!(grid.stderr().contains("--random"), "{}", grid.all());
    p.ok(&["exp", "run", "-S", "left.factor=2", "--name", "a"]);
    let taken = p.run(&["exp", "run", "--name", "a"]);
    assert_eq!(taken.code(), 2);
    assert!(taken.stderr().contains("exists"), "{}", taken.all());
    // A value the command cannot use: the experiment fails, is recorded, and keeps its log.
    let failed = p.run(&["exp", "run", "-S", "left.factor=oops", "--name", "broken"]);
    assert_eq!(failed.code(), 1, "{}", failed.all());
    let rec = record(&p, "broken");
    assert_eq!(rec["status"], "failed");
    assert!(rec["error"].as_str().unwrap().contains("join"), "{rec}");
    assert!(p.exists("artifacts/exps/broken.logs/join.log"));
    let apply = p.run(&["exp", "apply", "broken"]);
    assert_eq!(apply.code(), 2);
    assert!(apply.stderr().contains("failed"), "{}", apply.all());
    let unknown = p.run(&["exp", "apply", "b"]);
    assert_eq!(unknown.code(), 2);
    assert_eq!(p.read("params.yaml"), "# knobs\nleft:\n  factor: 2   # the left one\nright:\n  factor: 3\n");
}

#[test]
fn records_keep_their_objects_from_gc_until_they_are_removed() {
    let p = scored();
    p.ok(&["repro"]);
    p.ok(&["exp", "run", "-S", "left.factor=8", "--name", "eight"]);
    let joined = record(&p, "eight")["lock"]["stages"]["join"]["outs"]["work/joined.txt"]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let object = p.path(&format!("artifacts/objects/{}/{}", &joined[..2], &joined[2..]));
    p.ok(&["gc"]);
    assert!(object.is_file(), "gc kept the experiment's out");
    p.ok(&["exp", "gc", "--all", "--dry-run"]);
    assert!(p.exists("artifacts/exps/eight.json"));
    p.ok(&["exp", "remove", "eight"]);
    p.ok(&["gc"]);
    assert!(!object.exists(), "once the record is gone, gc frees its objects");
    let none = p.run(&["exp", "gc"]);
    assert_eq!(none.code(), 2, "exp gc says what goes");
}

#[test]
fn a_whole_number_for_a_float_param_is_the_workspace_value_and_runs_nothing() {
    let p = Project::new().file("params.yaml", "scale: 1.0\n").file(
        "pipeline.yaml",
        &format!(
            "stages:\n  scaled:\n    cmd: \"{}\"\n    params: [scale]\n    outs: [out.txt]\n",
            counted("scaled", "echo ${scale} > out.txt")
        ),
    );
    p.write("counts/scaled", "");
    p.ok(&["repro"]);
    let r = p.ok(&["exp", "run", "-S", "scale=1", "--name", "one"]);
    assert_eq!(p.count("scaled"), 1, "`scale=1` against `scale: 1.0` ran the stage again:\n{}", r.all());
    assert_eq!(record(&p, "one")["stages"]["ran"], serde_json::json!([]));
    p.ok(&["exp", "run", "-S", "scale=2", "--name", "two"]);
    assert_eq!(p.count("scaled"), 2, "a new value runs it");
    assert_eq!(record(&p, "two")["params"]["scale"], 2.0);
}

/// `churnflow ARGS` in `p` with `$COLUMNS` set, as a terminal of that width gives it.
fn at_width(p: &Project, columns: &str, args: &[&str]) -> crate::support::Run {
    crate::support::Run(p.cmd(args).env("COLUMNS", columns).output().expect("run churnflow"))
}

#[test]
fn a_sweep_of_two_algorithms_warns_once_of_the_param_the_forest_ignores() {
    let p = demo_project(1200, 3);
    let r = p.run(&[
        "exp",
        "run",
        "-S",
        "train.l2=0.1,0.3",
        "-S",
        "train.algorithm=logistic_regression,random_forest",
    ]);
    assert_eq!(r.code(), 0, "{}", r.all());
    // Once, before anything ran, for the forest only (logistic regression reads l2).
    let stderr = r.stderr();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(
        warnings,
        ["warning: train.l2 is not read by random_forest: the 2 random_forest points with different train.l2 are the same model"],
        "{}",
        r.all()
    );
    assert!(stderr.find("warning:").unwrap() < stderr.find("running").unwrap(), "{stderr}");
    assert!(!stderr.contains("not read by logistic_regression"), "{stderr}");
    // The forests are one model indeed; the logistic regressions are two.
    let shown = p.ok(&["exp", "show", "--json"]).json();
    let log_loss = |name: &str| {
        let e = shown["experiments"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap();
        e["metrics"]["reports/metrics.json"]["log_loss"].as_f64().unwrap()
    };
    assert_eq!(log_loss("exp-2"), log_loss("exp-4"), "the two forests differ");
    assert_ne!(log_loss("exp-1"), log_loss("exp-3"), "the two logistic regressions are the same");
    // One value that changes nothing is said so too.
    let one = p.ok(&["exp", "run", "-S", "train.l2=5", "-S", "train.algorithm=random_forest", "--name", "f"]);
    assert!(
        one.stderr().contains(
            "warning: train.l2 is not read by random_forest: -S train.l2=5 changes nothing in the random_forest point(s)"
        ),
        "{}",
        one.all()
    );
}

#[test]
fn exp_tables_fit_80_columns_and_say_what_they_left_out() {
    let p = demo_project(1500, 3);
    let r = at_width(
        &p,
        "80",
        &["exp", "run", "-S", "train.l2=0.1,0.3", "-S", "train.algorithm=logistic_regression,random_forest"],
    );
    assert_eq!(r.code(), 0, "{}", r.all());
    let stderr = r.stderr();
    // The closing table: every line fits, the swept params and the name are kept, and one
    // note says what was left out and where to see it.
    let table = r.stdout();
    assert!(table.lines().all(|l| l.chars().count() <= 80), "a line is wider than 80:\n{table}");
    let header = table.lines().next().unwrap();
    for kept in ["Experiment", "train.algorithm", "train.l2", "auc_roc"] {
        assert!(header.contains(kept), "{kept} left out:\n{table}");
    }
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(
        stderr.contains("left out to fit 80 columns: ") && stderr.contains("exp show --only-changed --md"),
        "{stderr}"
    );
    assert!(stderr.lines().all(|l| l.chars().count() <= 80 || !l.starts_with("left out")), "{stderr}");

    // exp show, whole and --only-changed: the same at 80 columns.
    for args in [&["exp", "show"][..], &["exp", "show", "--only-changed", "--sort-by", "brier"]] {
        let shown = at_width(&p, "80", args);
        assert_eq!(shown.code(), 0, "{}", shown.all());
        let text = shown.stdout();
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{args:?}: a line is wider than 80:\n{text}");
        assert_eq!(text.lines().count(), 6, "the workspace and 4 experiments:\n{text}");
        assert!(text.lines().next().unwrap().contains("train.algorithm"), "{text}");
        assert!(shown.stderr().contains("left out to fit 80 columns: "), "{}", shown.all());
        assert!(shown.stderr().contains("--md, --csv, --json"), "{}", shown.all());
    }
    let sorted = at_width(&p, "80", &["exp", "show", "--only-changed", "--sort-by", "brier"]).stdout();
    assert!(sorted.lines().next().unwrap().contains("brier"), "the --sort-by column is kept:\n{sorted}");
    // A width too small for anything but the names: the names, no panic.
    let tiny = at_width(&p, "1", &["exp", "show"]);
    assert_eq!(tiny.code(), 0, "{}", tiny.all());
    assert_eq!(tiny.stdout(), "Experiment\nworkspace\nexp-1\nexp-2\nexp-3\nexp-4\n");
    // Piped with no $COLUMNS (a file, a pager, grep), or wide enough: the whole table, as before.
    let whole = p.ok(&["exp", "show"]).stdout();
    assert!(whole.lines().next().unwrap().chars().count() > 80 && whole.contains("Created"), "{whole}");
    assert_eq!(at_width(&p, "100000", &["exp", "show"]).stdout(), whole);
    assert!(!p.ok(&["exp", "show"]).stderr().contains("left out"));
    let md = at_width(&p, "80", &["exp", "show", "--md"]).stdout();
    assert!(md.lines().next().unwrap().chars().count() > 80, "--md stays complete:\n{md}");
}

#[test]
fn a_value_a_stage_refuses_fails_before_anything_runs_naming_its_dash_s() {
    let p = demo_project(300, 4);
    let bad = p.run(&["exp", "run", "-S", "train.l2=abc"]);
    assert_eq!(bad.code(), 2, "{}", bad.all());
    assert!(
        bad.stderr()
            .starts_with("error: -S train.l2=abc: train.l2: expected a number, found the text \"abc\""),
        "{}",
        bad.all()
    );
    assert!(!bad.stderr().contains("params.yaml:"), "params.yaml is not where the value is:\n{}", bad.all());
    // Any point of a sweep, before the first runs; each refused -S named once.
    let sweep = p.run(&["exp", "run", "-S", "train.n_trees=5,0", "-S", "train.l2=0.1,-1", "-j", "2"]);
    assert_eq!(sweep.code(), 2, "{}", sweep.all());
    assert_eq!(
        sweep.stderr(),
        "error: -S train.l2=0.1,-1: train.l2 must be ≥ 0, got -1\n\
         -S train.n_trees=5,0: train.n_trees must be between 1 and 10000, got 0\n",
        "{}",
        sweep.all()
    );
    // A typo of a key still gets its suggestion.
    let typo = p.run(&["exp", "run", "-S", "train.l3=1"]);
    assert_eq!(typo.code(), 2);
    assert!(typo.stderr().contains("did you mean 'train.l2'"), "{}", typo.all());
    // No record, no run, no stage log, no scratch workspace.
    for never in ["artifacts/exps", "artifacts/runs", "artifacts/logs", "pipeline.lock", "data/ingested"] {
        assert!(!p.exists(never), "{never} exists: something ran");
    }
    let tmp: Vec<_> =
        std::fs::read_dir(p.path("artifacts/tmp")).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(tmp.is_empty(), "a scratch workspace was made");
}
