//! HTML building blocks for the report: escaping, a safe Markdown renderer for the model
//! card, and a tolerant renderer for JSON of unknown shape (the validation report).
//!
//! Nothing rendered here can reference anything outside the page: Markdown links keep
//! their text but lose their target, images become their alt text, and raw HTML in the
//! Markdown is shown as text.
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

/// Text escaped for HTML content and attribute values: the stages crate's one escaper.
pub use churnflow_stages::html::escape as esc;

/// Markdown to HTML with links, images and raw HTML neutralised.
pub fn markdown(text: &str) -> String {
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).filter_map(
        |e| match e {
            Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::HtmlBlock) => None,
            Event::End(TagEnd::Link | TagEnd::Image | TagEnd::HtmlBlock) => None,
            // Shown as text, quotes included, so not even its text can read as an attribute.
            Event::Html(h) | Event::InlineHtml(h) => Some(Event::Html(esc(&h).into())),
            other => Some(other),
        },
    );
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

/// A JSON scalar as short text (strings bare).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Does this object say it failed (`passed|pass|success|ok: false`, `status: fail…`)?
pub fn failed(obj: &serde_json::Map<String, Value>) -> Option<bool> {
    for k in ["passed", "pass", "success", "ok"] {
        if let Some(b) = obj.get(k).and_then(Value::as_bool) {
            return Some(!b);
        }
    }
    let status =
        obj.get("status").or_else(|| obj.get("result")).and_then(Value::as_str)?.to_ascii_lowercase();
    match status.as_str() {
        "fail" | "failed" | "failure" | "error" => Some(true),
        "pass" | "passed" | "ok" | "success" => Some(false),
        _ => None,
    }
}

/// Any JSON as HTML: scalars of an object as a key/value table, arrays of objects as
/// tables (a failing row marked), nested objects under their key. `depth` bounds nesting.
pub fn json(v: &Value, depth: usize) -> String {
    let mut out = String::new();
    match v {
        Value::Object(map) => {
            let scalars: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| !v.is_object() && !is_table(v)).collect();
            if !scalars.is_empty() {
                out.push_str("<table class=\"kv\">");
                for (k, v) in scalars {
                    let text = if v.is_array() { v.to_string() } else { scalar(v) };
                    out.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&text)));
                }
                out.push_str("</table>");
            }
            for (k, v) in map.iter().filter(|(_, v)| v.is_object() || is_table(v)) {
                if depth == 0 {
                    out.push_str(&format!("<p><b>{}</b>: <code>{}</code></p>", esc(k), esc(&v.to_string())));
                } else {
                    out.push_str(&format!("<h4>{}</h4>{}", esc(k), json(v, depth - 1)));
                }
            }
        }
        Value::Array(items) if is_table(v) => {
            let mut cols: Vec<&String> = Vec::new();
            for item in items {
                for k in item.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !cols.contains(&k) {
                        cols.push(k);
                    }
                }
            }
            out.push_str("<table class=\"rows\"><tr>");
            for c in &cols {
                out.push_str(&format!("<th>{}</th>", esc(c)));
            }
            out.push_str("</tr>");
            for item in items {
                let Some(m) = item.as_object() else { continue };
                let class = match failed(m) {
                    Some(true) => " class=\"fail\"",
                    Some(false) => " class=\"pass\"",
                    None => "",
                };
                out.push_str(&format!("<tr{class}>"));
                for c in &cols {
                    let text = m.get(*c).map(scalar).unwrap_or_default();
                    out.push_str(&format!("<td>{}</td>", esc(&text)));
                }
                out.push_str("</tr>");
            }
            out.push_str("</table>");
        }
        other => out.push_str(&format!(
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(other).unwrap_or_default())
        )),
    }
    out
}

/// A non-empty array of objects.
fn is_table(v: &Value) -> bool {
    matches!(v, Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object))
}

/// (passed, failed) among the list items anywhere in `v` that say whether they passed.
pub fn tally(v: &Value) -> (usize, usize) {
    let mut t = (0, 0);
    fn walk(v: &Value, t: &mut (usize, usize)) {
        match v {
            Value::Array(items) => {
                for item in items {
                    match item.as_object().and_then(failed) {
                        Some(true) => t.1 += 1,
                        Some(false) => t.0 += 1,
                        None => {}
                    }
                    walk(item, t);
                }
            }
            Value::Object(m) => m.values().for_each(|v| walk(v, t)),
            _ => {}
        }
    }
    walk(v, &mut t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markdown_loses_link_targets_images_and_raw_html() {
        let html = markdown("# Card\n\nSee [docs](https://example.com) ![logo](http://x/y.png)\n\n<script>alert(1)</script>\n");
        assert!(html.contains("<h1>Card</h1>"), "{html}");
        assert!(!html.contains("href") && !html.contains("src="), "{html}");
        assert!(html.contains("docs") && html.contains("logo"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        let raw = markdown("<img src=\"https://t.example/p.gif\">\n");
        assert!(raw.contains("&lt;img src=&quot;https://t.example/p.gif&quot;&gt;"), "{raw}");
    }

    #[test]
    fn expectation_rows_are_tabled_and_failures_marked() {
        let v = json!({"passed": false, "expectations": [
            {"name": "no_nulls", "observed": 0, "passed": true},
            {"name": "label_two_valued", "observed": 3, "passed": false}]});
        let html = json(&v, 3);
        assert!(
            html.contains("<tr class=\"fail\"><td>label_two_valued</td><td>3</td><td>false</td></tr>"),
            "{html}"
        );
        assert_eq!(tally(&v), (1, 1));
    }
}
