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

    /// Aligned plain text, one line per row, no trailing spaces.
    pub fn text(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
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
    fn text_columns_are_aligned() {
        let mut t = Table::new(&["key", "n"], &[false, true]);
        t.push(vec!["auc_roc".into(), "0.5".into()]);
        assert_eq!(t.text(), "key        n\nauc_roc  0.5\n");
    }
}
