#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Notifications against real parts: an HTTP receiver on loopback (a thread in this test) for
//! the webhook presets, a real SMTP server (Python's aiosmtpd, tests/fixtures/notify/), a
//! command; and the bad cases: an SMTP server that is not there and a webhook that accepts
//! and never answers cost a bounded delay, a warning naming the channel, and nothing else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::metrics::profile;

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A webhook receiver: records every request; answers 200, or (`hang`) never answers.
pub struct Receiver {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    pub fn start(hang: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(vec![]));
        let log = seen.clone();
        std::thread::spawn(move || {
            let mut held = vec![];
            for stream in listener.incoming().flatten() {
                if hang {
                    // accepted and kept open, never read or answered
                    held.push(stream);
                    continue;
                }
                let log = log.clone();
                std::thread::spawn(move || {
                    if let Some(req) = read_request(&stream) {
                        log.lock().unwrap().push(req);
                        let _ =
                            (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                    }
                });
            }
        });
        Receiver { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    pub fn to(&self, path: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = vec![];
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body })
}

/// Wait until `f` holds (or panic after 10 s).
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sources(env: &Env) -> PathBuf {
    let src = env.path("src");
    write(&src.join("a.txt"), b"notify me");
    write(&src.join("b/c.txt"), b"and me");
    src
}

#[test]
fn the_webhook_presets_hear_a_backup_and_a_failed_one_with_its_summary() {
    let env = Env::new();
    let src = sources(&env);
    let rx = Receiver::start(false);
    let hook = |path: &str, preset: &str| {
        format!("[[notify.webhook]]\nurl = \"{}\"\npreset = \"{preset}\"\n", rx.url(path), preset = preset)
    };
    profile(
        &env,
        "n",
        &format!(
            "[backup]\nsources = [\"{}\"]\nrun-before = [\"test ! -e {}\"]\n[notify]\non = [\"success\", \"warning\", \"failure\"]\n{}{}{}{}{}",
            src.display(),
            env.path("break").display(),
            hook("/generic", "generic"),
            hook("/ntfy/topic", "ntfy"),
            hook("/slack/T0/B0/SECRETTOKEN", "slack"),
            hook("/discord", "discord"),
            hook("/hc/uuid-1", "healthchecks"),
        ),
    );
    env.init();
    let o = env.run(&["-P", "n", "backup", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let snapshot = summary(&String::from_utf8_lossy(&o.stdout))["snapshot_id"].as_str().unwrap().to_string();
    // healthchecks: /start before the run, the plain URL after it
    let hc: Vec<String> = rx.requests().iter().filter(|r| r.path.starts_with("/hc/")).map(|r| r.path.clone()).collect();
    assert_eq!(hc, ["/hc/uuid-1/start", "/hc/uuid-1"]);
    let g = &rx.to("/generic")[0];
    assert_eq!(g.method, "POST");
    assert_eq!(g.header("content-type"), Some("application/json"));
    let j = g.json();
    assert_eq!(j["event"], "success");
    assert_eq!(j["profile"], "n");
    assert_eq!(j["job"], "backup");
    assert_eq!(j["outcome"], "success");
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["snapshot_id"], snapshot);
    assert_eq!(j["files_new"], 2);
    assert!(j["host"].as_str().is_some_and(|h| !h.is_empty()) && j["duration_ms"].is_u64(), "{j}");
    let n = &rx.to("/ntfy/topic")[0];
    assert!(n.header("title").unwrap().contains("backup of n") && n.header("title").unwrap().contains("success"));
    assert_eq!(n.header("priority"), Some("low"));
    assert!(n.header("tags").unwrap().contains("white_check_mark"));
    assert!(n.text().contains(&snapshot[..8]), "{}", n.text());
    assert!(rx.to("/slack/T0/B0/SECRETTOKEN")[0].json()["text"].as_str().unwrap().contains("success"));
    assert!(rx.to("/discord")[0].json()["content"].as_str().unwrap().contains("backup of n"));

    // a failed run (its run-before hook refuses): /fail, and the failure with its error
    write(&env.path("break"), b"");
    let o = env.run(&["-P", "n", "backup"]);
    assert_eq!(code(&o), 1);
    let hc: Vec<String> = rx.requests().iter().filter(|r| r.path.starts_with("/hc/")).map(|r| r.path.clone()).collect();
    assert_eq!(hc[2..], ["/hc/uuid-1/start", "/hc/uuid-1/fail"]);
    let j = rx.to("/generic")[1].json();
    assert_eq!(j["outcome"], "failure");
    assert_eq!(j["exit_code"], 1);
    assert!(j["error"].as_str().unwrap().contains("run-before hook"), "{j}");
    assert_eq!(rx.to("/ntfy/topic")[1].header("priority"), Some("high"));
    // the token in a webhook URL is not shown by `config show`, nor in any output
    let shown = env.ok(&["-P", "n", "config", "show"]);
    assert!(!shown.contains("SECRETTOKEN") && !stderr(&o).contains("SECRETTOKEN"), "{shown}");
}

#[test]
fn by_default_a_success_is_quiet_and_a_failure_is_heard() {
    let env = Env::new();
    let src = sources(&env);
    let rx = Receiver::start(false);
    profile(
        &env,
        "q",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[check]\nrun-before = [\"exit 2\"]\n[[notify.webhook]]\nurl = \"{}\"\n",
            src.display(),
            rx.url("/hook")
        ),
    );
    env.init();
    env.ok(&["-P", "q", "backup", "-q"]);
    assert!(rx.requests().is_empty(), "{:?}", rx.requests());
    assert_eq!(code(&env.run(&["-P", "q", "check"])), 1);
    let r = rx.to("/hook");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].json()["job"], "check");
    assert_eq!(r[0].json()["outcome"], "failure");
}

#[test]
fn a_command_channel_gets_the_run_in_its_environment() {
    let env = Env::new();
    let src = sources(&env);
    let log = env.path("notified");
    profile(
        &env,
        "c",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[notify]\non = [\"success\"]\n[[notify.command]]\nrun = 'printf \"%s|%s|%s|%s|%s\\n\" \"$ARCA_NOTIFY_EVENT\" \"$ARCA_COMMAND\" \"$ARCA_EXIT_CODE\" \"$ARCA_SNAPSHOT_ID\" \"$${{ARCA_PASSWORD:-none}}\" > {}'\n",
            src.display(),
            log.display()
        ),
    );
    env.init();
    let snap = env.backup_json(&["-P", "c"])["snapshot_id"].as_str().unwrap().to_string();
    let line = std::fs::read_to_string(&log).unwrap();
    assert_eq!(line.trim(), format!("success|backup|0|{snap}|none"), "the password stays out of its environment");
}

/// A Python that has aiosmtpd: `ARCA_TEST_PYTHON`, else `python3` on PATH, else the system's.
/// None: the test is skipped, unless `ARCA_TEST_REQUIRE_SMTP=1` (CI) makes that a failure.
fn smtp_python() -> Option<String> {
    let candidates = std::env::var("ARCA_TEST_PYTHON").into_iter().chain(["python3".into(), "/usr/bin/python3".into()]);
    for py in candidates {
        let ok = Command::new(&py).args(["-c", "import aiosmtpd"]).stderr(Stdio::null()).status();
        if ok.is_ok_and(|s| s.success()) {
            return Some(py);
        }
    }
    assert!(
        std::env::var("ARCA_TEST_REQUIRE_SMTP").as_deref() != Ok("1"),
        "no Python with aiosmtpd (pip install aiosmtpd, or apt-get install python3-aiosmtpd), and ARCA_TEST_REQUIRE_SMTP=1"
    );
    eprintln!("skipped: no Python with aiosmtpd");
    None
}

struct SmtpServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path, user: &str, password: &str) -> Option<SmtpServer> {
        let py = smtp_python()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notify/smtp_server.py");
        let mut child = Command::new(py)
            .arg(script)
            .args([dir.to_str().unwrap(), user, password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port =
            line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("smtp server said {line:?}")).parse().unwrap();
        Some(SmtpServer { child, port, dir: dir.to_path_buf() })
    }

    fn message(&self, n: usize) -> String {
        let p = self.dir.join(format!("{n}.eml"));
        eventually("the message", || p.exists());
        std::fs::read_to_string(p).unwrap()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SMTP_PASSWORD: &str = "smtp-pass-7f3a9";

#[test]
fn email_over_a_real_smtp_server_names_outcome_and_profile_and_never_the_password() {
    let env = Env::new();
    let Some(smtp) = SmtpServer::start(&env.path("mail"), "arca", SMTP_PASSWORD) else { return };
    let src = sources(&env);
    let pw = env.path("smtp-password");
    std::fs::write(&pw, format!("{SMTP_PASSWORD}\n")).unwrap();
    let email = |pw_file: &Path| {
        format!(
            "[[notify.email]]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"arca\"\npassword-file = \"{}\"\nfrom = \"arca@box.example\"\nto = [\"me@example.org\", \"ops@example.org\"]\n",
            smtp.port,
            pw_file.display()
        )
    };
    profile(
        &env,
        "e",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[notify]\non = [\"success\"]\nattempts = 1\n{}",
            src.display(),
            email(&pw)
        ),
    );
    env.init();
    let o = env.run(&["-P", "e", "backup", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let snap = summary(&String::from_utf8_lossy(&o.stdout))["snapshot_id"].as_str().unwrap().to_string();
    let msg = smtp.message(1);
    assert!(msg.contains("X-Envelope-To: me@example.org,ops@example.org"), "{msg}");
    let subject = msg.lines().find(|l| l.starts_with("Subject: ")).unwrap();
    assert!(subject.contains("backup of e") && subject.contains("success"), "{subject}");
    assert!(msg.contains("From: arca@box.example"), "{msg}");
    assert!(msg.contains(&format!("snapshot {}", &snap[..8])) && msg.contains("files: 2 new"), "{msg}");
    assert_eq!(std::fs::read_to_string(env.path("mail/auth.log")).unwrap().trim(), "PLAIN ok");
    let shown = env.ok(&["-P", "e", "config", "show"]);
    for text in [&msg, &stderr(&o), &String::from_utf8_lossy(&o.stdout).into_owned(), &shown] {
        assert!(!text.contains(SMTP_PASSWORD), "the password leaked: {text}");
    }
    // the password's variable is not set: a warning names the channel and why, the backup
    // stands, and this is not retried (it cannot get better)
    let by_env =
        email(&pw).replace(&format!("password-file = \"{}\"", pw.display()), "password-env = \"ARCA_TEST_SMTP_PW\"");
    profile(&env, "e", &format!("[backup]\nsources = [\"{}\"]\n[notify]\non = [\"success\"]\n{by_env}", src.display()));
    let o = env.run(&["-P", "e", "backup"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("email via 127.0.0.1:{}", smtp.port)) && err.contains("ARCA_TEST_SMTP_PW is not set"),
        "{err}"
    );
    assert!(err.contains("(1 attempt)"), "{err}");
    // given, it logs in and sends
    let o = env.cmd().env("ARCA_TEST_SMTP_PW", SMTP_PASSWORD).args(["-P", "e", "backup"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(smtp.message(2).contains("Subject: arca backup of e"));
    assert!(!stderr(&o).contains(SMTP_PASSWORD));
}

#[test]
fn an_unreachable_smtp_server_and_a_hanging_webhook_delay_the_backup_a_bounded_time_and_change_nothing() {
    let env = Env::new();
    let src = sources(&env);
    let hang = Receiver::start(true);
    // a port with nothing behind it
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    profile(
        &env,
        "bad",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[notify]\non = [\"success\"]\nattempts = 2\ntimeout = \"1s\"\nretry-delay = \"100ms\"\n\
             [[notify.webhook]]\nurl = \"{}\"\n\
             [[notify.email]]\nhost = \"127.0.0.1\"\nport = {closed}\ntls = \"none\"\nfrom = \"a@b.example\"\nto = [\"c@d.example\"]\n",
            src.display(),
            hang.url("/never")
        ),
    );
    env.init();
    let t = Instant::now();
    let o = env.run(&["-P", "bad", "backup"]);
    let took = t.elapsed();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(env.snapshot_ids().len(), 1);
    let err = stderr(&o);
    assert!(err.contains(&format!("webhook (generic) to {}", hang.addr)) && err.contains("no answer within"), "{err}");
    assert!(err.contains(&format!("email via 127.0.0.1:{closed}")) && err.contains("2 attempts"), "{err}");
    // both channels at once, each within 2 × 1 s + 0.1 s; the backup itself is well under a second
    assert!(took < Duration::from_secs(6), "the notifications held the backup {took:?}");
    assert!(env.path("cache/arca/jobs/bad/last-backup.json").is_file());
    env.check();
}
