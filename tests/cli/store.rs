//! The store, checkout, gc, the project lock and interruption.
use crate::support::{counts, diamond, Project, Test};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn object_path(p: &Project, content: &[u8]) -> std::path::PathBuf {
    let h = blake3::hash(content).to_hex().to_string();
    p.path(&format!("artifacts/objects/{}/{}", &h[..2], &h[2..]))
}

#[test]
fn a_flipped_byte_in_a_stored_object_is_detected_on_restore_and_the_stage_runs_instead() {
    let p = diamond();
    p.ok(&["repro"]);
    let obj = object_path(&p, b"raw\nleft 2\n");
    assert!(obj.is_file());
    std::fs::set_permissions(&obj, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&obj, b"raw\nleft 3\n").unwrap();
    std::fs::remove_file(p.path("work/left.txt")).unwrap();
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("is corrupt"), "{}", r.all());
    assert_eq!(counts(&p), [1, 2, 1, 1], "left reruns instead of using the bad object");
    assert_eq!(p.read("work/left.txt"), "raw\nleft 2\n");
}

#[test]
fn stored_objects_are_copies_not_links() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("work/left.txt", "edited in place\n");
    let obj = object_path(&p, b"raw\nleft 2\n");
    assert_eq!(std::fs::read(obj).unwrap(), b"raw\nleft 2\n");
}

#[test]
fn checkout_restores_the_locked_outs() {
    let p = diamond();
    p.ok(&["repro"]);
    std::fs::remove_dir_all(p.path("work")).unwrap();
    p.ok(&["checkout"]);
    assert_eq!(p.read("work/joined.txt"), "raw\nleft 2\nraw\nright 3\n");
    assert_eq!(counts(&p), [1, 1, 1, 1]);
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}

#[test]
fn checkout_reports_missing_objects_with_exit_1() {
    let p = diamond();
    p.ok(&["repro"]);
    std::fs::remove_dir_all(p.path("artifacts/objects")).unwrap();
    std::fs::remove_file(p.path("work/left.txt")).unwrap();
    let r = p.run(&["checkout"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("cannot restore work/left.txt"), "{}", r.all());
}

#[test]
fn gc_removes_what_no_lock_refers_to_and_keeps_the_rest() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("params.yaml", "left:\n  factor: 9\nright:\n  factor: 3\nunused:\n  x: 1\n");
    p.ok(&["repro"]);
    let old = object_path(&p, b"raw\nleft 2\n");
    assert!(old.is_file());
    let dry = p.ok(&["gc", "--dry-run", "--json"]).json();
    assert_eq!(dry["objects_removed"], 2, "old left.txt and old joined.txt: {dry}");
    assert!(old.is_file(), "a dry run removes nothing");
    p.ok(&["gc"]);
    assert!(!old.is_file());
    assert!(object_path(&p, b"raw\nleft 9\n").is_file());
    // The old run record went with its objects: reverting now reruns instead of restoring.
    p.write("params.yaml", "left:\n  factor: 2\nright:\n  factor: 3\nunused:\n  x: 1\n");
    p.ok(&["repro"]);
    assert_eq!(counts(&p), [1, 3, 1, 3]);
}

/// Starts `churnflow repro` and returns once its stage has created the file `started`.
fn repro_in_background(p: &Project) -> std::process::Child {
    churnflow_in_background(p, &["repro"])
}

/// Starts `churnflow ARGS` and returns once its stage has created the file `started`.
fn churnflow_in_background(p: &Project, args: &[&str]) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
        .args(args)
        .current_dir(p.root())
        .env("CI", "1")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.exists("started") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_second_concurrent_repro_is_refused_with_exit_3() {
    let p = Project::new().file(
        "pipeline.yaml",
        "stages:\n  slow:\n    cmd: touch started && sleep 3 && echo > slow.txt\n    outs: [slow.txt]\n",
    );
    let mut first = repro_in_background(&p);
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 3, "{}", r.all());
    assert!(r.stderr().contains(&format!("pid {}", first.id())), "{}", r.all());
    assert!(first.wait().unwrap().success());
}

#[test]
fn ctrl_c_kills_the_running_stage_and_records_nothing() {
    let p = Project::new().file(
        "pipeline.yaml",
        "stages:\n  slow:\n    cmd: touch started && sleep 30 && echo > slow.txt\n    outs: [slow.txt]\n",
    );
    let mut child = repro_in_background(&p);
    let started = Instant::now();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the stage was not killed");
    assert_eq!(status.code(), Some(130));
    assert!(!p.exists("slow.txt"));
    assert!(!p.exists("pipeline.lock") || !p.read("pipeline.lock").contains("slow"));
    // The lock is free again.
    p.ok(&["status"]);
}

#[test]
fn checkout_saves_a_hand_edit_with_the_same_warning_as_repro_and_writes_0644() {
    let p = diamond();
    p.ok(&["repro"]);
    p.write("work/left.txt", "my precious edit\n");
    std::fs::set_permissions(p.path("work/left.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let edit = blake3::hash(b"my precious edit\n").to_hex().to_string();
    let p = Test::at(p)
        .args(["checkout", "left"])
        .stderr(&format!(
            "
            warning: left: out work/left.txt was changed outside churnflow; its content is saved in the store as {} before it is replaced
            left: restored work/left.txt
            1 out(s) restored
            ",
            &edit[..12]
        ))
        .run();
    assert_eq!(p.read("work/left.txt"), "raw\nleft 2\n");
    assert!(p.path(&format!("artifacts/objects/{}/{}", &edit[..2], &edit[2..])).is_file());
    let mode = std::fs::metadata(p.path("work/left.txt")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "a restored out is 0644 whatever the umask");
}

/// A stage with a folder out. With the file `slow` present it writes part of the folder, its
/// process group's id into `stage.pid`, creates `started` and sleeps; with `fail` present it
/// writes the part and fails; otherwise it writes the whole folder.
const HALF_WRITING: &str = r#"stages:
  ingest:
    cmd: "mkdir -p data/ingested && echo partial > data/ingested/part.txt && if [ -e slow ]; then echo $$ > stage.pid && touch started && sleep 30; fi && if [ -e fail ]; then exit 1; fi && echo ${ingest.n} > data/ingested/a.txt"
    outs: [data/ingested]
"#;

/// [`HALF_WRITING`]'s project; `ingest.n` is what it writes into `a.txt`.
fn half_writing() -> Project {
    Project::new().file("pipeline.yaml", HALF_WRITING).file("params.yaml", "ingest:\n  n: a\n")
}

/// How many objects the store holds.
fn count_objects(p: &Project) -> usize {
    let Ok(shards) = std::fs::read_dir(p.path("artifacts/objects")) else { return 0 };
    shards
        .filter_map(|s| std::fs::read_dir(s.unwrap().path()).ok())
        .flatten()
        .filter(|o| !o.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count()
}

fn markers(p: &Project) -> usize {
    std::fs::read_dir(p.path("artifacts/unfinished")).map(|d| d.count()).unwrap_or(0)
}

/// Interrupts a `repro --force` of [`HALF_WRITING`] while its stage is half-way, with
/// `signal` to churnflow (SIGKILL: the stage's group, orphaned, is killed too). Returns
/// churnflow's pid. A hand edit made before that run is saved into the store by it.
fn interrupt_half_way(p: &Project, signal: i32) -> u32 {
    p.ok(&["repro"]);
    p.write("data/ingested/a.txt", "my edit\n");
    p.write("slow", "");
    let mut child = churnflow_in_background(p, &["repro", "--force"]);
    let pid = child.id();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, signal) };
    let status = child.wait().unwrap();
    if signal == libc::SIGKILL {
        let group: i32 = p.read("stage.pid").trim().parse().unwrap();
        // SAFETY: as above.
        unsafe { libc::killpg(group, libc::SIGKILL) };
    } else {
        assert_eq!(status.code(), Some(130));
    }
    std::fs::remove_file(p.path("slow")).unwrap();
    assert!(
        p.path(&format!("artifacts/objects/{}", obj_rel(b"my edit\n"))).is_file(),
        "the hand edit was saved"
    );
    assert_eq!(p.read("data/ingested/part.txt"), "partial\n");
    assert!(!p.exists("data/ingested/a.txt"), "the run was stopped half-way");
    pid
}

fn obj_rel(content: &[u8]) -> String {
    let h = blake3::hash(content).to_hex().to_string();
    format!("{}/{}", &h[..2], &h[2..])
}

/// After [`interrupt_half_way`]: status names the interrupted run, repro replaces the out
/// without storing it, and all is fresh after.
fn replaced_without_being_stored(p: &Project, pid: u32) {
    let objects = count_objects(p);
    let status = p.ok(&["status"]).stdout();
    let line = format!(
        "ingest: out data/ingested was left half-written by an interrupted run (pid {pid}); repro replaces it\n"
    );
    assert!(status.starts_with(&line), "{status}");
    assert!(!status.contains("was modified"), "{status}");
    let json = p.ok(&["status", "--json"]).json();
    let reason = &json["stages"][0]["reasons"][0];
    assert_eq!(reason["reason"], "out_half_written", "{json}");
    assert_eq!(reason["path"], "data/ingested", "{json}");
    assert_eq!(reason["pid"], pid, "{json}");
    let r = p.ok(&["repro"]);
    assert!(!r.stderr().contains("changed outside churnflow"), "saved as a hand edit:\n{}", r.all());
    assert!(
        r.stderr().contains(&format!(
            "ingest: out data/ingested was left half-written by an interrupted run (pid {pid}); it is replaced, not saved"
        )),
        "{}",
        r.all()
    );
    assert_eq!(p.read("data/ingested/part.txt"), "partial\n");
    assert_eq!(p.read("data/ingested/a.txt"), "a\n");
    assert_eq!(std::fs::read_dir(p.path("data/ingested")).unwrap().count(), 2);
    assert_eq!(count_objects(p), objects, "the half-written out went into the store");
    assert_eq!(markers(p), 0, "the marker outlived the run that replaced the out");
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}

#[test]
fn an_out_half_written_when_ctrl_c_came_is_named_as_such_and_replaced_without_being_stored() {
    let p = half_writing();
    let pid = interrupt_half_way(&p, libc::SIGINT);
    replaced_without_being_stored(&p, pid);
}

#[test]
fn an_out_half_written_when_churnflow_was_killed_is_named_as_such_and_replaced_without_being_stored() {
    let p = half_writing();
    let pid = interrupt_half_way(&p, libc::SIGKILL);
    replaced_without_being_stored(&p, pid);
}

#[test]
fn checkout_replaces_a_half_written_out_without_storing_it() {
    let p = half_writing();
    let pid = interrupt_half_way(&p, libc::SIGINT);
    let objects = count_objects(&p);
    let r = p.ok(&["checkout"]);
    assert!(!r.stderr().contains("changed outside churnflow"), "{}", r.all());
    assert!(r.stderr().contains(&format!("(pid {pid}); it is replaced, not saved")), "{}", r.all());
    assert_eq!(p.read("data/ingested/a.txt"), "a\n");
    assert_eq!(count_objects(&p), objects);
    assert_eq!(markers(&p), 0);
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}

#[test]
fn status_during_a_repro_says_the_out_is_being_written() {
    let p = half_writing();
    p.ok(&["repro"]);
    p.write("slow", "");
    let mut child = churnflow_in_background(&p, &["repro", "--force"]);
    let status = p.ok(&["status"]).stdout();
    assert!(
        status.contains(&format!(
            "ingest: out data/ingested is being written by a running churnflow (pid {})",
            child.id()
        )),
        "{status}"
    );
    // The project lock still keeps a second repro out.
    assert_eq!(p.run(&["repro"]).code(), 3);
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
}

#[test]
fn the_outs_of_a_failed_run_are_not_saved_as_a_hand_edit() {
    let p = half_writing();
    p.ok(&["repro"]);
    p.write("fail", "");
    assert_eq!(p.run(&["repro", "--force"]).code(), 1);
    assert_eq!(p.read("data/ingested/part.txt"), "partial\n", "a failed stage's outs stay to be looked at");
    let status = p.ok(&["status"]).stdout();
    assert!(
        status.starts_with("ingest: out data/ingested was left by a run that failed; repro replaces it\n"),
        "{status}"
    );
    assert_eq!(
        p.ok(&["status", "--json"]).json()["stages"][0]["reasons"][0]["reason"],
        "out_from_failed_run"
    );
    std::fs::remove_file(p.path("fail")).unwrap();
    let objects = count_objects(&p);
    let r = p.ok(&["repro"]);
    assert!(!r.stderr().contains("changed outside churnflow"), "{}", r.all());
    assert_eq!(p.read("data/ingested/a.txt"), "a\n");
    assert_eq!(count_objects(&p), objects);
    assert_eq!(markers(&p), 0);
}

#[test]
fn an_experiment_does_not_take_a_half_written_out_for_a_hand_edit() {
    let p = half_writing();
    interrupt_half_way(&p, libc::SIGINT);
    let r = p.ok(&["exp", "run", "-S", "ingest.n=b", "--name", "b"]);
    assert!(!r.stderr().contains("changed outside churnflow"), "{}", r.all());
    assert_eq!(p.read("data/ingested/part.txt"), "partial\n", "the project's workspace is untouched");
    let r = p.ok(&["exp", "apply", "b"]);
    assert!(!r.stderr().contains("changed outside churnflow"), "{}", r.all());
    assert_eq!(p.read("data/ingested/a.txt"), "b\n");
    assert_eq!(markers(&p), 0);
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}
