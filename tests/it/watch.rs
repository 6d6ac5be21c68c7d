#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca watch` as a real process against real file changes: after each change it backs up
//! (a change list once the changes settle), and the snapshot restores to the live tree byte
//! for byte; an overflowing event queue falls back to a full walk; SIGTERM ends it cleanly.

use crate::common::{assert_same_tree, describe, write, Env};

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub(crate) struct Watch {
    pub(crate) child: Child,
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    /// Wait until no backup has started or ended for a second (at most 30 s).
    pub(crate) fn settle(&self) {
        let until = Instant::now() + Duration::from_secs(30);
        let mut seen = self.lines.lock().unwrap().len();
        let mut quiet_since = Instant::now();
        while Instant::now() < until && quiet_since.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(100));
            let n = self.lines.lock().unwrap().len();
            if n != seen {
                seen = n;
                quiet_since = Instant::now();
            }
        }
    }

    /// `arca watch --backend BACKEND` of `src`, with short delays, once it has started
    /// watching; its log is gathered. While it starts, no test has the kernel's event queue
    /// limit lowered (see [`QUEUE_LIMIT`]).
    pub(crate) fn start(env: &Env, src: &Path, backend: &str) -> Watch {
        let _shared = QUEUE_LIMIT.read().unwrap_or_else(|e| e.into_inner());
        let w = Watch::spawn(env, src, backend);
        w.wait_line("the watch to start", |l| l.contains("watch: watching"));
        w
    }

    /// As [`Watch::start`], without waiting or taking the lock (for a test that holds it).
    pub(crate) fn spawn(env: &Env, src: &Path, backend: &str) -> Watch {
        let mut child = env
            .cmd()
            .args(["watch", "--debounce", "300ms", "--max-delay", "5s", "--min-interval", "0s", "--backend", backend])
            .arg(src)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(vec![]));
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        Watch { child, lines }
    }

    pub(crate) fn backups(&self) -> Vec<String> {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(" backup: ")).cloned().collect()
    }

    /// Wait for a log line matching `pred`; panics with the log after 30 s.
    pub(crate) fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| pred(l)) {
                return l.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {what} within 30 s; log:\n{}", self.lines.lock().unwrap().join("\n"));
    }

    /// Wait for backup number `n` (from 1) and return its log line.
    pub(crate) fn wait_backup(&self, n: usize) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Some(l) = self.backups().get(n - 1) {
                return l.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no backup {n} within 30 s; log:\n{}", self.lines.lock().unwrap().join("\n"));
    }

    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn matches_live(env: &Env, src: &Path, name: &str) {
    assert_same_tree(&describe(src), &env.restored(&format!("latest:{}", src.display()), name));
}

#[test]
fn every_change_is_backed_up_and_restores_to_the_live_tree() {
    every_change_round("inotify");
}

/// The whole round of real changes under `backend`: each one backed up as a change list, each
/// snapshot restored equal to the live tree; SIGTERM ends the watch with exit 0.
pub(crate) fn every_change_round(backend: &str) {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    let outside = env.path("outside");
    write(&src.join("a/one"), b"one");
    write(&src.join("a/deep/two"), &crate::common::noise(100_000, 3));
    write(&src.join("b/three"), b"three");
    write(&outside.join("incoming/sub/four"), b"four");
    let mut w = Watch::start(&env, &src, backend);
    let started = w.wait_line("the start line", |l| l.contains("watch: watching"));
    assert!(started.contains(&format!(" with {backend} (asked for")), "{started}");
    let first = w.wait_backup(1);
    assert!(first.contains("full walk (first backup since the watch started): exit 0"), "{first}");
    matches_live(&env, &src, "r0");
    type Change<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let changes: Vec<Change> = vec![
        ("create", Box::new(|| write(&src.join("a/deep/new"), b"created"))),
        ("modify", Box::new(|| write(&src.join("a/deep/two"), &crate::common::noise(100_001, 4)))),
        ("rename", Box::new(|| std::fs::rename(src.join("a/one"), src.join("b/one-renamed")).unwrap())),
        ("delete", Box::new(|| std::fs::remove_file(src.join("b/three")).unwrap())),
        ("dir-in", Box::new(|| std::fs::rename(outside.join("incoming"), src.join("a/incoming")).unwrap())),
        ("dir-rename", Box::new(|| std::fs::rename(src.join("a/deep"), src.join("b/deeper")).unwrap())),
        ("dir-out", Box::new(|| std::fs::rename(src.join("b/deeper"), outside.join("deeper")).unwrap())),
    ];
    for (i, (what, change)) in changes.iter().enumerate() {
        change();
        let line = w.wait_backup(i + 2);
        assert!(line.contains("change list of") && line.contains("exit 0"), "{what}: {line}");
        // let any straggling event's backup finish before comparing
        std::thread::sleep(Duration::from_millis(600));
        let n = w.backups().len();
        matches_live(&env, &src, &format!("r-{what}"));
        let log = w.lines.lock().unwrap().join("\n");
        assert_eq!(w.backups().len(), n, "{what}: a backup ran while restoring (its own reads?):\n{log}");
    }
    w.signal(nix::sys::signal::Signal::SIGTERM);
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = w.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "arca watch did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "arca watch did not exit 0 on SIGTERM");
    w.wait_line("the stop line", |l| l.ends_with("watch: stopped"));
    env.check();
}

/// The queue limits under /proc/sys/fs are read when a watch starts: a test that lowers one
/// holds this exclusively until its own watch has started and the limit is back, so no other
/// test's watch starts with a queue of 16 and overflows.
pub(crate) static QUEUE_LIMIT: RwLock<()> = RwLock::new(());

/// Puts back a `max_queued_events` limit however the test ends.
struct QueueLimit(&'static str, String);

impl Drop for QueueLimit {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0, &self.1);
    }
}

/// The overflow round of a watch backend: the limit at `queue` (a `max_queued_events` file
/// under `/proc/sys/fs/`) set to 16 while `backend` makes its queue, the watcher stopped while
/// 200 files are written, then the overflow must lead to a full walk and the last snapshot
/// must match the live tree.
pub fn overflow_round(queue: &'static str, backend: &str) {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("seed"), b"seed");
    // the burst goes into directories watched from the start: files made in a new directory
    // give no inotify event until the watcher has added a watch for it, which a stopped
    // watcher cannot do (the queue then overflowed only when the stop came late)
    for d in 0..10 {
        std::fs::create_dir_all(src.join(format!("burst/{d}"))).unwrap();
    }
    let exclusive = QUEUE_LIMIT.write().unwrap_or_else(|e| e.into_inner());
    let old = std::fs::read_to_string(queue).unwrap().trim().to_string();
    if std::fs::write(queue, "16").is_err() {
        eprintln!("skipped: {queue} is not writable here (needs root outside a read-only /proc)");
        return;
    }
    let guard = QueueLimit(queue, old);
    let w = Watch::spawn(&env, &src, backend);
    // the limit is read when the watcher's queue is made: put it back at once
    w.wait_line("the watch to start", |l| l.contains("watch: watching"));
    drop(guard);
    drop(exclusive);
    w.wait_backup(1);
    // stopped, the watcher reads no event: the kernel's queue of 16 overflows
    w.signal(nix::sys::signal::Signal::SIGSTOP);
    for i in 0..200 {
        write(&src.join(format!("burst/{}/f{i}", i % 10)), format!("file {i}").as_bytes());
    }
    w.signal(nix::sys::signal::Signal::SIGCONT);
    w.wait_line("the overflow", |l| l.contains("the event queue overflowed"));
    let line = w.wait_line("the full walk", |l| l.contains("full walk (the event queue overflowed)"));
    assert!(line.contains("exit 0"), "{line}");
    // the file system may stay busy (other processes): wait for a quiet moment, then compare
    w.settle();
    matches_live(&env, &src, "after-overflow");
}

#[test]
fn an_overflowing_event_queue_falls_back_to_a_full_walk() {
    overflow_round("/proc/sys/fs/inotify/max_queued_events", "inotify");
}
