//! The registry's audit log through `churnflow models`.
use crate::support::Project;

#[test]
fn an_empty_registry_lists_nothing_and_verifies() {
    let p = Project::new();
    assert!(p.ok(&["models", "list"]).stdout().contains("no model has been promoted"));
    assert!(p.ok(&["models", "verify"]).stdout().contains("0 event(s)"));
    let r = p.run(&["models", "show"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("no champion yet"), "{}", r.all());
}
