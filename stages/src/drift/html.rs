//! The drift report as one self-contained HTML page (no external URLs: inline CSS and SVG):
//! the summary line, the table sorted by drift score (column, kind, method, statistic,
//! threshold, verdict, PSI), and per column the reference and current distributions overlaid
//! as SVG bars. Laid out for a laptop screen (max 1200 px wide).

use crate::drift::report::{fmt_stat, ColumnDrift, DriftReport, Histogram};
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d232b;\
background:#f6f7f9}main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}\
h2{font-size:17px;margin:28px 0 8px}.sides{color:#555;margin:0 0 12px}.summary{font-size:16px;padding:10px 14px;\
border-radius:6px;background:#e8f4ea;border:1px solid #b7dcbf}.summary.drift{background:#fdecea;border-color:#f3b8b1}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:5px 9px;\
border-bottom:1px solid #e3e6ea;font-variant-numeric:tabular-nums}th{background:#eef0f3}td.num{text-align:right}\
tr.drift td:first-child{border-left:4px solid #d9534f}.yes{color:#b52a24;font-weight:600}\
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:14px}\
figure{margin:0;background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:10px}\
figcaption{font-weight:600;margin-bottom:4px}figcaption span{font-weight:400;color:#555}\
.legend{margin:6px 0 12px;color:#555}.sw{display:inline-block;width:12px;height:12px;vertical-align:-1px;\
margin:0 4px 0 12px}.muted{color:#666}";

const REF_COLOR: &str = "#4a7fc1";
const CUR_COLOR: &str = "#e8833a";

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub(crate) fn render(report: &DriftReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>churnflow drift report</title><style>{STYLE}</style></head><body><main>\n"
    );
    let _ = write!(h, "<h1>Data drift</h1>\n<p class=\"sides\">reference: {} — {}, {} rows<br>current: {} — {}, {} rows</p>\n",
        esc(&report.reference.source), esc(&report.reference.read_as), report.reference.rows,
        esc(&report.current.source), esc(&report.current.read_as), report.current.rows);
    let _ = writeln!(
        h,
        "<p class=\"summary{}\" id=\"summary\">{}</p>",
        if report.dataset_drift { " drift" } else { "" },
        esc(&report.summary())
    );
    let mut extra = Vec::new();
    for (what, d) in [("Prediction drift", &report.prediction_drift), ("Label drift", &report.label_drift)] {
        if let Some(d) = d {
            extra.push(format!(
                "{what} ({}): {} {} (threshold {}) — {}",
                esc(&d.column),
                d.method,
                fmt_stat(d.statistic),
                d.threshold,
                if d.drift { "<span class=\"yes\">drift</span>" } else { "no drift" }
            ));
        }
    }
    if let Some(auc) = report.current_auc_roc {
        extra.push(format!("AUC on the current data: {auc:.4}"));
    }
    if !extra.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", extra.join("<br>"));
    }

    h.push_str(
        "<h2>Columns, most drifted first</h2>\n<table id=\"columns\"><thead><tr><th>column</th><th>kind</th>\
        <th>method</th><th>statistic</th><th>threshold</th><th>drift</th><th>PSI</th></tr></thead><tbody>\n",
    );
    for d in &report.columns {
        let _ = writeln!(
            h,
            "<tr{}><td><a href=\"#col-{}\">{}</a></td><td>{}</td><td title=\"{}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.3} {}</td></tr>",
            if d.drift { " class=\"drift\"" } else { "" },
            anchor(&d.column),
            esc(&d.column),
            d.kind,
            esc(d.method_name),
            d.method,
            fmt_stat(d.statistic),
            d.threshold,
            if d.drift { "<span class=\"yes\">drift</span>" } else { "no" },
            d.psi,
            d.psi_band
        );
    }
    h.push_str("</tbody></table>\n");
    if !report.skipped.is_empty() {
        let s: Vec<String> =
            report.skipped.iter().map(|s| format!("{} ({})", esc(&s.column), esc(&s.reason))).collect();
        let _ = writeln!(h, "<p class=\"muted\">Not compared: {}</p>", s.join(", "));
    }

    let _ = write!(
        h,
        "<h2>Distributions</h2>\n<p class=\"legend\">share of rows per bin or value:<span class=\"sw\" \
         style=\"background:{REF_COLOR}\"></span>reference<span class=\"sw\" style=\"background:{CUR_COLOR}\">\
         </span>current</p>\n<div class=\"grid\">\n"
    );
    let specials = [&report.prediction_drift, &report.label_drift];
    for d in report.columns.iter().chain(specials.into_iter().flatten()) {
        figure(&mut h, d);
    }
    h.push_str("</div>\n</main></body></html>\n");
    h
}

/// The page for a comparison that could not be made (the kind `drift` with no champion yet).
pub(crate) fn render_not_compared(reason: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>churnflow drift report</title>\
         <style>{STYLE}</style></head><body><main>\n<h1>Data drift</h1>\n<p class=\"summary\" id=\"summary\">{}</p>\n\
         </main></body></html>\n",
        esc(reason)
    )
}

fn anchor(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn figure(h: &mut String, d: &ColumnDrift) {
    let _ = write!(
        h,
        "<figure id=\"col-{}\"><figcaption>{} <span>{} · {} {} · {}</span></figcaption>",
        anchor(&d.column),
        esc(&d.column),
        d.kind,
        d.method,
        fmt_stat(d.statistic),
        if d.drift { "<span class=\"yes\">drift</span>" } else { "no drift" }
    );
    svg(h, &d.histogram);
    h.push_str("</figure>\n");
}

/// Overlaid bars: per bin the reference bar and, half-transparent on top, the current bar.
fn svg(h: &mut String, hist: &Histogram) {
    let (w, ht, left, bottom, top) = (560.0_f64, 230.0_f64, 64.0, 60.0, 10.0);
    let n = hist.labels.len().max(1);
    let max = hist.reference.iter().chain(hist.current.iter()).copied().fold(0.0_f64, f64::max).max(1e-12);
    let plot_w = w - left - 8.0;
    let plot_h = ht - bottom - top;
    let slot = plot_w / n as f64;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {w} {ht}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" \
         font-size=\"10\" font-family=\"system-ui,sans-serif\">"
    );
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let y = top + plot_h - plot_h * k as f64 / 4.0;
        let _ = write!(
            h,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6ea\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666\">{:.0}%</text>",
            w - 8.0,
            left - 4.0,
            y + 3.0,
            v * 100.0
        );
    }
    let label_every = n.div_ceil(16);
    for i in 0..hist.labels.len() {
        let x = left + slot * i as f64;
        let bw = (slot * 0.8).max(1.0);
        for (vals, color, opacity) in [(&hist.reference, REF_COLOR, 0.85), (&hist.current, CUR_COLOR, 0.6)] {
            let v = vals.get(i).copied().unwrap_or(0.0);
            let bh = plot_h * v / max;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{color}\" \
                 fill-opacity=\"{opacity}\"><title>{}: {} {:.2}%</title></rect>",
                x + slot * 0.1,
                top + plot_h - bh,
                esc(&hist.labels[i]),
                if color == REF_COLOR { "reference" } else { "current" },
                v * 100.0
            );
        }
        if i % label_every == 0 {
            let mut label = hist.labels[i].clone();
            if label.chars().count() > 16 {
                label = label.chars().take(15).collect::<String>() + "…";
            }
            let (lx, ly) = (x + slot / 2.0, top + plot_h + 10.0);
            let _ = write!(
                h,
                "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\" fill=\"#444\" \
                 transform=\"rotate(-35 {lx:.1} {ly:.1})\">{}</text>",
                esc(&label)
            );
        }
    }
    h.push_str("</svg>");
}
