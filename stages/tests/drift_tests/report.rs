//! The drift report on tables written by the tests: Evidently's method choice by reference
//! size and column type, the dataset-drift rule, params overrides, the prediction log.
use churnflow_stages::testing::stattests::{ks_2samp, wasserstein_norm};
use churnflow_stages::{drift_report, DriftOptions, DriftReport, DriftSide};
use serde_json::json;
use std::path::Path;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn unif(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / 9007199254740992.0
    }
}

/// Columns of a CSV: `(name, cells)`.
fn write_csv(path: &Path, cols: &[(&str, Vec<String>)]) {
    let n = cols[0].1.len();
    let mut text = cols.iter().map(|c| c.0).collect::<Vec<_>>().join(",") + "\n";
    for i in 0..n {
        text += &(cols.iter().map(|c| c.1[i].as_str()).collect::<Vec<_>>().join(",") + "\n");
    }
    std::fs::write(path, text).unwrap();
}

/// A table of `n` rows: `amount` (continuous, shifted by `shift`), `plan` (3 values, share of
/// "premium" `premium`), `paperless` (2 values), `visits` (4 integer values), `customer_id`.
fn table(dir: &Path, name: &str, n: usize, seed: u64, shift: f64, premium: f64) -> DriftSide {
    let mut g = Rng(seed);
    let mut cols: Vec<(&str, Vec<String>)> = vec![
        ("customer_id", vec![]),
        ("amount", vec![]),
        ("plan", vec![]),
        ("paperless", vec![]),
        ("visits", vec![]),
    ];
    for i in 0..n {
        cols[0].1.push(format!("C{i:06}"));
        let a = (g.unif() + g.unif() + g.unif() - 1.5) * 20.0 + 50.0 + shift;
        cols[1].1.push(format!("{a:.3}"));
        let u = g.unif();
        let plan = if u < premium {
            "premium"
        } else if u < premium + (1.0 - premium) / 2.0 {
            "basic"
        } else {
            "plus"
        };
        cols[2].1.push(plan.to_string());
        cols[3].1.push(if g.unif() < 0.6 { "yes" } else { "no" }.to_string());
        cols[4].1.push(((g.unif() * 4.0).floor() as i64).to_string());
    }
    let path = dir.join(name);
    write_csv(&path, &cols);
    DriftSide { path, shown: name.to_string() }
}

fn column<'a>(r: &'a DriftReport, name: &str) -> &'a churnflow_stages::ColumnDrift {
    r.columns.iter().find(|c| c.column == name).unwrap_or_else(|| panic!("no column {name}: {r:?}"))
}

fn methods(r: &DriftReport) -> Vec<(String, &'static str, &'static str)> {
    let mut v: Vec<_> = r.columns.iter().map(|c| (c.column.clone(), c.kind, c.method)).collect();
    v.sort();
    v
}

#[test]
fn the_method_follows_evidently_by_reference_size_and_column_type() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DriftOptions::default();
    let small = drift_report(
        &table(dir.path(), "a.csv", 1000, 1, 0.0, 0.3),
        &table(dir.path(), "b.csv", 700, 2, 0.0, 0.3),
        &opts,
    )
    .unwrap();
    assert_eq!(
        methods(&small),
        [
            ("amount".to_string(), "numerical", "ks"),
            ("paperless".to_string(), "categorical", "z"),
            ("plan".to_string(), "categorical", "chisquare"),
            ("visits".to_string(), "numerical", "chisquare"),
        ]
    );
    let large = drift_report(
        &table(dir.path(), "c.csv", 1001, 3, 0.0, 0.3),
        &table(dir.path(), "d.csv", 300, 4, 0.0, 0.3),
        &opts,
    )
    .unwrap();
    assert_eq!(
        methods(&large),
        [
            ("amount".to_string(), "numerical", "wasserstein"),
            ("paperless".to_string(), "categorical", "jensenshannon"),
            ("plan".to_string(), "categorical", "jensenshannon"),
            ("visits".to_string(), "numerical", "jensenshannon"),
        ]
    );
    assert_eq!(large.skipped[0].column, "customer_id");
    assert_eq!(large.skipped[0].reason, "id column");
}

#[test]
fn the_statistics_are_those_of_the_stattests_on_the_column_values() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (table(dir.path(), "a.csv", 400, 5, 0.0, 0.3), table(dir.path(), "b.csv", 300, 6, 3.0, 0.3));
    let r = drift_report(&a, &b, &DriftOptions::default()).unwrap();
    let values = |p: &Path| -> Vec<f64> {
        let text = std::fs::read_to_string(p).unwrap();
        text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect()
    };
    let (ra, rb) = (values(&a.path), values(&b.path));
    let amount = column(&r, "amount");
    assert_eq!(amount.statistic, ks_2samp(&ra, &rb).unwrap().p_value);
    assert_eq!(amount.reference_values, 400);
    let w = drift_report(
        &a,
        &b,
        &DriftOptions {
            params: json!({"columns": {"amount": {"method": "wasserstein"}}}),
            ..Default::default()
        },
    )
    .unwrap();
    let got = column(&w, "amount").statistic;
    let want = wasserstein_norm(&ra, &rb).unwrap();
    assert!((got - want).abs() <= 1e-12, "{got} vs {want}");
}

#[test]
fn dataset_drift_is_at_least_half_of_the_columns_drifting() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DriftOptions::default();
    let same = drift_report(
        &table(dir.path(), "a.csv", 2000, 7, 0.0, 0.3),
        &table(dir.path(), "b.csv", 2000, 8, 0.0, 0.3),
        &opts,
    )
    .unwrap();
    assert_eq!((same.drifted_columns, same.compared_columns, same.dataset_drift), (0, 4, false));
    assert!(same.summary().starts_with("dataset drift: 0 of 4 columns drifted (share 0.00 < 0.5)"));
    // amount shifted by half a standard deviation: 1 of 4 drifted, no dataset drift.
    let one = drift_report(
        &table(dir.path(), "a.csv", 2000, 7, 0.0, 0.3),
        &table(dir.path(), "c.csv", 2000, 9, 6.0, 0.3),
        &opts,
    )
    .unwrap();
    let drifted: Vec<&str> = one.columns.iter().filter(|c| c.drift).map(|c| c.column.as_str()).collect();
    assert_eq!(drifted, ["amount"]);
    assert_eq!(one.columns[0].column, "amount", "most drifted first");
    assert!(!one.dataset_drift);
    // and the plan mix changed too: 2 of 4 = 0.5 is dataset drift (>=, as Evidently).
    let two = drift_report(
        &table(dir.path(), "a.csv", 2000, 7, 0.0, 0.3),
        &table(dir.path(), "d.csv", 2000, 10, 6.0, 0.7),
        &opts,
    )
    .unwrap();
    let mut drifted: Vec<&str> = two.columns.iter().filter(|c| c.drift).map(|c| c.column.as_str()).collect();
    drifted.sort();
    assert_eq!(drifted, ["amount", "plan"]);
    assert!(two.dataset_drift, "{}", two.text());
    assert_eq!(two.share, 0.5);
    assert!(column(&two, "plan").psi >= 0.25 && column(&two, "plan").psi_band == "major");
    // a stricter share turns it off
    let strict = DriftOptions { params: json!({"drift_share": 0.75}), ..Default::default() };
    let r = drift_report(
        &table(dir.path(), "a.csv", 2000, 7, 0.0, 0.3),
        &table(dir.path(), "d.csv", 2000, 10, 6.0, 0.7),
        &strict,
    )
    .unwrap();
    assert!(!r.dataset_drift);
}

#[test]
fn params_override_the_method_and_threshold_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) =
        (table(dir.path(), "a.csv", 2000, 11, 0.0, 0.3), table(dir.path(), "b.csv", 2000, 12, 0.0, 0.3));
    let with =
        |params: serde_json::Value| drift_report(&a, &b, &DriftOptions { params, ..Default::default() });
    let r = with(
        json!({"columns": {"plan": {"method": "psi", "threshold": 0.2}, "amount": {"threshold": 1e-9}}}),
    )
    .unwrap();
    let plan = column(&r, "plan");
    assert_eq!((plan.method, plan.threshold, plan.method_from), ("psi", 0.2, "params"));
    assert_eq!(plan.statistic, plan.psi);
    let amount = column(&r, "amount");
    assert_eq!((amount.method, amount.method_from, amount.drift), ("wasserstein", "default", true));

    let err = |params: serde_json::Value| with(params).unwrap_err().message;
    assert!(err(json!({"columns": {"plan": {"method": "ks"}}})).contains("ks needs a numerical column"));
    assert!(
        err(json!({"columns": {"plan": {"method": "kolmogorov"}}})).contains("unknown method 'kolmogorov'")
    );
    assert!(err(json!({"columns": {"plann": {"threshold": 0.2}}})).contains("drift.columns.plann"));
    assert!(err(json!({"columns": {"plan": {"threshold": -1}}})).contains("positive number"));
    assert!(err(json!({"colums": {}})).contains("unknown field"));
}

#[test]
fn bad_input_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = table(dir.path(), "a.csv", 50, 1, 0.0, 0.3);
    let missing = DriftSide { path: dir.path().join("nope.csv"), shown: "nope.csv".into() };
    let e = drift_report(&a, &missing, &DriftOptions::default()).unwrap_err();
    assert!(e.message.contains("nope.csv: no such table"), "{}", e.message);
    let other = dir.path().join("other.csv");
    write_csv(&other, &[("x", vec!["1".into()])]);
    let e = drift_report(&a, &DriftSide { path: other, shown: "other.csv".into() }, &DriftOptions::default())
        .unwrap_err();
    assert!(e.message.contains("no shared columns"), "{}", e.message);
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "customer_id,amount\n").unwrap();
    let e = drift_report(&a, &DriftSide { path: empty, shown: "empty.csv".into() }, &DriftOptions::default())
        .unwrap_err();
    assert!(e.message.contains("empty.csv: no rows"), "{}", e.message);
}

/// One prediction-log line as `churnflow serve --log-dir` writes it.
fn log_line(i: usize, amount: f64, plan: &str, visits: Option<i64>, p: f64) -> String {
    let visits = visits.map_or("null".to_string(), |v| v.to_string());
    format!(
        r#"{{"time":"2026-12-03T08:12:{:02}.123Z","request_id":"r-{i}","model_id":"abc","id":"C{i:06}","inputs":{{"customer_id":"C{i:06}","amount":{amount},"plan":"{plan}","paperless":"yes","visits":{visits}}},"churn_probability":{p},"churn_prediction":{},"risk_tier":"low","top_reason":"plan","latency_ms":0.2}}"#,
        i % 60,
        u8::from(p >= 0.5)
    )
}

#[test]
fn a_prediction_log_folder_is_read_as_the_current_data() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut g = Rng(3);
    let mut lines = Vec::new();
    for i in 0..300 {
        let amount = (g.unif() + g.unif() + g.unif() - 1.5) * 20.0 + 50.0;
        let plan = ["basic", "plus", "premium"][i % 3];
        lines.push(log_line(
            i,
            amount,
            plan,
            if i % 10 == 0 { None } else { Some((i % 4) as i64) },
            g.unif(),
        ));
    }
    std::fs::write(logs.join("predictions-20261203T081200Z-1.jsonl"), lines[..200].join("\n") + "\n")
        .unwrap();
    std::fs::write(logs.join("predictions-20261203T091200Z-2.jsonl"), lines[200..].join("\n") + "\n")
        .unwrap();
    std::fs::write(logs.join("notes.txt"), "not a log").unwrap();
    // the reference has the prediction too (e.g. a scored table)
    let mut a = table(dir.path(), "a.csv", 500, 1, 0.0, 0.33);
    let text = std::fs::read_to_string(&a.path).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let p = if i == 0 { "churn_probability".to_string() } else { format!("{}", (i % 97) as f64 / 97.0) };
        out += &format!("{line},{p}\n");
    }
    a.path = dir.path().join("scored.csv");
    std::fs::write(&a.path, out).unwrap();
    let current = DriftSide { path: logs.clone(), shown: "logs".into() };
    let r = drift_report(&a, &current, &DriftOptions::default()).unwrap();
    assert_eq!(r.current.rows, 300);
    assert_eq!(r.current.read_as, "prediction log (2 files)");
    let visits = column(&r, "visits");
    assert_eq!((visits.kind, visits.current_values, visits.current_missing), ("numerical", 270, 30));
    assert_eq!(column(&r, "plan").kind, "categorical");
    assert_eq!(column(&r, "amount").kind, "numerical");
    assert_eq!(r.compared_columns, 4, "churn_probability is not a feature: {:?}", r.columns);
    let p = r.prediction_drift.as_ref().expect("prediction drift");
    assert_eq!((p.column.as_str(), p.current_values), ("churn_probability", 300));
    assert!(r.label_drift.is_none() && r.current_auc_roc.is_none());

    std::fs::write(logs.join("predictions-20261203T101200Z-3.jsonl"), "{\"inputs\": 3}\n").unwrap();
    let e = drift_report(&a, &current, &DriftOptions::default()).unwrap_err();
    assert!(e.message.contains("-3.jsonl:1: no `inputs` object"), "{}", e.message);
    let empty = dir.path().join("empty-logs");
    std::fs::create_dir(&empty).unwrap();
    let e =
        drift_report(&a, &DriftSide { path: empty, shown: "empty-logs".into() }, &DriftOptions::default())
            .unwrap_err();
    assert!(e.message.contains("no *.jsonl files"), "{}", e.message);
}

#[test]
fn label_drift_and_the_auc_on_current_data() {
    let dir = tempfile::tempdir().unwrap();
    let side = |name: &str, rate: f64, seed: u64| {
        let mut g = Rng(seed);
        let (mut x, mut y, mut p) = (vec![], vec![], vec![]);
        for _ in 0..800 {
            let churn = g.unif() < rate;
            x.push(format!("{:.3}", g.unif() * 10.0));
            y.push(u8::from(churn).to_string());
            p.push(format!("{:.4}", if churn { 0.4 + 0.6 * g.unif() } else { 0.7 * g.unif() }));
        }
        let path = dir.path().join(name);
        write_csv(&path, &[("x", x), ("churned", y), ("churn_probability", p)]);
        DriftSide { path, shown: name.into() }
    };
    let r = drift_report(&side("a.csv", 0.2, 1), &side("b.csv", 0.5, 2), &DriftOptions::default()).unwrap();
    let label = r.label_drift.as_ref().unwrap();
    assert_eq!((label.kind, label.method, label.drift), ("categorical", "z", true));
    let auc = r.current_auc_roc.unwrap();
    assert!(auc > 0.8 && auc < 1.0, "{auc}");
    assert_eq!(r.compared_columns, 1);
    let html = r.html();
    assert!(html.contains("<svg") && html.contains("Label drift (churned)"));
    assert!(
        !html.contains("http://")
            || html.matches("http://").all(|_| html.contains("http://www.w3.org/2000/svg"))
    );
}
