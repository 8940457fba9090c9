//! The README's "Month two" walk-through, run as written: its first `sh` block is read from
//! README.md, each command is run in a project that `init` made and `repro` ran once (a git
//! repository, as the root demo is), and each `# …` comment after a command must appear in
//! that command's output, piece by piece between the `…`s (`# (…)` comments are prose).
use crate::gitrepo;
use crate::support::Project;

/// The walk-through's commands with the output each promises.
fn month_two_steps() -> Vec<(String, Vec<String>)> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("## Month two").nth(1).expect("README has a Month two section");
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("an sh block");
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let mut continued = false;
    for line in block.lines() {
        let (code, comment) = match line.split_once("  #") {
            Some((c, m)) => (c.trim_end(), Some(m.trim())),
            None => (line.trim_end(), None),
        };
        if continued {
            let last = steps.last_mut().unwrap();
            last.0.push(' ');
            last.0.push_str(code.trim().trim_end_matches('\\').trim());
        } else if !code.trim().is_empty() {
            steps.push((code.trim_end_matches('\\').trim().to_string(), Vec::new()));
        }
        continued = code.ends_with('\\');
        if let Some(c) = comment.filter(|c| !c.starts_with('(')) {
            let last = steps.last_mut().expect("a comment after a command");
            last.1.extend(c.split('…').map(str::trim).filter(|s| !s.is_empty()).map(String::from));
        }
    }
    steps
}

#[test]
fn the_readme_month_two_walkthrough_runs_as_written() {
    let steps = month_two_steps();
    assert!(steps.len() >= 5, "{steps:?}");
    let demo = Project::new();
    demo.ok(&["init", "."]);
    assert!(demo.exists(".git"), "init made the git repository");
    demo.ok(&["repro"]);
    gitrepo::commit_all(&demo, "month one");
    for (command, promised) in steps {
        if command.starts_with("xdg-open") {
            assert!(demo.exists("reports/drift.html"));
            continue;
        }
        let output = if let Some(args) = command.strip_prefix("churnflow ") {
            let args = shell_words(args);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            demo.ok(&args).all()
        } else {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .current_dir(demo.root())
                .output()
                .unwrap();
            assert!(out.status.success(), "{command}: {out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        for piece in promised {
            assert!(output.contains(&piece), "`{command}` should print {piece:?}:\n{output}");
        }
    }
}

/// Splits a command line as sh would for the quoting the README uses (single quotes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}
