//! `churnflow report`: one self-contained HTML page about the workspace's model — metrics
//! (against HEAD where there is one), plots, declared params, the validation summary and
//! the model card.
//!
//! Self-contained means no script, no stylesheet, font, image or link outside the file: the
//! plots are inline SVG drawn with plotters, the style is one inline `<style>`, and the
//! Markdown and JSON renderers in [`html`] cannot emit a `src` or `href`.
//!
//! Which files feed it, all found through the workspace's pipeline.yaml:
//! * metrics: every out with role `metrics`;
//! * plots: every out with role `plots` (the evaluate stage's plot data; see [`plots`]);
//! * validation: every `.json` out of a `uses: validate` stage, and any other `.json` out
//!   whose file name contains `validation`;
//! * model card: every out whose path ends in `model_card.md`.
//!
//! A file that is missing or unreadable becomes a sentence in the page, never an error.
pub(crate) mod html;
pub(crate) mod plots;

use crate::compare::layout::lay_out;
use crate::compare::metric_files::collect;
use crate::compare::metrics::{self, cell, change_cell, metric_cell, relative_cell, DEFAULT_PRECISION};
use crate::compare::params::declared;
use crate::compare::side::{Content, Rev, Side};
use crate::error::Result;
use crate::pipeline::resolve::StageAction;
use crate::store::short_hash;
use churnflow_stages::OutRole;
use html::esc;
use std::path::Path;

/// The page and what it holds, for the command's summary line.
pub struct Report {
    pub html: String,
    pub plots_drawn: usize,
    pub notes: Vec<String>,
}

/// An id-safe slug of a project path: `reports/plots.json` → `reports-plots`.
pub fn slug(path: &str) -> String {
    let stem =
        path.rsplit_once('.').map(|(s, _)| s).filter(|s| !s.is_empty() && !s.ends_with('/')).unwrap_or(path);
    let s: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s.trim_matches('-').to_string()
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1180px;\
padding:0 1rem;color:#222}h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.5rem}\
table{border-collapse:collapse;margin:.6rem 0;display:block;max-width:100%;overflow-x:auto}\
svg{max-width:100%;height:auto}pre{overflow-x:auto}td{overflow-wrap:break-word}th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;\
font-size:.9rem}td.n{text-align:right;font-variant-numeric:tabular-nums}tr.fail td{background:#fde2e2}\
tr.pass td{background:#eef8ee}.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1rem}figure{margin:0;border:1px solid #eee;\
padding:.4rem}figcaption{font-size:.85rem;color:#555}.missing,.note{color:#8a5a00}.card{border:1px solid #ddd;\
padding:.2rem 1.2rem;background:#fafafa}code{background:#f3f3f3;padding:0 .2rem}.muted{color:#777}";

/// Builds the report for the project at `root` (the workspace).
pub fn build(root: &Path) -> Result<Report> {
    let side = Side::load(root, Rev::Workspace, false)?;
    let mut notes: Vec<String> = Vec::new();
    let mut body = String::new();
    let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    body.push_str(&format!("<h1>churnflow report: {}</h1>", esc(&name)));
    let head = crate::compare::git::is_repo(root).then(|| Rev::commit(root, "HEAD").ok()).flatten();
    match head.as_ref().and_then(Rev::id) {
        Some(id) => body.push_str(&format!(
            "<p class=\"muted\">The workspace, compared with HEAD ({}) where noted.</p>",
            esc(short_hash(id))
        )),
        None => body.push_str("<p class=\"muted\">The workspace.</p>"),
    }
    body.push_str("<nav><a href=\"#metrics\">Metrics</a> · <a href=\"#plots\">Plots</a> · <a href=\"#params\">Params</a> · \
        <a href=\"#validation\">Validation</a> · <a href=\"#model-card\">Model card</a></nav>");

    // Metrics.
    body.push_str("<section id=\"metrics\"><h2>Metrics</h2>");
    let ws = collect(&side, "workspace")?;
    let old = match head {
        Some(rev) => {
            let label = rev.label().to_string();
            match Side::load(root, rev, true).and_then(|s| collect(&s, "old")) {
                Ok(c) => Some(c),
                Err(e) => {
                    notes.push(format!("metrics at {label} could not be read: {e}"));
                    None
                }
            }
        }
        None => None,
    };
    for p in &ws.problems {
        notes.push(p.message.clone());
    }
    if ws.stages.is_empty() {
        body.push_str("<p class=\"missing\">No stage declares a metrics file.</p>");
    } else if let Some(old) = &old {
        let rows = metrics::diff(&old.files, &ws.files, true);
        let p = DEFAULT_PRECISION;
        body.push_str("<table><tr><th>File</th><th>Metric</th><th>HEAD</th><th>workspace</th><th>Change</th><th>Relative</th></tr>");
        for r in lay_out(&rows, &ws.views_over(old), |_| true, false).rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&r.path),
                esc(&r.key),
                esc(&metric_cell(r.old.as_ref(), p)),
                esc(&metric_cell(r.new.as_ref(), p)),
                esc(&change_cell(r.change(), p)),
                esc(&relative_cell(r.relative()))
            ));
        }
        body.push_str("</table>");
    } else {
        let rows = metrics::diff(&Default::default(), &ws.files, true);
        body.push_str("<table><tr><th>File</th><th>Metric</th><th>Value</th></tr>");
        for r in lay_out(&rows, &ws.views, |_| true, false).rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&r.path),
                esc(&r.key),
                esc(&metric_cell(r.new.as_ref(), DEFAULT_PRECISION))
            ));
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");

    // Plots.
    body.push_str("<section id=\"plots\"><h2>Plots</h2>");
    let mut plots_drawn = 0;
    let plot_outs = side.outs(|o| o.role == OutRole::Plots);
    if plot_outs.is_empty() {
        body.push_str("<p class=\"missing\">No stage declares a plots file.</p>");
    }
    for (stage, out) in plot_outs {
        body.push_str(&format!(
            "<h3>{} <span class=\"muted\">(stage {})</span></h3>",
            esc(&out.path),
            esc(stage)
        ));
        let data = match side.read_out(stage, out)? {
            Content::Bytes(b) => match plots::parse(&b) {
                Ok(v) => v,
                Err(why) => {
                    let msg = format!("{} {why}", out.path);
                    body.push_str(&format!("<p class=\"missing\">{}</p>", esc(&msg)));
                    notes.push(msg);
                    continue;
                }
            },
            Content::Absent(msg) | Content::Unreadable(msg) => {
                body.push_str(&format!("<p class=\"missing\">{}</p>", esc(&msg)));
                notes.push(msg);
                continue;
            }
        };
        let slug = slug(&out.path);
        body.push_str("<div class=\"figs\">");
        let mut missing = String::new();
        for fig in plots::figures(&data) {
            let id = format!("plot-{slug}-{}", fig.kind);
            match fig.svg {
                Ok(svg) => {
                    plots_drawn += 1;
                    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1).replacen(
                        "<svg ",
                        &format!(
                            "<svg id=\"svg-{slug}-{}\" role=\"img\" aria-label=\"{}\" ",
                            fig.kind,
                            esc(fig.title)
                        ),
                        1,
                    );
                    let caption = if fig.champion {
                        "this model (blue) and the champion it was compared with (orange)"
                    } else {
                        "this model (no champion data in this file)"
                    };
                    body.push_str(&format!(
                        "<figure id=\"{id}\">{svg}<figcaption>{}: {caption}</figcaption></figure>",
                        esc(fig.title)
                    ));
                }
                Err(why) => {
                    missing.push_str(&format!(
                        "<li id=\"{id}-missing\">{}: not drawn: {}</li>",
                        esc(fig.title),
                        esc(&why)
                    ));
                    notes.push(format!("{}: {} not drawn: {why}", out.path, fig.title));
                }
            }
        }
        body.push_str("</div>");
        if !missing.is_empty() {
            body.push_str(&format!("<ul class=\"missing\">{missing}</ul>"));
        }
    }
    body.push_str("</section>");

    // Params.
    body.push_str("<section id=\"params\"><h2>Params</h2>");
    let params = declared(&side);
    if params.is_empty() {
        body.push_str("<p class=\"missing\">No stage declares a param.</p>");
    } else {
        body.push_str("<table><tr><th>Param</th><th>Value</th><th>Stages</th></tr>");
        for (key, stages) in &params {
            let value = cell(side.params.get(key));
            let stages: Vec<&str> = stages.iter().map(String::as_str).collect();
            body.push_str(&format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(key),
                esc(&value),
                esc(&stages.join(", "))
            ));
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");

    // Validation.
    body.push_str("<section id=\"validation\"><h2>Validation</h2>");
    let stages = side.pipeline.iter().flat_map(|p| &p.stages);
    let validation: Vec<(&str, &crate::pipeline::resolve::Out)> = stages
        .flat_map(|s| {
            let validate = matches!(&s.action, StageAction::Builtin { kind, .. } if kind == "validate");
            s.outs
                .iter()
                .filter(move |o| {
                    let file = o.path.rsplit('/').next().unwrap_or(&o.path);
                    o.path.ends_with(".json") && (validate || file.contains("validation"))
                })
                .map(move |o| (s.name.as_str(), o))
        })
        .collect();
    if validation.is_empty() {
        body.push_str(
            "<p class=\"missing\">No validation report: no <code>uses: validate</code> stage writes a JSON file, \
             and no JSON out is named <code>*validation*.json</code>.</p>",
        );
    }
    for (stage, out) in validation {
        body.push_str(&format!(
            "<h3>{} <span class=\"muted\">(stage {})</span></h3>",
            esc(&out.path),
            esc(stage)
        ));
        match side.read_out(stage, out)? {
            Content::Bytes(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                Ok(v) => {
                    let (pass, fail) = html::tally(&v);
                    if pass + fail > 0 {
                        let class = if fail > 0 { "fail" } else { "pass" };
                        body.push_str(&format!(
                            "<table><tr class=\"{class}\"><td><b>{pass} passed, {fail} failed</b></td></tr></table>"
                        ));
                    }
                    body.push_str(&html::json(&v, 4));
                }
                Err(e) => {
                    let msg = format!("{} is not valid JSON: {e}", out.path);
                    body.push_str(&format!("<p class=\"missing\">{}</p>", esc(&msg)));
                    notes.push(msg);
                }
            },
            Content::Absent(msg) | Content::Unreadable(msg) => {
                body.push_str(&format!("<p class=\"missing\">{}</p>", esc(&msg)));
                notes.push(msg);
            }
        }
    }
    body.push_str("</section>");

    // Model card.
    body.push_str("<section id=\"model-card\"><h2>Model card</h2>");
    let cards = side.outs(|o| o.path.ends_with("model_card.md"));
    if cards.is_empty() {
        body.push_str("<p class=\"missing\">No model card: no stage writes a file ending in <code>model_card.md</code>.</p>");
    }
    for (stage, out) in cards {
        match side.read_out(stage, out)? {
            Content::Bytes(b) => {
                let text = String::from_utf8_lossy(&b);
                body.push_str(&format!(
                    "<p class=\"muted\">{} (stage {})</p><div class=\"card\">{}</div>",
                    esc(&out.path),
                    esc(stage),
                    html::markdown(&text)
                ));
            }
            Content::Absent(msg) | Content::Unreadable(msg) => {
                body.push_str(&format!("<p class=\"missing\">{}</p>", esc(&msg)));
                notes.push(msg);
            }
        }
    }
    body.push_str("</section>");

    if !notes.is_empty() {
        body.push_str("<section id=\"notes\"><h2>Notes</h2><ul class=\"note\">");
        for n in &notes {
            body.push_str(&format!("<li>{}</li>", esc(n)));
        }
        body.push_str("</ul></section>");
    }
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>churnflow report: {}</title><style>{STYLE}</style></head>\
         <body>{body}</body></html>\n",
        esc(&name)
    );
    Ok(Report { html, plots_drawn, notes })
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_id_safe() {
        assert_eq!(slug("reports/plots.json"), "reports-plots");
        assert_eq!(slug("Reports/Extra ROC.v2.json"), "reports-extra-roc-v2");
        assert_eq!(slug("plots"), "plots");
    }
}
