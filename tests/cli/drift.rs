//! `churnflow drift`: tables made here, the prediction log, `registry:champion` on a project
//! where `repro` ran, exit codes.
use crate::gitrepo;
use crate::support::Project;

/// A deterministic uniform in [0, 1) (SplitMix64).
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

/// Rows of `customer_id, amount, plan, paperless, visits`: `amount` shifted by `shift`,
/// `plan` "premium" with probability `premium`.
fn rows(
    n: usize,
    seed: u64,
    shift: f64,
    premium: f64,
) -> Vec<(String, f64, &'static str, &'static str, i64)> {
    let mut g = Rng(seed);
    (0..n)
        .map(|i| {
            let amount = (g.unif() + g.unif() + g.unif() - 1.5) * 20.0 + 50.0 + shift;
            let u = g.unif();
            let plan = if u < premium {
                "premium"
            } else if u < premium + (1.0 - premium) / 2.0 {
                "basic"
            } else {
                "plus"
            };
            let paperless = if g.unif() < 0.6 { "yes" } else { "no" };
            (format!("C{i:06}"), (amount * 1000.0).round() / 1000.0, plan, paperless, (g.unif() * 4.0) as i64)
        })
        .collect()
}

fn csv(p: &Project, rel: &str, n: usize, seed: u64, shift: f64, premium: f64) {
    let mut text = "customer_id,amount,plan,paperless,visits\n".to_string();
    for (id, a, plan, pl, v) in rows(n, seed, shift, premium) {
        text += &format!("{id},{a},{plan},{pl},{v}\n");
    }
    p.write(rel, &text);
}

#[test]
fn drift_same_distribution_exits_0_with_no_drifted_column() {
    let p = Project::new();
    csv(&p, "ref.csv", 2000, 1, 0.0, 0.3);
    csv(&p, "cur.csv", 1500, 2, 0.0, 0.3);
    let r = p.ok(&["drift", "--reference", "ref.csv", "--current", "cur.csv", "--fail-on-drift"]);
    assert!(r.stdout().contains("dataset drift: 0 of 4 columns drifted (share 0.00 < 0.5)"), "{}", r.all());
    assert!(!r.stdout().contains("DRIFT"), "{}", r.all());
    let j = p.ok(&["drift", "--reference", "ref.csv", "--current", "cur.csv", "--json"]).json();
    assert_eq!(j["schema"], 1);
    assert_eq!(j["dataset_drift"], false);
    assert_eq!(j["compared_columns"], 4);
    assert!(j["columns"].as_array().unwrap().iter().all(|c| c["drift"] == false), "{j}");
}

#[test]
fn drift_a_shifted_column_and_a_new_category_mix_drift_and_fail_with_4() {
    let p = Project::new();
    csv(&p, "ref.csv", 2000, 1, 0.0, 0.3);
    csv(&p, "cur.csv", 1500, 3, 6.0, 0.7);
    let args = ["drift", "--reference", "ref.csv", "--current", "cur.csv"];
    let r = p.ok(&args);
    assert!(r.stdout().contains("dataset drift: 2 of 4 columns drifted (share 0.50 >= 0.5)"), "{}", r.all());
    let failing = p.run(&[&args[..], &["--fail-on-drift", "--html", "out/drift.html"]].concat());
    assert_eq!(failing.code(), 4, "{}", failing.all());
    let j = p.ok(&[&args[..], &["--json"]].concat()).json();
    let drifted: Vec<&str> = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drift"] == true)
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["amount", "plan"], "most drifted first: {j}");
    assert_eq!(j["columns"][0]["method"], "wasserstein");
    assert_eq!(j["columns"][1]["method"], "jensenshannon");
    assert!(j["columns"][0]["statistic"].as_f64().unwrap() > 0.1);
    let html = p.read("out/drift.html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("2 of 4 columns drifted"));
    assert_eq!(html.matches("<figure").count(), 4, "one chart per column");
    let without_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_svg_ns.contains("http://") && !without_svg_ns.contains("https://"), "external URL");
}

#[test]
fn drift_into_a_closed_pipe_is_not_a_panic() {
    let p = Project::new();
    csv(&p, "ref.csv", 2000, 1, 0.0, 0.3);
    csv(&p, "cur.csv", 1500, 2, 0.0, 0.3);
    // `churnflow drift ... | head -0`: the reader is gone before the report is written
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
        .current_dir(p.root())
        .args(["drift", "--reference", "ref.csv", "--current", "cur.csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start churnflow");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn drift_bad_input_exits_2() {
    let p = Project::new();
    csv(&p, "ref.csv", 100, 1, 0.0, 0.3);
    p.write("other.csv", "x\n1\n");
    p.write("empty.csv", "customer_id,amount\n");
    for (current, says) in [
        ("missing.csv", "missing.csv: no such table"),
        ("other.csv", "no shared columns"),
        ("empty.csv", "empty.csv: no rows"),
    ] {
        let r = p.run(&["drift", "--reference", "ref.csv", "--current", current]);
        assert_eq!(r.code(), 2, "{}", r.all());
        assert!(r.stderr().contains(says), "{}", r.all());
    }
    p.write("params.yaml", "drift:\n  columns:\n    plan:\n      method: ks\n");
    let r = p.run(&["drift", "--reference", "ref.csv", "--current", "ref.csv"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("drift.columns.plan.method: ks needs a numerical column"), "{}", r.all());
    p.write("params.yaml", "drift:\n  columns:\n    plan:\n      method: psi\n      threshold: 0.2\n");
    let j = p.ok(&["drift", "--reference", "ref.csv", "--current", "ref.csv", "--json"]).json();
    let plan = j["columns"].as_array().unwrap().iter().find(|c| c["column"] == "plan").unwrap().clone();
    assert_eq!((plan["method"].as_str(), plan["threshold"].as_f64()), (Some("psi"), Some(0.2)));
}

#[test]
fn drift_reads_a_prediction_log_folder_as_the_current_data() {
    let p = Project::new();
    csv(&p, "ref.csv", 800, 1, 0.0, 0.3);
    let mut lines = Vec::new();
    for (i, (id, amount, plan, paperless, visits)) in rows(400, 5, 8.0, 0.3).into_iter().enumerate() {
        let visits = if i % 20 == 0 { "null".to_string() } else { visits.to_string() };
        lines.push(format!(
            r#"{{"time":"2026-12-03T08:12:01.123Z","request_id":"r-{i}","model_id":"m1","id":"{id}","inputs":{{"customer_id":"{id}","amount":{amount},"plan":"{plan}","paperless":"{paperless}","visits":{visits}}},"churn_probability":0.{:02},"churn_prediction":0,"risk_tier":"low","top_reason":"plan","latency_ms":0.21}}"#,
            i % 100
        ));
    }
    p.write("logs/predictions-20261203T081201Z-1.jsonl", &(lines[..250].join("\n") + "\n"));
    p.write("logs/predictions-20261203T091201Z-2.jsonl", &(lines[250..].join("\n") + "\n"));
    let j = p.ok(&["drift", "--reference", "ref.csv", "--current", "logs", "--json"]).json();
    assert_eq!(j["current"]["rows"], 400);
    assert_eq!(j["current"]["read_as"], "prediction log (2 files)");
    let col =
        |name: &str| j["columns"].as_array().unwrap().iter().find(|c| c["column"] == name).unwrap().clone();
    assert_eq!(col("amount")["drift"], true, "{j}");
    assert_eq!(col("amount")["method"], "ks");
    assert_eq!(col("visits")["current_missing"], 20);
    assert_eq!(col("plan")["kind"], "categorical");
    let mut drifted: Vec<String> = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drift"] == true)
        .map(|c| c["column"].as_str().unwrap().to_string())
        .collect();
    drifted.sort();
    assert_eq!(drifted, ["amount"]);
    // the reference has no churn_probability: no prediction drift
    assert!(j["prediction_drift"].is_null());
}

#[test]
fn drift_against_the_champions_training_data_and_a_clear_error_once_it_is_collected() {
    let p = crate::support::demo_project(1500, 1);
    p.ok(&["repro"]);
    // the test split against the training split: same distribution, no dataset drift
    let j = p.ok(&["drift", "--current", "data/test.parquet", "--json", "--fail-on-drift"]).json();
    assert!(j["reference"]["source"]
        .as_str()
        .unwrap()
        .starts_with("registry:champion: the training data of"));
    assert_eq!(j["reference"]["rows"], 1125);
    assert_eq!(j["dataset_drift"], false);
    assert!(j["compared_columns"].as_u64().unwrap() > 20, "{j}");
    assert_eq!(j["label_drift"]["column"], "churned");
    assert_eq!(j["skipped"][0]["column"], "customer_id");
    // the same as naming the training table itself
    let direct =
        p.ok(&["drift", "--reference", "data/train.parquet", "--current", "data/test.parquet", "--json"]);
    assert_eq!(direct.json()["columns"], j["columns"]);

    let model: serde_json::Value = serde_json::from_str(&p.read("models/model.json")).unwrap();
    let hash = model["lineage"]["training_data_blake3"].as_str().unwrap().to_string();
    let object = p.path(&format!("artifacts/objects/{}/{}", &hash[..2], &hash[2..]));
    assert!(object.is_file(), "the training data is in the store");
    std::fs::remove_file(&object).unwrap();
    let r = p.run(&["drift", "--current", "data/test.parquet"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    for part in ["is gone", "churnflow gc", "churnflow repro", "--reference TABLE"] {
        assert!(r.stderr().contains(part), "lacks {part:?}: {}", r.all());
    }
}

/// A pipeline whose `drift` stage compares `cur.csv` with a reference table that an upstream
/// stage writes.
const DRIFT_PIPELINE: &str = "
    stages:
      prep:
        cmd: cp ref_source.csv ref.csv
        deps: [ref_source.csv]
        outs: [ref.csv]
      drift:
        uses: drift
        with:
          reference: ref.csv
          current: cur.csv
          report: reports/drift.json
          html: reports/drift.html
          metrics: reports/drift_metrics.json
";

#[test]
fn the_drift_stage_reruns_alone_when_only_the_current_data_changes_and_metrics_diff_shows_it() {
    let p = Project::new().file("pipeline.yaml", &crate::support::unindent(DRIFT_PIPELINE));
    csv(&p, "ref_source.csv", 2000, 1, 0.0, 0.3);
    csv(&p, "cur.csv", 1500, 2, 0.0, 0.3);
    gitrepo::init(&p);
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("2 ran"), "{}", r.all());
    assert!(
        r.stderr().contains("dataset drift: 0 of 4 columns drifted"),
        "the summary is logged: {}",
        r.all()
    );
    let m: serde_json::Value = serde_json::from_str(&p.read("reports/drift_metrics.json")).unwrap();
    assert_eq!(m["compared"], true);
    assert_eq!(m["dataset_drift"], false);
    assert_eq!(m["compared_columns"], 4);
    assert_eq!(m["current_rows"], 1500);
    assert!(m["columns"]["amount"].as_f64().unwrap() < 0.1, "{m}");
    let report: serde_json::Value = serde_json::from_str(&p.read("reports/drift.json")).unwrap();
    assert_eq!(report["schema"], 1);
    assert_eq!(report["columns"].as_array().unwrap().len(), 4);
    assert!(p.read("reports/drift.html").contains("0 of 4 columns drifted"));
    gitrepo::commit_all(&p, "month one");

    // a new month: only the current data changes, so only `drift` reruns
    csv(&p, "cur.csv", 1500, 3, 6.0, 0.7);
    let status = p.ok(&["status"]);
    assert!(status.stdout().contains("drift"), "{}", status.all());
    assert!(!status.stdout().contains("prep"), "prep is untouched: {}", status.all());
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("1 ran, 0 restored, 1 up to date"), "{}", r.all());
    let m: serde_json::Value = serde_json::from_str(&p.read("reports/drift_metrics.json")).unwrap();
    assert_eq!(m["dataset_drift"], true);
    assert_eq!(m["drifted_columns"], 2);
    assert_eq!(m["share"], 0.5);
    // against the committed month, `metrics diff` shows drift over time
    let diff = p.ok(&["metrics", "diff"]).stdout();
    for row in ["dataset_drift", "share", "drifted_columns", "columns.amount"] {
        assert!(diff.lines().any(|l| l.contains(row)), "no row {row}:\n{diff}");
    }
    assert!(diff.lines().any(|l| l.contains("dataset_drift") && l.contains("true")), "{diff}");
}

#[test]
fn drift_stage_settings_that_cannot_work_are_usage_errors_before_anything_runs() {
    let stage = |with: &str| {
        format!(
            "stages:\n  drift:\n    uses: drift\n    with:\n{with}      report: r.json\n      metrics: m.json\n"
        )
    };
    crate::support::Test::new()
        .pipeline(&stage("      reference: registry:abc123\n      current: cur.csv\n"))
        .args(["repro"])
        .status(2)
        .stderr_contains("a pipeline compares against `registry:champion`")
        .run();
    crate::support::Test::new()
        .pipeline(&stage("      reference: ref.csv\n      current: cur.csv\n      model: m.json\n"))
        .args(["repro"])
        .status(2)
        .stderr_contains("model: only with `reference: registry:champion`")
        .run();
    crate::support::Test::new()
        .pipeline(&stage("      reference: ref.csv\n      current: cur.csv\n"))
        .params("drift:\n  drift_share: 1.5\n")
        .args(["repro"])
        .status(2)
        .stderr_contains("drift.drift_share must be in (0, 1]")
        .run();
}

#[test]
fn the_drift_gate_refuses_a_challenger_evaluated_on_data_that_drifted_from_its_training_data() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = std::fs::read_to_string(root.join("pipeline.yaml")).unwrap();
    // the rows the challenger is evaluated on, against its own training data
    let eval_drift = "  eval_drift:\n    uses: drift\n    with:\n      reference: data/train.parquet\n      \
        current: data/test.parquet\n      report: reports/eval_drift.json\n      metrics: reports/eval_drift_metrics.json\n";
    let pipeline = pipeline.replace("  promote:\n", &format!("{eval_drift}  promote:\n")).replace(
        "      decision: reports/promotion.json\n",
        "      decision: reports/promotion.json\n      drift: reports/eval_drift_metrics.json\n",
    );
    let params = std::fs::read_to_string(root.join("params.yaml")).unwrap();
    let gated = params.replace("promotion:\n", "promotion:\n  max_drift_share: 0.02\n");
    assert_ne!(gated, params);
    // A threshold no sample meets makes tenure_days drift: 1 of the compared columns, a share
    // above 0.02.
    let strict = format!("{gated}drift:\n  columns:\n    tenure_days: {{threshold: 0.000001}}\n");
    let p = Project::new().file("pipeline.yaml", &pipeline).file("params.yaml", &strict);
    p.ok(&["generate", "--customers", "1500", "--seed", "1", "--out", "data/raw"]);
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("not promoted: gate max_drift_share failed"), "{}", r.all());
    let (decision, gate) = drift_gate(&p);
    assert_eq!(gate["passed"], false, "{decision}");
    assert!(gate["observed"].as_f64().unwrap() > 0.02, "{gate}");
    let events = p.ok(&["models", "list", "--json"]).json();
    assert!(events["champion"].is_null(), "{events}");
    assert_eq!(events["events"][0]["action"], "reject", "{events}");

    // the evaluation data is like the training data again: the same challenger passes
    p.write("params.yaml", &gated);
    let r = p.ok(&["repro"]);
    assert!(r.stderr().contains("eval_drift: running"), "{}", r.all());
    assert!(!r.stderr().contains("train: running"), "only the drift and the decision rerun: {}", r.all());
    assert!(r.stderr().contains("promoted model"), "{}", r.all());
    let (decision, gate) = drift_gate(&p);
    assert_eq!(gate["passed"], true, "{decision}");
    assert_eq!(gate["observed"], 0.0);

    // the bound without the drift file to check it against is a usage error
    let unwired = pipeline.replace("      drift: reports/eval_drift_metrics.json\n", "");
    p.write("pipeline.yaml", &unwired);
    let r = p.run(&["repro"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr().contains("promotion.max_drift_share is set but the promote stage has no `drift:`"),
        "{}",
        r.all()
    );
}

/// A wider table for the HTML page: long labels, a long column name, more than 20 categories,
/// an integer column with many values, the label and the model's score. `shift` moves the
/// numbers, the category mixes and the churn rate.
fn wide_csv(p: &Project, rel: &str, n: usize, seed: u64, shift: f64) {
    const PAYMENT: [&str; 4] =
        ["Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check"];
    let mut g = Rng(seed);
    let mut text = "customer_id,amount,plan,payment_method,region,tenure_days,\
                    average_monthly_international_roaming_minutes_last_quarter,paperless,churned,churn_probability\n"
        .to_string();
    for i in 0..n {
        let amount = (g.unif() + g.unif() + g.unif() - 1.5) * 20.0 + 50.0 + 8.0 * shift;
        let plan = ["basic", "plus", "premium"][((g.unif() + 0.3 * shift) * 3.0) as usize % 3];
        let payment = PAYMENT[((g.unif() * (1.0 - 0.5 * shift)) * 4.0) as usize];
        let region = format!("region-{:02}", (g.unif() * 30.0) as usize);
        let tenure = (g.unif() * 1500.0 * (1.0 - 0.4 * shift)) as i64;
        let roaming = g.unif() * 12.0;
        let paperless = if g.unif() < 0.6 { "yes" } else { "no" };
        let p_churn = (0.15 + 0.3 * shift + 0.4 * g.unif()).min(1.0);
        let churned = u8::from(g.unif() < p_churn);
        text += &format!(
            "C{i:06},{amount:.3},{plan},{payment},{region},{tenure},{roaming:.2},{paperless},{churned},{p_churn:.4}\n"
        );
    }
    p.write(rel, &text);
}

/// The width and height in a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn the_drift_page_reads_on_a_laptop_screen_in_a_real_browser() {
    let Some(browser) = crate::browser::Browser::start_sized(1366, 768) else { return };
    let p = Project::new();
    wide_csv(&p, "ref.csv", 3000, 1, 0.0);
    wide_csv(&p, "cur.csv", 2000, 2, 0.5);
    let report =
        p.ok(&["drift", "--reference", "ref.csv", "--current", "cur.csv", "--html", "drift.html", "--json"]);
    let j = report.json();
    let columns = j["columns"].as_array().expect("columns");
    assert!(j["drifted_columns"].as_u64().expect("drifted") >= 2, "the page should show drift: {j}");
    assert!(columns.iter().any(|c| c["histogram"]["labels"].as_array().expect("labels").len() == 20));
    browser.open(&format!("file://{}", p.path("drift.html").display()));
    browser.find("#summary");
    assert_eq!(browser.viewport(), (1366, 768));

    // No sideways scrolling at 1366 px.
    let widths = browser.eval("return [document.documentElement.scrollWidth, window.innerWidth]");
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "horizontal scroll: {widths}");

    // The summary line, whole and uncovered, on the first screen.
    let summary = browser.eval(
        "const e = document.getElementById('summary'); const r = e.getBoundingClientRect();
         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
         return {text: e.innerText, top: r.top, bottom: r.bottom, width: r.width, on_top: e.contains(hit)}",
    );
    let drifted = format!("{} of {} columns drifted", j["drifted_columns"], j["compared_columns"]);
    assert!(summary["text"].as_str().expect("text").contains(&drifted), "{summary}");
    assert!(summary["top"].as_f64() >= Some(0.0) && summary["bottom"].as_f64() <= Some(768.0), "{summary}");
    assert!(summary["width"].as_f64() > Some(0.0) && summary["on_top"] == true, "{summary}");

    // The table as rendered: the headers, and the rows by decreasing drift score.
    let headers =
        browser.eval("return Array.from(document.querySelectorAll('#columns th')).map(e => e.innerText)");
    assert_eq!(
        headers,
        serde_json::json!(["column", "kind", "method", "statistic", "threshold", "score", "drift", "PSI"])
    );
    let rows = browser.eval(
        "return Array.from(document.querySelectorAll('#columns tbody tr')).map(tr =>
           Array.from(tr.cells).map(td => td.innerText))",
    );
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), columns.len());
    let mut previous = f64::INFINITY;
    for (row, col) in rows.iter().zip(columns) {
        assert_eq!(row[0], col["column"], "the page's order is the report's");
        assert_eq!(row[2], col["method"]);
        assert_eq!(row[6], if col["drift"] == true { "drift" } else { "no" });
        let score: f64 = row[5].as_str().expect("score").parse().expect("a number");
        assert!(score <= previous, "not by decreasing score: {rows:?}");
        // 3 decimals, or 3 significant digits from 1000
        let rounding = if score >= 1000.0 { 5e-3 * score } else { 5e-4 };
        assert!((score - col["drift_score"].as_f64().expect("score")).abs() <= rounding * 1.001, "{row:?}");
        previous = score;
    }

    // Every column (and the prediction and the label) has its chart: both distributions
    // overlaid bar by bar, as many bars as the histogram, drawn at a size one can see.
    let mut charted: Vec<&serde_json::Value> = columns.iter().collect();
    charted.extend([&j["prediction_drift"], &j["label_drift"]]);
    for col in charted {
        let name = col["column"].as_str().expect("name");
        let chart = browser.eval(&format!(
            "const f = document.getElementById('col-{name}'); if (!f) return null;
             const s = f.querySelector('svg').getBoundingClientRect(), fr = f.getBoundingClientRect();
             const box = e => {{ const b = e.getBoundingClientRect(); return [b.left, b.right]; }};
             const refs = Array.from(f.querySelectorAll('rect.ref')).map(box);
             const curs = Array.from(f.querySelectorAll('rect.cur')).map(box);
             return {{width: s.width, height: s.height, inside: s.right <= fr.right + 0.5, refs, curs}}"
        ));
        assert!(!chart.is_null(), "no chart for {name}");
        assert!(
            chart["width"].as_f64() >= Some(300.0) && chart["height"].as_f64() >= Some(100.0),
            "{name}: {chart}"
        );
        assert_eq!(chart["inside"], true, "{name}: the chart overflows its box");
        let bars = col["histogram"]["labels"].as_array().expect("labels").len();
        let (refs, curs) = (chart["refs"].as_array().expect("refs"), chart["curs"].as_array().expect("curs"));
        assert_eq!((refs.len(), curs.len()), (bars, bars), "{name}");
        for (r, c) in refs.iter().zip(curs) {
            let (rl, rr, cl, cr) = (r[0].as_f64(), r[1].as_f64(), c[0].as_f64(), c[1].as_f64());
            assert!(cl >= rl && cr <= rr && cr > cl, "{name}: the current bar is not over its reference bar");
        }
    }

    // Nothing outside the file: no URL in a src or href, no stylesheet or script fetched.
    let links = browser.eval(
        "return Array.from(document.querySelectorAll('[src],[href]')).map(e => e.getAttribute('src') || e.getAttribute('href'))",
    );
    for link in links.as_array().expect("links") {
        assert!(link.as_str().expect("link").starts_with("#col-"), "not an anchor on the page: {link}");
    }
    assert_eq!(browser.eval("return performance.getEntriesByType('resource').length"), 0);
    let html = p.read("drift.html");
    assert!(!html.contains("url(") && !html.contains("@import") && !html.contains("<script"));

    // A screenshot of the first screen: a 1366 x 768 PNG.
    let png = browser.screenshot();
    assert_eq!(png_size(&png), (1366, 768));
    std::fs::write(p.path("drift-report.png"), &png).expect("write the screenshot");
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("drift-report.png");
    std::fs::write(kept, &png).expect("keep the screenshot");
}

/// reports/promotion.json, and its `max_drift_share` gate.
fn drift_gate(p: &Project) -> (serde_json::Value, serde_json::Value) {
    let decision: serde_json::Value = serde_json::from_str(&p.read("reports/promotion.json")).unwrap();
    let gate = decision["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "max_drift_share")
        .unwrap()
        .clone();
    (decision, gate)
}

#[test]
fn metrics_tables_put_the_models_metrics_before_drift_and_collapse_the_per_column_statistics() {
    // The model's metrics file sorts after the drift one by path: the kind's view, not the
    // path, decides the order.
    let pipeline = format!(
        "{}  score:\n    cmd: cp model_source.json reports/metrics.json\n    deps: [model_source.json]\n    \
         metrics: [reports/metrics.json]\n",
        crate::support::unindent(DRIFT_PIPELINE)
    );
    let p =
        Project::new().file("pipeline.yaml", &pipeline).file("model_source.json", "{\"auc_roc\": 0.81}\n");
    csv(&p, "ref_source.csv", 2000, 1, 0.0, 0.3);
    csv(&p, "cur.csv", 1500, 2, 0.0, 0.3);
    gitrepo::init(&p);
    p.ok(&["repro"]);
    let data_rows = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("reports/") || l.starts_with("| reports/"))
            .map(String::from)
            .collect()
    };

    let show = p.ok(&["metrics", "show"]).stdout();
    let rows = data_rows(&show);
    assert!(rows[0].contains("reports/metrics.json") && rows[0].contains("auc_roc"), "model first:\n{show}");
    assert!(rows.iter().any(|l| l.contains("columns.* max (4 columns, none drifted)")), "{show}");
    assert!(!show.contains("columns.amount"), "no column drifted, so none is listed:\n{show}");
    assert!(show.contains("--all lists every item"), "{show}");
    let all = p.ok(&["metrics", "show", "--all"]).stdout();
    for c in ["columns.amount", "columns.plan", "columns.paperless", "columns.visits"] {
        assert!(all.contains(c), "--all lists {c}:\n{all}");
    }
    let json = p.ok(&["metrics", "show", "--json"]).json();
    let keys: Vec<&str> = json["rows"].as_array().unwrap().iter().filter_map(|r| r["key"].as_str()).collect();
    assert!(keys.contains(&"columns.visits"), "JSON keeps every row: {keys:?}");
    gitrepo::commit_all(&p, "month one");

    // Month two: two columns drift and the model's metric moves.
    csv(&p, "cur.csv", 1500, 3, 6.0, 0.7);
    p.write("model_source.json", "{\"auc_roc\": 0.79}\n");
    p.ok(&["repro"]);
    let m: serde_json::Value = serde_json::from_str(&p.read("reports/drift_metrics.json")).unwrap();
    let drifted: Vec<&str> =
        m["drifted_column_names"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(drifted.len(), 2, "{m}");
    let md = p.ok(&["metrics", "diff", "--md"]).stdout();
    let rows = data_rows(&md);
    assert!(rows[0].contains("reports/metrics.json") && rows[0].contains("auc_roc"), "model first:\n{md}");
    for c in &drifted {
        assert!(rows.iter().any(|l| l.contains(&format!("columns.{c} "))), "drifted {c} is listed:\n{md}");
    }
    let summary =
        rows.iter().find(|l| l.contains("columns.* max (2 other columns")).unwrap_or_else(|| panic!("{md}"));
    assert!(summary.contains("changed)"), "{summary}");
    assert_eq!(rows.iter().filter(|l| l.contains("columns.")).count(), 3, "two drifted + one summary:\n{md}");

    p.ok(&["report"]);
    let html = p.read("reports/index.html");
    let (model, drift) = (html.find(">auc_roc<").unwrap(), html.find(">dataset_drift<").unwrap());
    assert!(model < drift, "the report lists the model's metrics first");
    assert!(html.contains("columns.* max (2 other columns"), "the report collapses the columns too");
}
