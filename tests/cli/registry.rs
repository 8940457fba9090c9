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
