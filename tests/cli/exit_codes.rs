//! Exit codes by whose fault an error is (docs/engine.md "Exit codes"): the user's input
//! exits 2, the system (a full disk) or damage to churnflow's own store exits 1, whichever
//! command meets it.
use crate::support::{demo_project, Project};

/// `churnflow ARGS` with the file-size limit (RLIMIT_FSIZE) at `kib` KiB for it and every
/// process it starts.
///
/// Why this way: it is a real write failure of the kernel, for any user, on any Linux file
/// system, and it touches nothing outside the test's temp dir. `ulimit -f` sets the limit in
/// the shell, and `trap '' XFSZ` ignores SIGXFSZ, which the kernel would otherwise send to kill
/// the writer; ignored, the write(2) past the limit fails with EFBIG ("File too large"), what a
/// program sees when its file cannot grow (as with ENOSPC on a full disk). Ignored signals
/// stay ignored across exec, so churnflow inherits both. (/dev/full is not usable: the
/// atomic writer writes a temp file beside its target, and /dev is not writable unprivileged;
/// a full tmpfs needs root to mount.) POSIX `ulimit -f` counts 512-byte blocks.
fn with_file_size_limit(p: &Project, kib: u32, args: &[&str]) -> crate::support::Run {
    let exe = assert_cmd::cargo::cargo_bin("churnflow");
    let script = format!("trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"", kib * 2);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .args(args)
        .current_dir(p.root())
        .env("CI", "1")
        .env("NO_COLOR", "1")
        .env_remove("CHURNFLOW_STAGE")
        .output()
        .expect("run sh");
    crate::support::Run(out)
}

/// The demo, reproduced: a champion, its model file and the features table to score.
fn reproduced_demo() -> Project {
    let p = demo_project(1500, 7);
    p.ok(&["repro", "-q"]);
    p
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_while_scoring_exits_1_not_2_and_leaves_no_output() {
    let p = reproduced_demo();
    // The scores of 1,500 rows are far more than 8 KiB; every input is already on disk.
    let r =
        with_file_size_limit(&p, 8, &["score", "--input", "data/features.parquet", "--output", "scores.csv"]);
    assert_eq!(r.code(), 1, "a write failure is not bad input:\n{}", r.all());
    assert!(r.stderr().contains("scores.csv: cannot write"), "{}", r.all());
    assert!(r.stderr().contains("File too large"), "{}", r.all());
    assert!(!p.exists("scores.csv"), "nothing half-written is left:\n{}", r.all());
    // The same command with room to write succeeds: the limit, not the input, failed it.
    p.ok(&["score", "--input", "data/features.parquet", "--output", "scores.csv"]);
    // And bad input to the same command stays 2.
    let r = p.run(&["score", "--input", "data/features.parquet", "--output", "scores.txt"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("unknown table format"), "{}", r.all());
}

#[cfg(target_os = "linux")]
#[test]
fn a_stage_that_cannot_write_its_out_fails_repro_with_1() {
    let p = demo_project(1500, 7);
    let r = with_file_size_limit(&p, 8, &["repro"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("stage(s) failed: ingest"), "{}", r.all());
    let log = p.read("artifacts/logs/ingest.log");
    assert!(log.contains("File too large"), "the stage's log names the write failure:\n{log}");
    assert!(!p.exists("pipeline.lock"), "a failed stage is not recorded");
}

/// A damaged registry — an edited audit log, or a modified model file (which only a full
/// verification sees) — is damage to churnflow's own store: exit 1 on `models verify` and on
/// `push --registry` alike, each saying that verification failed.
#[test]
fn a_damaged_registry_exits_1_on_verify_and_on_push() {
    let p = reproduced_demo();
    let remote = tempfile::tempdir().unwrap();
    p.ok(&["remote", "add", "share", &remote.path().display().to_string()]);
    let model = std::fs::read_dir(p.path("registry/models"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| f.extension().is_some_and(|x| x == "model"))
        .expect("the champion's model file");
    let (log, model_bytes) = (p.read("registry/audit.jsonl"), std::fs::read(&model).unwrap());
    type Damage = Box<dyn Fn(&Project)>;
    let damages: [(&str, Damage); 2] = [
        (
            "an edited audit log",
            Box::new(|p: &Project| {
                p.write(
                    "registry/audit.jsonl",
                    &p.read("registry/audit.jsonl").replace("\"promote\"", "\"reject\""),
                )
            }),
        ),
        ("a modified model file", {
            let model = model.clone();
            Box::new(move |_: &Project| {
                let mut bytes = std::fs::read(&model).unwrap();
                bytes.extend_from_slice(b" ");
                std::fs::write(&model, bytes).unwrap();
            })
        }),
    ];
    for (what, damage) in &damages {
        p.write("registry/audit.jsonl", &log);
        std::fs::write(&model, &model_bytes).unwrap();
        p.ok(&["models", "verify"]);
        damage(&p);
        for args in [&["models", "verify"][..], &["push", "--registry"][..]] {
            let r = p.run(args);
            assert_eq!(r.code(), 1, "{what}: churnflow {args:?}:\n{}", r.all());
            assert!(r.stderr().contains("verification"), "{what}: {args:?}:\n{}", r.all());
        }
    }
}

/// Params errors found before anything runs point at params.yaml, at the key's line and
/// column, and exit 2 — never at pipeline.yaml, where those keys are not.
#[test]
fn params_errors_name_params_yaml_at_the_key() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = std::fs::read_to_string(root.join("pipeline.yaml")).unwrap();
    let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    // (text replaced, its replacement, the key, what the error says after it)
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "validation:\n",
            "validation:\n  max_null_ratio: 1.5\n",
            "validation.max_null_ratio",
            ": 1.5 is not between 0 and 1",
        ),
        (
            "validation:\n",
            "validation:\n  max_null_ratio_columns:\n    customers.region: -0.1\n",
            "validation.max_null_ratio_columns.customers.region",
            ": -0.1 is not between 0 and 1",
        ),
        (
            "  snapshot_date: \"2024-06-30\"\n",
            "  snapshot_date: \"2024-06-31\"\n",
            "features.snapshot_date",
            ": '2024-06-31' is not a date",
        ),
    ];
    for (from, to, key, says) in cases {
        assert!(params.contains(from), "params.yaml has no {from:?}");
        let text = params.replacen(from, to, 1);
        // Where the value is: the last line of `to`, after its key.
        let last = to.trim_end().lines().last().unwrap();
        let line = text.lines().position(|l| l == last).unwrap() + 1;
        let col = last.find(": ").unwrap() + 3;
        let p = Project::new().file("pipeline.yaml", &pipeline).file("params.yaml", &text);
        let r = p.run(&["repro"]);
        assert_eq!(r.code(), 2, "{key}:\n{}", r.all());
        let at = format!("params.yaml:{line}:{col}: {key}{says}");
        assert!(r.stderr().contains(&at), "expected {at:?}:\n{}", r.all());
        // (The validate stage's `snapshot_date: ${features.snapshot_date}` is a setting in
        // pipeline.yaml, rightly reported there too; the params key itself is not.)
        let blamed = r.stderr().lines().any(|l| l.contains("pipeline.yaml:") && l.contains(key));
        assert!(!blamed, "{key} is blamed on pipeline.yaml:\n{}", r.all());
        assert!(!p.exists("pipeline.lock"), "nothing ran");
    }
}
