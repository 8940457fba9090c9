//! `report`: one self-contained HTML page with every plot, the metrics, params, validation
//! summary and model card, written from hand-made evaluate/validate outputs.
use crate::gitrepo::{commit_all, init};
use crate::support::Project;

const PLOTS: &str = r#"{
 "schema_version": 1,
 "roc": {"fpr": [0, 0.1, 0.3, 1], "tpr": [0, 0.5, 0.8, 1]},
 "pr": {"recall": [0, 0.5, 0.8, 1], "precision": [1, 0.8, 0.6, 0.3]},
 "calibration": {"mean_predicted": [0.1, 0.5, 0.9], "fraction_positive": [0.05, 0.55, 0.93]},
 "gains": {"fraction_contacted": [0, 0.1, 0.5, 1], "fraction_churners": [0, 0.35, 0.88, 1]},
 "lift": [{"decile": 1, "cumulative_lift": 3.5}, {"decile": 5, "cumulative_lift": 1.76}, {"decile": 10, "cumulative_lift": 1}],
 "confusion": {"tn": 700, "fp": 80, "fn": 60, "tp": 160},
 "feature_importance": [{"feature": "tenure_days", "importance": 0.31}, {"feature": "frustration_index", "importance": 0.22}],
 "baseline": {
   "roc": {"fpr": [0, 0.2, 1], "tpr": [0, 0.45, 1]},
   "confusion": {"tn": 680, "fp": 100, "fn": 75, "tp": 145},
   "feature_importance": [{"feature": "tenure_days", "importance": 0.2}]}
}"#;

/// A second plots file with only a ROC curve and a PR section whose lists do not line up.
const PARTIAL: &str = r#"{"schema_version": 1, "roc": {"fpr": [0, 1], "tpr": [0, 1]}, "pr": {"recall": [0, 1], "precision": [1]}}"#;

const VALIDATION: &str = r#"{"passed": false, "expectations": [
  {"name": "no_duplicate_ids", "observed": 0, "passed": true},
  {"name": "label_two_valued", "observed": 3, "passed": false}]}"#;

const CARD: &str = "# Model card: churn-logreg\n\nTrained on [the CRM extract](https://example.com/crm).\n\n\
![chart](http://example.com/chart.png)\n\n<img src=\"https://tracker.example/p.gif\">\n\n| metric | value |\n|---|---|\n| auc_roc | 0.87 |\n";

const PIPELINE: &str = r#"stages:
  validate:
    cmd: mkdir -p reports && cp fx/validation.json reports/data_validation.json
    deps: [fx/validation.json]
    outs: [{reports/data_validation.json: {cache: false}}]
  evaluate:
    cmd: mkdir -p reports && cp fx/plots.json reports/plots.json && cp fx/partial.json reports/extra_plots.json && cp fx/metrics.json reports/metrics.json && cp fx/card.md reports/model_card.md
    deps: [reports/data_validation.json, fx/plots.json, fx/partial.json, fx/metrics.json, fx/card.md]
    params: [evaluation.threshold]
    metrics: [reports/metrics.json]
    plots: [reports/plots.json, reports/extra_plots.json]
    outs: [reports/model_card.md]
"#;

fn project() -> Project {
    let p = Project::new()
        .file("fx/plots.json", PLOTS)
        .file("fx/partial.json", PARTIAL)
        .file("fx/validation.json", VALIDATION)
        .file("fx/card.md", CARD)
        .file("fx/metrics.json", r#"{"auc_roc": 0.87, "lift": {"top_decile": 3.5}}"#)
        .file("params.yaml", "evaluation:\n  threshold: 0.35\n")
        .file("pipeline.yaml", PIPELINE);
    p.ok(&["repro"]);
    p
}

/// Every value of `attr="…"` in the page.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle).filter_map(|(i, _)| html[i + needle.len()..].split('"').next()).collect()
}

#[test]
fn the_report_has_every_plot_as_inline_svg() {
    let p = project();
    let out = p.ok(&["report"]).stdout();
    assert_eq!(out, "wrote reports/index.html (8 plot(s))\n");
    let html = p.read("reports/index.html");
    for kind in ["roc", "pr", "calibration", "gains", "lift", "confusion", "importance"] {
        let figure = format!("<figure id=\"plot-reports-plots-{kind}\"><svg id=\"svg-reports-plots-{kind}\"");
        assert!(html.contains(&figure), "no {kind} plot");
    }
    let roc = section(&html, "<figure id=\"plot-reports-plots-roc\">", "</figure>");
    assert!(has_text(roc, "champion") && has_text(roc, "this model"), "champion overlaid: {roc}");
    assert!(has_text(roc, "false positive rate"), "axis labels render as text");
    assert!(roc.contains("<figcaption>ROC curve: this model (blue) and the champion"), "{roc}");
    let pr = section(&html, "<figure id=\"plot-reports-plots-pr\">", "</figure>");
    assert!(!has_text(pr, "champion") && pr.contains("(no champion data in this file)"), "{pr}");
    let confusion = section(&html, "<figure id=\"plot-reports-plots-confusion\">", "</figure>");
    assert!(has_text(confusion, "TP 160") && has_text(confusion, "TP 145"), "{confusion}");
    let importance = section(&html, "<figure id=\"plot-reports-plots-importance\">", "</figure>");
    assert!(has_text(importance, "tenure_days") && has_text(importance, "frustration_index"));
}

#[test]
fn plots_without_data_are_named_in_the_page_not_drawn() {
    let p = project();
    p.ok(&["report"]);
    let html = p.read("reports/index.html");
    assert!(html.contains("<figure id=\"plot-reports-extra-plots-roc\">"), "the partial file's ROC is drawn");
    assert!(
        html.contains("<li id=\"plot-reports-extra-plots-pr-missing\">Precision-recall curve: not drawn: &quot;pr.recall&quot; has 2 values but &quot;pr.precision&quot; has 1</li>"),
        "{}",
        section(&html, "extra_plots.json", "</ul>")
    );
    assert!(html.contains("<li id=\"plot-reports-extra-plots-importance-missing\">Feature importance: not drawn: no feature-importance data</li>"));
    assert!(!html.contains("<figure id=\"plot-reports-extra-plots-pr\">"));
}

#[test]
fn the_report_references_nothing_outside_the_file() {
    let p = project();
    p.ok(&["report"]);
    let html = p.read("reports/index.html");
    for attr in ["src", "href", "xlink:href", "action", "data"] {
        for v in attr_values(&html, attr) {
            assert!(v.starts_with('#'), "{attr}=\"{v}\" points outside the page");
        }
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<img"));
    // The model card's raw <img src="https://…"> is shown as escaped text, not as an element.
    assert!(html.contains("&lt;img src=&quot;https://tracker.example/p.gif&quot;&gt;"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("@import"));
}

#[test]
fn the_report_has_metrics_params_validation_and_model_card() {
    let p = project();
    p.ok(&["report", "--out", "site/report.html"]);
    let html = p.read("site/report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    let metrics = section(&html, "<section id=\"metrics\">", "</section>");
    assert!(metrics.contains("<td>lift.top_decile</td><td class=\"n\">3.5</td>"), "{metrics}");
    let params = section(&html, "<section id=\"params\">", "</section>");
    assert!(
        params.contains("<td>evaluation.threshold</td><td class=\"n\">0.35</td><td>evaluate</td>"),
        "{params}"
    );
    let validation = section(&html, "<section id=\"validation\">", "</section>");
    assert!(validation.contains("1 passed, 1 failed"), "{validation}");
    assert!(
        validation.contains("<tr class=\"fail\"><td>label_two_valued</td><td>3</td><td>false</td></tr>"),
        "{validation}"
    );
    let card = section(&html, "<section id=\"model-card\">", "</section>");
    assert!(card.contains("<h1>Model card: churn-logreg</h1>"), "{card}");
    assert!(card.contains("Trained on the CRM extract."), "link text kept, target dropped: {card}");
    assert!(card.contains("<td>auc_roc</td>"), "tables render: {card}");
}

#[test]
fn in_a_repository_the_metrics_table_compares_with_head() {
    let p = project();
    init(&p);
    commit_all(&p, "v1");
    p.write("fx/metrics.json", r#"{"auc_roc": 0.75, "lift": {"top_decile": 3.5}}"#);
    p.ok(&["repro"]);
    p.ok(&["report"]);
    let html = p.read("reports/index.html");
    let metrics = section(&html, "<section id=\"metrics\">", "</section>");
    assert!(metrics.contains("<th>HEAD</th><th>workspace</th>"), "{metrics}");
    assert!(
        metrics.contains(
            "<td>auc_roc</td><td class=\"n\">0.87</td><td class=\"n\">0.75</td><td class=\"n\">-0.12</td>"
        ),
        "{metrics}"
    );
}

#[test]
fn missing_inputs_are_noted_and_the_report_is_still_written() {
    let p = Project::new()
        .file("in.txt", "x\n")
        .file("pipeline.yaml", "stages:\n  a:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n    plots: [reports/plots.json]\n");
    let r = p.ok(&["report"]);
    assert!(r.stderr().contains("note: reports/plots.json does not exist in the workspace"), "{}", r.all());
    let html = p.read("reports/index.html");
    assert!(html.contains("No stage declares a metrics file."));
    assert!(html.contains("No model card: no stage writes a file ending in <code>model_card.md</code>."));
    assert!(html.contains("No validation report"));
    assert!(!html.contains("<svg"));
}

#[test]
fn out_naming_a_folder_is_a_usage_error() {
    let p = project();
    let r = p.run(&["report", "--out", "reports"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("--out reports is a folder"), "{}", r.all());
}

/// Does the SVG hold a `<text>` element reading exactly `t`?
fn has_text(svg: &str, t: &str) -> bool {
    svg.contains(&format!("\n{t}\n</text>"))
}

/// The text from `start` to the next `end` after it.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html.find(start).unwrap_or_else(|| panic!("no {start} in the page"));
    let rest = &html[i..];
    let j = rest.find(end).map(|j| j + end.len()).unwrap_or(rest.len());
    &rest[..j]
}

/// Runs `report` in a project whose evaluate compared with a champion, and checks the page:
/// every plot drawn, each with the champion overlaid, and no sideways scroll at 1280 px in
/// headless chromium (when the browser tests run).
pub fn assert_the_report_draws_every_plot_with_the_champion_and_fits_1280px(p: &Project) {
    let r = p.ok(&["report"]);
    assert!(!r.stderr().contains("not drawn"), "{}", r.all());
    let html = p.read("reports/index.html");
    for kind in ["roc", "pr", "calibration", "gains", "lift", "confusion", "importance"] {
        let figure = section(&html, &format!("<figure id=\"plot-reports-plots-{kind}\">"), "</figure>");
        assert!(figure.contains("and the champion it was compared with"), "{kind}: {figure}");
        assert!(has_text(figure, "champion"), "{kind}: the champion is in the legend");
    }
    let Some(browser) = crate::browser::Browser::start_sized(1280, 800) else { return };
    browser.open(&format!("file://{}", p.path("reports/index.html").display()));
    browser.find("#plot-reports-plots-roc");
    let widths = browser.eval("return [document.documentElement.scrollWidth, window.innerWidth]");
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the report scrolls sideways at 1280 px: {widths}");
    // The plots sit on a grid: every figure as wide as the others, two to a row.
    let figures = browser.eval(
        "return Array.from(document.querySelectorAll('.figs figure')).map(f => { \
           const r = f.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.left)]; })",
    );
    let figures: Vec<(u64, u64)> = figures
        .as_array()
        .expect("figures")
        .iter()
        .map(|f| (f[0].as_u64().expect("width"), f[1].as_u64().expect("left")))
        .collect();
    assert!(figures.len() >= 7, "{figures:?}");
    assert!(figures.iter().all(|f| f.0 == figures[0].0), "ragged plot widths: {figures:?}");
    let columns: std::collections::BTreeSet<u64> = figures.iter().map(|f| f.1).collect();
    assert_eq!(columns.len(), 2, "two plots to a row at 1280 px: {figures:?}");
}

/// A built-in stage whose params section is not in params.yaml (the demo's `ingest` and
/// `drift` run on defaults) gets no `section -` row in the Params table.
#[test]
fn the_params_table_lists_only_params_the_file_sets() {
    let p = crate::support::demo_project(1000, 5);
    p.ok(&["repro"]);
    p.ok(&["report"]);
    let html = p.read("reports/index.html");
    let params = section(&html, "<section id=\"params\">", "</section>");
    assert!(params.contains("<td>train.l2</td>"), "{params}");
    for section_only in ["<td>drift</td>", "<td>ingest</td>"] {
        assert!(!params.contains(section_only), "{section_only}: {params}");
    }
}
