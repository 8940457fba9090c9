//! Malformed input: every case exits 2 before anything runs, naming the file and line.
use crate::support::{Project, Test};

/// Runs `repro` on a project that must be refused: exit 2, and nothing ran.
#[track_caller]
fn refused(test: Test) {
    let p = test.file("in.txt", "x\n").args(["repro"]).status(2).run();
    assert!(!p.exists("pipeline.lock"), "nothing may run");
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: [echo
            ",
            )
            .stderr_contains("pipeline.yaml:")
            .stderr_contains("invalid YAML"),
    );
}

#[test]
fn unknown_key_suggests_the_right_one() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    dpes: [in.txt]
            ",
            )
            .stderr_contains("pipeline.yaml:4:5: unknown key 'dpes' in stage 'a'")
            .stderr_contains("did you mean 'deps'?"),
    );
}

#[test]
fn both_cmd_and_uses_is_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    uses: ingest
            ",
            )
            .stderr_contains("pipeline.yaml:4:11: stage 'a' has both 'cmd' and 'uses'"),
    );
}

#[test]
fn neither_cmd_nor_uses_is_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    deps: [in.txt]
            ",
            )
            .stderr_contains("pipeline.yaml:2:3: stage 'a' has neither 'cmd' nor 'uses'"),
    );
}

#[test]
fn cmd_of_the_wrong_type_is_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: {x: 1}
            ",
            )
            .stderr_contains("pipeline.yaml:3:10: stage 'a': 'cmd' must be a string or a list of strings"),
    );
}

#[test]
fn duplicate_outs_are_refused_naming_both_stages() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    outs: [o.txt]
                  b:
                    cmd: echo
                    outs: [o.txt]
            ",
            )
            .stderr_contains(
                "pipeline.yaml:7:12: stage 'b' declares 'o.txt', the same out as 'o.txt' of stage 'a'",
            ),
    );
}

#[test]
fn nested_outs_are_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    outs: [data]
                  b:
                    cmd: echo
                    outs: [data/x.txt]
            ",
            )
            .stderr_contains("an out nested with 'data' of stage 'a'"),
    );
}

#[test]
fn a_dep_nobody_writes_suggests_the_closest_out() {
    refused(
        Test::new()
            .pipeline("
                stages:
                  a:
                    cmd: echo
                    outs: [data/features.parquet]
                  train:
                    cmd: echo
                    deps: [data/feature.parquet]
            ")
            .stderr_contains(
                "pipeline.yaml:7:12: stage 'train' reads 'data/feature.parquet', which no stage writes and which does not exist",
            )
            .stderr_contains("did you mean 'data/features.parquet'?"),
    );
}

#[test]
fn a_cycle_is_reported_whole() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    deps: [c.txt]
                    outs: [a.txt]
                  b:
                    cmd: echo
                    deps: [a.txt]
                    outs: [b.txt]
                  c:
                    cmd: echo
                    deps: [b.txt]
                    outs: [c.txt]
            ",
            )
            .stderr_contains("the stages form a cycle: a -> b -> c -> a"),
    );
}

#[test]
fn paths_leaving_the_project_are_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    deps: [../secret.txt]
            ",
            )
            .stderr_contains("pipeline.yaml:4:12: stage 'a': dep '../secret.txt' leaves the project root"),
    );
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    outs: [/tmp/x]
            ",
            )
            .stderr_contains("out '/tmp/x' is absolute"),
    );
}

#[test]
fn an_out_through_a_symlink_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let p = Project::new()
        .file("pipeline.yaml", "stages:\n  a:\n    cmd: echo > link/x.txt\n    outs: [link/x.txt]\n");
    std::os::unix::fs::symlink(outside.path(), p.path("link")).unwrap();
    Test::at(p)
        .args(["repro"])
        .status(2)
        .stderr_contains("writes 'link/x.txt', but 'link' is a symlink")
        .run();
    assert!(!outside.path().join("x.txt").exists());
}

#[test]
fn an_empty_pipeline_is_an_error() {
    refused(
        Test::new().pipeline("stages: {}\n").stderr_contains("pipeline.yaml:1:9: the pipeline has no stages"),
    );
    refused(Test::new().pipeline("").stderr_contains("pipeline.yaml: the file is empty"));
}

#[test]
fn a_missing_interpolated_param_is_named_with_a_suggestion() {
    refused(
        Test::new()
            .pipeline("
                stages:
                  a:
                    cmd: echo ${train.max_dept}
            ")
            .params("
                train:
                  max_depth: 3
            ")
            .stderr_contains(
                "pipeline.yaml:3:10: stage 'a' uses param 'train.max_dept', which params.yaml does not define",
            )
            .stderr_contains("did you mean 'train.max_depth'?"),
    );
}

#[test]
fn a_declared_param_that_does_not_exist_is_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                    params: [nope.key]
            ",
            )
            .params("a: 1\n")
            .stderr_contains("pipeline.yaml:4:14: stage 'a' uses param 'nope.key'"),
    );
}

#[test]
fn params_syntax_errors_name_params_yaml() {
    refused(
        Test::new()
            .pipeline("stages:\n  a:\n    cmd: echo\n")
            .params("a: [1, 2\n")
            .stderr_contains("params.yaml:"),
    );
}

#[test]
fn an_unknown_builtin_kind_is_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    uses: no_such_kind
            ",
            )
            .stderr_contains("pipeline.yaml:3:11: stage 'a': unknown built-in kind 'no_such_kind'"),
    );
}

#[test]
fn a_duplicate_stage_name_is_refused() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmd: echo
                  a:
                    cmd: echo
            ",
            )
            .stderr_contains("pipeline.yaml:4:3: duplicate key 'a'"),
    );
}

#[test]
fn several_problems_are_reported_together() {
    refused(
        Test::new()
            .pipeline(
                "
                stages:
                  a:
                    cmdd: echo
                  b:
                    cmd: echo
                    outz: [x]
            ",
            )
            .stderr_contains("'cmdd'")
            .stderr_contains("'outz'"),
    );
}

#[test]
fn a_pipeline_file_that_is_not_utf8_is_a_usage_error() {
    let p = Project::new();
    std::fs::write(p.path("pipeline.yaml"), b"stages:\n  a:\n    cmd: echo \xff\xfe\n").unwrap();
    Test::at(p).args(["repro"]).status(2).stderr_contains("pipeline.yaml: the file is not UTF-8 text").run();
}

#[test]
fn a_missing_pipeline_file_says_what_to_do() {
    Test::new().args(["status"]).status(2).stderr_contains("no pipeline.yaml in").run();
}

#[test]
fn an_unknown_target_stage_is_a_usage_error() {
    Test::new()
        .pipeline(
            "
            stages:
              train:
                cmd: echo
        ",
        )
        .args(["repro", "trian"])
        .status(2)
        .stderr(
            "
            error: no stage named 'trian' in pipeline.yaml (did you mean 'train'?)
        ",
        )
        .run();
}

#[test]
fn a_lock_file_from_a_newer_churnflow_is_refused() {
    Test::new()
        .pipeline(
            "
            stages:
              a:
                cmd: echo > a.txt
                outs: [a.txt]
        ",
        )
        .file("pipeline.lock", "schema: 9\nstages: {}\n")
        .args(["status"])
        .status(2)
        .stderr_contains("pipeline.lock: written by a newer churnflow")
        .run();
}

#[test]
fn a_garbled_lock_file_is_a_usage_error_with_advice() {
    Test::new()
        .pipeline(
            "
            stages:
              a:
                cmd: echo > a.txt
                outs: [a.txt]
        ",
        )
        .file("pipeline.lock", "schema: 1\nstages: [oops\n")
        .args(["repro"])
        .status(2)
        .stderr_contains("git checkout pipeline.lock")
        .run();
}

#[test]
fn a_bad_value_in_params_yaml_is_reported_at_its_line_in_params_yaml_in_plain_words() {
    let pipeline = "
        stages:
          split:
            uses: split
            with: {input: f.parquet, train: tr.parquet, test: te.parquet}
          train:
            uses: train
            with: {input: tr.parquet, model: m.json}
    ";
    refused(
        Test::new()
            .pipeline(pipeline)
            .params("split:\n  test_size: 0.25\ntrain:\n  seed: 1\n  l2: abc\n")
            .stderr_contains("params.yaml:5:7: train.l2: expected a number, found the text \"abc\"")
            .stderr_contains("stage 'train' (uses: train) reads params section 'train'"),
    );
    refused(Test::new().pipeline(pipeline).params("train:\n  n_tress: 10\n").stderr_contains(
        "params.yaml:2:12: train.n_tress: unknown key 'n_tress' (did you mean 'n_trees'? the keys are",
    ));
    refused(
        Test::new()
            .pipeline(pipeline)
            .params("split:\n  test_size: 1.5\n")
            .stderr_contains("params.yaml:2:14: split.test_size must be between 0 and 1"),
    );
    refused(
        Test::new().pipeline(pipeline).params("train:\n  max_depth: -3\n").stderr_contains(
            "params.yaml:2:14: train.max_depth: expected a whole number, 0 or more, found -3",
        ),
    );
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let p = Project::new();
    let v = p.ok(&["--version"]).stdout();
    let (name, rest) = v.trim().split_once(' ').unwrap();
    assert_eq!(name, "churnflow");
    let commit =
        rest.split_once(" (").and_then(|(_, c)| c.strip_suffix(')')).unwrap_or_else(|| panic!("{v}"));
    assert!(
        commit == "unknown" || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{v}"
    );
}
