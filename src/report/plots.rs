//! The evaluate stage's plot data, read tolerantly, and drawn as inline SVG with plotters.
//!
//! The plots JSON holds, for the challenger and optionally under `baseline` for the
//! champion it was compared with:
//! `roc {fpr, tpr}`, `pr {recall, precision}`, `calibration {predicted, observed}`,
//! `gains {fraction, gain}` (lift is derived: gain / fraction), `confusion {tn, fp, fn, tp}`
//! and `importance [{feature, importance}]`. Each plot is drawn from whatever part is
//! present and well formed; a missing or malformed part becomes a sentence in the page
//! instead of a plot, never an error. The champion is overlaid where both sides have data.
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde_json::Value;

/// One plot of a plots file: its SVG, or why it is not drawn.
pub struct Figure {
    /// Stable id suffix: `roc`, `pr`, `calibration`, `gains`, `lift`, `confusion`, `importance`.
    pub kind: &'static str,
    pub title: &'static str,
    pub svg: Result<String, String>,
    /// The plots file has champion (`baseline`) data for this plot.
    pub champion: bool,
}

const CHALLENGER: RGBColor = RGBColor(31, 119, 180);
const CHAMPION: RGBColor = RGBColor(230, 110, 0);
const REFERENCE: RGBColor = RGBColor(150, 150, 150);
const SIZE: (u32, u32) = (520, 380);

type Points = Vec<(f64, f64)>;

/// A curve from `section.{x_key, y_key}`: `Ok(None)` when the section is absent.
fn curve(data: &Value, section: &str, x_key: &str, y_key: &str) -> Result<Option<Points>, String> {
    let Some(s) = data.get(section) else { return Ok(None) };
    let list = |k: &str| -> Result<Vec<f64>, String> {
        let arr = s
            .get(k)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("\"{section}\" has no \"{k}\" array"))?;
        arr.iter()
            .map(|v| v.as_f64().ok_or_else(|| format!("\"{section}.{k}\" holds {v}, not a number")))
            .collect()
    };
    let (x, y) = (list(x_key)?, list(y_key)?);
    if x.len() != y.len() {
        return Err(format!(
            "\"{section}.{x_key}\" has {} values but \"{section}.{y_key}\" has {}",
            x.len(),
            y.len()
        ));
    }
    if x.is_empty() {
        return Err(format!("\"{section}\" has no points"));
    }
    Ok(Some(x.into_iter().zip(y).collect()))
}

/// The curve for the challenger (required) and the champion (optional, dropped if bad).
fn pair(
    data: &Value,
    f: impl Fn(&Value) -> Result<Option<Points>, String>,
    what: &str,
) -> Result<(Points, Option<Points>), String> {
    let main = f(data)?.ok_or_else(|| format!("no {what} data"))?;
    let base = data.get("baseline").and_then(|b| f(b).ok().flatten());
    Ok((main, base))
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing failed: {e:?}")
}

struct Line<'a> {
    label: &'a str,
    points: &'a [(f64, f64)],
    color: RGBColor,
}

/// A line chart with axis labels, the given series and a dashed reference line.
fn line_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    y_max: f64,
    lines: &[Line],
    reference: Option<(&str, Points)>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        if let Some((label, pts)) = reference {
            chart
                .draw_series(DashedLineSeries::new(pts, 6, 4, REFERENCE.stroke_width(1)))
                .map_err(err)?
                .label(label)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], REFERENCE));
        }
        for l in lines {
            let color = l.color;
            chart
                .draw_series(LineSeries::new(l.points.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(l.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(REFERENCE)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn lines<'a>(main: &'a [(f64, f64)], base: &'a Option<Points>) -> Vec<Line<'a>> {
    let mut v = vec![Line { label: "this model", points: main, color: CHALLENGER }];
    if let Some(b) = base {
        v.push(Line { label: "champion", points: b, color: CHAMPION });
    }
    v
}

fn y_top(main: &[(f64, f64)], base: &Option<Points>) -> f64 {
    let max = main.iter().chain(base.iter().flatten()).map(|p| p.1).fold(1.0f64, f64::max);
    if max > 1.0 {
        max * 1.05
    } else {
        1.0
    }
}

fn diagonal() -> Points {
    vec![(0.0, 0.0), (1.0, 1.0)]
}

fn roc(data: &Value) -> Result<String, String> {
    let (m, b) = pair(data, |d| curve(d, "roc", "fpr", "tpr"), "ROC")?;
    line_chart(
        "ROC curve",
        "false positive rate",
        "true positive rate",
        y_top(&m, &b),
        &lines(&m, &b),
        Some(("chance", diagonal())),
    )
}

fn pr(data: &Value) -> Result<String, String> {
    let (m, b) = pair(data, |d| curve(d, "pr", "recall", "precision"), "precision-recall")?;
    line_chart("Precision-recall curve", "recall", "precision", y_top(&m, &b), &lines(&m, &b), None)
}

fn calibration(data: &Value) -> Result<String, String> {
    let (m, b) = pair(data, |d| curve(d, "calibration", "predicted", "observed"), "calibration")?;
    line_chart(
        "Calibration",
        "mean predicted probability",
        "observed churn rate",
        y_top(&m, &b),
        &lines(&m, &b),
        Some(("perfectly calibrated", diagonal())),
    )
}

fn gains(data: &Value) -> Result<String, String> {
    let (m, b) = pair(data, |d| curve(d, "gains", "fraction", "gain"), "cumulative gains")?;
    line_chart(
        "Cumulative gains",
        "fraction of customers contacted",
        "fraction of churners reached",
        y_top(&m, &b),
        &lines(&m, &b),
        Some(("random", diagonal())),
    )
}

fn lift(data: &Value) -> Result<String, String> {
    let to_lift = |pts: &[(f64, f64)]| -> Points {
        pts.iter().filter(|p| p.0 > 0.0).map(|p| (p.0, p.1 / p.0)).collect()
    };
    let (m, b) = pair(data, |d| curve(d, "gains", "fraction", "gain"), "cumulative gains")?;
    let (m, b) = (to_lift(&m), b.map(|b| to_lift(&b)));
    if m.is_empty() {
        return Err("the gains curve has no point with a fraction above 0, so lift is undefined".into());
    }
    let top = m.iter().chain(b.iter().flatten()).map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    line_chart(
        "Lift",
        "fraction of customers contacted",
        "lift over random",
        top,
        &lines(&m, &b),
        Some(("random", vec![(0.0, 1.0), (1.0, 1.0)])),
    )
}

/// `[[tn, fp], [fn, tp]]` from `{"tn", "fp", "fn", "tp"}`.
fn cells(v: &Value) -> Result<[[f64; 2]; 2], String> {
    let get = |k: &str| {
        v.get(k).and_then(Value::as_f64).ok_or_else(|| format!("\"confusion\" has no number \"{k}\""))
    };
    Ok([[get("tn")?, get("fp")?], [get("fn")?, get("tp")?]])
}

fn confusion(data: &Value) -> Result<String, String> {
    let main = cells(data.get("confusion").ok_or("no confusion-matrix data")?)?;
    let base = data.get("baseline").and_then(|b| b.get("confusion")).and_then(|c| cells(c).ok());
    let mut panels = vec![("this model", main, CHALLENGER)];
    if let Some(b) = base {
        panels.push(("champion", b, CHAMPION));
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0 * panels.len() as u32 / 2 + 260, SIZE.1))
            .into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled("Confusion matrix", ("sans-serif", 20)).map_err(err)?;
        let areas = root.split_evenly((1, panels.len()));
        for ((name, m, color), area) in panels.iter().zip(areas.iter()) {
            let total: f64 = m.iter().flatten().sum::<f64>().max(1.0);
            let mut chart = ChartBuilder::on(area)
                .caption(*name, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(60)
                // An integer range is inclusive here: 0..1 is the two segments 0 and 1.
                .build_cartesian_2d((0..1).into_segmented(), (0..1).into_segmented())
                .map_err(err)?;
            let label = |v: &SegmentValue<i32>, yes: &str, no: &str| match v {
                SegmentValue::CenterOf(1) => yes.to_string(),
                SegmentValue::CenterOf(0) => no.to_string(),
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("predicted")
                .y_desc("actual")
                .x_label_formatter(&|v| label(v, "churn", "stay"))
                .y_label_formatter(&|v| label(v, "stay", "churn"))
                .draw()
                .map_err(err)?;
            for (actual, row) in m.iter().enumerate() {
                for (pred, &n) in row.iter().enumerate() {
                    let (x, y) = (pred as i32, 1 - actual as i32);
                    let shade = color.mix(0.15 + 0.75 * n / total);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [
                                (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                                (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                            ],
                            shade.filled(),
                        )))
                        .map_err(err)?;
                    let name = [["TN", "FP"], ["FN", "TP"]][actual][pred];
                    let text = format!("{name} {}", crate::compare::metrics::number(n));
                    chart
                        .draw_series(std::iter::once(Text::new(
                            text,
                            (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                            ("sans-serif", 15).into_font().color(&BLACK).pos(
                                plotters::style::text_anchor::Pos::new(
                                    plotters::style::text_anchor::HPos::Center,
                                    plotters::style::text_anchor::VPos::Center,
                                ),
                            ),
                        )))
                        .map_err(err)?;
                }
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Features with importances, in file order; `Ok(None)` when absent.
fn importances(v: &Value) -> Result<Option<Vec<(String, f64)>>, String> {
    let Some(list) = v.get("importance") else { return Ok(None) };
    let arr = list.as_array().ok_or("\"importance\" is not a list of {feature, importance}")?;
    let mut out = Vec::new();
    for item in arr {
        let name = item.get("feature").and_then(Value::as_str);
        let value = item.get("importance").and_then(Value::as_f64);
        match (name, value) {
            (Some(n), Some(x)) => out.push((n.to_string(), x)),
            _ => {
                return Err(format!(
                    "an \"importance\" entry is not {{\"feature\": text, \"importance\": number}}: {item}"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("\"importance\" is empty".into());
    }
    Ok(Some(out))
}

/// How many features the importance chart shows at most.
pub const TOP_FEATURES: usize = 20;

fn importance(data: &Value) -> Result<String, String> {
    let mut main = importances(data)?.ok_or("no feature-importance data")?;
    main.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
    main.truncate(TOP_FEATURES);
    let base = data.get("baseline").and_then(|b| importances(b).ok().flatten());
    let base_of = |f: &str| base.as_ref().and_then(|b| b.iter().find(|(n, _)| n == f).map(|p| p.1));
    let n = main.len() as i32;
    let lo = main.iter().map(|p| p.1).chain(main.iter().filter_map(|p| base_of(&p.0))).fold(0.0f64, f64::min);
    let hi = main.iter().map(|p| p.1).chain(main.iter().filter_map(|p| base_of(&p.0))).fold(0.0f64, f64::max);
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let pad = (hi - lo) * 0.05;
    let longest = main.iter().map(|p| p.0.chars().count()).max().unwrap_or(8) as u32;
    let mut svg = String::new();
    {
        let height = 90 + 22 * n as u32;
        let root =
            SVGBackend::with_string(&mut svg, (SIZE.0 + 7 * longest, height.max(200))).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Feature importance", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(20 + 7 * longest)
            // Room on the right for the legend. The integer range is inclusive (0..n-1 is n
            // rows); a single row needs a range of two, or it gets no label.
            .build_cartesian_2d(
                (lo - if lo < 0.0 { pad } else { 0.0 })..(hi / 0.7 + pad),
                (0..(n - 1).max(1)).into_segmented(),
            )
            .map_err(err)?;
        let names: Vec<String> = main.iter().map(|p| p.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get((n - 1 - *i) as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("importance")
            .draw()
            .map_err(err)?;
        // Row 0 is drawn at the bottom: the most important feature goes on top. With a
        // champion, each row holds two thinner bars (this model above, the champion below).
        let with_base = base.is_some();
        let bar = |i: usize, x: f64, color: RGBColor, upper: bool| {
            let row = n - 1 - i as i32;
            let mut r = Rectangle::new(
                [(0.0, SegmentValue::Exact(row)), (x, SegmentValue::Exact(row + 1))],
                color.filled(),
            );
            match (with_base, upper) {
                (false, _) => r.set_margin(3, 3, 0, 0),
                (true, true) => r.set_margin(3, 11, 0, 0),
                (true, false) => r.set_margin(11, 3, 0, 0),
            };
            r
        };
        chart
            .draw_series(main.iter().enumerate().map(|(i, p)| bar(i, p.1, CHALLENGER, true)))
            .map_err(err)?
            .label("this model")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], CHALLENGER.filled()));
        if with_base {
            chart
                .draw_series(
                    main.iter()
                        .enumerate()
                        .filter_map(|(i, p)| Some(bar(i, base_of(&p.0)?, CHAMPION, false))),
                )
                .map_err(err)?
                .label("champion")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], CHAMPION.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(REFERENCE)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Every figure for one plots file, in a fixed order.
pub fn figures(data: &Value) -> Vec<Figure> {
    type Draw = fn(&Value) -> Result<String, String>;
    let all: [(&'static str, &'static str, &str, Draw); 7] = [
        ("roc", "ROC curve", "roc", roc),
        ("pr", "Precision-recall curve", "pr", pr),
        ("calibration", "Calibration", "calibration", calibration),
        ("gains", "Cumulative gains", "gains", gains),
        ("lift", "Lift", "gains", lift),
        ("confusion", "Confusion matrix", "confusion", confusion),
        ("importance", "Feature importance", "importance", importance),
    ];
    let baseline = data.get("baseline");
    all.into_iter()
        .map(|(kind, title, section, draw)| Figure {
            kind,
            title,
            svg: draw(data),
            champion: baseline.and_then(|b| b.get(section)).is_some(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_complete_file_draws_every_plot_with_text_labels() {
        let data = json!({
            "roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.8, 1]},
            "pr": {"recall": [0, 1], "precision": [1, 0.4]},
            "calibration": {"predicted": [0.1, 0.9], "observed": [0.2, 0.8]},
            "gains": {"fraction": [0, 0.5, 1], "gain": [0, 0.7, 1]},
            "confusion": {"tn": 50, "fp": 5, "fn": 10, "tp": 35},
            "importance": [{"feature": "tenure_days", "importance": 0.4}, {"feature": "recency_days", "importance": 0.2}],
        });
        for f in figures(&data) {
            let svg = f.svg.unwrap_or_else(|e| panic!("{}: {e}", f.kind));
            assert!(svg.contains("<svg") && svg.contains("<text"), "{}", f.kind);
        }
    }

    #[test]
    fn one_feature_and_negative_importances_draw() {
        for data in [
            json!({"importance": [{"feature": "only", "importance": 0.5}]}),
            json!({"importance": [{"feature": "a", "importance": -0.5}, {"feature": "b", "importance": 0.0}]}),
        ] {
            let svg = importance(&data).unwrap();
            assert!(svg.contains("\nonly\n</text>") || svg.contains("\na\n</text>"), "{svg}");
        }
    }

    #[test]
    fn malformed_parts_are_explained_not_drawn() {
        let data = json!({"roc": {"fpr": [0, 1], "tpr": [0]}, "importance": "x"});
        let figs = figures(&data);
        let why = |k: &str| figs.iter().find(|f| f.kind == k).unwrap().svg.as_ref().unwrap_err().clone();
        assert!(why("roc").contains("has 2 values but"), "{}", why("roc"));
        assert_eq!(why("pr"), "no precision-recall data");
        assert!(why("importance").contains("not a list"), "{}", why("importance"));
    }
}
