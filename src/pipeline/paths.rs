//! Project-relative paths as written in pipeline.yaml: normal form and containment.
//!
//! Every path a stage names is relative to the project root, uses '/', and may not leave the
//! root (no absolute paths, no `..`). Outs may also not pass through a symlink, so restoring
//! or deleting an out can never touch anything outside the project.
use std::path::Path;

/// The normal form of a path written in the project files, or why it is refused.
pub fn normalize(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the path is empty".into());
    }
    if raw.starts_with('/') || raw.starts_with('~') || Path::new(raw).is_absolute() {
        return Err(format!("'{raw}' is absolute; paths must be relative to the project root"));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("'{raw}' leaves the project root ('..' is not allowed)")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("'{raw}' names the project root itself; name a file or folder inside it"));
    }
    Ok(parts.join("/"))
}

/// `inner` is `outer` or lies inside it.
pub fn is_within(inner: &str, outer: &str) -> bool {
    inner == outer
        || (inner.len() > outer.len() && inner.starts_with(outer) && inner.as_bytes()[outer.len()] == b'/')
}

/// The first existing component of `rel` (under `root`) that is a symlink, if any.
pub fn symlink_on_path(root: &Path, rel: &str) -> Option<String> {
    let mut current = root.to_path_buf();
    let mut so_far = String::new();
    for part in rel.split('/') {
        current.push(part);
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => return Some(so_far),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form_drops_dots_and_trailing_slashes() {
        assert_eq!(normalize("./data//raw/").unwrap(), "data/raw");
    }

    #[test]
    fn paths_leaving_the_project_are_refused() {
        assert!(normalize("../x").is_err());
        assert!(normalize("data/../../x").is_err());
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize(".").is_err());
    }

    #[test]
    fn containment_respects_component_boundaries() {
        assert!(is_within("data/raw/a.csv", "data/raw"));
        assert!(is_within("data/raw", "data/raw"));
        assert!(!is_within("data/rawish", "data/raw"));
        assert!(!is_within("data", "data/raw"));
    }
}
