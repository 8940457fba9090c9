//! `churnflow serve`: the real server on a free loopback port, called over HTTP.
use crate::support::Project;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `churnflow serve`, stopped (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    agent: ureq::Agent,
}

impl Server {
    /// Starts `churnflow serve --addr 127.0.0.1:0 ARGS…` in `dir` and waits for its address.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("churnflow"))
            .current_dir(dir)
            .args(["serve", "--addr", "127.0.0.1:0", "--reload-interval", "100ms"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start churnflow serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the address line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve printed {line:?} instead of its address"))
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Server { child, base, agent }
    }

    pub fn get(&self, path: &str) -> Reply {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().expect("GET");
        Reply::of(&mut r)
    }

    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Reply {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .send(body)
            .expect("POST");
        Reply::of(&mut r)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post(path, "application/json", &body.to_string())
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> i32 {
        signal(self.child.id(), "TERM");
        let status = self.child.wait().expect("wait");
        status.code().unwrap_or(-1)
    }

    /// Waits for the server to exit (after a signal sent elsewhere) and returns its exit code.
    pub fn wait_exit(mut self) -> i32 {
        self.child.wait().expect("wait").code().unwrap_or(-1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().expect("kill");
    assert!(status.success());
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl Reply {
    fn of(r: &mut ureq::http::Response<ureq::Body>) -> Reply {
        let content_type =
            r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = r.body_mut().with_config().limit(64 << 20).read_to_string().unwrap_or_default();
        Reply { status: r.status().as_u16(), body, content_type }
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The Telco example's registry (its champion is trained on the raw export) in a temp project.
pub fn telco_project() -> Project {
    let p = Project::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telco");
    copy_dir(&src.join("registry"), &p.path("registry"));
    std::fs::copy(src.join("params.yaml"), p.path("params.yaml")).expect("params");
    std::fs::copy(src.join("data/telco.csv"), p.path("telco.csv")).expect("telco.csv");
    p
}

/// The events demo's registry (several models in its history) in a temp project.
pub fn events_project() -> Project {
    let p = Project::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&src.join("registry"), &p.path("registry"));
    std::fs::copy(src.join("params.yaml"), p.path("params.yaml")).expect("params");
    std::fs::copy(src.join("pipeline.yaml"), p.path("pipeline.yaml")).expect("pipeline");
    p
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Rows of the raw Telco export as JSON objects (every cell a string, as a CSV gives them).
fn telco_rows(p: &Project, n: usize) -> Vec<Value> {
    let text = p.read("telco.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .take(n)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            Value::Object(header.iter().zip(cells).map(|(h, c)| (h.to_string(), json!(c))).collect())
        })
        .collect()
}

/// A valid customer of the events model: the first category of each categorical, 1 elsewhere.
fn events_customer(server: &Server) -> Value {
    let doc = server.get("/openapi.json").json();
    let props =
        doc["components"]["schemas"]["Customer"]["properties"].as_object().expect("properties").clone();
    let mut customer = serde_json::Map::new();
    customer.insert("customer_id".into(), json!("C-1"));
    for (name, p) in props {
        if name == "customer_id" {
            continue;
        }
        let v = match p.get("enum") {
            Some(values) => values[0].clone(),
            None => json!(1.0),
        };
        customer.insert(name, v);
    }
    Value::Object(customer)
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[test]
fn predict_answers_a_raw_telco_row_with_reasons_that_add_up_to_the_output() {
    let p = telco_project();
    let server = Server::start(p.root(), &[]);
    let row = &telco_rows(&p, 1)[0];
    let r = server.post_json("/predict?top_k=100", row);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["id"], "8879-ZKJOF");
    let prob = v["churn_probability"].as_f64().expect("probability");
    assert!((0.0..=1.0).contains(&prob));
    let threshold = v["threshold"].as_f64().expect("threshold");
    assert_eq!(v["churn_prediction"], json!(u8::from(prob >= threshold)));
    assert_eq!(v["model_id"].as_str().expect("id").len(), 64);
    assert_eq!(v["output_space"], "log_odds");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(reasons.len() > 5);
    let total: f64 = v["base_value"].as_f64().expect("base")
        + reasons.iter().map(|r| r["contribution"].as_f64().expect("c")).sum::<f64>();
    assert!((total - logit(prob)).abs() < 1e-9, "{total} vs {}", logit(prob));
    for r in reasons {
        let up = r["contribution"].as_f64().expect("c") > 0.0;
        assert_eq!(r["direction"], if up { "increases_risk" } else { "decreases_risk" });
        assert!(!r["sentence"].as_str().expect("sentence").is_empty());
    }
    // examples/telco's params.yaml gives the Contract sentences (serving.reasons).
    let contract = reasons.iter().find(|r| r["feature"] == "Contract").expect("Contract reason");
    let sentence = contract["sentence"].as_str().expect("sentence");
    assert!(
        sentence == "A One year contract lowers the risk" || sentence == "One year contract raises the risk",
        "{sentence}"
    );
    // The default is the three largest, and ?reasons=false leaves them out.
    assert_eq!(server.post_json("/predict", row).json()["reasons"].as_array().expect("reasons").len(), 3);
    assert!(server.post_json("/predict?reasons=false", row).json().get("reasons").is_none());
}

#[test]
fn predict_gives_the_same_probability_as_score_for_the_same_rows() {
    let p = telco_project();
    p.ok(&["score", "--input", "telco.csv", "--output", "scores.csv"]);
    let scores = p.read("scores.csv");
    let server = Server::start(p.root(), &[]);
    let rows = telco_rows(&p, 50);
    let batch = server.post_json("/predict/batch?reasons=false", &json!(rows));
    assert_eq!(batch.status, 200, "{}", batch.body);
    let predictions = batch.json()["predictions"].as_array().expect("predictions").clone();
    for (line, served) in scores.lines().skip(1).zip(&predictions) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(served["id"], cells[0]);
        let scored: f64 = cells[1].parse().expect("probability");
        assert!(
            (served["churn_probability"].as_f64().expect("p") - scored).abs() < 1e-12,
            "{line} vs {served}"
        );
        assert_eq!(served["risk_tier"], cells[3]);
    }
}

#[test]
fn invalid_fields_are_422_with_every_problem_listed() {
    let p = telco_project();
    let server = Server::start(p.root(), &[]);
    let mut row = telco_rows(&p, 1).remove(0);
    let o = row.as_object_mut().expect("object");
    o.remove("tenure");
    o.insert("MonthlyCharges".into(), json!("lots"));
    o.insert("Contract".into(), json!("Three year"));
    o.insert("TotalCharges".into(), json!(-5));
    o.insert("PaperlessBilling".into(), json!(true));
    let r = server.post_json("/predict", &row);
    assert_eq!(r.status, 422, "{}", r.body);
    let problems = r.json()["problems"].as_array().expect("problems").clone();
    let fields: Vec<&str> = problems.iter().map(|p| p["field"].as_str().expect("field")).collect();
    for f in ["tenure", "MonthlyCharges", "Contract", "TotalCharges", "PaperlessBilling"] {
        assert!(fields.contains(&f), "{f} missing from {problems:?}");
    }
    assert!(r.body.contains("missing field"), "{}", r.body);
    assert!(
        r.body.contains("unknown value 'Three year' (allowed: Month-to-month, One year, Two year)"),
        "{}",
        r.body
    );
    // Not JSON at all: 400; not an object: 422.
    assert_eq!(server.post("/predict", "application/json", "{not json").status, 400);
    assert_eq!(server.post_json("/predict", &json!([1, 2])).status, 422);
    // A batch names the row of each problem, counting from 1 as the data stages do.
    let mut rows = telco_rows(&p, 3);
    rows[2].as_object_mut().expect("o").remove("tenure");
    let r = server.post_json("/predict/batch", &json!(rows));
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["problems"][0]["row"], 3);
}

#[test]
fn every_error_is_json_wrong_methods_are_405_and_bad_query_strings_400() {
    let p = telco_project();
    let server = Server::start(p.root(), &["--body-limit", "20000"]);
    let r = server.get("/predict");
    assert_eq!((r.status, r.content_type.as_str()), (405, "application/json"), "{}", r.body);
    assert_eq!(r.json()["error"], "this endpoint takes POST only; see /openapi.json");
    let r = server.post("/health", "application/json", "{}");
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.json()["error"], "this endpoint takes GET only; see /openapi.json");
    let row = &telco_rows(&p, 1)[0];
    let r = server.post_json("/predict?top_k=many", row);
    assert_eq!((r.status, r.content_type.as_str()), (400, "application/json"), "{}", r.body);
    assert!(r.json()["error"].as_str().expect("error").contains("top_k"), "{}", r.body);
    // A body over --body-limit is refused before it is read, as JSON like every other error.
    let big = json!({"customers": telco_rows(&p, 100)});
    let r = server.post_json("/predict/batch", &big);
    assert_eq!((r.status, r.content_type.as_str()), (413, "application/json"), "{}", r.body);
    assert!(r.json()["error"].as_str().expect("error").contains("--body-limit"), "{}", r.body);
}

#[test]
fn oversized_bodies_and_batches_are_413_and_unknown_routes_404() {
    let p = telco_project();
    let server = Server::start(p.root(), &["--max-batch", "5", "--body-limit", "20000"]);
    let rows = telco_rows(&p, 6);
    let r = server.post_json("/predict/batch", &json!(rows));
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("at most 5"), "{}", r.body);
    let big = json!({"customers": telco_rows(&p, 100)});
    assert_eq!(server.post_json("/predict/batch", &big).status, 413);
    assert_eq!(server.get("/nope").status, 404);
}

#[test]
fn batch_takes_csv_and_json_and_answers_in_order() {
    let p = telco_project();
    let server = Server::start(p.root(), &[]);
    let csv: String = p.read("telco.csv").lines().take(11).map(|l| format!("{l}\n")).collect();
    let r = server.post("/predict/batch", "text/csv", &csv);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["count"], 10);
    let ids: Vec<&str> =
        v["predictions"].as_array().expect("p").iter().map(|p| p["id"].as_str().expect("id")).collect();
    let expected: Vec<String> =
        csv.lines().skip(1).map(|l| l.split(',').next().expect("id").to_string()).collect();
    assert_eq!(ids, expected);
    let wrapped = server.post_json("/predict/batch", &json!({"customers": telco_rows(&p, 10)}));
    assert_eq!(wrapped.json()["predictions"], v["predictions"]);
}

#[test]
fn health_ready_model_metrics_and_openapi_describe_the_served_model() {
    let p = telco_project();
    let server = Server::start(p.root(), &[]);
    assert_eq!(server.get("/health").json()["status"], "ok");
    let ready = server.get("/ready").json();
    assert_eq!(ready["status"], "ready");
    let model = server.get("/model").json();
    assert_eq!(model["model_id"], ready["model_id"]);
    assert_eq!(model["source"], "registry:champion");
    assert_eq!(model["lineage"]["training_data_blake3"].as_str().expect("lineage").len(), 64);
    let doc = server.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.0.3");
    let props = &doc["components"]["schemas"]["Customer"]["properties"];
    assert_eq!(props["Contract"]["enum"], json!(["Month-to-month", "One year", "Two year"]));
    assert_eq!(props["tenure"]["type"], "number");
    assert_eq!(props["tenure"]["minimum"], 0.0);
    server.post_json("/predict", &telco_rows(&p, 1)[0]);
    server.post("/predict", "application/json", "{");
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("application/openmetrics-text"), "{}", metrics.content_type);
    let text = &metrics.body;
    assert!(text.contains(r#"churnflow_http_requests_total{route="/predict",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"churnflow_http_requests_total{route="/predict",status="400"} 1"#), "{text}");
    assert!(text.contains("churnflow_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("churnflow_prediction_probability_count 1"), "{text}");
    let id = model["model_id"].as_str().expect("id");
    assert!(
        text.contains(&format!(
            r#"churnflow_model_info{{model_id="{id}",algorithm="logistic_regression"}} 1"#
        )),
        "{text}"
    );
    assert!(server.get("/").body.contains("<form id=\"form\">"));
}

#[test]
fn features_table_lookup_by_id_and_unknown_id_is_404() {
    let p = events_project();
    let probe = Server::start(p.root(), &[]);
    let customer = events_customer(&probe);
    drop(probe);
    // A features table with two customers.
    let obj = customer.as_object().expect("object");
    let names: Vec<&String> = obj.keys().collect();
    let header = names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let row = |id: &str| {
        names
            .iter()
            .map(|n| {
                if n.as_str() == "customer_id" {
                    id.to_string()
                } else {
                    obj[n.as_str()].to_string().trim_matches('"').to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    p.write("features.csv", &format!("{header}\n{}\n{}\n", row("C-1"), row("C-2")));
    let server = Server::start(p.root(), &["--features", "features.csv"]);
    let by_id = server.post_json("/predict", &json!({"customer_id": "C-2"}));
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    let direct = server.post_json("/predict", &customer);
    assert_eq!(by_id.json()["churn_probability"], direct.json()["churn_probability"]);
    assert_eq!(by_id.json()["id"], "C-2");
    let unknown = server.post_json("/predict", &json!({"customer_id": "C-404"}));
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("C-404"));
}

#[test]
fn a_new_champion_is_swapped_in_under_load_without_a_failed_request() {
    let p = events_project();
    let server = Server::start(p.root(), &[]);
    let customer = events_customer(&server);
    let before = server.get("/model").json()["model_id"].as_str().expect("id").to_string();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (seen, failures) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = std::collections::BTreeSet::new();
                    let mut failures = 0;
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                        let r = server.post_json("/predict", &customer);
                        if r.status == 200 {
                            seen.insert(r.json()["model_id"].as_str().unwrap_or_default().to_string());
                        } else {
                            failures += 1;
                        }
                    }
                    (seen, failures)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        p.ok(&["models", "rollback"]);
        // The watcher polls every 100 ms; give it time, then keep the load on a little longer.
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.get("/model").json()["model_id"] == before.as_str() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut seen = std::collections::BTreeSet::new();
        let mut failures = 0;
        for c in clients {
            let (s, f) = c.join().expect("client");
            seen.extend(s);
            failures += f;
        }
        (seen, failures)
    });
    assert_eq!(failures, 0);
    let after = server.get("/model").json()["model_id"].as_str().expect("id").to_string();
    assert_ne!(after, before, "the rollback was not picked up");
    assert!(seen.contains(&before) && seen.contains(&after), "both models should have answered: {seen:?}");
    assert!(server.get("/metrics").body.contains(r#"churnflow_model_reloads_total{result="ok"} 1"#));
}

#[test]
fn sigterm_lets_requests_in_flight_finish_and_exits_zero() {
    let p = telco_project();
    // The batch must outlast the SIGTERM, never the request timeout (a debug build on a busy
    // machine once took over the default 10 s for it).
    let server = Server::start(p.root(), &["--timeout", "120s"]);
    let rows = telco_rows(&p, 3663);
    let batch = json!((0..10_000).map(|i| rows[i % rows.len()].clone()).collect::<Vec<_>>());
    let in_flight = std::thread::scope(|s| {
        let client = s.spawn(|| server.post_json("/predict/batch?top_k=20", &batch));
        // Wait until the batch is being answered (this /metrics call is the other request).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !server.get("/metrics").body.contains("churnflow_http_requests_in_flight 2") {
            assert!(Instant::now() < deadline, "the batch never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(server.child.id(), "TERM");
        client.join().expect("client")
    });
    assert_eq!(in_flight.status, 200, "{}", in_flight.body);
    assert_eq!(in_flight.json()["count"], 10_000);
    assert_eq!(server.wait_exit(), 0);
}

#[test]
fn every_prediction_is_logged_as_a_json_line() {
    let p = telco_project();
    let server = Server::start(p.root(), &["--log-dir", "logs", "--log-rotate-bytes", "4000"]);
    for row in telco_rows(&p, 20) {
        assert_eq!(server.post_json("/predict", &row).status, 200);
    }
    assert_eq!(server.terminate(), 0);
    let mut lines = Vec::new();
    let mut files: Vec<_> =
        std::fs::read_dir(p.path("logs")).expect("logs").map(|e| e.expect("e").path()).collect();
    files.sort();
    assert!(files.len() > 1, "the log should have rotated: {files:?}");
    for f in files {
        lines.extend(
            std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("json line")),
        );
    }
    assert_eq!(lines.len(), 20);
    assert_eq!(lines[0]["id"], "8879-ZKJOF");
    assert_eq!(lines[0]["inputs"]["Contract"], "One year");
    assert!(lines[0]["churn_probability"].is_f64());
    assert!(lines[0]["top_reason"].is_string());
    assert_eq!(lines[0]["model_id"].as_str().expect("id").len(), 64);
}

#[test]
fn the_web_page_builds_its_form_from_the_schema_and_shows_probability_tier_and_reasons() {
    let Some(browser) = crate::browser::Browser::start() else { return };
    let p = telco_project();
    let server = Server::start(p.root(), &[]);
    browser.open(&format!("{}/", server.base));
    // One input per model field: dropdowns for categories, number inputs for numbers.
    let doc = server.get("/openapi.json").json();
    let fields = doc["components"]["schemas"]["Customer"]["required"].as_array().expect("required").len();
    browser.find("#predict");
    assert_eq!(browser.count("#form select") + browser.count("#form input"), fields);
    assert_eq!(browser.count("#f-Contract option"), 4, "(unknown) and the three contracts");
    browser.clear_and_type(&browser.find("#f-tenure"), "2");
    browser.clear_and_type(&browser.find("#f-MonthlyCharges"), "95.5");
    browser.click(&browser.find("#f-Contract option[value='Month-to-month']"));
    browser.click(&browser.find("#predict"));
    let shown = browser.text(&browser.find("#probability"));
    // The same customer through the API: categories at their first value except Contract,
    // numbers missing except the two typed in.
    let mut customer = serde_json::Map::new();
    for (name, prop) in doc["components"]["schemas"]["Customer"]["properties"].as_object().expect("props") {
        if let Some(values) = prop.get("enum") {
            customer.insert(name.clone(), values[0].clone());
        } else if prop["type"] == "number" {
            customer.insert(name.clone(), Value::Null);
        }
    }
    customer.insert("Contract".into(), json!("Month-to-month"));
    customer.insert("tenure".into(), json!(2));
    customer.insert("MonthlyCharges".into(), json!(95.5));
    let api = server.post_json("/predict?top_k=5", &Value::Object(customer)).json();
    let expected = format!("{:.1} %", api["churn_probability"].as_f64().expect("p") * 100.0);
    assert_eq!(shown, expected);
    assert_eq!(
        browser.text(&browser.find("#tier")),
        format!("{} risk", api["risk_tier"].as_str().expect("tier"))
    );
    assert_eq!(browser.count("#reasons .reason"), 5);
    assert_eq!(browser.count("#reasons .bar"), 5);
    let first = browser.text(&browser.find("#reasons .sentence"));
    assert_eq!(first, api["reasons"][0]["sentence"].as_str().expect("sentence"));
    // No sideways scrolling at 1280 px, and no request left the machine.
    assert_eq!(browser.eval("return document.documentElement.scrollWidth <= window.innerWidth"), json!(true));
    let external = browser.eval(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))",
    );
    assert_eq!(external, json!([]));
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"));
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-page.png");
    std::fs::write(&target, png).expect("write the screenshot");
}

#[test]
fn a_request_slower_than_the_timeout_is_503_not_a_hung_connection() {
    let p = telco_project();
    // The timeout must fall in the work, not in sending the body: a server that answers
    // before it has read the whole body may close the connection under a client still
    // sending (a reset instead of the 503, seen on a loaded machine at 5 ms). So: a body sent
    // in milliseconds, and work (reasons for 18,315 customers) that takes far longer.
    let server = Server::start(p.root(), &["--timeout", "150ms", "--max-batch", "20000"]);
    let rows: Vec<Value> = telco_rows(&p, 3663).into_iter().cycle().take(5 * 3663).collect();
    let r = server.post_json("/predict/batch?top_k=20", &json!(rows));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.json()["error"].as_str().expect("error").contains("longer than 150 ms"), "{}", r.body);
    // The server still answers afterwards.
    assert_eq!(server.get("/health").status, 200);
}
