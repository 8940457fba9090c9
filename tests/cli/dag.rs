//! `churnflow dag` in its formats.
use crate::support::{diamond, Test};

#[test]
fn dag_text_lists_stages_with_their_upstream() {
    Test::at(diamond())
        .args(["dag"])
        .stdout(
            "
            prepare
            right    <- prepare
            left     <- prepare
            join     <- left, right
        ",
        )
        .run();
}

#[test]
fn dag_dot_and_mermaid_show_every_edge() {
    let p = Test::at(diamond())
        .args(["dag", "--dot"])
        .stdout(
            r#"
            digraph pipeline {
              rankdir=LR;
              "prepare";
              "right";
              "left";
              "join";
              "prepare" -> "left";
              "prepare" -> "right";
              "left" -> "join";
              "right" -> "join";
            }
        "#,
        )
        .run();
    Test::at(p)
        .args(["dag", "--mermaid"])
        .stdout(
            r#"
            flowchart LR
              prepare["prepare"]
              right["right"]
              left["left"]
              join["join"]
              prepare --> left
              prepare --> right
              left --> join
              right --> join
        "#,
        )
        .run();
}

#[test]
fn dag_json_has_a_schema_and_every_edge() {
    let json = diamond().ok(&["dag", "--json"]).json();
    assert_eq!(json["schema"], 1);
    assert_eq!(
        json["edges"],
        serde_json::json!([["prepare", "left"], ["prepare", "right"], ["left", "join"], ["right", "join"]])
    );
}
