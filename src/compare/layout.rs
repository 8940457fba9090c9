//! How metrics rows are laid out for a person: the text and Markdown tables of `metrics show`
//! and `metrics diff`, and the report's metrics table (`--json` keeps every row as it is).
//!
//! Two rules, both declared by the stage kind that writes the file ([`MetricsView`]):
//! * files about the model come first, files that watch it (drift) after them, each group in
//!   path order;
//! * a section of one value per item ([`ItemSection`], drift's per-column statistics) is one
//!   summary row — how many items, how many changed, the largest value on each side — plus a
//!   row for each item the file flags (the columns that drifted, on either side). `--all`
//!   lists every item.
use crate::compare::metrics::{num, number, Row};
use churnflow_stages::{ItemSection, MetricsView};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The rows of a table, laid out.
pub(crate) struct Laid {
    pub rows: Vec<Row>,
    /// Some row stands for several items (worth a hint on how to list them).
    pub collapsed: bool,
}

/// Orders `rows` (all rows of every file, as [`crate::compare::metrics::diff`] gives them with
/// `all`) and collapses item sections. `keep` says which rows a person asked for (a diff:
/// the changed ones, or all); `expand` lists every item instead of collapsing.
pub(crate) fn lay_out(
    rows: &[Row],
    views: &BTreeMap<String, MetricsView>,
    keep: impl Fn(&Row) -> bool,
    expand: bool,
) -> Laid {
    let mut files: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        files.entry(&r.path).or_default().push(r);
    }
    let view = |path: &str| views.get(path).copied().unwrap_or_default();
    let mut order: Vec<&str> = files.keys().copied().collect();
    order.sort_by_key(|p| (view(p).monitoring, *p));
    let mut laid = Laid { rows: Vec::new(), collapsed: false };
    for path in order {
        let file = &files[path];
        match view(path).items.filter(|_| !expand) {
            None => laid.rows.extend(file.iter().filter(|r| keep(r)).map(|r| (*r).clone())),
            Some(section) => collapse(path, file, section, &keep, &mut laid),
        }
    }
    laid
}

/// One file's rows with `section` collapsed: the other rows, the flagged items, then one row
/// for the rest — their largest value on each side, named `columns.* max (27 columns, none
/// drifted)` (`24 other columns` when some are listed; `, 3 changed` in a diff).
fn collapse(path: &str, file: &[&Row], section: ItemSection, keep: &impl Fn(&Row) -> bool, laid: &mut Laid) {
    let prefix = format!("{}.", section.key);
    let is_item = |r: &Row| r.key.starts_with(prefix.as_str());
    let mut flagged = BTreeSet::new();
    for r in file.iter().filter(|r| r.key == section.flagged_by) {
        for side in [&r.old, &r.new] {
            if let Some(Value::Array(names)) = side {
                flagged.extend(names.iter().filter_map(Value::as_str).map(|n| format!("{prefix}{n}")));
            }
        }
    }
    let shown = |r: &&&Row| keep(r);
    laid.rows.extend(file.iter().filter(|r| !is_item(r)).filter(shown).map(|r| (*r).clone()));
    let (listed, rest): (Vec<&&Row>, Vec<&&Row>) =
        file.iter().filter(|r| is_item(r)).partition(|r| flagged.contains(&r.key));
    laid.rows.extend(listed.into_iter().filter(shown).map(|r| (*r).clone()));
    if !rest.iter().any(shown) {
        return;
    }
    let largest = |side: fn(&Row) -> Option<&Value>| {
        rest.iter().filter_map(|r| num(side(r)?)).filter(|x| !x.is_nan()).max_by(f64::total_cmp).map(number)
    };
    let (old, new) = (largest(|r| r.old.as_ref()), largest(|r| r.new.as_ref()));
    let (s, n) = (&section, rest.len());
    let mut what = if flagged.is_empty() {
        format!("{n} {}, none {}", s.noun, s.flag)
    } else {
        format!("{n} other {}", s.noun)
    };
    if rest.iter().any(|r| r.old.is_some()) {
        what.push_str(&format!(", {} changed", rest.iter().filter(|r| r.changed()).count()));
    }
    laid.rows.push(Row { path: path.to_string(), key: format!("{}.* max ({what})", s.key), old, new });
    laid.collapsed = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DRIFT: MetricsView = MetricsView {
        monitoring: true,
        items: Some(ItemSection { key: "columns", noun: "columns", flagged_by: "drifted", flag: "drifted" }),
    };

    fn row(path: &str, key: &str, old: Option<Value>, new: Option<Value>) -> Row {
        Row { path: path.into(), key: key.into(), old, new }
    }

    fn views() -> BTreeMap<String, MetricsView> {
        BTreeMap::from([("a_drift.json".to_string(), DRIFT)])
    }

    fn keys(laid: &Laid) -> Vec<&str> {
        laid.rows.iter().map(|r| r.key.as_str()).collect()
    }

    #[test]
    fn monitoring_files_come_after_the_models_whatever_their_paths() {
        let rows = vec![
            row("a_drift.json", "share", None, Some(json!(0.1))),
            row("b_metrics.json", "auc", None, Some(json!(0.8))),
        ];
        let laid = lay_out(&rows, &views(), |_| true, false);
        let paths: Vec<&str> = laid.rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["b_metrics.json", "a_drift.json"]);
        assert!(!laid.collapsed);
    }

    #[test]
    fn items_collapse_to_their_largest_value_but_flagged_ones_stay_listed() {
        let rows = vec![
            row("a_drift.json", "columns.x", Some(json!(0.1)), Some(json!(0.5))),
            row("a_drift.json", "columns.y", Some(json!(0.2)), Some(json!(0.3))),
            row("a_drift.json", "columns.z", Some(json!(0.4)), Some(json!(0.4))),
            row("a_drift.json", "drifted", Some(json!([])), Some(json!(["x"]))),
        ];
        let laid = lay_out(&rows, &views(), |r| r.changed(), false);
        assert_eq!(keys(&laid), ["drifted", "columns.x", "columns.* max (2 other columns, 1 changed)"]);
        assert_eq!(
            (laid.rows[2].old.clone(), laid.rows[2].new.clone()),
            (Some(json!(0.4)), Some(json!(0.4)))
        );
        assert!(laid.collapsed);
    }

    #[test]
    fn nothing_changed_among_the_items_means_no_summary_row_in_a_diff() {
        let rows = vec![row("a_drift.json", "columns.x", Some(json!(0.1)), Some(json!(0.1)))];
        assert!(lay_out(&rows, &views(), |r| r.changed(), false).rows.is_empty());
    }

    #[test]
    fn expand_lists_every_item() {
        let rows = vec![
            row("a_drift.json", "columns.x", None, Some(json!(0.1))),
            row("a_drift.json", "columns.y", None, Some(json!(0.2))),
        ];
        assert_eq!(keys(&lay_out(&rows, &views(), |_| true, true)), ["columns.x", "columns.y"]);
        let collapsed = lay_out(&rows, &views(), |_| true, false);
        assert_eq!(keys(&collapsed), ["columns.* max (2 columns, none drifted)"]);
        assert_eq!(collapsed.rows[0].new, Some(json!(0.2)));
    }
}
