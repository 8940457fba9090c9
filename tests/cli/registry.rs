//! The registry's audit log through `churnflow models`.
use crate::support::Test;

#[test]
fn an_empty_registry_lists_nothing_and_verifies() {
    let p = Test::new()
        .args(["models", "list"])
        .stdout(
            "
            The registry is empty: no model has been promoted yet.
        ",
        )
        .run();
    let p = Test::at(p).args(["models", "verify"]).stdout_contains("0 event(s)").run();
    Test::at(p)
        .args(["models", "show"])
        .status(2)
        .stderr(
            "
            error: the registry has no champion yet; run 'churnflow repro' to train and promote one
        ",
        )
        .run();
}

/// `models show` prints a promotion's headline metrics as `metrics show` does (4 significant
/// decimals), not every digit of the JSON.
#[test]
fn models_show_rounds_the_promotions_metrics() {
    let p = crate::support::demo_project(1000, 3);
    p.ok(&["repro"]);
    let out = p.ok(&["models", "show", "champion"]).stdout();
    let line =
        out.lines().find(|l| l.trim_start().starts_with("auc_roc=")).unwrap_or_else(|| panic!("{out}"));
    for pair in line.split_whitespace() {
        let (_, value) = pair.split_once('=').expect("key=value");
        let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 5, "{pair} is not rounded: {line}");
    }
}
