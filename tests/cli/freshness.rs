//! What reruns, what is restored, what is skipped — and what `status` says about it.
use crate::support::{counted, counts, diamond, Project};
use std::time::Instant;

#[test]
fn first_run_runs_every_stage_and_writes_the_lock() {
    let p = diamond();
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 1, 1, 1]);
    assert_eq!(p.read("work/joined.txt"), "raw\nleft 2\nraw\nright 3\n");
    let lock = p.read("pipeline.lock");
    for stage in ["prepare", "left", "right", "join"] {
        assert!(lock.contains(&format!("  {stage}:\n")), "lock lacks {stage}:\n{lock}");
    }
}

#[test]
fn second_run_runs_nothing() {
    let p = diamond();
    p.ok(&["repro"]);
    let r = p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 1, 1, 1]);
    assert!(r.stderr().contains("0 ran, 0 restored, 4 up to date"), "{}", r.all());
    let last = r.stderr().lines().last().unwrap_or_default().to_string();
    let secs = last.strip_prefix("0 ran, 0 restored, 4 up to date in ").and_then(|t| t.strip_suffix('s'));
    assert!(secs.is_some_and(|t| t.parse::<f64>().is_ok()), "the closing line gives the wall time: {last}");
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}

#[test]
fn editing_a_listed_param_reruns_exactly_the_stages_that_list_it_and_their_downstream() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("params.yaml", "left:\n  factor: 5\nright:\n  factor: 3\nunused:\n  x: 1\n");
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 2, 1, 2]);
    assert!(p.read("work/joined.txt").contains("left 5"));
}

#[test]
fn a_param_inside_a_declared_section_is_tracked() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("params.yaml", "left:\n  factor: 2\nright:\n  factor: 3\n  extra: true\nunused:\n  x: 1\n");
    let status = p.ok(&["status", "--json"]).json();
    let right =
        &status["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "right").unwrap()["reasons"][0];
    assert_eq!(right["reason"], "param_added");
    assert_eq!(right["key"], "right.extra");
    p.ok(&["repro"]);
    // right reran, but wrote the same bytes: join's deps did not change, so it stays fresh.
    assert_eq!(counts(&p), [1, 1, 2, 1]);
}

#[test]
fn editing_an_unlisted_param_reruns_nothing() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("params.yaml", "left:\n  factor: 2\nright:\n  factor: 3\nunused:\n  x: 99\n");
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 1, 1, 1]);
}

#[test]
fn editing_a_dep_reruns_its_consumers() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("data/raw.txt", "raw v2\n");
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [2, 2, 2, 2]);
}

#[test]
fn reverting_an_edit_restores_the_outs_from_the_store_without_running() {
    let p = diamond();
    p.ok(&["repro"]);
    let joined_v1 = p.read("work/joined.txt");
    p.write("params.yaml", "left:\n  factor: 7\nright:\n  factor: 3\nunused:\n  x: 1\n");
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 2, 1, 2]);
    p.write("params.yaml", "left:\n  factor: 2\nright:\n  factor: 3\nunused:\n  x: 1\n");
    let dry = p.ok(&["repro", "--dry-run"]).stdout();
    assert!(dry.contains("left: would restore from the store"), "{dry}");
    let r = p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 2, 1, 2], "nothing may run when the store has the results");
    assert!(r.stderr().contains("left: restored from the store"), "{}", r.all());
    assert_eq!(p.read("work/joined.txt"), joined_v1);
}

#[test]
fn deleting_an_out_restores_it_without_running() {
    let p = diamond();
    p.ok(&["repro"]);
    std::fs::remove_file(p.path("work/left.txt")).unwrap();
    let status = p.ok(&["status", "--json"]).json();
    let left = status["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "left").unwrap().clone();
    assert_eq!(left["reasons"][0]["reason"], "out_missing");
    assert_eq!(left["reasons"][0]["path"], "work/left.txt");
    assert_eq!(left["restorable"], true);
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 1, 1, 1]);
    assert_eq!(p.read("work/left.txt"), "raw\nleft 2\n");
}

#[test]
fn a_hand_edited_out_is_saved_and_named_before_it_is_replaced() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("work/left.txt", "my precious edit\n");
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("out work/left.txt was changed outside churnflow"), "{}", r.all());
    assert_eq!(p.read("work/left.txt"), "raw\nleft 2\n");
    let edit = blake3::hash(b"my precious edit\n").to_hex().to_string();
    assert!(p.path(&format!("artifacts/objects/{}/{}", &edit[..2], &edit[2..])).is_file());
}

#[test]
fn status_json_explains_each_stale_stage() {
    let p = diamond();
    let never = p.ok(&["status", "--json"]).json();
    assert_eq!(never["schema"], 1);
    assert_eq!(never["clean"], false);
    assert!(never["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["reasons"][0]["reason"] == "never_run" || s["reasons"][0]["reason"] == "upstream_stale"));
    p.ok(&["repro"]);
    p.write("params.yaml", "left:\n  factor: 4\nright:\n  factor: 3\nunused:\n  x: 1\n");
    let s = p.ok(&["status", "--json"]).json();
    let by_name = |n: &str| s["stages"].as_array().unwrap().iter().find(|x| x["stage"] == n).unwrap().clone();
    assert_eq!(by_name("prepare")["state"], "fresh");
    assert_eq!(by_name("right")["state"], "fresh");
    let left = by_name("left");
    assert_eq!(left["reasons"][0]["reason"], "param_changed");
    assert_eq!(left["reasons"][0]["key"], "left.factor");
    assert_eq!(left["reasons"][0]["old"], 2);
    assert_eq!(left["reasons"][0]["new"], 4);
    assert_eq!(left["reasons"][0]["message"], "param left.factor 2 -> 4");
    let join = by_name("join");
    assert_eq!(join["reasons"][0]["reason"], "upstream_stale");
    assert_eq!(join["reasons"][0]["stage"], "left");
    let text = p.ok(&["status"]).stdout();
    assert!(text.contains("left: param left.factor 2 -> 4"), "{text}");
    assert!(text.contains("join: upstream left is stale"), "{text}");
}

#[test]
fn status_names_a_changed_dep() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("data/raw.txt", "changed\n");
    let text = p.ok(&["status"]).stdout();
    assert!(text.contains("prepare: dep data/raw.txt changed"), "{text}");
}

#[test]
fn interpolated_params_count_as_declared_params() {
    let p = Project::new().file("params.yaml", "train:\n  depth: 3\n").file(
        "pipeline.yaml",
        "stages:\n  fit:\n    cmd: echo depth=${train.depth} > model.txt\n    outs: [model.txt]\n",
    );
    p.ok(&["repro"]);
    assert_eq!(p.read("model.txt"), "depth=3\n");
    p.write("params.yaml", "train:\n  depth: 8\n");
    let text = p.ok(&["status"]).stdout();
    assert_eq!(text.trim(), "fit: param train.depth 3 -> 8");
}

#[test]
fn a_param_declared_twice_is_reported_once() {
    let p = Project::new().file("params.yaml", "train:\n  version: 1\n").file(
        "pipeline.yaml",
        "stages:\n  fit:\n    cmd: echo ${train.version} > m.txt\n    params: [train]\n    outs: [m.txt]\n",
    );
    p.ok(&["repro"]);
    p.write("params.yaml", "train:\n  version: 2\n");
    assert_eq!(p.ok(&["status"]).stdout().trim(), "fit: param train.version 1 -> 2");
}

#[test]
fn a_failing_stage_keeps_upstream_results_and_runs_nothing_downstream() {
    let p = diamond();
    let pipeline = p.read("pipeline.yaml").replace("cat work/prepared.txt - > work/right.txt", "exit 7");
    p.write("pipeline.yaml", &pipeline);
    let r = p.run(&["repro", "-j", "1"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("right: FAILED: exit code 7"), "{}", r.all());
    assert_eq!(p.count("join"), 0);
    let lock = p.read("pipeline.lock");
    assert!(lock.contains("  prepare:\n"), "upstream results are kept:\n{lock}");
    assert!(!lock.contains("  right:\n"), "a failed stage records nothing:\n{lock}");
}

#[test]
fn keep_going_runs_independent_branches_after_a_failure() {
    let p = Project::new().file(
        "pipeline.yaml",
        &format!(
            "stages:\n  bad:\n    cmd: exit 1\n    outs: [bad.txt]\n  after_bad:\n    cmd: cp bad.txt x.txt\n    deps: [bad.txt]\n    outs: [x.txt]\n  good:\n    cmd: \"{}\"\n    outs: [good.txt]\n",
            counted("good", "echo ok > good.txt")
        ),
    );
    let r = p.run(&["repro", "--keep-going", "-j", "1"]);
    assert_eq!(r.code(), 1);
    assert_eq!(p.count("good"), 1, "{}", r.all());
    assert!(!p.exists("x.txt"));
    assert!(r.stderr().contains("not run: after_bad"), "{}", r.all());
}

#[test]
fn independent_stages_run_in_parallel() {
    let p = Project::new().file(
        "pipeline.yaml",
        "stages:\n  a:\n    cmd: sleep 1 && echo a > a.txt\n    outs: [a.txt]\n  b:\n    cmd: sleep 1 && echo b > b.txt\n    outs: [b.txt]\n",
    );
    let started = Instant::now();
    p.ok(&["repro", "-j", "2"]);
    let took = started.elapsed().as_secs_f64();
    assert!(took < 1.8, "two 1 s stages took {took:.2} s with -j 2");
}

#[test]
fn selected_targets_run_with_their_upstream_only() {
    let p = diamond();
    p.ok(&["repro", "left"]);
    assert_eq!(counts(&p), [1, 1, 0, 0]);
    p.ok(&["repro", "--single-item", "--force", "right"]);
    assert_eq!(counts(&p), [1, 1, 1, 0]);
    p.ok(&["repro", "--downstream", "--force", "left"]);
    assert_eq!(counts(&p), [1, 2, 1, 1]);
}

#[test]
fn force_reruns_fresh_stages() {
    let p = diamond();
    p.ok(&["repro"]);
    p.ok(&["repro", "--force"]);
    assert_eq!(counts(&p), [2, 2, 2, 2]);
}

#[test]
fn a_dep_inside_a_directory_out_makes_an_edge() {
    let p = Project::new().file(
        "pipeline.yaml",
        "stages:\n  use:\n    cmd: cat d/inner.txt > used.txt\n    deps: [d/inner.txt]\n    outs: [used.txt]\n  make:\n    cmd: mkdir -p d && echo hi > d/inner.txt && echo 2 > d/other.txt\n    outs: [d]\n",
    );
    p.ok(&["repro"]);
    assert_eq!(p.read("used.txt"), "hi\n");
    std::fs::remove_dir_all(p.path("d")).unwrap();
    p.ok(&["repro"]);
    assert_eq!(p.read("d/other.txt"), "2\n", "a directory out comes back whole");
}

#[test]
fn a_dep_may_be_a_symlink_to_data_outside_the_project() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("big.csv"), "a,b\n1,2\n").unwrap();
    let p = Project::new().file(
        "pipeline.yaml",
        "stages:\n  count:\n    cmd: wc -l < data/big.csv > n.txt\n    deps: [data/big.csv]\n    outs: [n.txt]\n",
    );
    std::fs::create_dir_all(p.path("data")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("big.csv"), p.path("data/big.csv")).unwrap();
    p.ok(&["repro"]);
    assert_eq!(p.read("n.txt").trim(), "2");
    std::fs::write(outside.path().join("big.csv"), "a,b\n1,2\n3,4\n").unwrap();
    let status = p.ok(&["status"]).stdout();
    assert!(status.contains("count: dep data/big.csv changed"), "{status}");
}

#[test]
fn always_changed_stages_always_run_and_frozen_stages_never_rerun() {
    let p = Project::new().file("in.txt", "1\n").file(
        "pipeline.yaml",
        &format!(
            "stages:\n  live:\n    cmd: \"{}\"\n    always_changed: true\n    outs: [live.txt]\n  ice:\n    cmd: \"{}\"\n    deps: [in.txt]\n    frozen: true\n    outs: [ice.txt]\n",
            counted("live", "date +%N > live.txt"),
            counted("ice", "cp in.txt ice.txt")
        ),
    );
    p.ok(&["repro"]);
    p.write("in.txt", "2\n");
    p.ok(&["repro"]);
    assert_eq!(p.count("live"), 2);
    assert_eq!(p.count("ice"), 1);
    assert_eq!(p.read("ice.txt"), "1\n");
}

#[test]
fn a_list_of_commands_runs_in_order_from_the_project_root() {
    let p = Project::new().file(
        "pipeline.yaml",
        "stages:\n  multi:\n    cmd:\n      - echo one > out.txt\n      - echo two >> out.txt\n    outs: [out.txt]\n",
    );
    p.ok(&["repro"]);
    assert_eq!(p.read("out.txt"), "one\ntwo\n");
}

#[test]
fn a_stage_that_does_not_write_its_out_fails() {
    let p =
        Project::new().file("pipeline.yaml", "stages:\n  lazy:\n    cmd: \"true\"\n    outs: [never.txt]\n");
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("did not write its out never.txt"), "{}", r.all());
}

#[test]
fn status_check_exits_1_while_a_stage_is_stale_and_0_once_everything_is_fresh() {
    let p = diamond();
    let stale = p.run(&["status", "--check"]);
    assert_eq!(stale.code(), 1, "never run: {}", stale.all());
    assert!(stale.stdout().contains("never run"), "{}", stale.all());
    let stale_json = p.run(&["status", "--check", "--json"]);
    assert_eq!(stale_json.code(), 1);
    assert_eq!(stale_json.json()["clean"], false);
    // without --check, status only reports
    assert_eq!(p.run(&["status"]).code(), 0);
    p.ok(&["repro"]);
    let fresh = p.run(&["status", "--check"]);
    assert_eq!(fresh.code(), 0, "{}", fresh.all());
    assert_eq!(fresh.stdout().trim(), "Everything is up to date.");
}

#[test]
fn completions_print_a_script_that_knows_the_commands() {
    let p = Project::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = p.ok(&["completions", shell]).stdout();
        for command in ["repro", "status", "monitor", "drift"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
    let r = p.run(&["completions", "tcsh"]);
    assert_eq!(r.code(), 2, "{}", r.all());
}

#[test]
fn on_a_terminal_each_finished_stage_is_its_own_line_in_a_recording() {
    // `script` (util-linux) gives the run a pseudo-terminal and records what it writes.
    let p = crate::support::diamond();
    let text = crate::support::on_a_terminal(&p, "repro");
    assert!(text.contains('\u{2801}') || text.contains("[0s]"), "bars were drawn: {text:?}");
    assert!(text.contains("/4] "), "each bar gives its stage's place in the run ([k/4]): {text:?}");
    let finished: Vec<&str> = text.lines().filter(|l| l.contains(": done in")).collect();
    assert_eq!(finished.len(), 4, "one line per finished stage: {text:?}");
    for line in finished {
        assert_eq!(line.matches(": done in").count(), 1, "{line:?}");
    }
}

/// From a subfolder, commands find the project as git finds its repository: the nearest
/// folder up that holds a pipeline.yaml, not past the repository's root.
#[test]
fn commands_find_the_project_from_a_subfolder() {
    let p = diamond();
    p.ok(&["repro"]);
    std::fs::create_dir_all(p.path("work/deeper")).unwrap();
    let status = |dir: &str| {
        let out = p.cmd(&["status", "--json"]).current_dir(p.path(dir)).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let at_root = status(".");
    assert_eq!(status("work"), at_root);
    assert_eq!(status("work/deeper"), at_root);
    // And it acts there: a change seen from the subfolder reruns the right stage.
    p.write("params.yaml", &p.read("params.yaml").replace("factor: 3", "factor: 4"));
    let out = p.cmd(&["repro"]).current_dir(p.path("work/deeper")).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(counts(&p), [1, 1, 2, 2]);

    // A repository's root bounds the search: a folder with .git and no pipeline.yaml is
    // not part of a project above it.
    std::fs::create_dir_all(p.path("vendored/other/.git")).unwrap();
    let out = p.cmd(&["status"]).current_dir(p.path("vendored/other")).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pipeline.yaml"), "{:?}", out);
}

/// `-q` keeps stderr to warnings and failures, `-v` adds each stage's command and log.
#[test]
fn quiet_and_verbose_set_how_much_repro_says() {
    let p = diamond();
    let quiet = p.ok(&["repro", "-q"]);
    assert_eq!(quiet.stderr(), "", "a quiet successful run says nothing");
    assert_eq!(counts(&p), [1, 1, 1, 1]);

    p.write("params.yaml", &p.read("params.yaml").replace("factor: 3", "factor: 5"));
    let verbose = p.ok(&["repro", "--verbose"]).stderr();
    assert!(verbose.contains("right: runs mkdir -p counts && echo x >> counts/right"), "{verbose}");
    assert!(verbose.contains("right: runs") && verbose.contains("artifacts/logs/right.log"), "{verbose}");
    assert!(verbose.contains("right: done in"), "{verbose}");

    // A failure is said even with -q.
    p.write("pipeline.yaml", &p.read("pipeline.yaml").replace("cat work/left.txt", "cat work/missing.txt"));
    p.write("params.yaml", &p.read("params.yaml").replace("factor: 2", "factor: 7"));
    let failed = p.run(&["repro", "-q"]);
    assert_eq!(failed.code(), 1);
    assert!(failed.stderr().contains("join: FAILED"), "{}", failed.all());
    assert!(!failed.stderr().contains("left: done"), "{}", failed.all());
    assert_eq!(p.run(&["repro", "-q", "-v"]).code(), 2, "-q and -v together are a usage error");
}

/// A reader that stops early (`churnflow repro 2>&1 | head -1`) does not stop the run, and
/// the run does not hang.
#[test]
fn a_closed_stderr_does_not_stop_or_hang_the_run() {
    let p = diamond();
    let bin = assert_cmd::cargo::cargo_bin("churnflow");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("timeout 60 {} repro -v 2>&1 | head -c 1 >/dev/null", bin.display()))
        .current_dir(p.root())
        .env("CI", "1")
        .status()
        .unwrap();
    assert!(status.success());
    // The pipeline waited for churnflow: the run finished, every stage ran and was recorded.
    assert_eq!(p.ok(&["status", "--json"]).json()["clean"], true);
    assert_eq!(counts(&p), [1, 1, 1, 1]);
}

/// On a terminal, the stages that count their work draw it: ingest in bytes of the raw
/// files, features in event rows, each with a rate and an ETA.
#[test]
fn on_a_terminal_ingest_and_features_show_work_done_with_rate_and_eta() {
    let p = Project::new();
    p.ok(&["init", "."]);
    p.ok(&["generate", "--customers", "10000", "--seed", "5", "--out", "data/raw"]);
    let text = crate::support::on_a_terminal(&p, "repro features");
    let total_bytes: u64 = ["customers", "transactions", "cdr", "support_tickets"]
        .iter()
        .map(|t| std::fs::metadata(p.path(&format!("data/raw/{t}.csv"))).unwrap().len())
        .sum();
    let ingest = text.split(['\r', '\n']).find(|l| l.contains("ingest: running") && l.contains("ETA"));
    let ingest = ingest.unwrap_or_else(|| panic!("no ingest bar: {text:?}"));
    let mib = format!("/{:.2} MiB", total_bytes as f64 / 1048576.0);
    assert!(ingest.contains(&mib) && ingest.contains("/s, ETA"), "{ingest:?} should count {mib}");
    let features =
        text.split(['\r', '\n']).find(|l| l.contains("features: running") && l.contains(" rows ("));
    assert!(features.is_some_and(|l| l.contains("/s, ETA")), "no features bar: {text:?}");
    // The progress files are gone with their stages.
    let tmp = std::fs::read_dir(p.path("artifacts/tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(tmp, 0, "files left in artifacts/tmp");
}
