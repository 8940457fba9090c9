//! The one HTML escaper, shared by every page churnflow writes: the validation report, the
//! drift report and (re-exported as `churnflow_stages::html::escape`) the engine's report.

/// Text escaped for HTML content and attribute values (`&`, `<`, `>`, `"` and `'`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_the_five_characters_and_nothing_else() {
        assert_eq!(escape(r#"a&b<c>d"e'f é"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f é");
        assert_eq!(escape(""), "");
    }
}
