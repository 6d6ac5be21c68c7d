//! `arca daemon` as a real process: jobs on time, never two runs of a job at once (a slow
//! hook records overlaps), a persistent job missed while the daemon was down caught up once,
//! SIGTERM during a backup ending cleanly, and an invalid calendar refused at start.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;
use crate::schedule::{profile, repo_profile, wait_for};

fn start(env: &Env, profile: &str) -> Child {
    env.cmd()
        .args(["-P", profile, "daemon"])
        .env_remove("ARCA_REPOSITORY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

fn log_of(child: Child) -> (Option<i32>, String) {
    let o = child.wait_with_output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// `run-before` that marks a run as going (a directory: mkdir fails when one already goes,
/// which is logged as an overlap), logs its start time, and sleeps `secs`; `run-finally` ends it.
fn slow_hooks(env: &Env, secs: f64) -> String {
    let d = env.dir.path().display();
    format!(
        "hook-timeout = \"60s\"\nrun-before = [\"mkdir {d}/going 2>/dev/null || echo overlap >> {d}/overlaps; date +%s.%N >> {d}/starts; sleep {secs}\"]\nrun-finally = [\"rmdir {d}/going\"]\n"
    )
}

#[test]
fn jobs_run_on_time_never_twice_at_once_even_across_a_killed_daemon() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    // every 2 s, each run takes 3 s: starts fall due while a run goes (not persistent: every
    // start is on its calendar, none is a catch-up)
    let sections = "[schedule.backup]\non-calendar = \"*:*:0/2\"\npersistent = false\n";
    profile(&env, "p", &repo_profile(&env, &src, &slow_hooks(&env, 3.0), sections));
    env.init();
    let d = start(&env, "p");
    let going = env.path("going");
    wait_for("a run to go", Duration::from_secs(30), || going.exists());
    std::thread::sleep(Duration::from_millis(500));
    // killed outright while its child runs: the child goes on holding its lock
    signal(&d, nix::sys::signal::Signal::SIGKILL);
    let (_, log1) = log_of(d);
    let d = start(&env, "p");
    std::thread::sleep(Duration::from_secs(9));
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (code, log2) = log_of(d);
    assert_eq!(code, Some(0), "{log2}");
    wait_for("the last run to end", Duration::from_secs(30), || !going.exists());
    assert!(lines(&env.path("overlaps")).is_empty(), "two runs at once:\n{log1}\n{log2}");
    assert!(
        log2.contains("skipped, another run holds its lock")
            || log2.contains("skipped, its previous run is still going"),
        "{log2}"
    );
    let starts = lines(&env.path("starts"));
    assert!(starts.len() >= 3, "{starts:?}\n{log1}\n{log2}");
    // on time: each run started within a second after an even second (its calendar)
    for s in &starts {
        let t: f64 = s.parse().unwrap();
        let late = t - 2.0 * (t / 2.0).floor();
        assert!(late < 1.0, "a run started {late:.2}s after its time: {starts:?}");
    }
    assert!(log2.contains("backup: finished, exit 0"), "{log2}");
    // every run made its snapshot, but a last one the SIGTERM stopped
    let snaps = env.snapshot_ids().len();
    assert!(snaps + 1 >= starts.len() && snaps <= starts.len(), "{snaps} snapshots, {starts:?}");
    env.check();
}

#[test]
fn a_persistent_job_missed_while_the_daemon_was_down_is_caught_up_once() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    let marks = format!("run-before = [\"date +%s.%N >> {}/starts\"]\n", env.dir.path().display());
    profile(&env, "p", &repo_profile(&env, &src, &marks, "[schedule.backup]\non-calendar = \"*:*:0/2\"\n"));
    env.init();
    let d = start(&env, "p");
    let starts = env.path("starts");
    wait_for("a first run", Duration::from_secs(30), || lines(&starts).len() == 1 && env.snapshot_ids().len() == 1);
    signal(&d, nix::sys::signal::Signal::SIGKILL);
    let _ = log_of(d);
    // now once a day, at a time 2 s from now: it elapses while no daemon runs
    let at = chrono::Local::now() + chrono::Duration::seconds(2);
    let cal = at.format("%H:%M:%S").to_string();
    let sections =
        |persistent: bool| format!("[schedule.backup]\non-calendar = \"{cal}\"\npersistent = {persistent}\n");
    profile(&env, "p", &repo_profile(&env, &src, &marks, &sections(false)));
    std::thread::sleep(Duration::from_secs(4));
    // not persistent: nothing is caught up
    let d = start(&env, "p");
    std::thread::sleep(Duration::from_secs(3));
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (code, log) = log_of(d);
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(lines(&starts).len(), 1, "{log}");
    // persistent: caught up at start, once
    profile(&env, "p", &repo_profile(&env, &src, &marks, &sections(true)));
    let d = start(&env, "p");
    wait_for("the catch-up", Duration::from_secs(30), || env.snapshot_ids().len() == 2);
    std::thread::sleep(Duration::from_secs(4));
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (code, log) = log_of(d);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("catching up a missed run"), "{log}");
    assert_eq!(lines(&starts).len(), 2, "caught up once, not again: {log}");
    // a daemon started again right after has nothing to catch up
    let d = start(&env, "p");
    std::thread::sleep(Duration::from_secs(2));
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (_, log) = log_of(d);
    assert!(!log.contains("catching up"), "{log}");
    assert_eq!(lines(&starts).len(), 2, "{log}");
    env.check();
}

#[test]
fn sigterm_during_a_backup_stops_it_cleanly_and_the_daemon_exits_0() {
    let env = Env::new();
    let src = env.path("src");
    // enough data that a backup limited to 256 KiB/s takes many seconds
    let mut data = vec![0u8; 4 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    write(&src.join("big"), &data);
    let started = env.path("started");
    let text = repo_profile(
        &env,
        &src,
        &format!("run-before = [\"touch {}\"]\n", started.display()),
        "[schedule.backup]\non-calendar = \"*:*:0/2\"\n",
    )
    .replace("[backup]", "limit-upload = 256\n\n[backup]");
    profile(&env, "p", &text);
    env.init();
    let d = start(&env, "p");
    wait_for("the backup to start", Duration::from_secs(30), || started.exists());
    std::thread::sleep(Duration::from_secs(2));
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (code, log) = log_of(d);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopping: 1 running job(s) asked to stop"), "{log}");
    assert!(log.contains("backup: finished, exit 130"), "the child stopped as arca stops on interrupt: {log}");
    assert!(log.contains("stopped"), "{log}");
    // the repository is whole, its lock released, and the job runs again
    assert!(env.ok(&["list", "locks"]).trim().is_empty(), "a lock was left");
    env.check();
    let o = env.cmd().args(["-P", "p", "backup", "-q"]).env_remove("ARCA_REPOSITORY").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_invalid_calendar_is_a_clear_error_at_start() {
    let env = Env::new();
    let src = env.path("src");
    let p = profile(&env, "p", &repo_profile(&env, &src, "", "[schedule.check]\non-calendar = \"Sat..Mon 10:00\"\n"));
    let o = env.cmd().args(["-P", "p", "daemon"]).output().unwrap();
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&p.display().to_string()) && err.contains("[schedule.check]") && err.contains("Sat..Mon"),
        "{err}"
    );
    assert!(err.contains("backwards"), "{err}");
    let none = profile(&env, "none", &repo_profile(&env, &src, "", ""));
    let _ = none;
    let o = env.cmd().args(["-P", "none", "daemon"]).output().unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no [schedule.<job>] section"), "{}", stderr(&o));
}

#[test]
fn metrics_listen_serves_the_runs_of_the_daemons_jobs() {
    use std::io::{Read, Write};
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    profile(&env, "p", &repo_profile(&env, &src, "", "[schedule.backup]\non-calendar = \"*:*:0/2\"\n"));
    env.init();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let d = env
        .cmd()
        .args(["-P", "p", "daemon", "--metrics-listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a run", Duration::from_secs(30), || env.snapshot_ids().len() == 1);
    let mut body = String::new();
    wait_for("the metrics", Duration::from_secs(10), || {
        body.clear();
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        s.read_to_string(&mut body).unwrap();
        body.contains("arca_job_last_exit_code{profile=\"p\",job=\"backup\"} 0")
    });
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (code, log) = log_of(d);
    assert_eq!(code, Some(0), "{log}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the listener stopped with the daemon");
}

/// `[watch] enabled`: the daemon keeps an `arca -P p watch` child running, starts it again
/// when it dies, and stops it with SIGTERM.
#[test]
fn the_daemon_keeps_the_profiles_watch_running_and_stops_it() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    let watch = "[watch]\nenabled = true\ndebounce = \"300ms\"\nmax-delay = \"5s\"\nmin-interval = \"0s\"\n";
    profile(&env, "p", &repo_profile(&env, &src, "", watch));
    env.init();
    // its watch (and the one started again) must not be made while a test has the kernel's
    // event queue limit lowered (see tests/it/watch.rs)
    let _shared = crate::watch::QUEUE_LIMIT.read().unwrap_or_else(|e| e.into_inner());
    let log_path = env.path("daemon.log");
    let d = env
        .cmd()
        .args(["-P", "p", "daemon"])
        .env_remove("ARCA_REPOSITORY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let snapshots =
        || -> Vec<serde_json::Value> { serde_json::from_str(&env.ok(&["snapshots", "--json"])).unwrap_or_default() };
    // the first backup after the watch starts walks everything
    wait_for("the watch's first backup", Duration::from_secs(60), || !snapshots().is_empty());
    write(&src.join("b"), b"b");
    wait_for("a change-list backup", Duration::from_secs(60), || {
        snapshots().iter().any(|s| s.get("change_list").is_some())
    });
    // the watch child dies: the daemon starts it again (after its first wait, 5 s)
    let log = std::fs::read_to_string(&log_path).unwrap();
    let pid: i32 = log
        .split("watch: started (pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no watch start in the log: {log}"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_for("the watch to start again", Duration::from_secs(30), || {
        std::fs::read_to_string(&log_path).unwrap().matches("watch: started (pid ").count() == 2
    });
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("watch: ended, killed by signal 9") && log.contains("starting it again in 5s"), "{log}");
    // and it still backs up
    let before = snapshots().len();
    write(&src.join("c"), b"c");
    wait_for("a backup by the restarted watch", Duration::from_secs(60), || snapshots().len() > before);
    signal(&d, nix::sys::signal::Signal::SIGTERM);
    let (code, _) = log_of(d);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("watch: finished, exit 0") && log.contains("stopped"), "{log}");
    // the restored newest snapshot is the live tree
    let out = env.path("out");
    env.ok(&["restore", "latest", "--target", out.to_str().unwrap()]);
    for f in ["a", "b", "c"] {
        let found = walk_find(&out, f);
        assert_eq!(std::fs::read(found.unwrap()).unwrap(), f.as_bytes());
    }
    env.check();
}

fn walk_find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == name) && p.is_file() {
            return Some(p);
        }
        if p.is_dir() {
            if let Some(f) = walk_find(&p, name) {
                return Some(f);
            }
        }
    }
    None
}
