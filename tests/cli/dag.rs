//! `churnflow dag` in its formats.
use crate::support::diamond;

#[test]
fn dag_text_lists_stages_with_their_upstream() {
    let p = diamond();
    let out = p.ok(&["dag"]).stdout();
    assert_eq!(out.lines().next(), Some("prepare"));
    assert!(out.contains("join     <- left, right"), "{out}");
}

#[test]
fn dag_dot_mermaid_and_json_show_every_edge() {
    let p = diamond();
    let dot = p.ok(&["dag", "--dot"]).stdout();
    assert!(dot.contains("\"prepare\" -> \"left\";") && dot.contains("\"right\" -> \"join\";"), "{dot}");
    let mermaid = p.ok(&["dag", "--mermaid"]).stdout();
    assert!(mermaid.starts_with("flowchart LR") && mermaid.contains("left --> join"), "{mermaid}");
    let json = p.ok(&["dag", "--json"]).json();
    assert_eq!(json["schema"], 1);
    assert_eq!(
        json["edges"],
        serde_json::json!([["prepare", "left"], ["prepare", "right"], ["left", "join"], ["right", "join"]])
    );
}
