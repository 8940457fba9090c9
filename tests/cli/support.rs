//! A small DSL for running the real churnflow binary on a temporary project.
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;

pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Builder form of [`Project::write`].
    pub fn file(self, rel: &str, content: &str) -> Project {
        self.write(rel, content);
        self
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, content).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("churnflow").expect("binary");
        c.current_dir(self.root())
            .args(args)
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .env_remove("CHURNFLOW_STAGE");
        c
    }

    /// Runs churnflow and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.cmd(args).output().expect("run churnflow"))
    }

    /// Runs churnflow and asserts it exits 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code(), 0, "churnflow {args:?} failed:\n{}", r.all());
        r
    }

    /// How many times the counted command of `name` ran (lines in `counts/<name>`).
    pub fn count(&self, name: &str) -> usize {
        std::fs::read_to_string(self.path(&format!("counts/{name}"))).map(|s| s.lines().count()).unwrap_or(0)
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.all()))
    }
}

/// A counted shell command: appends a line to counts/<name>, then runs `body`.
pub fn counted(name: &str, body: &str) -> String {
    format!("mkdir -p counts && echo x >> counts/{name} && {body}")
}

/// A four-stage diamond: prepare -> (left, right) -> join, with params and counters.
pub fn diamond() -> Project {
    Project::new()
        .file("data/raw.txt", "raw\n")
        .file("params.yaml", "left:\n  factor: 2\nright:\n  factor: 3\nunused:\n  x: 1\n")
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
    params: [right]
    outs: [work/right.txt]
  join:
    cmd: "{join}"
    deps: [work/left.txt, work/right.txt]
    outs: [work/joined.txt]
"#,
                prepare = counted("prepare", "cp data/raw.txt work/prepared.txt"),
                left = counted("left", "echo left ${left.factor} | cat work/prepared.txt - > work/left.txt"),
                right =
                    counted("right", "echo right ${right.factor} | cat work/prepared.txt - > work/right.txt"),
                join = counted("join", "cat work/left.txt work/right.txt > work/joined.txt"),
            ),
        )
}

/// How many times each diamond stage ran, in order prepare, left, right, join.
pub fn counts(p: &Project) -> [usize; 4] {
    [p.count("prepare"), p.count("left"), p.count("right"), p.count("join")]
}

/// Text written indented inside a test, unindented: a leading newline is dropped, and the
/// indentation common to every non-blank line is removed (blank lines become empty), so
/// YAML and expected output can be written at the indentation of the code around them.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> =
        text.split('\n').map(|l| if l.trim().is_empty() { "" } else { &l[indent..] }).collect();
    lines.join("\n")
}

/// One run of churnflow as a specification, in the style of casey/just's tests:
///
/// ```ignore
/// Test::new()
///     .pipeline("
///         stages:
///           a:
///             cmd: echo
///     ")
///     .args(["repro", "b"])
///     .stderr_contains("no stage named 'b'")
///     .status(2)
///     .run();
/// ```
///
/// Text given to `file`, `pipeline`, `params`, `stdout` and `stderr` is [`unindent`]ed.
/// Without `status`, exit code 0 is expected. [`Test::run`] returns the project, and
/// [`Test::at`] runs again in the same folder (a cache hit, a second repro, …).
#[must_use]
pub struct Test {
    project: Project,
    args: Vec<String>,
    status: i32,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
}

impl Test {
    pub fn new() -> Test {
        Test::at(Project::new())
    }

    /// A test in an existing project folder.
    pub fn at(project: Project) -> Test {
        Test {
            project,
            args: Vec::new(),
            status: 0,
            stdout: None,
            stderr: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
        }
    }

    pub fn file(self, rel: &str, content: &str) -> Test {
        self.project.write(rel, &unindent(content));
        self
    }

    pub fn pipeline(self, yaml: &str) -> Test {
        self.file("pipeline.yaml", yaml)
    }

    pub fn params(self, yaml: &str) -> Test {
        self.file("params.yaml", yaml)
    }

    pub fn args<const N: usize>(mut self, args: [&str; N]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// The exact stdout.
    pub fn stdout(mut self, expected: &str) -> Test {
        self.stdout = Some(unindent(expected));
        self
    }

    /// The exact stderr.
    pub fn stderr(mut self, expected: &str) -> Test {
        self.stderr = Some(unindent(expected));
        self
    }

    pub fn stdout_contains(mut self, part: &str) -> Test {
        self.stdout_contains.push(part.to_string());
        self
    }

    pub fn stderr_contains(mut self, part: &str) -> Test {
        self.stderr_contains.push(part.to_string());
        self
    }

    pub fn status(mut self, code: i32) -> Test {
        self.status = code;
        self
    }

    /// Runs churnflow and checks everything that was specified; a failure points at the
    /// test that called this.
    #[track_caller]
    pub fn run(self) -> Project {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let r = self.project.run(&args);
        let all = r.all();
        assert_eq!(r.code(), self.status, "churnflow {args:?}: unexpected exit code\n{all}");
        assert!(!r.stderr().contains("panicked"), "churnflow {args:?} panicked\n{all}");
        if let Some(expected) = &self.stdout {
            assert_eq!(&r.stdout(), expected, "churnflow {args:?}: stdout\n{all}");
        }
        if let Some(expected) = &self.stderr {
            assert_eq!(&r.stderr(), expected, "churnflow {args:?}: stderr\n{all}");
        }
        for part in &self.stdout_contains {
            assert!(r.stdout().contains(part.as_str()), "churnflow {args:?}: stdout lacks {part:?}\n{all}");
        }
        for part in &self.stderr_contains {
            assert!(r.stderr().contains(part.as_str()), "churnflow {args:?}: stderr lacks {part:?}\n{all}");
        }
        self.project
    }
}

#[test]
fn unindent_removes_the_common_indentation_and_the_first_newline() {
    assert_eq!(unindent("\n    a:\n      b: 1\n\n    c\n    "), "a:\n  b: 1\n\nc\n");
    assert_eq!(unindent("x\n"), "x\n");
}

/// The demo's data stages: ingest → validate → features, the snapshot date a param
/// (`features.snapshot_date`).
pub const DATA_PIPELINE: &str = r#"stages:
  ingest:
    uses: ingest
    with:
      layout: events
      customers: data/raw/customers.csv
      transactions: data/raw/transactions.csv
      cdr: data/raw/cdr.csv
      support_tickets: data/raw/support_tickets.csv
      out: data/ingested
  validate:
    uses: validate
    with:
      input: data/ingested
      report: reports/validation.json
      snapshot_date: ${features.snapshot_date}
  features:
    uses: features
    with:
      input: data/ingested
      validation_report: reports/validation.json
      out: data/features.parquet
"#;

/// The repository's demo pipeline and params on `customers` generated customers (`seed`).
pub fn demo_project(customers: usize, seed: u64) -> Project {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new()
        .file("pipeline.yaml", &std::fs::read_to_string(root.join("pipeline.yaml")).unwrap())
        .file("params.yaml", &std::fs::read_to_string(root.join("params.yaml")).unwrap());
    p.ok(&[
        "generate",
        "--customers",
        &customers.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        "data/raw",
    ]);
    p
}

/// The demo with its `train.algorithm` line replaced by `train_lines` (YAML lines under
/// `train:`, each ending in a newline); the rest of params.yaml as committed.
pub fn demo_training(customers: usize, seed: u64, train_lines: &str) -> Project {
    let p = demo_project(customers, seed);
    let params = p.read("params.yaml");
    let from = "  algorithm: logistic_regression";
    assert!(params.contains(from), "params.yaml has no '{from}'");
    p.write("params.yaml", &params.replacen(from, &format!("{train_lines}  # was:"), 1));
    p
}

/// Runs `churnflow ARGS` in `p` on a pseudo-terminal (`script` from util-linux), as a user at
/// a terminal would, and returns what it drew; asserts it exited 0.
pub fn on_a_terminal(p: &Project, args: &str) -> String {
    let recording = p.path("recording.txt");
    let bin = assert_cmd::cargo::cargo_bin("churnflow");
    let status = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &format!("{} {args}", bin.display())])
        .arg(&recording)
        .current_dir(p.root())
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .env("COLUMNS", "200")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script (util-linux) runs");
    assert!(status.success(), "churnflow {args} failed on a terminal");
    String::from_utf8_lossy(&std::fs::read(&recording).unwrap()).into_owned()
}

/// A test that needs a tool this machine lacks (chromedriver, moto's S3 server): in CI —
/// `env_var=1`, which `.ci/run` sets, or `CI` set as CI services do — that is a failure;
/// elsewhere the test says it was skipped, on the terminal (libtest captures `eprintln!` of a
/// passing test, so it writes to stderr itself), and the caller returns.
pub fn skip_unless_required(env_var: &str, missing: &str, install: &str) {
    let on = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    assert!(
        !on(env_var) && !on("CI"),
        "{test}: {missing}, and {} (run {install})",
        if on(env_var) { format!("{env_var}=1 requires it") } else { "CI is set, which requires it".into() }
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {missing} (run {install}, or set {env_var}=1 to fail instead)"
    );
}
