//! The remote store: `remote add|list|remove|default`, `push`, `fetch`, `pull` and
//! `repro --pull`, against a folder remote and against a real S3-protocol server on loopback
//! (moto's server, which `.ci/install-s3` installs; `.ci/run` sets `CHURNFLOW_S3_TESTS=1`,
//! which makes a missing server a failure, as does `CI` — elsewhere those tests print `SKIPPED
//! <test>: …` and check nothing).
use crate::gitrepo::git;
use crate::support::Project;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The demo project (`churnflow init`), reproduced and committed to git.
fn committed_demo() -> Project {
    let p = Project::new();
    p.ok(&["init", "."]);
    p.ok(&["repro", "-q"]);
    git(&p, &["init", "-q"]);
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-q", "-m", "demo"]);
    p
}

/// [`committed_demo`] with a folder remote as its default, the config committed too.
fn demo_with_folder_remote() -> (Project, tempfile::TempDir) {
    let p = committed_demo();
    let remote = tempfile::tempdir().unwrap();
    add_folder_remote(&p, remote.path());
    git(&p, &["add", ".churnflow/config.yaml"]);
    git(&p, &["commit", "-q", "-m", "remote"]);
    (p, remote)
}

/// A fresh `git clone` of `p`: what a colleague or a CI runner starts from.
fn clone_of(p: &Project) -> Project {
    let c = Project::new();
    git(p, &["clone", "-q", &p.root().display().to_string(), &c.root().display().to_string()]);
    c
}

/// Every file under `dir` (relative path → bytes), skipping the store and git.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            if rel == ".git" || rel == "artifacts" {
                continue;
            }
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts two workspaces hold the same files with the same bytes, naming those that differ.
fn assert_same_files(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (files(a), files(b));
    let differ: Vec<&String> = fa
        .keys()
        .chain(fb.keys())
        .filter(|k| fa.get(*k) != fb.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(differ.is_empty(), "{what}: these files differ: {differ:?}");
}

/// The files of every object in a store or a remote folder.
fn object_files(objects: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(objects).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out.sort();
    out
}

fn add_folder_remote(p: &Project, folder: &Path) {
    p.ok(&["remote", "add", "share", &folder.display().to_string()]);
}

#[test]
fn remotes_are_added_listed_made_default_and_removed_without_secrets() {
    let p = Project::new();
    p.ok(&["init", "."]);
    let r = p.ok(&[
        "remote",
        "add",
        "team",
        "s3://ml-artifacts/churn",
        "--endpoint-url",
        "http://127.0.0.1:9000",
    ]);
    assert!(r.stdout().contains("added remote 'team'"), "{}", r.all());
    p.ok(&["remote", "add", "share", "/mnt/share/churnflow"]);
    let listed = p.ok(&["remote", "list", "--json"]).json();
    let remotes = listed["remotes"].as_array().unwrap();
    assert_eq!(remotes.len(), 2);
    let team = remotes.iter().find(|r| r["name"] == "team").unwrap();
    assert_eq!(team["default"], true, "the first remote is the default: {listed}");
    assert_eq!(team["endpoint_url"], "http://127.0.0.1:9000");
    p.ok(&["remote", "default", "share"]);
    assert!(p.ok(&["remote", "list"]).stdout().contains("* share"));
    let config = p.read(".churnflow/config.yaml");
    assert!(config.contains("default: share") && config.contains("s3://ml-artifacts/churn"), "{config}");

    // Credentials in a URL are refused, not written.
    let r = p.run(&["remote", "add", "leaky", "s3://AKIAEXAMPLE:secret@bucket/x"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("carries credentials"), "{}", r.all());
    assert!(!p.read(".churnflow/config.yaml").contains("AKIAEXAMPLE"));
    // A typo is told apart from a missing remote.
    let r = p.run(&["remote", "remove", "shar"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("did you mean 'share'"), "{}", r.all());
    p.ok(&["remote", "remove", "share"]);
    assert!(!p.read(".churnflow/config.yaml").contains("share"));
    // A relative folder is relative to the project root; the project itself is refused.
    let r = p.run(&["remote", "add", "rel", "sub/.."]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("cannot be the project itself"), "{}", r.all());
}

#[test]
fn push_and_pull_through_a_folder_remote_round_trip_byte_for_byte_and_send_only_what_is_missing() {
    let (p, remote) = demo_with_folder_remote();
    let first = p.ok(&["push", "--json"]).json();
    let sent = first["objects"].as_u64().unwrap();
    assert!(sent >= 10, "{first}");
    assert_eq!(first["already_there"], 0);
    assert!(first["runs"].as_u64().unwrap() >= 4, "run records go with the objects: {first}");
    assert_eq!(object_files(&remote.path().join("objects")).len() as u64, sent);
    // Nothing new: nothing sent.
    let second = p.ok(&["push", "--json"]).json();
    assert_eq!((second["objects"].as_u64(), second["runs"].as_u64()), (Some(0), Some(0)), "{second}");
    assert_eq!(second["already_there"].as_u64(), Some(sent));

    let c = clone_of(&p);
    assert!(!c.exists("models/model.json"), "a clone has no stored outs");
    let pulled = c.ok(&["pull"]);
    assert!(pulled.stderr().contains("restored"), "{}", pulled.all());
    assert_same_files(c.root(), p.root(), "the clone's workspace equals the original");
    assert!(c.ok(&["status"]).stdout().contains("Everything is up to date"));
}

#[test]
fn a_corrupt_remote_object_is_refused_and_the_rest_is_fetched() {
    let (p, remote) = demo_with_folder_remote();
    p.ok(&["push", "-q"]);
    // The model file's object on the remote gets one byte flipped.
    let model = std::fs::read(p.path("models/model.json")).unwrap();
    let object = object_files(&remote.path().join("objects"))
        .into_iter()
        .find(|f| std::fs::read(f).unwrap() == model)
        .expect("the model's object on the remote");
    let hash = format!(
        "{}{}",
        object.parent().unwrap().file_name().unwrap().to_str().unwrap(),
        object.file_name().unwrap().to_str().unwrap()
    );
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&object, bytes).unwrap();

    let c = clone_of(&p);
    let r = c.run(&["fetch"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains(&format!("remote object {} is corrupt", &hash[..12])), "{}", r.all());
    assert!(!c.path(&format!("artifacts/objects/{}/{}", &hash[..2], &hash[2..])).exists(), "never stored");
    let stored = object_files(&c.path("artifacts/objects")).len();
    assert_eq!(stored, object_files(&remote.path().join("objects")).len() - 1, "everything else arrived");
    // Checkout restores what arrived and names what did not.
    let r = c.run(&["checkout"]);
    assert_ne!(r.code(), 0);
    assert!(r.all().contains("models/model.json"), "{}", r.all());
    assert!(c.exists("data/features.parquet"));
}

#[test]
fn an_interrupted_push_resumes_without_resending_what_arrived() {
    let (p, remote) = demo_with_folder_remote();
    // The first push stops after the data stages (as if cut off); the second sends the rest.
    let part = p.ok(&["push", "ingest", "validate", "features", "--json"]).json();
    let rest = p.ok(&["push", "--json"]).json();
    let all = p.ok(&["push", "--json"]).json();
    let sent = |v: &serde_json::Value| v["objects"].as_u64().unwrap();
    assert!(sent(&part) > 0 && sent(&rest) > 0);
    assert_eq!(rest["already_there"].as_u64(), Some(sent(&part)), "{rest}");
    assert_eq!(all["already_there"].as_u64(), Some(sent(&part) + sent(&rest)));
    // A push cut off mid-object leaves nothing the remote would serve: a stray temp file
    // under objects/ is neither listed nor fetched.
    std::fs::write(remote.path().join("objects").join(".tmp-partial"), b"half").unwrap();
    assert_eq!(p.ok(&["push", "--json"]).json()["objects"], 0);
}

#[test]
fn a_fresh_clone_reproduces_the_pipeline_from_the_remote_without_running_a_stage() {
    let (p, _remote) = demo_with_folder_remote(); // the remote folder lives while this is bound
    p.ok(&["push", "-q"]);
    let c = clone_of(&p);
    let r = c.ok(&["repro", "--pull"]);
    assert!(r.stderr().contains("0 ran"), "{}", r.all());
    assert!(c.ok(&["status"]).stdout().contains("Everything is up to date"));

    // A retune pushed from one machine is restored, not recomputed, on the other.
    p.write("params.yaml", &p.read("params.yaml").replace("l2: 1.0", "l2: 0.3"));
    let r = p.ok(&["repro", "-v", "--push"]);
    assert!(r.stderr().contains("train: done"), "{}", r.all());
    // Each stage's results go as soon as it has run, not only at the end.
    assert!(r.stderr().contains("train: pushed 1 object(s) to 'share'"), "{}", r.all());
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-q", "-m", "retune"]);
    git(&c, &["pull", "-q"]);
    let r = c.ok(&["repro", "--pull"]);
    assert!(r.stderr().contains("0 ran"), "{}", r.all());
    assert_eq!(c.read("pipeline.lock"), p.read("pipeline.lock"));
    assert_same_files(c.root(), p.root(), "the new model and predictions arrived");
}

#[test]
fn without_a_remote_push_says_how_to_add_one() {
    let p = Project::new();
    p.ok(&["init", "."]);
    let r = p.run(&["push"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("churnflow remote add"), "{}", r.all());
    let r = p.run(&["repro", "--pull"]);
    assert_eq!(r.code(), 2, "{}", r.all());
}

/// moto's S3 server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
    /// moto's request log (one line per request: `"PUT /churn/… HTTP/1.1" 200`).
    log: tempfile::NamedTempFile,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    fn start() -> Option<S3Server> {
        S3Server::start_with(&[])
    }

    /// Checking credentials: moto then refuses every signed request whose access key it does
    /// not know (the first request, which creates the bucket, goes through unchecked).
    fn start_checking_credentials() -> Option<S3Server> {
        S3Server::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "1")])
    }

    fn start_with(env: &[(&str, &str)]) -> Option<S3Server> {
        let found =
            Command::new("moto_server").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !found.is_ok_and(|s| s.success()) {
            crate::support::skip_unless_required(
                "CHURNFLOW_S3_TESTS",
                "moto_server is not installed",
                ".ci/install-s3",
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = S3Server { child, endpoint, log };
        let agent = ureq::Agent::new_with_defaults();
        let deadline = Instant::now() + Duration::from_secs(30);
        // Up when it answers; then the bucket (object stores do not create buckets).
        while agent.put(&format!("{}/churn", server.endpoint)).send_empty().is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start on {}", server.endpoint);
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    /// How many requests of `method` under `path` the server has answered so far.
    fn requests(&self, method: &str, path: &str) -> usize {
        std::thread::sleep(Duration::from_millis(200));
        let text = std::fs::read_to_string(self.log.path()).unwrap();
        text.lines().filter(|l| l.contains(&format!("\"{method} {path}"))).count()
    }

    fn add_to(&self, p: &Project) {
        p.ok(&["remote", "add", "s3", "s3://churn/team/store", "--endpoint-url", &self.endpoint]);
    }
}

/// The credentials moto accepts (any), as a user would set them.
fn with_keys(mut c: assert_cmd::Command) -> assert_cmd::Command {
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    c
}

#[test]
fn an_s3_remote_round_trips_the_demo_and_a_fresh_clone_runs_nothing() {
    let Some(server) = S3Server::start() else { return };
    let p = committed_demo();
    server.add_to(&p);
    let run = |p: &Project, args: &[&str]| {
        let out = with_keys(p.cmd(args)).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    let first: serde_json::Value =
        serde_json::from_slice(&run(&p, &["push", "--json", "--registry"]).stdout).unwrap();
    let sent = first["objects"].as_u64().unwrap() as usize;
    assert!(sent >= 10, "{first}");
    // One PUT per object and run record (and registry event); existence from listings.
    let puts = server.requests("PUT", "/churn/team/store/");
    let runs = first["runs"].as_u64().unwrap() as usize;
    assert_eq!(puts, sent + runs + 1, "objects + run records + one registry event");
    let (gets_before, puts_before) = (server.requests("GET", "/churn"), puts);
    let second: serde_json::Value = serde_json::from_slice(&run(&p, &["push", "--json"]).stdout).unwrap();
    assert_eq!(second["objects"], 0, "{second}");
    assert_eq!(second["already_there"], first["objects"]);
    assert_eq!(server.requests("PUT", "/churn/team/store/"), puts_before, "nothing new: nothing sent");
    assert_eq!(
        server.requests("GET", "/churn") - gets_before,
        2,
        "two listings (objects/, runs/), no per-object checks"
    );

    git(&p, &["add", ".churnflow/config.yaml"]);
    git(&p, &["commit", "-q", "-m", "remote"]);
    let c = clone_of(&p);
    let out = run(&c, &["repro", "--pull"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0 ran"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_files(c.root(), p.root(), "byte for byte");
}

#[test]
fn status_remote_tells_which_outs_each_side_lacks() {
    let (p, _remote) = demo_with_folder_remote(); // the remote folder lives while this is bound
    let before = p.ok(&["status", "--remote", "--json"]).json();
    let outs = before["outs"].as_array().unwrap();
    assert!(outs.len() >= 6, "{before}");
    assert!(outs.iter().all(|o| o["local"] == true && o["remote"] == false), "{before}");
    assert_eq!(before["to_push"].as_u64(), Some(outs.len() as u64));
    p.ok(&["push", "-q"]);
    let text = p.ok(&["status", "--remote", "share"]).stdout();
    assert!(text.contains("in step"), "{text}");
    let c = clone_of(&p);
    let clone = c.ok(&["status", "--remote", "--json"]).json();
    assert_eq!(clone["to_fetch"].as_u64(), Some(outs.len() as u64), "{clone}");
    assert!(clone["outs"].as_array().unwrap().iter().all(|o| o["local"] == false && o["remote"] == true));
}

#[test]
fn gc_remote_is_a_dry_run_unless_told_and_keeps_everything_reachable() {
    let (p, remote) = demo_with_folder_remote();
    p.ok(&["push", "-q"]);
    // A retune: the earlier model's run becomes unreachable once the new lock is committed
    // (the registry still holds the champion's model, which must stay).
    p.write("params.yaml", &p.read("params.yaml").replace("l2: 1.0", "l2: 0.3"));
    p.ok(&["repro", "-q", "--push"]);
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-q", "-m", "retune"]);
    let objects = || object_files(&remote.path().join("objects")).len() as u64;
    let total = objects();

    let dry = p.ok(&["gc", "--remote", "--json"]).json();
    assert_eq!(dry["dry_run"], true);
    let removed = dry["objects_removed"].as_u64().unwrap();
    assert!(removed > 0, "the retune left unreachable objects: {dry}");
    assert_eq!(objects(), total, "a dry run deletes nothing");
    assert!(p.ok(&["gc", "--remote"]).stdout().contains("dry run: add --yes"));

    let done = p.ok(&["gc", "--remote", "share", "--yes", "--json"]).json();
    assert_eq!(done["objects_removed"].as_u64(), Some(removed));
    assert_eq!(objects(), total - removed);
    assert_eq!(done["objects_kept"].as_u64(), Some(objects()));
    // Everything reachable stayed: a fresh clone still runs nothing.
    let c = clone_of(&p);
    let r = c.ok(&["repro", "--pull"]);
    assert!(r.stderr().contains("0 ran"), "{}", r.all());
    assert_same_files(c.root(), p.root(), "after gc --remote");
}

#[test]
fn the_config_switch_makes_every_repro_pull() {
    let (p, _remote) = demo_with_folder_remote(); // the remote folder lives while this is bound
    p.ok(&["push", "-q"]);
    let config = p.read(".churnflow/config.yaml");
    p.write(".churnflow/config.yaml", &format!("{config}repro:\n  pull: true\n"));
    git(&p, &["add", ".churnflow/config.yaml"]);
    git(&p, &["commit", "-q", "-m", "remote, pulled by every repro"]);
    let c = clone_of(&p);
    let r = c.ok(&["repro"]);
    assert!(r.stderr().contains("0 ran"), "{}", r.all());
    // A misspelt switch is an error naming the file, not ignored.
    c.write(".churnflow/config.yaml", &format!("{config}repro:\n  pul: true\n"));
    let r = c.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains(".churnflow/config.yaml"), "{}", r.all());
}

#[test]
fn two_machines_promoting_at_once_one_wins_the_other_is_told_and_the_chain_never_forks() {
    let (p, remote) = demo_with_folder_remote();
    p.ok(&["push", "-q", "--registry"]);
    let events = || std::fs::read_dir(remote.path().join("registry/events")).unwrap().count();
    assert_eq!(events(), 1, "the first champion's promotion");

    // Two machines retune differently; each records its own decision as event #2.
    let (a, b) = (clone_of(&p), clone_of(&p));
    for (m, l2) in [(&a, "0.3"), (&b, "3.0")] {
        m.write("params.yaml", &m.read("params.yaml").replace("l2: 1.0", &format!("l2: {l2}")));
        m.ok(&["repro", "-q", "--pull"]);
        assert_eq!(m.read("registry/audit.jsonl").lines().count(), 2);
    }
    // Both push at the same moment.
    let spawn = |m: &Project| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
            .args(["push", "-q", "--registry"])
            .current_dir(m.root())
            .env("CI", "1")
            .output()
    };
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| spawn(&a).unwrap());
        let tb = s.spawn(|| spawn(&b).unwrap());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let codes = (ra.status.code(), rb.status.code());
    assert!(codes == (Some(0), Some(1)) || codes == (Some(1), Some(0)), "exactly one wins: {codes:?}");
    let (winner, loser, told) = if codes.0 == Some(0) { (&a, &b, rb) } else { (&b, &a, ra) };
    let told = String::from_utf8_lossy(&told.stderr).to_string();
    assert!(told.contains("pull --registry --take-remote"), "the loser is told what to do: {told}");
    assert_eq!(events(), 2, "one event #2 on the remote, no fork");

    // The loser cannot silently merge; told to, it takes the shared chain.
    let r = loser.run(&["pull", "--registry"]);
    assert_eq!(r.code(), 1, "{}", r.all());
    assert!(r.stderr().contains("differ from event #2"), "{}", r.all());
    loser.ok(&["pull", "--registry", "--take-remote"]);
    assert_eq!(loser.read("registry/audit.jsonl"), winner.read("registry/audit.jsonl"));
    loser.ok(&["models", "verify"]);
    // And it can go on: re-evaluate against the new champion and share what it decides.
    loser.ok(&["repro", "-q"]);
    loser.ok(&["push", "-q", "--registry"]);
    let shared = events();
    assert!(shared >= 2);
    winner.ok(&["pull", "-q", "--registry"]);
    assert_eq!(winner.read("registry/audit.jsonl"), loser.read("registry/audit.jsonl"));
    assert_eq!(winner.read("registry/audit.jsonl").lines().count(), shared);
}

/// A project with one stage that writes a file larger than one multipart part (32 MiB).
fn large_out_project() -> Project {
    let p = Project::new().file("params.yaml", "").file(
        "pipeline.yaml",
        "stages:\n  big:\n    cmd: head -c 35000000 /dev/urandom > big.bin\n    outs: [big.bin]\n",
    );
    p.ok(&["repro", "-q"]);
    p
}

/// Pushes, forgets the local copy, and fetches it back: the bytes must be the same.
fn multipart_round_trip(p: &Project, run: &dyn Fn(&[&str]) -> serde_json::Value) {
    let original = std::fs::read(p.path("big.bin")).unwrap();
    let pushed = run(&["push", "--json"]);
    assert_eq!((pushed["objects"].as_u64(), pushed["multipart"].as_u64()), (Some(1), Some(1)), "{pushed}");
    assert_eq!(pushed["bytes"].as_u64(), Some(35_000_000));
    std::fs::remove_dir_all(p.path("artifacts/objects")).unwrap();
    std::fs::remove_file(p.path("big.bin")).unwrap();
    let fetched = run(&["pull", "--json"]);
    assert_eq!(fetched["bytes"].as_u64(), Some(35_000_000), "{fetched}");
    assert!(std::fs::read(p.path("big.bin")).unwrap() == original, "the 35 MB out came back byte for byte");
}

#[test]
fn a_large_object_goes_in_parts_and_comes_back_whole() {
    let p = large_out_project();
    let remote = tempfile::tempdir().unwrap();
    add_folder_remote(&p, remote.path());
    multipart_round_trip(&p, &|args| p.ok(args).json());
    let Some(server) = S3Server::start() else { return };
    let s3 = large_out_project();
    server.add_to(&s3);
    multipart_round_trip(&s3, &|args| {
        let out = with_keys(s3.cmd(args)).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    });
}

#[test]
fn a_push_killed_at_any_moment_is_finished_by_the_next_one() {
    let p = large_out_project();
    let remote = tempfile::tempdir().unwrap();
    add_folder_remote(&p, remote.path());
    let original = std::fs::read(p.path("big.bin")).unwrap();
    // Killed after 0, 20, 60 ms: before, during or after the 35 MB upload, whichever it was,
    // the next push completes the remote and what is fetched back is whole.
    for delay in [0, 20, 60] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
            .args(["push", "-q"])
            .current_dir(p.root())
            .env("CI", "1")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    p.ok(&["push", "-q"]);
    assert_eq!(p.ok(&["push", "--json"]).json()["objects"], 0, "the remote is complete");
    std::fs::remove_dir_all(p.path("artifacts/objects")).unwrap();
    std::fs::remove_file(p.path("big.bin")).unwrap();
    p.ok(&["pull", "-q"]);
    assert!(std::fs::read(p.path("big.bin")).unwrap() == original);
}

#[test]
fn experiment_records_travel_through_a_remote_and_apply_on_the_other_machine() {
    let (p, _remote) = demo_with_folder_remote();
    p.ok(&["exp", "run", "-S", "train.l2=0.2", "--name", "tuned"]);
    let pushed = p.ok(&["push", "--exps", "--json"]).json();
    assert_eq!(pushed["records"], 1, "{pushed}");
    assert_eq!(p.ok(&["push", "--exps", "--json"]).json()["records"], 0, "a second push sends no record");

    let c = clone_of(&p);
    let fetched = c.ok(&["pull", "--exps", "--json"]);
    assert!(fetched.stdout().contains("\"records\": 1"), "{}", fetched.all());
    assert_eq!(
        c.read("artifacts/exps/tuned.json"),
        p.read("artifacts/exps/tuned.json"),
        "the record arrives as it was"
    );
    let shown = c.ok(&["exp", "show", "--json", "tuned"]).json();
    assert_eq!(shown["experiments"][1]["overrides"]["train.l2"], 0.2);
    // The experiment's outs, uncached metrics included, came with it.
    c.ok(&["exp", "apply", "tuned"]);
    let rec: serde_json::Value = serde_json::from_str(&p.read("artifacts/exps/tuned.json")).unwrap();
    let auc = rec["metrics"]["reports/metrics.json"]["auc_roc"].as_f64().unwrap();
    let applied: serde_json::Value = serde_json::from_str(&c.read("reports/metrics.json")).unwrap();
    assert_eq!(applied["auc_roc"].as_f64(), Some(auc));
    let r = c.ok(&["repro", "--dry-run", "--json"]).json();
    let running: Vec<&str> = r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] != "skip")
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(running, ["promote"]);

    // The same name made elsewhere is not overwritten on the remote.
    c.ok(&["exp", "remove", "tuned"]);
    c.ok(&["exp", "run", "-S", "train.l2=0.4", "--name", "tuned"]);
    let clash = c.run(&["push", "--exps"]);
    assert_eq!(clash.code(), 1, "{}", clash.all());
    assert!(clash.stderr().contains("has another experiment named tuned"), "{}", clash.all());
}

/// `repro --pull` where the remote cannot be used: exit 2 before any stage runs, one message
/// naming what to set, no stage ran, the stale out still missing.
fn assert_refused_before_any_stage(p: &Project, out: std::process::Output, names: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "one message: {stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("warning:")), "no per-object warnings: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "names {name}: {stderr}");
    }
    assert!(stderr.contains("--allow-missing-remote"), "{stderr}");
    assert!(!stderr.contains("running") && !stderr.contains("done in"), "no stage ran: {stderr}");
    assert!(!p.exists("data/ingested"), "{stderr}");
}

/// The environment of a CI job whose AWS secret is missing; the instance metadata service
/// (asked when no key is set) is a closed loopback port, so the test never leaves the machine.
fn without_keys(mut c: assert_cmd::Command) -> assert_cmd::Command {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
        c.env_remove(name);
    }
    c.env("AWS_METADATA_ENDPOINT", format!("http://127.0.0.1:{closed}"))
        .env("AWS_DEFAULT_REGION", "us-east-1");
    c
}

#[test]
fn repro_pull_without_s3_credentials_fails_before_any_stage_with_one_message() {
    let Some(server) = S3Server::start() else { return };
    let p = committed_demo();
    server.add_to(&p);
    std::fs::remove_dir_all(p.path("data/ingested")).unwrap();
    let out = without_keys(p.cmd(&["repro", "--pull"])).output().unwrap();
    assert_refused_before_any_stage(&p, out, &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);

    // --allow-missing-remote: the old behaviour, as one warning, and the stage runs here.
    let out = without_keys(p.cmd(&["repro", "--allow-missing-remote"])).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("warning:")).count(), 1, "{stderr}");
    assert!(stderr.contains("going on without the remote"), "{stderr}");
    // Without the remote, the missing out comes back from the local store, as before.
    assert!(stderr.contains("ingest: restored from the store"), "{stderr}");
    assert!(p.exists("data/ingested"));
}

#[test]
fn repro_pull_with_wrong_s3_credentials_fails_before_any_stage_with_one_message() {
    let Some(server) = S3Server::start_checking_credentials() else { return };
    let p = committed_demo();
    server.add_to(&p);
    std::fs::remove_dir_all(p.path("data/ingested")).unwrap();
    let out = with_keys(p.cmd(&["repro", "--pull"])).output().unwrap();
    assert_refused_before_any_stage(&p, out, &["InvalidAccessKeyId", "AWS_ACCESS_KEY_ID", &server.endpoint]);
    // One request asked, not one per object or stage.
    assert_eq!(server.requests("GET", "/churn"), 1);
    let out = with_keys(p.cmd(&["repro", "--pull", "--allow-missing-remote"])).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("warning:")).count(), 1, "{stderr}");
    assert!(stderr.contains("ingest: restored from the store"), "{stderr}");
}

#[test]
fn repro_push_reports_the_whole_runs_total_not_only_the_last_push() {
    let (p, _remote) = demo_with_folder_remote();
    let r = p.ok(&["repro", "--force", "--push"]);
    let line = r.stderr().lines().find(|l| l.starts_with("push: sent")).map(String::from);
    let line = line.unwrap_or_else(|| panic!("{}", r.all()));
    let sent: u64 = line["push: sent ".len()..].split(' ').next().unwrap().parse().unwrap();
    // Every stage pushed as it finished; the last line counts them all, and nothing was on
    // the (empty) remote before.
    let all = p.ok(&["push", "--json"]).json();
    assert_eq!(all["objects"], 0, "{all}");
    assert_eq!(Some(sent), all["already_there"].as_u64(), "{line}");
    assert!(sent > 0 && line.ends_with("; 0 already there"), "{line}");
}

#[test]
fn a_relative_folder_remote_is_stored_relative_and_serves_a_clone_beside_it() {
    let p = committed_demo();
    // A folder beside the project: `../<name>` from the project root (and from the clone's).
    let parent = p.root().parent().unwrap().to_path_buf();
    let remote = tempfile::tempdir_in(&parent).unwrap();
    let name = remote.path().file_name().unwrap().to_str().unwrap().to_string();
    p.ok(&["remote", "add", "share", &format!("./sub/../../{name}/")]);
    let config = p.read(".churnflow/config.yaml");
    assert!(config.contains(&format!("url: ../{name}\n")), "stored relative, folded: {config}");
    git(&p, &["add", ".churnflow/config.yaml"]);
    git(&p, &["commit", "-q", "-m", "remote"]);
    p.ok(&["push", "-q"]);
    assert!(remote.path().join("objects").is_dir(), "pushed into the folder beside the project");
    let c = clone_of(&p); // a sibling of the remote folder too
    assert_eq!(c.root().parent(), Some(parent.as_path()));
    let r = c.ok(&["repro", "--pull"]);
    assert!(r.stderr().contains("0 ran"), "{}", r.all());
}

#[test]
fn fetch_help_shows_fetch_examples_and_pull_help_pull_examples() {
    let p = Project::new();
    let fetch = p.ok(&["fetch", "--help"]).stdout();
    let examples = fetch.split("Examples:").nth(1).unwrap_or_else(|| panic!("{fetch}"));
    assert!(examples.contains("churnflow fetch --registry"), "{fetch}");
    assert!(!examples.contains("churnflow pull"), "fetch --help shows pull examples:\n{fetch}");
    let pull = p.ok(&["pull", "--help"]).stdout();
    let examples = pull.split("Examples:").nth(1).unwrap_or_else(|| panic!("{pull}"));
    assert!(
        examples.contains("churnflow pull --registry --take-remote") && !examples.contains("churnflow fetch"),
        "{pull}"
    );
}
