//! `churnflow report`: write the self-contained HTML report (see [`crate::report`]).
//!
//! `--out` is relative to the project root (default `reports/index.html`); its folder is
//! created. The file is written atomically. Missing inputs are noted in the page and on
//! stderr; the command still succeeds, so a partial pipeline still gets a report.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub const DEFAULT_OUT: &str = "reports/index.html";

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  churnflow report\n  churnflow report --out public/index.html")]
pub struct ReportArgs {
    /// The HTML file to write, relative to the project root.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
}

pub fn run(root: &Path, args: &ReportArgs) -> Result<u8> {
    let out = args.out.as_path();
    let report = crate::report::build(root)?;
    let dest: PathBuf = if out.is_absolute() { out.to_path_buf() } else { root.join(out) };
    if dest.is_dir() {
        return Err(Error::BadInput(format!(
            "--out {} is a folder; name the HTML file to write, e.g. {}/index.html",
            out.display(),
            out.display()
        )));
    }
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    crate::store::atomic::write(&dest, report.html.as_bytes(), false)
        .map_err(|e| Error::io(format!("cannot write {}", dest.display()), e))?;
    for n in &report.notes {
        crate::exec::progress::info(&format!("note: {n}"));
    }
    println!("wrote {} ({} plot(s))", out.display(), report.plots_drawn);
    Ok(0)
}
