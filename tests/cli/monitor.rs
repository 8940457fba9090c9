//! `churnflow monitor`: the served predictions (a real `serve` writing its prediction log)
//! against the champion's training data — exit codes, the report files, the gauges in
//! `serve`'s /metrics and on the monitor's own, the window, and `--retrain` through the
//! audit log.
use crate::serve::Server;
use crate::support::Project;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The demo pipeline on 1,500 generated customers, run once: a champion exists.
fn champion_project() -> Project {
    let p = crate::support::demo_project(1500, 1);
    p.ok(&["repro"]);
    p
}

/// Scores customers `ids` one `/predict` each, looked up by id in data/features.parquet.
fn score(server: &Server, ids: std::ops::Range<usize>) {
    for i in ids {
        let r = server
            .post_json("/predict?reasons=false", &serde_json::json!({ "customer_id": format!("C{i:07}") }));
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

/// Waits until the log folder holds `n` lines (the writer flushes when its queue runs empty).
fn wait_for_lines(p: &Project, dir: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines: usize = std::fs::read_dir(p.path(dir))
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .map(|t| t.lines().count())
                    .sum()
            })
            .unwrap_or(0);
        if lines >= n {
            return;
        }
        assert!(Instant::now() < deadline, "the log has {lines} of {n} lines");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn monitor_without_drift_exits_0_writes_the_report_and_serve_shows_its_gauges() {
    let p = champion_project();
    let server =
        Server::start(p.root(), &["--features", "data/features.parquet", "--log-dir", "logs/predictions"]);
    assert!(!server.get("/metrics").body.contains("churnflow_drift_"), "no gauges before a check");
    score(&server, 0..400);
    wait_for_lines(&p, "logs/predictions", 400);

    let r = p.ok(&["monitor", "--log", "logs/predictions"]);
    assert!(r.stdout().contains("400 predictions in the last 1 day: dataset drift: 0 of"), "{}", r.all());
    let report: serde_json::Value = serde_json::from_str(&p.read("reports/monitor/drift.json")).unwrap();
    assert_eq!(report["current"]["rows"], 400);
    assert_eq!(report["dataset_drift"], false);
    assert!(report["reference"]["source"].as_str().unwrap().starts_with("registry:champion"));
    // the served scores against the champion's scores of its own training data
    assert_eq!(report["reference"]["read_as"], "table, scored with its model");
    assert_eq!(report["prediction_drift"]["column"], "churn_probability");
    assert_eq!(report["prediction_drift"]["drift"], false, "{}", report["prediction_drift"]);
    assert!(p.read("reports/monitor/drift.html").contains("0 of"));

    // serve's /metrics now carries the monitor's gauges, inside one valid exposition
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("churnflow_drift_share 0.0\n"), "{metrics}");
    assert!(metrics.contains("churnflow_drift_current_rows 400.0\n"), "{metrics}");
    assert!(metrics.contains("churnflow_drift_column_statistic{column=\"tenure_days\""), "{metrics}");
    assert!(metrics.contains("churnflow_drift_prediction_statistic{method=\"wasserstein\"}"), "{metrics}");
    assert!(metrics.contains("churnflow_http_requests_total"), "{metrics}");
    assert!(metrics.ends_with("# EOF\n") && metrics.matches("# EOF").count() == 1, "{metrics}");
    assert_eq!(server.terminate(), 0);

    // a window with none of these predictions in it is bad input, not "no drift"
    std::thread::sleep(Duration::from_millis(1100));
    let r = p.run(&["monitor", "--log", "logs/predictions", "--window", "1s"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(
        r.stderr().contains("no prediction since") && r.stderr().contains("400 older lines"),
        "{}",
        r.all()
    );
    let r = p.run(&["monitor", "--metrics-addr", "127.0.0.1:0"]);
    assert_eq!(r.code(), 2, "{}", r.all());
    assert!(r.stderr().contains("add --every"), "{}", r.all());
}

#[test]
fn monitor_every_serves_fresh_gauges_on_its_own_endpoint_until_sigterm() {
    let p = champion_project();
    let server = Server::start(p.root(), &["--features", "data/features.parquet", "--log-dir", "logs"]);
    score(&server, 0..200);
    wait_for_lines(&p, "logs", 200);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
        .current_dir(p.root())
        .args(["monitor", "--log", "logs", "--every", "300ms", "--metrics-addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start monitor");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the address line");
    let url =
        line.trim().strip_prefix("gauges on ").unwrap_or_else(|| panic!("printed {line:?}")).to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let fetch = || {
        agent.get(&url).call().ok().and_then(|mut r| r.body_mut().read_to_string().ok()).unwrap_or_default()
    };
    let rows = |text: &str| {
        text.lines().find_map(|l| l.strip_prefix("churnflow_drift_current_rows ")).map(str::to_string)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&fetch()).as_deref() != Some("200.0") {
        assert!(Instant::now() < deadline, "no gauges with 200 rows: {}", fetch());
        std::thread::sleep(Duration::from_millis(100));
    }
    // more traffic: a later check sees it
    score(&server, 200..300);
    wait_for_lines(&p, "logs", 300);
    while rows(&fetch()).as_deref() != Some("300.0") {
        assert!(Instant::now() < deadline, "the gauges did not follow the log: {}", fetch());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(fetch().ends_with("# EOF\n"));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(server.terminate(), 0);
}

#[test]
fn monitor_finds_drift_in_a_new_months_traffic_exits_4_and_retrain_leads_to_a_decision_in_the_audit_log() {
    let p = champion_project();
    let before = p.ok(&["models", "list", "--json"]).json()["events"].as_array().unwrap().len();
    // Month two arrives where the pipeline reads it: prices, usage and the contract mix moved.
    p.ok(&[
        "generate",
        "--customers",
        "1500",
        "--seed",
        "2",
        "--out",
        "data/raw",
        "--drift",
        "price=+20%,usage=+30%,contract=month-to-month:+25pp",
    ]);
    // a lower dataset-drift share than Evidently's 0.5, as a team watching six columns would set
    let params = p.read("params.yaml");
    p.write("params.yaml", &format!("{params}drift:\n  drift_share: 0.15\n"));
    // the month's features, for the server to look customers up by id
    p.ok(&["repro", "features"]);
    let server = Server::start(p.root(), &["--features", "data/features.parquet", "--log-dir", "logs"]);
    score(&server, 0..300);
    wait_for_lines(&p, "logs", 300);
    assert_eq!(server.terminate(), 0);

    let r = p.run(&["monitor", "--log", "logs"]);
    assert_eq!(r.code(), 4, "{}", r.all());
    for column in ["plan_monthly_eur", "calls_duration_avg_30d", "contract_type"] {
        assert!(r.stdout().contains(column), "{column} should have drifted: {}", r.all());
    }
    assert!(p.read("reports/monitor/drift.prom").contains("churnflow_drift_dataset_drift 1.0"));
    assert_eq!(p.ok(&["models", "list", "--json"]).json()["events"].as_array().unwrap().len(), before);

    // --retrain: repro on the new data; the gates decide and the audit log says what they did
    let r = p.run(&["monitor", "--log", "logs", "--retrain"]);
    assert_eq!(r.code(), 4, "the drift was real, whatever the gates decided: {}", r.all());
    assert!(r.stderr().contains("retraining (churnflow repro)"), "{}", r.all());
    assert!(r.stderr().contains("train: running"), "repro's progress is passed through: {}", r.all());
    let events = p.ok(&["models", "list", "--json"]).json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), before + 1, "one decision recorded");
    let last = &events[before];
    let model = &last["model"].as_str().unwrap()[..12];
    let said = match last["action"].as_str().unwrap() {
        "promote" => format!("retrain: promoted {model}"),
        "reject" => format!("retrain: not promoted {model}"),
        other => panic!("unexpected action {other}"),
    };
    assert!(r.stdout().contains(&said), "{said:?} not in: {}", r.all());
    // nothing stale is left behind
    assert_eq!(p.ok(&["status"]).stdout().trim(), "Everything is up to date.");
}

/// Telco rows sent as a CSV body (every cell text) are logged as the numbers the server read,
/// so drift compares the numeric columns of CSV traffic instead of skipping them.
#[test]
fn csv_traffic_is_logged_typed_and_its_numeric_columns_are_compared() {
    let p = crate::serve::telco_project();
    let server = Server::start(p.root(), &["--log-dir", "logs"]);
    let csv: String = p.read("telco.csv").lines().take(301).map(|l| format!("{l}\n")).collect();
    let r = server.post("/predict/batch?reasons=false", "text/csv", &csv);
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for_lines(&p, "logs", 300);
    assert_eq!(server.terminate(), 0);

    let r = p.ok(&["drift", "--reference", "telco.csv", "--current", "logs", "--json"]);
    let report = r.json();
    let kind_of = |name: &str| {
        report["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .find(|c| c["column"] == name)
            .map(|c| c["kind"].clone())
    };
    for numeric in ["tenure", "MonthlyCharges", "TotalCharges"] {
        assert_eq!(kind_of(numeric), Some("numerical".into()), "{numeric}: {}", report["skipped"]);
    }
    // Only what the log cannot have is left out: the raw id and the label.
    let left: Vec<&str> = report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter(|s| s["reason"] != "id column")
        .map(|s| s["column"].as_str().expect("column"))
        .collect();
    assert_eq!(left, ["customerID", "Churn"], "{}", report["skipped"]);
    let text = p.ok(&["drift", "--reference", "telco.csv", "--current", "logs"]).stdout();
    assert!(
        text.contains("\n2 of 21 columns not compared: customerID (only in the reference), Churn"),
        "{text}"
    );

    // A log that kept only two of the inputs: most columns cannot be compared, stdout says
    // so, and --fail-on-drift fails although nothing that was compared drifted.
    let log_dir = p.path("logs");
    let mut thin = String::new();
    for entry in std::fs::read_dir(&log_dir).expect("logs") {
        for line in std::fs::read_to_string(entry.expect("entry").path()).expect("log").lines() {
            let mut record: serde_json::Value = serde_json::from_str(line).expect("record");
            let inputs = record["inputs"].as_object_mut().expect("inputs");
            inputs.retain(|k, _| k == "tenure" || k == "Contract");
            thin.push_str(&format!("{record}\n"));
        }
    }
    p.write("thin/predictions.jsonl", &thin);
    let r = p.run(&["drift", "--reference", "telco.csv", "--current", "thin", "--fail-on-drift"]);
    assert_eq!(r.code(), 4, "{}", r.all());
    assert!(r.stdout().contains("columns not compared; too few compared for a verdict: "), "{}", r.all());
    assert!(r.stdout().contains("MonthlyCharges (only in the reference)"), "{}", r.all());
}
