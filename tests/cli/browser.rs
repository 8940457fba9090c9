//! Pages checked in a real headless browser: Debian's chromium driven through chromedriver's
//! WebDriver protocol (plain JSON over HTTP on loopback).
//!
//! `.ci/run` installs chromium and chromium-driver (`.ci/install-browser`) and sets
//! `CHURNFLOW_BROWSER_TESTS=1`, which makes a missing browser a test failure (so does `CI`).
//! Elsewhere a test without chromedriver prints `SKIPPED <test>: …` and checks nothing.
use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless chromium session, closed (with its driver) when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless chromium (window 1280x900); `None` (after saying
    /// why) when the browser is not installed and the browser tests are not required.
    pub fn start() -> Option<Browser> {
        Browser::start_sized(1280, 900)
    }

    /// [`Browser::start`] with a viewport of exactly `width` x `height` CSS pixels at one
    /// device pixel per CSS pixel (so a screenshot is `width` x `height`).
    pub fn start_sized(width: u32, height: u32) -> Option<Browser> {
        let driver_path = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(driver_path) = driver_path else {
            crate::support::skip_unless_required(
                "CHURNFLOW_BROWSER_TESTS",
                "chromedriver is not installed",
                ".ci/install-browser",
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--window-size={width},{height}"),
            "--force-device-scale-factor=1",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let mut browser = Browser { driver, base, session: String::new(), agent, _profile: profile };
        let created = browser.call("POST", "/session", Some(caps));
        browser.session = created["sessionId"].as_str().expect("session id").to_string();
        browser.set_viewport(width, height);
        Some(browser)
    }

    /// The page's viewport (`innerWidth`, `innerHeight`).
    pub fn viewport(&self) -> (u64, u64) {
        let v = self.eval("return [window.innerWidth, window.innerHeight]");
        (v[0].as_u64().expect("innerWidth"), v[1].as_u64().expect("innerHeight"))
    }

    /// Sizes the window so that the viewport is `width` x `height` (the window's own frame,
    /// if any, measured and added).
    fn set_viewport(&self, width: u32, height: u32) {
        let (w, h) = (u64::from(width), u64::from(height));
        let rect = |ww: u64, wh: u64| {
            self.call("POST", &self.session_path("/window/rect"), Some(json!({"width": ww, "height": wh})));
        };
        rect(w, h);
        let (iw, ih) = self.viewport();
        if (iw, ih) != (w, h) {
            rect(w + w.saturating_sub(iw), h + h.saturating_sub(ih));
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        }
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let status = response.status().as_u16();
        let text =
            response.body_mut().with_config().limit(64 << 20).read_to_string().expect("webdriver body");
        let v: Value = serde_json::from_str(&text).expect("webdriver JSON");
        assert_eq!(status, 200, "webdriver {method} {path}: {text}");
        v.get("value").cloned().unwrap_or(v)
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn open(&self, url: &str) {
        self.call("POST", &self.session_path("/url"), Some(json!({"url": url})));
    }

    /// The first element matching `css`, waiting up to 10 s for it to appear.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.call(
                "POST",
                &self.session_path("/elements"),
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(first) = found.as_array().and_then(|a| a.first()) {
                return first[ELEMENT].as_str().expect("element id").to_string();
            }
            assert!(Instant::now() < deadline, "no element matches {css}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn count(&self, css: &str) -> usize {
        let found = self.call(
            "POST",
            &self.session_path("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        );
        found.as_array().map_or(0, Vec::len)
    }

    pub fn click(&self, element: &str) {
        self.call("POST", &self.session_path(&format!("/element/{element}/click")), None);
    }

    pub fn clear_and_type(&self, element: &str, text: &str) {
        self.call("POST", &self.session_path(&format!("/element/{element}/clear")), None);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{element}/value")),
            Some(json!({"text": text})),
        );
    }

    pub fn text(&self, element: &str) -> String {
        self.call("GET", &self.session_path(&format!("/element/{element}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.call("POST", &self.session_path("/execute/sync"), Some(json!({"script": script, "args": []})))
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let b64 = self.call("GET", &self.session_path("/screenshot"), None);
        base64::engine::general_purpose::STANDARD.decode(b64.as_str().expect("base64")).expect("png")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
