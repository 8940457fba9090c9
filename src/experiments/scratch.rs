//! An experiment's scratch workspace: a copy of the project made of hard links, in
//! `artifacts/tmp/`, with its own params.yaml.
//!
//! Every file of the project except `.git/` and `artifacts/` is hard-linked (copied when
//! linking is not possible, and for `persist: true` outs, which a stage writes in place), so
//! making one costs a directory walk whatever the data's size, and the stages that the
//! overrides do not touch find their outs present and fresh. A stage that reruns deletes its
//! outs first (the links), never the project's files. Dropped, the workspace is deleted.
//! Outs that an unfinished run left half-written in the project (`leave_out`, see
//! [`crate::store::unfinished`]) are not mirrored: missing there, they are restored or rerun,
//! never taken for a hand edit. Nor is `artifacts/` (with those markers) mirrored.
use crate::store::objects::STORE_DIR;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Mirrors `project` into a new folder under `store_dir/tmp`; the relative paths in
    /// `copy` are copied instead of linked, those in `leave_out` not mirrored at all.
    pub fn create(
        project: &Path,
        store_dir: &Path,
        name: &str,
        copy: &BTreeSet<String>,
        leave_out: &BTreeSet<String>,
    ) -> io::Result<Scratch> {
        let tmp = store_dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let dir = tempfile::Builder::new().prefix(&format!("exp-{name}-")).tempdir_in(&tmp)?;
        mirror(project, dir.path(), "", &Rules { copy, leave_out })?;
        Ok(Scratch { dir })
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` as `rel`, replacing the link (never writing through it).
    pub fn write(&self, rel: &str, text: &str) -> io::Result<()> {
        crate::store::atomic::write(&self.root().join(rel), text.as_bytes(), false)
    }
}

/// What [`mirror`] copies rather than links, and what it leaves out.
struct Rules<'a> {
    copy: &'a BTreeSet<String>,
    leave_out: &'a BTreeSet<String>,
}

fn mirror(from: &Path, to: &Path, rel: &str, rules: &Rules<'_>) -> io::Result<()> {
    for entry in std::fs::read_dir(from.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if rel.is_empty() && (name == ".git" || name == STORE_DIR)
            || name.starts_with(churnflow_stages::TEMP_PREFIX)
        {
            continue;
        }
        let child = if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") };
        if rules.leave_out.contains(&child) {
            continue;
        }
        let (src, dest): (PathBuf, PathBuf) = (from.join(&child), to.join(&child));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir(&dest)?;
            mirror(from, to, &child, rules)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dest)?;
        } else if rules.copy.iter().any(|c| crate::pipeline::paths::is_within(&child, c))
            || std::fs::hard_link(&src, &dest).is_err()
        {
            std::fs::copy(&src, &dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_mirror_links_files_copies_persistent_outs_and_skips_the_store_and_git() {
        let project = tempfile::tempdir().unwrap();
        let p = project.path();
        for (rel, text) in
            [("params.yaml", "a: 1\n"), ("data/raw/x.csv", "x\n"), ("work/state.db", "s"), (".git/HEAD", "h")]
        {
            std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
            std::fs::write(p.join(rel), text).unwrap();
        }
        let store = p.join(STORE_DIR);
        std::fs::create_dir_all(store.join("objects")).unwrap();
        let copy = BTreeSet::from(["work".to_string()]);
        let s = Scratch::create(p, &store, "t", &copy, &BTreeSet::new()).unwrap();
        let ino = |path: &Path| std::fs::metadata(path).unwrap().ino();
        assert_eq!(ino(&s.root().join("data/raw/x.csv")), ino(&p.join("data/raw/x.csv")), "linked");
        assert_ne!(ino(&s.root().join("work/state.db")), ino(&p.join("work/state.db")), "copied");
        assert!(!s.root().join(".git").exists() && !s.root().join(STORE_DIR).exists());
        s.write("params.yaml", "a: 2\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(p.join("params.yaml")).unwrap(),
            "a: 1\n",
            "the project's file is untouched"
        );
        let root = s.root().to_path_buf();
        drop(s);
        assert!(!root.exists(), "dropped, the scratch workspace is gone");
    }

    #[test]
    fn a_leftover_temp_file_of_either_writer_is_not_linked() {
        let project = tempfile::tempdir().unwrap();
        let p = project.path();
        // What a stage killed mid-write leaves beside its out (stages' io/atomic.rs), and
        // what the engine's writer would (store/atomic.rs): one prefix, churnflow_stages::TEMP_PREFIX.
        let leftover = format!("data/{}x1y2z3.parquet", churnflow_stages::TEMP_PREFIX);
        for rel in ["data/features.parquet", leftover.as_str()] {
            std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
            std::fs::write(p.join(rel), "x").unwrap();
        }
        let store = p.join(STORE_DIR);
        std::fs::create_dir_all(&store).unwrap();
        let s = Scratch::create(p, &store, "t", &BTreeSet::new(), &BTreeSet::new()).unwrap();
        assert!(s.root().join("data/features.parquet").exists());
        assert!(!s.root().join(&leftover).exists(), "the temp file was mirrored");
    }

    #[test]
    fn an_out_an_unfinished_run_left_is_not_mirrored() {
        let project = tempfile::tempdir().unwrap();
        let p = project.path();
        for rel in ["data/ingested/part.parquet", "data/features.parquet"] {
            std::fs::create_dir_all(p.join(rel).parent().unwrap()).unwrap();
            std::fs::write(p.join(rel), "x").unwrap();
        }
        let store = p.join(STORE_DIR);
        std::fs::create_dir_all(&store).unwrap();
        let leave_out = BTreeSet::from(["data/ingested".to_string()]);
        let s = Scratch::create(p, &store, "t", &BTreeSet::new(), &leave_out).unwrap();
        assert!(s.root().join("data/features.parquet").exists());
        assert!(!s.root().join("data/ingested").exists(), "the half-written out was mirrored");
    }
}
