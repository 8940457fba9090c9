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
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
        .arg("repro")
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
