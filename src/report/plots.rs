//! The evaluate stage's plots file, read through the type `evaluate` writes it with
//! ([`PlotsFile`], schema 1), and drawn as inline SVG with plotters.
//!
//! Each plot is drawn from its part of the file; a part that is absent or unusable (lists of
//! different lengths, no points) becomes a sentence in the page instead of a plot, never an
//! error. The champion (`baseline`) is overlaid where it has data for that plot.
use churnflow_stages::{PlotData, PlotsFile, PLOTS_SCHEMA};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

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

/// Reads a plots file. `Err` says, in words, why none of its plots can be drawn: not JSON, a
/// schema this build does not read, or a part of the wrong shape (named by its path).
pub fn parse(bytes: &[u8]) -> Result<PlotsFile, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("is not valid JSON: {e}"))?;
    match value.get("schema_version").map(|v| v.as_u64()) {
        Some(Some(v)) if v == u64::from(PLOTS_SCHEMA) => {}
        Some(Some(v)) => {
            return Err(format!(
                "has plots schema_version {v}; this churnflow reads {PLOTS_SCHEMA}: rerun the stage that writes it (`churnflow repro --force STAGE`) or update churnflow"
            ))
        }
        _ => {
            return Err(format!(
                "has no \"schema_version\": {PLOTS_SCHEMA} (see docs/comparing.md, \"Plot data\"); files from before the schema are rewritten by `churnflow repro --force STAGE`"
            ))
        }
    }
    // The challenger's parts are read apart from `baseline`: through `#[serde(flatten)]` the
    // path of a bad value would be lost.
    let serde_json::Value::Object(mut parts) = value else { return Err("is not a JSON object".into()) };
    let baseline = parts.remove("baseline");
    let fairness = parts.remove("fairness").unwrap_or_default();
    let data = |v: serde_json::Value, prefix: &str| -> Result<PlotData, String> {
        serde_path_to_error::deserialize(v)
            .map_err(|e| format!("does not match the plots schema at {prefix}{}: {}", e.path(), e.inner()))
    };
    Ok(PlotsFile {
        schema_version: PLOTS_SCHEMA,
        challenger: data(serde_json::Value::Object(parts), "")?,
        baseline: baseline.map(|b| data(b, "baseline.")).transpose()?,
        fairness,
    })
}

/// Zips `x` and `y` into points, checking they line up and are not empty.
fn points(section: &str, (xk, x): (&str, &[f64]), (yk, y): (&str, &[f64])) -> Result<Points, String> {
    if x.len() != y.len() {
        return Err(format!(
            "\"{section}.{xk}\" has {} values but \"{section}.{yk}\" has {}",
            x.len(),
            y.len()
        ));
    }
    if x.is_empty() {
        return Err(format!("\"{section}\" has no points"));
    }
    Ok(x.iter().copied().zip(y.iter().copied()).collect())
}

/// A curve of one model: `Ok(None)` when the file has no such part.
type CurveOf = fn(&PlotData) -> Result<Option<Points>, String>;

fn roc_points(d: &PlotData) -> Result<Option<Points>, String> {
    d.roc.as_ref().map(|r| points("roc", ("fpr", &r.fpr), ("tpr", &r.tpr))).transpose()
}

fn pr_points(d: &PlotData) -> Result<Option<Points>, String> {
    d.pr.as_ref().map(|r| points("pr", ("recall", &r.recall), ("precision", &r.precision))).transpose()
}

fn calibration_points(d: &PlotData) -> Result<Option<Points>, String> {
    d.calibration
        .as_ref()
        .map(|c| {
            points(
                "calibration",
                ("mean_predicted", &c.mean_predicted),
                ("fraction_positive", &c.fraction_positive),
            )
        })
        .transpose()
}

fn gains_points(d: &PlotData) -> Result<Option<Points>, String> {
    d.gains
        .as_ref()
        .map(|g| {
            points(
                "gains",
                ("fraction_contacted", &g.fraction_contacted),
                ("fraction_churners", &g.fraction_churners),
            )
        })
        .transpose()
}

/// Cumulative lift against the fraction contacted (decile / 10).
fn lift_points(d: &PlotData) -> Result<Option<Points>, String> {
    let Some(lift) = &d.lift else { return Ok(None) };
    if lift.is_empty() {
        return Err("\"lift\" has no points".into());
    }
    Ok(Some(lift.iter().map(|l| (f64::from(l.decile) / 10.0, l.cumulative_lift)).collect()))
}

/// The curve for the challenger (required) and the champion (optional, dropped if unusable).
fn pair(file: &PlotsFile, f: CurveOf, what: &str) -> Result<(Points, Option<Points>), String> {
    let main = f(&file.challenger)?.ok_or_else(|| format!("no {what} data"))?;
    let base = file.baseline.as_ref().and_then(|b| f(b).ok().flatten());
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

fn roc(file: &PlotsFile) -> Result<String, String> {
    let (m, b) = pair(file, roc_points, "ROC")?;
    line_chart(
        "ROC curve",
        "false positive rate",
        "true positive rate",
        y_top(&m, &b),
        &lines(&m, &b),
        Some(("chance", diagonal())),
    )
}

fn pr(file: &PlotsFile) -> Result<String, String> {
    let (m, b) = pair(file, pr_points, "precision-recall")?;
    line_chart("Precision-recall curve", "recall", "precision", y_top(&m, &b), &lines(&m, &b), None)
}

fn calibration(file: &PlotsFile) -> Result<String, String> {
    let (m, b) = pair(file, calibration_points, "calibration")?;
    line_chart(
        "Calibration",
        "mean predicted probability",
        "observed churn rate",
        y_top(&m, &b),
        &lines(&m, &b),
        Some(("perfectly calibrated", diagonal())),
    )
}

fn gains(file: &PlotsFile) -> Result<String, String> {
    let (m, b) = pair(file, gains_points, "cumulative gains")?;
    line_chart(
        "Cumulative gains",
        "fraction of customers contacted",
        "fraction of churners reached",
        y_top(&m, &b),
        &lines(&m, &b),
        Some(("random", diagonal())),
    )
}

fn lift(file: &PlotsFile) -> Result<String, String> {
    let (m, b) = pair(file, lift_points, "lift")?;
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

/// `[[tn, fp], [fn, tp]]` of one model, when the file has its confusion matrix.
fn cells(d: &PlotData) -> Option<[[f64; 2]; 2]> {
    let c = d.confusion.as_ref()?;
    Some([[c.tn as f64, c.fp as f64], [c.fn_ as f64, c.tp as f64]])
}

fn confusion(file: &PlotsFile) -> Result<String, String> {
    let main = cells(&file.challenger).ok_or("no confusion-matrix data")?;
    let base = file.baseline.as_ref().and_then(cells);
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
fn importances(d: &PlotData) -> Result<Option<Vec<(String, f64)>>, String> {
    let Some(list) = &d.feature_importance else { return Ok(None) };
    if list.is_empty() {
        return Err("\"feature_importance\" is empty (the model reports no importances)".into());
    }
    Ok(Some(list.iter().map(|i| (i.feature.clone(), i.importance)).collect()))
}

/// How many features the importance chart shows at most.
pub const TOP_FEATURES: usize = 20;

fn importance(file: &PlotsFile) -> Result<String, String> {
    let mut main = importances(&file.challenger)?.ok_or("no feature-importance data")?;
    main.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
    main.truncate(TOP_FEATURES);
    let base = file.baseline.as_ref().and_then(|b| importances(b).ok().flatten());
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
pub fn figures(file: &PlotsFile) -> Vec<Figure> {
    type Draw = fn(&PlotsFile) -> Result<String, String>;
    type Has = fn(&PlotData) -> bool;
    let all: [(&'static str, &'static str, Has, Draw); 7] = [
        ("roc", "ROC curve", |d| d.roc.is_some(), roc),
        ("pr", "Precision-recall curve", |d| d.pr.is_some(), pr),
        ("calibration", "Calibration", |d| d.calibration.is_some(), calibration),
        ("gains", "Cumulative gains", |d| d.gains.is_some(), gains),
        ("lift", "Lift", |d| d.lift.is_some(), lift),
        ("confusion", "Confusion matrix", |d| d.confusion.is_some(), confusion),
        ("importance", "Feature importance", |d| d.feature_importance.is_some(), importance),
    ];
    all.into_iter()
        .map(|(kind, title, has, draw)| Figure {
            kind,
            title,
            svg: draw(file),
            champion: file.baseline.as_ref().is_some_and(has),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use churnflow_stages::{Calibration, ConfusionAt, Gains, Importance, LiftPoint, Pr, Roc};
    use serde_json::json;

    fn model(shift: f64) -> PlotData {
        PlotData {
            roc: Some(Roc {
                fpr: vec![0.0, 0.5, 1.0],
                tpr: vec![0.0, 0.8 - shift, 1.0],
                threshold: vec![None, Some(0.5), Some(0.1)],
            }),
            pr: Some(Pr { recall: vec![0.0, 1.0], precision: vec![1.0, 0.4], threshold: vec![0.9, 0.1] }),
            calibration: Some(Calibration {
                mean_predicted: vec![0.1, 0.9],
                fraction_positive: vec![0.2, 0.8 - shift],
                count: vec![50, 50],
            }),
            gains: Some(Gains {
                fraction_contacted: vec![0.0, 0.5, 1.0],
                fraction_churners: vec![0.0, 0.7 - shift, 1.0],
            }),
            lift: Some(
                (1..=10)
                    .map(|d| LiftPoint { decile: d, cumulative_lift: 3.0 - shift - f64::from(d) * 0.2 })
                    .collect(),
            ),
            confusion: Some(ConfusionAt { threshold: Some(0.4), tn: 50, fp: 5, fn_: 10, tp: 35 }),
            feature_importance: Some(vec![
                Importance { feature: "tenure_days".into(), importance: 0.4 },
                Importance { feature: "recency_days".into(), importance: 0.2 - shift },
            ]),
        }
    }

    /// What evaluate writes, serialised and read back as the report reads it.
    fn written(baseline: Option<PlotData>) -> PlotsFile {
        let file =
            PlotsFile { schema_version: PLOTS_SCHEMA, challenger: model(0.0), baseline, fairness: json!({}) };
        parse(serde_json::to_string(&file).unwrap().as_bytes()).unwrap()
    }

    #[test]
    fn the_writers_file_draws_every_plot_with_the_champion_overlaid() {
        for f in figures(&written(Some(model(0.1)))) {
            let svg = f.svg.unwrap_or_else(|e| panic!("{}: {e}", f.kind));
            assert!(svg.contains("<svg") && svg.contains("<text"), "{}", f.kind);
            assert!(f.champion, "{} has the champion", f.kind);
            assert!(svg.contains("champion"), "{}: the champion is in the legend", f.kind);
        }
        for f in figures(&written(None)) {
            assert!(f.svg.is_ok() && !f.champion, "{}", f.kind);
        }
    }

    #[test]
    fn one_feature_and_negative_importances_draw() {
        for list in [
            vec![Importance { feature: "only".into(), importance: 0.5 }],
            vec![
                Importance { feature: "a".into(), importance: -0.5 },
                Importance { feature: "b".into(), importance: 0.0 },
            ],
        ] {
            let mut file = written(None);
            file.challenger.feature_importance = Some(list);
            let svg = importance(&file).unwrap();
            assert!(svg.contains("\nonly\n</text>") || svg.contains("\na\n</text>"), "{svg}");
        }
    }

    #[test]
    fn absent_or_unusable_parts_are_explained_not_drawn() {
        let file =
            parse(br#"{"schema_version": 1, "roc": {"fpr": [0, 1], "tpr": [0]}, "feature_importance": []}"#)
                .unwrap();
        let figs = figures(&file);
        let why = |k: &str| figs.iter().find(|f| f.kind == k).unwrap().svg.as_ref().unwrap_err().clone();
        assert!(why("roc").contains("\"roc.fpr\" has 2 values but \"roc.tpr\" has 1"), "{}", why("roc"));
        assert_eq!(why("pr"), "no precision-recall data");
        assert!(why("importance").contains("is empty"), "{}", why("importance"));
    }

    #[test]
    fn files_of_another_schema_or_shape_are_refused_with_the_reason() {
        let no_version = parse(br#"{"roc": {"fpr": [0, 1], "tpr": [0, 1]}}"#).unwrap_err();
        assert!(no_version.contains("no \"schema_version\": 1"), "{no_version}");
        let newer = parse(br#"{"schema_version": 2}"#).unwrap_err();
        assert!(newer.contains("schema_version 2; this churnflow reads 1"), "{newer}");
        let wrong = parse(
            br#"{"schema_version": 1, "calibration": {"mean_predicted": [0.1], "fraction_positive": ["x"]}}"#,
        )
        .unwrap_err();
        assert!(wrong.contains("at calibration.fraction_positive[0]: invalid type"), "{wrong}");
        let champion =
            parse(br#"{"schema_version": 1, "baseline": {"lift": [{"decile": "one"}]}}"#).unwrap_err();
        assert!(champion.contains("at baseline.lift[0].decile"), "{champion}");
        assert!(parse(b"{").unwrap_err().contains("not valid JSON"));
    }
}
