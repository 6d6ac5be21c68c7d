//! Headless Chromium for the web UI's tests: chromedriver started on a free loopback port,
//! driven through WebDriver with fantoccini, wrapped in blocking calls (the suites are plain
//! `#[test]`s). Downloads land in a directory of the test's own; the browser's console log is
//! kept (`goog:loggingPrefs`) so a test can assert that no page logged an error; screenshots go
//! to `target/tmp/serve-ui-screenshots/TEST/`.
//!
//! Without Chromium or chromedriver the tests skip with a printed reason, unless the machine
//! must have them (`ARCA_TEST_REQUIRE_BROWSER`, set by `.ci/run`, or `CI`): then they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub struct Browser {
    rt: tokio::runtime::Runtime,
    pub client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    pub downloads: PathBuf,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.rt.block_on(async move { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where a program is: the first of `candidates` that exists, else a search of `PATH`.
fn program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let from_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let names: Vec<PathBuf> = candidates.iter().map(PathBuf::from).collect();
    names.iter().find(|p| p.is_absolute() && p.exists()).cloned().or_else(|| {
        from_path
            .flat_map(|dir| names.iter().filter(|n| !n.is_absolute()).map(move |n| dir.join(n)).collect::<Vec<_>>())
            .find(|p| p.exists())
    })
}

fn required() -> bool {
    std::env::var_os("ARCA_TEST_REQUIRE_BROWSER").is_some() || std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// A fresh headless Chromium, or `None` (with the reason printed) where there is none and
    /// none is required.
    pub fn start(test: &str) -> Option<Browser> {
        let chromium =
            program("ARCA_TEST_CHROMIUM", &["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"]);
        let driver = program("ARCA_TEST_CHROMEDRIVER", &["/usr/bin/chromedriver", "chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let why = "Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)";
            if required() {
                panic!("the browser tests are required here (ARCA_TEST_REQUIRE_BROWSER or CI) but: {why}");
            }
            eprintln!("skipped {test}: {why}");
            return None;
        };
        let port = free_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", driver.display()));
        let driver_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = crate::common::server::agent().get(&format!("{driver_url}/status")).call();
            if let Ok(mut r) = status {
                let body: Value =
                    serde_json::from_slice(&r.body_mut().read_to_vec().unwrap_or_default()).unwrap_or_default();
                if body["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer on {driver_url}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1360,1000", "--no-first-run", "--disable-extensions",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.path().join("profile").display())],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let caps = caps.as_object().unwrap().clone().into_iter().collect();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let client = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&driver_url),
            )
            .unwrap_or_else(|e| panic!("a Chromium session through chromedriver: {e}"));
        let session = rt.block_on(client.session_id()).unwrap().expect("a session id");
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-ui-screenshots").join(test);
        std::fs::create_dir_all(&shots).unwrap();
        let b = Browser { rt, client, driver: child, driver_url, session, downloads, shots, _profile: profile };
        // headless Chromium saves downloads only where it is told to, through the DevTools protocol
        let dir = b.downloads.display().to_string();
        b.cdp("Browser.setDownloadBehavior", json!({"behavior": "allow", "downloadPath": dir, "eventsEnabled": true}));
        Some(b)
    }

    /// A chromedriver command fantoccini has no method for.
    fn driver_post(&self, path: &str, body: Value) -> Value {
        let a = crate::common::server::agent()
            .post(&format!("{}/session/{}/{path}", self.driver_url, self.session))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes());
        let a = crate::common::server::answer(a);
        assert_eq!(a.status, 200, "chromedriver {path}: {}", String::from_utf8_lossy(&a.body));
        a.json()["value"].clone()
    }

    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.driver_post("goog/cdp/execute", json!({"cmd": cmd, "params": params}))
    }

    /// What the pages logged to the console since the last call, at level SEVERE (script
    /// errors, Content-Security-Policy violations, failed loads).
    pub fn console_errors(&self) -> Vec<String> {
        let log = self.driver_post("se/log", json!({"type": "browser"}));
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn assert_no_console_errors(&self, page: &str) {
        let errors = self.console_errors();
        assert!(errors.is_empty(), "the {page} page logged errors to the console:\n{}", errors.join("\n"));
    }

    pub fn goto(&self, url: &str) {
        self.rt.block_on(self.client.goto(url)).unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub fn url(&self) -> String {
        self.rt.block_on(self.client.current_url()).unwrap().to_string()
    }

    /// The element `css` selects, waiting up to 30 s for it to appear.
    pub fn find(&self, css: &str) -> fantoccini::elements::Element {
        let wait = self.client.wait().at_most(Duration::from_secs(30)).every(Duration::from_millis(50));
        self.rt.block_on(wait.for_element(Locator::Css(css))).unwrap_or_else(|e| {
            let text = self.text("body");
            panic!("no {css} on {} within 30 s ({e}); the page says:\n{text}", self.url())
        })
    }

    pub fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.rt.block_on(self.client.find_all(Locator::Css(css))).unwrap()
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.rt.block_on(e.click()).unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    pub fn click_element(&self, e: &fantoccini::elements::Element) {
        self.rt.block_on(e.click()).unwrap();
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.rt.block_on(e.clear()).unwrap();
        self.rt.block_on(e.send_keys(text)).unwrap();
    }

    /// The visible text of the first element `css` selects ("" when there is none).
    pub fn text(&self, css: &str) -> String {
        match self.rt.block_on(self.client.find(Locator::Css(css))) {
            Ok(e) => self.rt.block_on(e.text()).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub fn element_text(&self, e: &fantoccini::elements::Element) -> String {
        self.rt.block_on(e.text()).unwrap()
    }

    pub fn attr(&self, e: &fantoccini::elements::Element, name: &str) -> Option<String> {
        self.rt.block_on(e.attr(name)).unwrap()
    }

    /// Wait until `css` selects an element whose text contains `want`.
    pub fn wait_text(&self, css: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let t = self.text(css);
            if t.contains(want) {
                return t;
            }
            assert!(Instant::now() < deadline, "{css} never said {want:?} on {}; it says:\n{t}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Press keys on the element that has the focus (WebDriver key codes: "\u{E007}" is Enter).
    pub fn keys(&self, keys: &str) {
        let e = self.rt.block_on(self.client.active_element()).unwrap();
        self.rt.block_on(e.send_keys(keys)).unwrap();
    }

    /// Keys sent to one element (it gets the focus first), e.g. Enter on a link.
    pub fn send_keys(&self, e: &fantoccini::elements::Element, keys: &str) {
        self.rt.block_on(e.send_keys(keys)).unwrap();
    }

    /// Pick the option of a `<select>` with this value.
    pub fn select(&self, e: &fantoccini::elements::Element, value: &str) {
        self.rt.block_on(e.select_by_value(value)).unwrap_or_else(|err| panic!("select {value}: {err}"));
    }

    pub fn js(&self, script: &str) -> Value {
        self.rt.block_on(self.client.execute(script, vec![])).unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Resize the window (the screenshots' viewport).
    pub fn resize(&self, width: u32, height: u32) {
        self.rt.block_on(self.client.set_window_size(width, height)).unwrap();
    }

    /// Save a screenshot of the page as NAME.png; returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.rt.block_on(self.client.screenshot()).unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Wait for a download to finish in the downloads directory; its path.
    pub fn downloaded(&self, name: &str) -> PathBuf {
        let path = self.downloads.join(name);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let partial = std::fs::read_dir(&self.downloads)
                .unwrap()
                .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".crdownload"));
            if path.exists() && !partial {
                return path;
            }
            assert!(Instant::now() < deadline, "{name} was not downloaded into {}", self.downloads.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
