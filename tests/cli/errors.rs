//! Malformed input: every case exits 2 before anything runs, naming the file and line.
use crate::support::Project;

/// Runs `repro` on `pipeline` (+ `params`) and returns stderr, asserting exit code 2.
fn refused(pipeline: &str, params: &str) -> String {
    let p = Project::new().file("pipeline.yaml", pipeline).file("params.yaml", params).file("in.txt", "x\n");
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "expected exit 2:\n{}", r.all());
    assert!(!r.stderr().contains("panicked"), "{}", r.all());
    assert!(!p.exists("pipeline.lock"), "nothing may run");
    r.stderr()
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let e = refused("stages:\n  a:\n    cmd: [echo\n", "");
    assert!(e.contains("pipeline.yaml:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let e = refused("stages:\n  a:\n    cmd: echo\n    dpes: [in.txt]\n", "");
    assert!(e.contains("pipeline.yaml:4:5: unknown key 'dpes' in stage 'a'"), "{e}");
    assert!(e.contains("did you mean 'deps'?"), "{e}");
}

#[test]
fn both_cmd_and_uses_is_refused() {
    let e = refused("stages:\n  a:\n    cmd: echo\n    uses: ingest\n", "");
    assert!(e.contains("pipeline.yaml:4:11: stage 'a' has both 'cmd' and 'uses'"), "{e}");
}

#[test]
fn neither_cmd_nor_uses_is_refused() {
    let e = refused("stages:\n  a:\n    deps: [in.txt]\n", "");
    assert!(e.contains("pipeline.yaml:2:3: stage 'a' has neither 'cmd' nor 'uses'"), "{e}");
}

#[test]
fn cmd_of_the_wrong_type_is_refused() {
    let e = refused("stages:\n  a:\n    cmd: {x: 1}\n", "");
    assert!(e.contains("pipeline.yaml:3:10: stage 'a': 'cmd' must be a string or a list of strings"), "{e}");
}

#[test]
fn duplicate_outs_are_refused_naming_both_stages() {
    let e = refused(
        "stages:\n  a:\n    cmd: echo\n    outs: [o.txt]\n  b:\n    cmd: echo\n    outs: [o.txt]\n",
        "",
    );
    assert!(
        e.contains("pipeline.yaml:7:12: stage 'b' declares 'o.txt', the same out as 'o.txt' of stage 'a'"),
        "{e}"
    );
}

#[test]
fn nested_outs_are_refused() {
    let e = refused(
        "stages:\n  a:\n    cmd: echo\n    outs: [data]\n  b:\n    cmd: echo\n    outs: [data/x.txt]\n",
        "",
    );
    assert!(e.contains("an out nested with 'data' of stage 'a'"), "{e}");
}

#[test]
fn a_dep_nobody_writes_suggests_the_closest_out() {
    let e = refused(
        "stages:\n  a:\n    cmd: echo\n    outs: [data/features.parquet]\n  train:\n    cmd: echo\n    deps: [data/feature.parquet]\n",
        "",
    );
    assert!(
        e.contains("pipeline.yaml:7:12: stage 'train' reads 'data/feature.parquet', which no stage writes and which does not exist"),
        "{e}"
    );
    assert!(e.contains("did you mean 'data/features.parquet'?"), "{e}");
}

#[test]
fn a_cycle_is_reported_whole() {
    let e = refused(
        "stages:\n  a:\n    cmd: echo\n    deps: [c.txt]\n    outs: [a.txt]\n  b:\n    cmd: echo\n    deps: [a.txt]\n    outs: [b.txt]\n  c:\n    cmd: echo\n    deps: [b.txt]\n    outs: [c.txt]\n",
        "",
    );
    assert!(e.contains("the stages form a cycle: a -> b -> c -> a"), "{e}");
}

#[test]
fn paths_leaving_the_project_are_refused() {
    let e = refused("stages:\n  a:\n    cmd: echo\n    deps: [../secret.txt]\n", "");
    assert!(e.contains("pipeline.yaml:4:12: stage 'a': dep '../secret.txt' leaves the project root"), "{e}");
    let e = refused("stages:\n  a:\n    cmd: echo\n    outs: [/tmp/x]\n", "");
    assert!(e.contains("out '/tmp/x' is absolute"), "{e}");
}

#[test]
fn an_out_through_a_symlink_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let p = Project::new()
        .file("pipeline.yaml", "stages:\n  a:\n    cmd: echo > link/x.txt\n    outs: [link/x.txt]\n");
    std::os::unix::fs::symlink(outside.path(), p.path("link")).unwrap();
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("writes 'link/x.txt', but 'link' is a symlink"), "{}", r.all());
    assert!(!outside.path().join("x.txt").exists());
}

#[test]
fn an_empty_pipeline_is_an_error() {
    let e = refused("stages: {}\n", "");
    assert!(e.contains("pipeline.yaml:1:9: the pipeline has no stages"), "{e}");
    let e = refused("", "");
    assert!(e.contains("pipeline.yaml: the file is empty"), "{e}");
}

#[test]
fn a_missing_interpolated_param_is_named_with_a_suggestion() {
    let e = refused("stages:\n  a:\n    cmd: echo ${train.max_dept}\n", "train:\n  max_depth: 3\n");
    assert!(
        e.contains(
            "pipeline.yaml:3:10: stage 'a' uses param 'train.max_dept', which params.yaml does not define"
        ),
        "{e}"
    );
    assert!(e.contains("did you mean 'train.max_depth'?"), "{e}");
}

#[test]
fn a_declared_param_that_does_not_exist_is_refused() {
    let e = refused("stages:\n  a:\n    cmd: echo\n    params: [nope.key]\n", "a: 1\n");
    assert!(e.contains("pipeline.yaml:4:14: stage 'a' uses param 'nope.key'"), "{e}");
}

#[test]
fn params_syntax_errors_name_params_yaml() {
    let e = refused("stages:\n  a:\n    cmd: echo\n", "a: [1, 2\n");
    assert!(e.contains("params.yaml:"), "{e}");
}

#[test]
fn an_unknown_builtin_kind_is_refused() {
    let e = refused("stages:\n  a:\n    uses: no_such_kind\n", "");
    assert!(e.contains("pipeline.yaml:3:11: stage 'a': unknown built-in kind 'no_such_kind'"), "{e}");
}

#[test]
fn a_duplicate_stage_name_is_refused() {
    let e = refused("stages:\n  a:\n    cmd: echo\n  a:\n    cmd: echo\n", "");
    assert!(e.contains("pipeline.yaml:4:3: duplicate key 'a'"), "{e}");
}

#[test]
fn several_problems_are_reported_together() {
    let e = refused("stages:\n  a:\n    cmdd: echo\n  b:\n    cmd: echo\n    outz: [x]\n", "");
    assert!(e.contains("'cmdd'") && e.contains("'outz'"), "{e}");
}

#[test]
fn a_pipeline_file_that_is_not_utf8_is_a_usage_error() {
    let p = Project::new();
    std::fs::write(p.path("pipeline.yaml"), b"stages:\n  a:\n    cmd: echo \xff\xfe\n").unwrap();
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("pipeline.yaml: the file is not UTF-8 text"), "{}", r.all());
}

#[test]
fn a_missing_pipeline_file_says_what_to_do() {
    let p = Project::new();
    let r = p.run(&["status"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("no pipeline.yaml in"), "{}", r.all());
}

#[test]
fn an_unknown_target_stage_is_a_usage_error() {
    let p = Project::new().file("pipeline.yaml", "stages:\n  train:\n    cmd: echo\n");
    let r = p.run(&["repro", "trian"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("no stage named 'trian' in pipeline.yaml (did you mean 'train'?)"),
        "{}",
        r.all()
    );
}

#[test]
fn a_lock_file_from_a_newer_churnflow_is_refused() {
    let p = Project::new()
        .file("pipeline.yaml", "stages:\n  a:\n    cmd: echo > a.txt\n    outs: [a.txt]\n")
        .file("pipeline.lock", "schema: 9\nstages: {}\n");
    let r = p.run(&["status"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("pipeline.lock: written by a newer churnflow"), "{}", r.all());
}

#[test]
fn a_garbled_lock_file_is_a_usage_error_with_advice() {
    let p = Project::new()
        .file("pipeline.yaml", "stages:\n  a:\n    cmd: echo > a.txt\n    outs: [a.txt]\n")
        .file("pipeline.lock", "schema: 1\nstages: [oops\n");
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("git checkout pipeline.lock"), "{}", r.all());
}
