//! Tables for the terminal and for GitHub-flavoured Markdown, shared by the comparing
//! commands (`metrics show|diff`, `params diff`, `exp show|diff`), and their format flags
//! ([`FormatArgs`]). Not a command: the one file of `commands/` besides `mod.rs` that
//! commands may use (`tests/layering.rs`).
//!
//! Text tables pad every column to its widest cell (right-aligning the numeric ones);
//! Markdown tables escape `|` and line breaks in cells so a value can never break a row.

/// How a comparing command prints its table: text (the default), JSON or Markdown.
#[derive(clap::Args)]
pub struct FormatArgs {
    /// Machine-readable JSON (with "schema": 1).
    #[arg(long, group = "format")]
    pub json: bool,
    /// A GitHub-flavoured Markdown table (for a PR comment or $GITHUB_STEP_SUMMARY).
    #[arg(long, group = "format")]
    pub md: bool,
    /// Significant decimals in the text and Markdown tables (JSON keeps every digit).
    #[arg(long, default_value_t = crate::compare::metrics::DEFAULT_PRECISION, value_name = "N")]
    pub precision: usize,
}

/// A table: a header row and body rows of equal length; `right[i]` right-aligns column i.
pub struct Table {
    pub headers: Vec<String>,
    pub right: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str], right: &[bool]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Each column's width: its widest cell, the header included.
    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        widths
    }

    /// [`Table::text`] in at most `width` characters a line, and the headers of the columns
    /// left out for that, in `priority` order. When every column fits, exactly [`Table::text`]. Else the columns
    /// are taken in `priority` order (indices; those it does not name come after, in table
    /// order) while they fit, each one that does not being skipped; they are shown in table
    /// order. The first column of `priority` is always kept, however narrow `width` is.
    pub fn fit(&self, width: usize, priority: &[usize]) -> (String, Vec<String>) {
        let text = self.text();
        if text.lines().all(|l| l.chars().count() <= width) {
            return (text, Vec::new());
        }
        let widths = self.widths();
        let n = self.headers.len();
        let mut order: Vec<usize> = Vec::new();
        for i in priority.iter().copied().chain(0..n) {
            if i < n && !order.contains(&i) {
                order.push(i);
            }
        }
        let mut keep = vec![false; n];
        let mut used = 0;
        for (k, &i) in order.iter().enumerate() {
            let need = if k == 0 { widths[i] } else { 2 + widths[i] };
            if k == 0 || used + need <= width {
                keep[i] = true;
                used += need;
            }
        }
        let pick = |cells: &[String]| -> Vec<String> {
            cells.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c.clone()).collect()
        };
        let fitted = Table {
            headers: pick(&self.headers),
            right: self.right.iter().zip(&keep).filter(|(_, k)| **k).map(|(r, _)| *r).collect(),
            rows: self.rows.iter().map(|r| pick(r)).collect(),
        };
        let left = order.iter().filter(|&&i| !keep[i]).map(|&i| self.headers[i].clone()).collect();
        (fitted.text(), left)
    }

    /// Aligned plain text, one line per row, no trailing spaces.
    pub fn text(&self) -> String {
        let widths = self.widths();
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = w.saturating_sub(c.chars().count());
                if self.right.get(i).copied().unwrap_or(false) {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn markdown(&self) -> String {
        let row = |cells: &[String]| {
            format!("| {} |\n", cells.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "))
        };
        let mut out = row(&self.headers);
        let rule: Vec<&str> = (0..self.headers.len())
            .map(|i| if self.right.get(i).copied().unwrap_or(false) { "---:" } else { "---" })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for r in &self.rows {
            out.push_str(&row(r));
        }
        out
    }
}

/// How wide the text tables that fit the terminal may be: `$COLUMNS` when it is a number
/// (1 or more), else the terminal's width when stdout is one; `None` (no limit) when stdout
/// is a pipe or a file and `$COLUMNS` is not set, so what is saved or searched is whole.
pub fn output_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|v| v.trim().parse::<usize>().ok()) {
        if n > 0 {
            return Some(n);
        }
    }
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which lives until the call returns.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// What says which columns [`Table::fit`] left out (`left`, most important first) to fit
/// `width`, and `how` to see them: one line when that fits, else the names on one line and
/// `how` on the next. As many names as the line has room for, then how many more.
pub fn left_out_note(left: &[String], width: usize, how: &str) -> String {
    let line = |names: &[String]| {
        let rest = left.len() - names.len();
        let more = if rest > 0 { format!(" and {rest} more") } else { String::new() };
        format!("left out to fit {width} columns: {}{more}", names.join(", "))
    };
    let mut shown = 1.min(left.len());
    while shown < left.len() && line(&left[..=shown]).chars().count() <= width {
        shown += 1;
    }
    let names = line(&left[..shown]);
    let one = format!("{names}; {how}");
    if one.chars().count() <= width {
        one
    } else {
        format!("{names}\n{how}")
    }
}

/// A cell safe inside a Markdown table row.
pub fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_cannot_break_the_row() {
        let mut t = Table::new(&["a", "b"], &[false, true]);
        t.push(vec!["x|y".into(), "1\n2".into()]);
        assert_eq!(t.markdown(), "| a | b |\n| --- | ---: |\n| x\\|y | 1 2 |\n");
    }

    #[test]
    fn a_table_wider_than_the_width_keeps_the_columns_first_in_priority_that_fit() {
        let mut t = Table::new(&["name", "long_header", "b", "c"], &[false, true, true, false]);
        t.push(vec!["exp-1".into(), "0.5".into(), "1".into(), "x".into()]);
        assert_eq!(t.fit(80, &[0]), (t.text(), Vec::new()), "all fits: the text as it is");
        let (text, left) = t.fit(12, &[0, 3, 2, 1]);
        assert_eq!(text, "name   b  c\nexp-1  1  x\n");
        assert_eq!(left, ["long_header"]);
        for width in 0..4 {
            let (text, left) = t.fit(width, &[0, 1]);
            assert_eq!(text, "name\nexp-1\n", "the first column stays, however narrow");
            assert_eq!(left.len(), 3);
        }
        let names: Vec<String> = (1..=30).map(|i| format!("column_{i}")).collect();
        let note = left_out_note(&names, 80, "see --md");
        assert!(note.lines().all(|l| l.chars().count() <= 80), "{note}");
        assert!(note.contains(" and 2") && note.ends_with("\nsee --md"), "{note}");
        assert_eq!(left_out_note(&names[..1], 80, "x"), "left out to fit 80 columns: column_1; x");
        assert_eq!(left_out_note(&names[..2], 1, "x"), "left out to fit 1 columns: column_1 and 1 more\nx");
    }

    #[test]
    fn text_columns_are_aligned() {
        let mut t = Table::new(&["key", "n"], &[false, true]);
        t.push(vec!["auc_roc".into(), "0.5".into()]);
        assert_eq!(t.text(), "key        n\nauc_roc  0.5\n");
    }
}
