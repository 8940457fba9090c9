//! Changing values in params.yaml: in a value tree, and in the file's text in place, so
//! `exp apply` keeps the user's comments, order and layout.
//!
//! A value is replaced on its own line, from where it starts to where it ends (a closing
//! quote or bracket, else the start of a ` #` comment or the end of the line). The edited
//! text is read back and must give exactly the expected values; when it does not (a value
//! written over several lines), the caller gets `None` and writes the whole file instead.
use crate::pipeline::params::Params;
use serde_json::Value;

/// Sets the value at a dotted key (`train.l2`) inside `root`, creating nothing: `false`
/// when the key is not there.
pub fn set_value(root: &mut Value, key: &str, value: Value) -> bool {
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        match node.as_object_mut().and_then(|m| m.get_mut(*part)) {
            Some(next) => node = next,
            None => return false,
        }
    }
    match node.as_object_mut().and_then(|m| m.get_mut(parts[parts.len() - 1])) {
        Some(slot) => {
            *slot = value;
            true
        }
        None => false,
    }
}

/// How a value is written on one line of YAML: plain when that reads back as the same
/// value, else JSON (which YAML reads as flow style).
pub fn inline_yaml(value: &Value) -> String {
    if let Value::String(s) = value {
        let plain_ok = !s.is_empty()
            && !s.contains([
                '#', ':', '\n', '"', '\'', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`',
            ])
            && s.trim() == s
            && serde_yaml::from_str::<Value>(s).ok().as_ref() == Some(value);
        if plain_ok {
            return s.clone();
        }
    }
    serde_json::to_string(value).unwrap_or_default()
}

/// `text` (params.yaml) with each `(dotted key, value)` of `changes` written in place, or
/// `None` when the result would not read back as exactly those values.
pub fn set_in_text(text: &str, changes: &[(String, Value)]) -> Option<String> {
    let original = Params::parse(text).ok()?;
    let mut expected = original.root().clone();
    let mut edited = text.to_string();
    for (key, value) in changes {
        if !set_value(&mut expected, key, value.clone()) {
            return None;
        }
        let (line, column) = Params::parse(&edited).ok()?.locate(key)?;
        edited = replace_on_line(&edited, line, column, &inline_yaml(value))?;
    }
    let reread = Params::parse(&edited).ok()?;
    (reread.root() == &expected).then_some(edited)
}

/// Replaces the value starting at 1-based (`line`, `column`) up to its end on that line.
fn replace_on_line(text: &str, line: usize, column: usize, new: &str) -> Option<String> {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let body = l.trim_end_matches(['\n', '\r']);
            let start = body.char_indices().nth(column.checked_sub(1)?).map(|(b, _)| b)?;
            let end = start + value_len(&body[start..]);
            let mut out = String::with_capacity(text.len() + new.len());
            out.push_str(&text[..offset + start]);
            out.push_str(new);
            out.push_str(&text[offset + end..]);
            return Some(out);
        }
        offset += l.len();
    }
    None
}

/// The length in bytes of the value at the start of `rest` (one line): a quoted string, a
/// flow collection, or a plain scalar up to a ` #` comment, without trailing blanks.
fn value_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q == b'"' {
                    i += 1;
                } else if c == q {
                    quote = None;
                    if depth == 0 {
                        return i + 1;
                    }
                }
            }
            None => match c {
                b'"' | b'\'' if i == 0 || depth > 0 => quote = Some(c),
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b'#' if depth == 0 && i > 0 && bytes[i - 1].is_ascii_whitespace() => {
                    return rest[..i].trim_end().len();
                }
                _ => {}
            },
        }
        i += 1;
    }
    rest.trim_end().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PARAMS: &str = "# Tunable values.\ntrain:\n  algorithm: logistic_regression   # or random_forest\n  l2: 1.0\n  name: \"a # b\"\n  cols: [a, b]   # list\nsplit:\n  seed: 42\n";

    #[test]
    fn values_change_in_place_and_comments_stay() {
        let changes = vec![
            ("train.l2".to_string(), json!(0.3)),
            ("train.algorithm".to_string(), json!("random_forest")),
            ("train.name".to_string(), json!("x")),
            ("train.cols".to_string(), json!(["c"])),
            ("split.seed".to_string(), json!(7)),
        ];
        let edited = set_in_text(PARAMS, &changes).expect("in place");
        assert_eq!(
            edited,
            "# Tunable values.\ntrain:\n  algorithm: random_forest   # or random_forest\n  l2: 0.3\n  name: x\n  cols: [\"c\"]   # list\nsplit:\n  seed: 7\n"
        );
    }

    #[test]
    fn strings_that_would_read_back_differently_are_quoted() {
        assert_eq!(inline_yaml(&json!("true")), "\"true\"");
        assert_eq!(inline_yaml(&json!("1.5")), "\"1.5\"");
        assert_eq!(inline_yaml(&json!("a: b")), "\"a: b\"");
        assert_eq!(inline_yaml(&json!("max_profit")), "max_profit");
        let edited = set_in_text(PARAMS, &[("train.algorithm".into(), json!("yes no"))]).unwrap();
        assert_eq!(Params::parse(&edited).unwrap().get("train.algorithm"), Some(&json!("yes no")));
    }

    #[test]
    fn a_value_over_several_lines_is_not_edited_in_place() {
        let text = "eval:\n  columns:\n    - a\n    - b\n";
        assert_eq!(set_in_text(text, &[("eval.columns".into(), json!(["c"]))]), None);
    }

    #[test]
    fn an_unknown_key_is_refused() {
        assert_eq!(set_in_text(PARAMS, &[("train.nope".into(), json!(1))]), None);
        let mut v = json!({"a": {"b": 1}});
        assert!(!set_value(&mut v, "a.c", json!(2)));
        assert!(set_value(&mut v, "a.b", json!(2)));
        assert_eq!(v, json!({"a": {"b": 2}}));
    }
}
