//! Stamps the git commit the binary was built from into `churnflow --version`
//! (`CHURNFLOW_GIT_COMMIT`: the short hash; `unknown` outside a git checkout, e.g. a
//! crates.io tarball). Only HEAD is watched, so committing reruns this script and nothing
//! else does.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CHURNFLOW_GIT_COMMIT={commit}");
    // A new commit or checkout changes these; then the stamp is redone.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{head}");
        }
    }
}
