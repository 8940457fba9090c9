//! `params diff`: only declared params, flattened, with the stages that declare them and
//! everything a change reruns (their downstream, in graph order).
use crate::metrics::history;
use serde_json::json;

#[test]
fn two_revisions_show_declared_params_only_with_their_stages() {
    let p = history();
    let out = p.ok(&["params", "diff", "HEAD~1", "HEAD", "--json"]).json();
    assert_eq!(out["schema"], 1);
    assert_eq!((out["old"]["rev"].as_str(), out["new"]["rev"].as_str()), (Some("HEAD~1"), Some("HEAD")));
    // other.x changed too, but no stage declares it.
    assert_eq!(
        out["rows"],
        json!([
            {"param": "train.depth", "old": 3, "new": 4, "stages": ["evaluate", "fit"], "reruns": ["fit", "evaluate"]},
            {"param": "train.version", "old": 1, "new": 2, "stages": ["evaluate"], "reruns": ["evaluate"]},
        ])
    );
}

#[test]
fn head_vs_workspace_shows_a_param_new_on_one_side() {
    let p = history();
    let out = p.ok(&["params", "diff", "--json"]).json();
    assert_eq!(out["old"]["rev"], "HEAD");
    assert_eq!(out["new"]["rev"], "workspace");
    assert_eq!(
        out["rows"],
        json!([
            {"param": "train.lr", "old": null, "new": 0.1, "stages": ["evaluate"], "reruns": ["evaluate"]},
            {"param": "train.version", "old": 2, "new": 3, "stages": ["evaluate"], "reruns": ["evaluate"]},
        ])
    );
}

#[test]
fn all_includes_unchanged_params_and_text_and_markdown_tables_agree() {
    let p = history();
    let out = p.ok(&["params", "diff", "HEAD~1", "--all", "--json"]).json();
    let names: Vec<&str> =
        out["rows"].as_array().unwrap().iter().map(|r| r["param"].as_str().unwrap()).collect();
    assert_eq!(names, ["split.seed", "train.depth", "train.lr", "train.version"]);
    assert_eq!(
        out["rows"][0],
        json!({"param": "split.seed", "old": 7, "new": 7, "stages": ["fit"], "reruns": ["fit", "evaluate"]})
    );
    let text = p.ok(&["params", "diff", "HEAD~1", "HEAD"]).stdout();
    assert_eq!(
        text,
        "Param          HEAD~1  HEAD  Declared by    Reruns\n\
         train.depth         3     4  evaluate, fit  fit, evaluate\n\
         train.version       1     2  evaluate       evaluate\n"
    );
    let md = p.ok(&["params", "diff", "HEAD~1", "HEAD", "--md"]).stdout();
    assert!(md.contains("| train.depth | 3 | 4 | evaluate, fit | fit, evaluate |"), "{md}");
}

#[test]
fn an_unknown_revision_is_a_usage_error() {
    let p = history();
    let r = p.run(&["params", "diff", "v9"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("unknown git revision 'v9'"), "{}", r.all());
}
