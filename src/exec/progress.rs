//! What churnflow tells the user while it works, and how much (`-q`, `-v`).
//!
//! On a terminal: a spinner per running stage (indicatif) with its place in the run
//! (`[3/8] train: running`), finished stages printed above. Otherwise (CI, pipes,
//! `NO_COLOR`, `CI` set): plain lines, one per event, on stderr.
//!
//! A stage that counts its work ([`churnflow_stages::Reporter`]: ingest in bytes, features in
//! event rows) turns its spinner into a bar with rate and ETA; so does `score` ([`Meter`]).
//!
//! `-q` keeps only warnings and failures; `-v` adds what each stage runs and where its log
//! is. Results on stdout are the same at every level.
use churnflow_stages::{ProgressSnapshot, ProgressUnit};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How much churnflow says on stderr besides its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Warnings and failures only (`-q`).
    Quiet = 0,
    Normal = 1,
    /// Also each stage's command and log file (`-v`).
    Verbose = 2,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Set once by the CLI from `-q` / `-v`.
pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// An informational line on stderr (a note, a count), left out with `-q`.
pub fn info(text: &str) {
    if verbosity() >= Verbosity::Normal {
        say(text);
    }
}

/// A warning on stderr, shown at every level.
pub fn warn(text: &str) {
    say(text);
}

/// A line on stderr. A closed stderr (`churnflow repro 2>&1 | head`) is not an error worth
/// stopping the work for — `eprintln!` would panic, in a stage's worker thread at that.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Whether bars may be drawn: stderr is a terminal, neither `NO_COLOR` nor `CI` is set, and
/// not `-q`.
fn bars_wanted() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var_os("CI").is_none()
        && verbosity() >= Verbosity::Normal
}

/// A byte bar with rate and ETA for a transfer (`push`, `fetch`), or a hidden one where bars
/// are not wanted.
pub fn transfer_bar(what: &str) -> ProgressBar {
    if !bars_wanted() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} {bar:30} {bytes}/{total_bytes}, {msg} ({binary_bytes_per_sec}, ETA {eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Turns `bar` into a bar of `s`'s unit (first call) and moves it to `s`.
fn show(bar: &ProgressBar, s: ProgressSnapshot) {
    if bar.length() != Some(s.total) {
        let counts = match s.unit {
            ProgressUnit::Bytes => "{bytes}/{total_bytes} ({binary_bytes_per_sec}, ETA {eta})",
            ProgressUnit::Rows => "{human_pos}/{human_len} rows ({rows_per_sec}, ETA {eta})",
        };
        let template = format!("{{spinner}} {{prefix}}{{msg}} {{bar:25}} {counts} [{{elapsed}}]");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            // indicatif's own {per_sec} prints four decimals: whole rows read better.
            bar.set_style(style.with_key(
                "rows_per_sec",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", indicatif::HumanCount(state.per_sec() as u64));
                },
            ));
        }
        bar.set_length(s.total);
    }
    bar.set_position(s.done);
}

/// A bar for work done in-process (`score`): drawn only where [`Progress`] would draw one.
pub struct Meter {
    bar: Option<ProgressBar>,
}

impl Meter {
    pub fn new(what: &str) -> Meter {
        let bar = bars_wanted().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Meter { bar }
    }

    pub fn update(&self, s: ProgressSnapshot) {
        if let Some(bar) = &self.bar {
            show(bar, s);
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub struct Progress {
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    /// Stages the run acts on, and how many have started (for `[k/n]`).
    total: AtomicUsize,
    started: AtomicUsize,
    /// Set for one experiment of a sweep ([`Progress::nested`]): what every line starts with.
    prefix: Option<String>,
}

impl Progress {
    /// Bars only on a terminal, and not when `NO_COLOR` or `CI` is set, or with `-q`.
    pub fn new(quiet_bars: bool) -> Progress {
        let bars = (!quiet_bars && bars_wanted()).then(|| (MultiProgress::new(), Mutex::new(HashMap::new())));
        Progress { bars, total: AtomicUsize::new(0), started: AtomicUsize::new(0), prefix: None }
    }

    /// The progress of one run among several at once (an experiment of a sweep): no bars,
    /// every line starts with `prefix`, and a stage's lines are details (`-v`); warnings and
    /// failures still show at every level.
    pub fn nested(prefix: &str) -> Progress {
        Progress {
            bars: None,
            total: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            prefix: Some(prefix.to_string()),
        }
    }

    /// The number of stages this run acts on.
    pub fn set_total(&self, n: usize) {
        self.total.store(n, Ordering::Relaxed);
    }

    fn print(&self, text: &str) {
        if let Some(prefix) = &self.prefix {
            return say(&format!("{prefix}: {text}"));
        }
        // With bars, they are cleared, the line is printed with a real newline, and they are
        // drawn again below it (indicatif's own `println` pads to the terminal width instead
        // of ending the line, which turns a terminal recording into one long line).
        match &self.bars {
            Some((mp, _)) => mp.suspend(|| say(text)),
            None => say(text),
        }
    }

    /// A line that stays (a finished stage, a decision); left out with `-q`.
    pub fn line(&self, text: &str) {
        let at = if self.prefix.is_some() { Verbosity::Verbose } else { Verbosity::Normal };
        if verbosity() >= at {
            self.print(text);
        }
    }

    /// A warning or a failure: shown at every level.
    pub fn warn(&self, text: &str) {
        self.print(text);
    }

    /// Detail for `-v` only.
    pub fn detail(&self, text: &str) {
        if verbosity() >= Verbosity::Verbose {
            self.print(text);
        }
    }

    /// A stage started doing `what` ("running", "restoring").
    pub fn start(&self, stage: &str, what: &str) {
        let k = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let n = self.total.load(Ordering::Relaxed).max(k);
        match &self.bars {
            Some((mp, map)) => {
                let bar = mp.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}{msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!("[{k}/{n}] "));
                bar.set_message(format!("{stage}: {what}"));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut m) = map.lock() {
                    m.insert(stage.to_string(), bar);
                }
            }
            None => self.line(&format!("{stage}: {what}")),
        }
    }

    /// Follows the progress file a running stage writes (see [`churnflow_stages::Reporter`])
    /// until the stage's bar is finished. Nothing without bars.
    pub fn watch(&self, stage: &str, file: PathBuf) {
        let Some((_, map)) = &self.bars else { return };
        let Some(bar) = map.lock().ok().and_then(|m| m.get(stage).cloned()) else { return };
        std::thread::spawn(move || {
            while !bar.is_finished() {
                if let Some(s) = churnflow_stages::read_progress(&file) {
                    show(&bar, s);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    }

    /// A stage that was up to date or restored without work still counts towards `[k/n]`.
    pub fn skipped(&self, text: &str) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.line(text);
    }

    /// A stage finished (however it ended): its spinner goes, the line stays.
    pub fn finish(&self, stage: &str, text: &str) {
        self.clear(stage);
        self.line(text);
    }

    /// A stage failed: its spinner goes, the line stays at every level.
    pub fn finish_failed(&self, stage: &str, text: &str) {
        self.clear(stage);
        self.warn(text);
    }

    fn clear(&self, stage: &str) {
        if let Some((_, map)) = &self.bars {
            if let Some(bar) = map.lock().ok().and_then(|mut m| m.remove(stage)) {
                bar.finish_and_clear();
            }
        }
    }
}
