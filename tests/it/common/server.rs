//! A real `arca serve` for the integration tests: started on a free loopback port, its
//! address and token read from stderr, and a small HTTP client (ureq, no redirects followed,
//! every status returned) for the suites that drive it (serve, its UI, jobs and insights).

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Env;

pub struct Server {
    pub child: Child,
    pub base: String,
    pub token: Option<String>,
    pub stderr: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `arca serve --listen 127.0.0.1:0 EXTRA…` and read its address (and token) from stderr.
pub fn start(env: &Env, extra: &[&str]) -> Server {
    let mut child = env
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start arca serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut base, mut token) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("arca serve did not say where it listens"));
        if let Some(a) = line.strip_prefix("arca serve: listening on ") {
            base = Some(a.trim_end_matches('/').to_string());
        }
        if let Some(t) = line.strip_prefix("arca serve: token ") {
            token = Some(t.to_string());
        }
        if line.contains("Ctrl-C or SIGTERM stops it") {
            break;
        }
    }
    let base = base.expect("the address line");
    assert!(base.starts_with("http://127.0.0.1:") || base.starts_with("https://127.0.0.1:"), "{base}");
    Server { child, base, token, stderr: rx }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// Status, headers and body of a request.
pub struct Answer {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

pub fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = r.expect("HTTP request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.body_mut().with_config().limit(64 << 20).read_to_vec().expect("body");
    Answer { status, headers, body }
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.call())
}

pub fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = agent().post(url).header("Content-Type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send(body))
}

/// POST a JSON body.
pub fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send(body.to_string().as_bytes()))
}

/// Percent-encode a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn bearer(s: &Server) -> String {
    format!("Bearer {}", s.token.as_deref().expect("a token"))
}

pub fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
