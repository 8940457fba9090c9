//! What `repro` tells the user while it works.
//!
//! On a terminal: a spinner per running stage (indicatif), finished stages printed above.
//! Otherwise (CI, pipes, `NO_COLOR`, `CI` set): plain lines, one per event, on stderr.
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

pub struct Progress {
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
}

impl Progress {
    /// Bars only on a terminal, and not when `NO_COLOR` or `CI` is set.
    pub fn new(quiet_bars: bool) -> Progress {
        let tty = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && std::env::var_os("CI").is_none();
        let bars = (tty && !quiet_bars).then(|| (MultiProgress::new(), Mutex::new(HashMap::new())));
        Progress { bars }
    }

    /// A line that stays (a finished stage, a warning). With bars, they are cleared, the
    /// line is printed with a real newline, and they are drawn again below it (indicatif's
    /// own `println` pads to the terminal width instead of ending the line, which turns a
    /// terminal recording into one long line).
    pub fn line(&self, text: &str) {
        match &self.bars {
            Some((mp, _)) => mp.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// A stage started doing `what` ("running", "restoring").
    pub fn start(&self, stage: &str, what: &str) {
        match &self.bars {
            Some((mp, map)) => {
                let bar = mp.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{stage}: {what}"));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut m) = map.lock() {
                    m.insert(stage.to_string(), bar);
                }
            }
            None => eprintln!("{stage}: {what}"),
        }
    }

    /// A stage finished (however it ended): its spinner goes, the line stays.
    pub fn finish(&self, stage: &str, text: &str) {
        if let Some((_, map)) = &self.bars {
            if let Some(bar) = map.lock().ok().and_then(|mut m| m.remove(stage)) {
                bar.finish_and_clear();
            }
        }
        self.line(text);
    }
}
