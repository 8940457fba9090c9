//! The drift report as one self-contained HTML page (no external URLs: inline CSS and SVG):
//! the summary line, the table sorted by drift score (column, kind, method, statistic,
//! threshold, score, verdict, PSI), and per column the reference and current distributions
//! overlaid as SVG bars — the reference wide and pale, the current narrow and dark in front,
//! so both read where they coincide; numeric bins on an axis of their edges. Laid out for a
//! laptop screen (max 1200 px wide, two charts a row); `tests/cli/drift.rs` checks it in
//! headless chromium at 1366 x 768.

use crate::drift::report::{fmt_stat, ColumnDrift, DriftReport, Histogram};
use crate::io::html::escape as esc;
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d232b;\
background:#f6f7f9}main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}\
h2{font-size:17px;margin:28px 0 8px}.sides{color:#555;margin:0 0 12px}.summary{font-size:16px;padding:10px 14px;\
border-radius:6px;background:#e8f4ea;border:1px solid #b7dcbf}.summary.drift{background:#fdecea;border-color:#f3b8b1}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:5px 9px;\
border-bottom:1px solid #e3e6ea;font-variant-numeric:tabular-nums}th{background:#eef0f3}td.num{text-align:right}\
td:first-child{border-left:4px solid transparent}tr.drift td:first-child{border-left-color:#d9534f}.yes{color:#b52a24;font-weight:600}\
th.num{text-align:right}td.name{overflow-wrap:anywhere}.sides{overflow-wrap:anywhere}.note{margin:0 0 8px}\
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:14px}\
figure{margin:0;background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:10px}\
figcaption{font-weight:600;margin-bottom:4px;overflow-wrap:anywhere}figcaption span{font-weight:400;color:#555}\
.legend{margin:6px 0 12px;color:#555}.sw{width:18px;height:12px;vertical-align:-1px;\
margin:0 4px 0 14px}.muted{color:#666}";

const REF_COLOR: &str = "#4a7fc1";
const CUR_COLOR: &str = "#e8833a";

/// The page.
pub(crate) fn render(report: &DriftReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>churnflow drift report</title><style>{STYLE}</style></head><body><main>\n"
    );
    let _ = writeln!(
        h,
        "<h1>Data drift</h1>\n<p class=\"sides\">reference: {} — {}, {} rows<br>current: {} — {}, {} rows</p>",
        esc(&report.reference.source),
        esc(&report.reference.read_as),
        thousands(report.reference.rows),
        esc(&report.current.source),
        esc(&report.current.read_as),
        thousands(report.current.rows)
    );
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
        "<h2>Columns, most drifted first</h2>\n<p class=\"muted note\">score: how far past its threshold a column \
         is — statistic / threshold for a distance, threshold / p for a p-value; above 1 is drift.</p>\n\
         <table id=\"columns\"><thead><tr><th>column</th><th>kind</th><th>method</th><th class=\"num\">statistic</th>\
         <th class=\"num\">threshold</th><th class=\"num\">score</th><th>drift</th><th class=\"num\">PSI</th>\
         </tr></thead><tbody>\n",
    );
    for d in &report.columns {
        let _ = writeln!(
            h,
            "<tr{}><td class=\"name\"><a href=\"#col-{}\">{}</a></td><td>{}</td><td title=\"{}\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num score\">{}</td><td>{}</td>\
             <td class=\"num\">{:.3} {}</td></tr>",
            if d.drift { " class=\"drift\"" } else { "" },
            anchor(&d.column),
            esc(&d.column),
            d.kind,
            esc(d.method_name),
            d.method,
            fmt_stat(d.statistic),
            d.threshold,
            fmt_score(d.drift_score),
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
        "<h2>Distributions</h2>\n<p class=\"legend\">share of rows per bin or value:\
         <svg class=\"sw\" viewBox=\"0 0 18 12\"><rect width=\"18\" height=\"12\" fill=\"{REF_COLOR}\" \
         fill-opacity=\"0.45\"/></svg>reference (wide bars)<svg class=\"sw\" viewBox=\"0 0 18 12\"><rect x=\"5\" \
         width=\"8\" height=\"12\" fill=\"{CUR_COLOR}\" fill-opacity=\"0.95\"/></svg>current (narrow bars, in front)\
         </p>\n<div class=\"grid\">\n"
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

/// A drift score: 3 decimals, or scientific from 1000 (a p-value of 1e-300 scores 5e298).
fn fmt_score(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// A row count with thousands separators.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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

/// The plot's box in SVG units (the figure scales it to its width).
const W: f64 = 560.0;
const H: f64 = 230.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 22.0;
const TOP: f64 = 10.0;
/// Characters of a slanted value label (longer ones are cut, with an ellipsis).
const SLANTED_CHARS: usize = 18;

/// Overlaid bars: per bin or value the reference as a wide pale bar and the current data as a
/// narrower dark one in front of it, so both heights read even where they coincide. Numeric
/// bins get an axis with their edges; values are named under their bars.
fn svg(h: &mut String, hist: &Histogram) {
    let n = hist.labels.len().max(1);
    let max = hist.reference.iter().chain(hist.current.iter()).copied().fold(0.0_f64, f64::max);
    let (step, ticks) = nice_ticks(max);
    let top_value = step * ticks as f64;
    let slot = (W - LEFT - RIGHT) / n as f64;
    let char_w = 5.6; // at font-size 10
    let longest = hist.labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let upright = hist.edges.is_some() || longest as f64 * char_w <= slot * 0.95;
    // slanted labels at -35°: room for the longest (cut at SLANTED_CHARS) below the axis
    let slanted = longest.min(SLANTED_CHARS) as f64 * char_w * 0.574;
    let bottom = if upright { 30.0 } else { 18.0 + slanted };
    let plot_h = H - bottom - TOP;
    let base = TOP + plot_h;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" \
         font-size=\"10\" font-family=\"system-ui,sans-serif\">"
    );
    for k in 0..=ticks {
        let y = base - plot_h * k as f64 / ticks as f64;
        let _ = write!(
            h,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{}\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}%</text>",
            W - RIGHT,
            if k == 0 { "#9aa3ad" } else { "#e3e6ea" },
            LEFT - 5.0,
            y + 3.5,
            percent(step * k as f64 * 100.0)
        );
    }
    for i in 0..hist.labels.len() {
        let x = LEFT + slot * i as f64;
        for (side, vals, color, width, opacity) in [
            ("reference", &hist.reference, REF_COLOR, 0.86, 0.45),
            ("current", &hist.current, CUR_COLOR, 0.4, 0.95),
        ] {
            let v = vals.get(i).copied().unwrap_or(0.0);
            let bh = if top_value > 0.0 { plot_h * v / top_value } else { 0.0 };
            let bw = (slot * width).max(1.0);
            let _ = write!(
                h,
                "<rect class=\"{}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{bw:.2}\" height=\"{bh:.2}\" fill=\"{color}\" \
                 fill-opacity=\"{opacity}\"><title>{}: {side} {:.2}%</title></rect>",
                &side[..3],
                x + (slot - bw) / 2.0,
                base - bh,
                esc(&hist.labels[i]),
                v * 100.0
            );
        }
    }
    match &hist.edges {
        Some(edges) => edge_axis(h, edges, slot, base),
        None => value_labels(h, &hist.labels, slot, base, upright),
    }
    h.push_str("</svg>");
}

/// A tick and its number at every few bin edges (at most 8 numbers).
fn edge_axis(h: &mut String, edges: &[f64], slot: f64, base: f64) {
    let every = edges.len().div_ceil(8).max(1);
    for (i, &e) in edges.iter().enumerate() {
        if i % every != 0 && i + 1 != edges.len() {
            continue;
        }
        if i + 1 == edges.len() && i % every != 0 && (i % every) * 2 < every {
            continue; // the last edge would crowd the previous number
        }
        let x = LEFT + slot * i as f64;
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{base:.1}\" y2=\"{:.1}\" stroke=\"#9aa3ad\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
            base + 4.0,
            base + 15.0,
            esc(&axis_number(e))
        );
    }
}

/// Each value under its bar: upright when the longest fits its slot, else slanted (and cut
/// at [`SLANTED_CHARS`]; the bar's tooltip has it whole), thinned out beyond 20 bars.
fn value_labels(h: &mut String, labels: &[String], slot: f64, base: f64, upright: bool) {
    let every = labels.len().div_ceil(20).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let lx = LEFT + slot * i as f64 + slot / 2.0;
        if upright {
            let _ = write!(
                h,
                "<text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
                base + 14.0,
                esc(label)
            );
        } else {
            let shown: String = if label.chars().count() > SLANTED_CHARS {
                label.chars().take(SLANTED_CHARS - 1).collect::<String>() + "…"
            } else {
                label.clone()
            };
            let ly = base + 10.0;
            let _ = write!(
                h,
                "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\" fill=\"#444\" \
                 transform=\"rotate(-35 {lx:.1} {ly:.1})\">{}</text>",
                esc(&shown)
            );
        }
    }
}

/// A step of 1, 2, 2.5 or 5 times a power of ten and the number of steps (3 to 6) that
/// cover `max` (a share, 0..=1).
fn nice_ticks(max: f64) -> (f64, usize) {
    if max.is_nan() || max <= 0.0 {
        return (0.25, 4);
    }
    let rough = max / 4.0;
    let pow = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * pow).find(|s| *s >= rough).unwrap_or(10.0 * pow);
    let ticks = ((max / step) - 1e-9).ceil().max(1.0) as usize;
    (step, ticks)
}

/// A percentage for an axis: as few decimals as it needs (`5`, `2.5`, `0.25`).
fn percent(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A bin edge for an axis: 3 significant digits, thousands as `k`/`M` (`0.0526`, `1.19k`).
fn axis_number(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if scaled == 0.0 {
        return "0".to_string();
    }
    let digits = (2 - scaled.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{scaled:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{suffix}")
}
