//! The README's tour and "Month two" walk-through, run as written: each `sh` block is read
//! from README.md, each command is run in a project that `init` made and `repro` ran once (a
//! git repository, as the root demo is), and each `# …` comment after a command must appear
//! in that command's output, piece by piece between the `…`s (`# (…)` comments are prose).
use crate::gitrepo;
use crate::support::Project;

/// The commands of the `nth` `sh` block after `heading`, with the output each promises.
fn steps(heading: &str, nth: usize) -> Vec<(String, Vec<String>)> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split(heading).nth(1).unwrap_or_else(|| panic!("README has {heading}"));
    let block = section.split("```sh\n").nth(nth).and_then(|b| b.split("```").next()).expect("an sh block");
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

/// A new project as the quickstart leaves it: `init`, one `repro`, committed.
fn first_run() -> Project {
    let demo = Project::new();
    demo.ok(&["init", "."]);
    assert!(demo.exists(".git"), "init made the git repository");
    demo.ok(&["repro"]);
    gitrepo::commit_all(&demo, "month one");
    demo
}

/// Runs one README step in `demo`, asserts it succeeded and printed what the README promises,
/// and returns its output. Shell lines run with this build's churnflow first on the PATH.
fn run_step(demo: &Project, command: &str, promised: &[String]) -> String {
    let output = if let Some(args) = command.strip_prefix("churnflow ") {
        let args = shell_words(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        demo.ok(&args).all()
    } else {
        let bin = assert_cmd::cargo::cargo_bin("churnflow");
        let path =
            format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(demo.root())
            .env("PATH", path)
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {out:?}");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    for piece in promised {
        assert!(output.contains(piece.as_str()), "`{command}` should print {piece:?}:\n{output}");
    }
    output
}

#[test]
fn the_readme_tour_runs_as_written() {
    let steps = steps("## Quickstart", 2);
    assert!(steps.len() >= 10, "{steps:?}");
    assert!(steps.iter().all(|(c, p)| !p.is_empty() || c.starts_with("sed")), "every step promises output");
    let demo = first_run();
    let champion = || demo.ok(&["models", "show", "champion", "--json"]).json()["model"].clone();
    let first_champion = champion();
    for (command, promised) in &steps {
        let output = run_step(&demo, command, promised);
        // What each step leaves behind, beyond what it prints.
        match command.as_str() {
            c if c.starts_with("sed") => assert!(demo.read("params.yaml").contains("l2: 0.3")),
            "churnflow repro" => assert_ne!(champion(), first_champion, "the retuned model was promoted"),
            "churnflow report" => {
                crate::report::assert_the_report_draws_every_plot_with_the_champion_and_fits_1280px(&demo)
            }
            c if c.starts_with("churnflow score") => {
                assert_eq!(demo.read("scores.csv").lines().count(), 2001)
            }
            c if c.starts_with("git checkout") => {
                assert!(!output.contains("train: running"), "train was restored, not rerun: {output}");
                assert_eq!(champion(), first_champion, "the first model is champion again");
            }
            _ => {}
        }
    }
    // The tour leaves nothing untracked that .gitignore does not cover, but the new model in
    // the registry (which is committed, as the README's table of files says).
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(demo.root())
        .output()
        .unwrap();
    let untracked: Vec<String> = String::from_utf8_lossy(&status.stdout)
        .lines()
        .filter(|l| l.starts_with("??") && !l.starts_with("?? registry/models/"))
        .map(str::to_string)
        .collect();
    assert!(untracked.is_empty(), "untracked after the tour: {untracked:?}");
}

#[test]
fn the_readme_month_two_walkthrough_runs_as_written() {
    let steps = steps("## Month two", 1);
    assert!(steps.len() >= 5, "{steps:?}");
    let demo = first_run();
    for (command, promised) in steps {
        if command.starts_with("xdg-open") {
            assert!(demo.exists("reports/drift.html"));
            continue;
        }
        run_step(&demo, &command, &promised);
    }
}

/// The README's two serving blocks: each `churnflow serve` line starts the real server (on a
/// free port: `localhost:8000` in the later lines is replaced by its address), each `curl`
/// line must print what its comment promises, and the server must see every request.
#[test]
fn the_readme_serving_blocks_run_as_written() {
    let events = first_run();
    let telco = Project::new();
    telco.ok(&["init", ".", "--example", "telco"]);
    telco.ok(&["repro"]);
    for (nth, demo) in [(1, &events), (2, &telco)] {
        let steps = steps("## Serving", nth);
        assert!(steps.len() >= 3, "{steps:?}");
        let mut server = None;
        for (command, promised) in &steps {
            if let Some(args) = command.strip_prefix("churnflow serve") {
                let args = shell_words(args.trim());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                server = Some(crate::serve::Server::start(demo.root(), &args));
                continue;
            }
            let base = &server.as_ref().expect("serve comes first").base;
            let command = command.replace("localhost:8000", base.trim_start_matches("http://"));
            run_step(demo, &command, promised);
        }
        assert_eq!(server.expect("a server").terminate(), 0);
        assert!(demo.exists("logs/predictions"), "the prediction log was written");
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
