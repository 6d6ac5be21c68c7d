//! `arca watch`: continuous backup that costs only what changed.
//!
//! A watch on the watched paths gathers every path an event names into a change set. Two
//! backends feed it the same [`Change`]s: inotify (the `notify` crate, one watch per directory,
//! added as directories appear) and, where the process has `CAP_SYS_ADMIN` and the kernel
//! reports directory file handles with names (`FAN_REPORT_DFID_NAME`, Linux 5.9), fanotify
//! with one mark per file system (see [`fanotify`]): no per-directory watch limit and no race
//! between a new directory and its watch. `auto` (the default) takes fanotify where it can. When the changes settle (no event for `debounce`, or
//! `max_delay` after the first unsaved change, and never sooner than `min_interval` after the
//! last backup began) the set is written to a private file in the profile's job state
//! directory and a backup runs as a child process, `arca [-P p] backup --changed-paths FILE`
//! (see [`Backup`]): the same command line a schedule runs, so the run is guarded, recorded
//! and notified like every other (the `ARCA_TRIGGER=watch` it is given says who started it).
//!
//! Correctness never depends on the event stream: the first backup after start is a full walk
//! (events may have been missed while no watcher ran), and so is the next one after an event
//! queue overflow (notify's rescan flag, inotify's `IN_Q_OVERFLOW`), a watcher error, a change
//! set larger than [`MAX_CHANGES`], or a backup that failed (its changes would be lost
//! otherwise). Events that arrive while a backup runs belong to the next one.
//!
//! SIGINT or SIGTERM stops the watch: a running backup is asked to stop (it is given SIGTERM
//! and leaves what it stored for the next run) and waited for; then `run` returns.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::error::{Error, Kind, Result};

mod fanotify;
mod fanotify_events;

/// A change set larger than this is not written out: the next backup is a full walk.
pub const MAX_CHANGES: usize = 100_000;

/// How often the loop looks at the stop flag and the running backup.
const TICK: Duration = Duration::from_millis(100);

/// What a watch runs on, made by the command line from flags and the `[watch]` section.
pub struct WatchOptions {
    /// Watched recursively.
    pub paths: Vec<PathBuf>,
    /// Quiet time after the last event before a backup starts.
    pub debounce: Duration,
    /// Longest wait after the first unsaved change, however busy the files are.
    pub max_delay: Duration,
    /// Least time between the starts of two backups.
    pub min_interval: Duration,
    /// Where the change list is written (the profile's private job state directory).
    pub state_dir: PathBuf,
    /// Which kernel interface reports the changes.
    pub backend: Backend,
}

/// `--backend` / `[watch] backend`: which kernel interface reports the changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// fanotify where the process may use it and the kernel has it, else inotify.
    Auto,
    Inotify,
    Fanotify,
}

impl Backend {
    pub const NAMES: [&'static str; 3] = ["auto", "inotify", "fanotify"];

    pub fn parse(text: &str) -> Result<Backend> {
        match text {
            "auto" => Ok(Backend::Auto),
            "inotify" => Ok(Backend::Inotify),
            "fanotify" => Ok(Backend::Fanotify),
            _ => Err(Error::usage(format!("watch backend {text:?} is not known")).hint("auto, inotify or fanotify")),
        }
    }
}

/// What a backend reports: the unit the change set is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// These paths (below the watched paths, as the user named them) may have changed.
    Paths(Vec<PathBuf>),
    /// The kernel's event queue overflowed: changes were lost.
    Overflow,
    /// The backend failed to say what changed (the message says why).
    Failed(String),
}

/// A running watcher; dropping it stops it.
enum Watching {
    Inotify(#[allow(dead_code)] notify::RecommendedWatcher),
    Fanotify(#[allow(dead_code)] fanotify::Watcher),
}

/// Starts one backup as a child process: with `Some(file)` a change-list backup of that
/// list, with `None` a full walk. The child's stdout is the backup's `--json` summary.
pub type Backup<'a> = dyn Fn(Option<&Path>) -> Result<Child> + 'a;

/// What one backup did, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// `None`: a full walk, and why; `Some(n)`: a change list of `n` paths.
    pub changes: Option<usize>,
    pub why_full: &'static str,
    pub status: ExitStatus,
    pub summary: Option<serde_json::Value>,
    pub took: Duration,
}

impl Round {
    /// One line: what ran, how it ended, what it stored.
    pub fn line(&self) -> String {
        let what = match self.changes {
            Some(n) => format!("change list of {n} path{}", if n == 1 { "" } else { "s" }),
            None => format!("full walk ({})", self.why_full),
        };
        let s = self.summary.as_ref();
        let field = |k: &str| s.and_then(|s| s.get(k)).and_then(|v| v.as_u64()).unwrap_or(0);
        let snap = s.and_then(|s| s["snapshot_id"].as_str()).map(|id| &id[..id.len().min(8)]).unwrap_or("none");
        let code = self.status.code().map_or_else(|| "killed".to_string(), |c| c.to_string());
        let mut line = format!(
            "backup: {what}: exit {code}, snapshot {snap}, {} new, {} changed files, {} bytes added, {:.2} s",
            field("files_new"),
            field("files_changed"),
            field("data_added"),
            self.took.as_secs_f64()
        );
        if let Some(why) = s.and_then(|s| s["full_walk"].as_str()) {
            line.push_str(&format!(" (the backup walked everything: {why})"));
        }
        line
    }
}

/// The changes gathered since the last backup began.
#[derive(Default)]
struct Pending {
    paths: BTreeSet<PathBuf>,
    /// The next backup must be a full walk, and why.
    full: Option<&'static str>,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Pending {
    fn note(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    fn add(&mut self, change: Change, now: Instant, log: &dyn Fn(String)) {
        match change {
            Change::Overflow => {
                log("watch: the event queue overflowed: the next backup walks everything".into());
                self.full = Some("the event queue overflowed");
            }
            Change::Paths(paths) => {
                if paths.is_empty() {
                    return;
                }
                for p in paths {
                    if self.paths.len() >= MAX_CHANGES {
                        self.full.get_or_insert("too many changes for a change list");
                        break;
                    }
                    self.paths.insert(p);
                }
            }
            Change::Failed(e) => {
                log(format!("watch: watcher error, the next backup walks everything: {e}"));
                self.full = Some("the watcher reported an error");
            }
        }
        self.note(now);
    }

    fn is_empty(&self) -> bool {
        self.full.is_none() && self.paths.is_empty()
    }
}

/// Watch until interrupted; each backup is logged with `log`. Returns when SIGINT or SIGTERM
/// arrived and the running backup (if any) has ended.
pub fn run(opts: &WatchOptions, backup: &Backup<'_>, log: &dyn Fn(String)) -> Result<()> {
    let (tx, rx) = channel();
    let (watcher, which) = start(opts, tx)?;
    log(format!(
        "watch: watching {} with {which} (debounce {}, max-delay {}, min-interval {})",
        opts.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        humantime::format_duration(opts.debounce),
        humantime::format_duration(opts.max_delay),
        humantime::format_duration(opts.min_interval),
    ));
    // events may have been missed while nothing watched: the first backup walks everything
    // (with no event noted it is due at once)
    let mut pending = Pending { full: Some("first backup since the watch started"), ..Default::default() };
    let mut last_start: Option<Instant> = None;
    while !crate::platform::interrupted() {
        let now = Instant::now();
        if due(&pending, last_start, opts, now) {
            last_start = Some(now);
            let round = std::mem::take(&mut pending);
            match one_backup(opts, backup, round, &rx, &mut pending, log) {
                Ok(Some(r)) => {
                    log(r.line());
                    if !matches!(r.status.code(), Some(0 | 3)) && !crate::platform::interrupted() {
                        // no snapshot: the next one must not trust the parent for these changes
                        pending.full = Some("the last backup failed");
                        pending.note(Instant::now());
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    log(format!("watch: backup not started: {}", e.message));
                    pending.full = Some("the last backup did not start");
                    pending.note(Instant::now());
                }
            }
            continue;
        }
        match rx.recv_timeout(TICK) {
            Ok(ev) => pending.add(ev, Instant::now(), log),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::new(Kind::Io, "the file watcher stopped").hint("start `arca watch` again"));
            }
        }
    }
    drop(watcher);
    log("watch: stopped".into());
    Ok(())
}

/// Start the backend `opts` asks for; also returns which one runs and why, for the log.
fn start(opts: &WatchOptions, tx: Sender<Change>) -> Result<(Watching, String)> {
    match opts.backend {
        Backend::Inotify => Ok((inotify(&opts.paths, tx)?, "inotify (asked for)".into())),
        Backend::Fanotify => match fanotify::Watcher::start(&opts.paths, tx) {
            Ok(w) => Ok((Watching::Fanotify(w), "fanotify (asked for; one mark per file system)".into())),
            Err(e) => Err(Error::new(Kind::Unsupported, format!("watch --backend fanotify: {}", e.message)).hint(
                "fanotify needs root (CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH) and Linux 5.9 or later; \
                 use --backend inotify or auto",
            )),
        },
        Backend::Auto => match fanotify::Watcher::start(&opts.paths, tx.clone()) {
            Ok(w) => Ok((
                Watching::Fanotify(w),
                "fanotify (auto: CAP_SYS_ADMIN held and FAN_REPORT_DFID_NAME supported; one mark per file system)"
                    .into(),
            )),
            Err(e) => Ok((inotify(&opts.paths, tx)?, format!("inotify (auto: fanotify unavailable: {})", e.message))),
        },
    }
}

/// The `notify` crate's recursive inotify watch, its events turned into [`Change`]s.
fn inotify(paths: &[PathBuf], tx: Sender<Change>) -> Result<Watching> {
    let handler = move |ev: notify::Result<notify::Event>| {
        if let Some(change) = from_notify(ev) {
            let _ = tx.send(change);
        }
    };
    let mut watcher = notify::recommended_watcher(handler).map_err(|e| watch_error("starting the watcher", e))?;
    for p in paths {
        watcher.watch(p, RecursiveMode::Recursive).map_err(|e| watch_error(&p.display().to_string(), e))?;
    }
    Ok(Watching::Inotify(watcher))
}

/// One `notify` event as a [`Change`]; `None` for events that change nothing.
fn from_notify(ev: notify::Result<notify::Event>) -> Option<Change> {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match ev {
        Ok(ev) if ev.need_rescan() => Some(Change::Overflow),
        Ok(ev) => {
            // opening or reading changes nothing, and the backups' own reads would keep
            // the watch busy forever; a close after writing is a change
            let read_only = matches!(ev.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write));
            (!ev.paths.is_empty() && !read_only).then_some(Change::Paths(ev.paths))
        }
        Err(e) => Some(Change::Failed(e.to_string())),
    }
}

/// Is a backup due: changes that settled (or waited `max_delay`), `min_interval` respected?
fn due(p: &Pending, last_start: Option<Instant>, opts: &WatchOptions, now: Instant) -> bool {
    if p.is_empty() {
        return false;
    }
    if last_start.is_some_and(|t| now.duration_since(t) < opts.min_interval) {
        return false;
    }
    let quiet = p.last.is_none_or(|t| now.duration_since(t) >= opts.debounce);
    let overdue = p.first.is_some_and(|t| now.duration_since(t) >= opts.max_delay);
    quiet || overdue
}

/// Run one backup of `round`; events that arrive meanwhile go to `next`.
fn one_backup(
    opts: &WatchOptions,
    backup: &Backup<'_>,
    round: Pending,
    rx: &Receiver<Change>,
    next: &mut Pending,
    log: &dyn Fn(String),
) -> Result<Option<Round>> {
    let started = Instant::now();
    let list = match round.full {
        Some(_) => None,
        None => Some(write_change_list(&opts.state_dir, &round.paths)?),
    };
    let mut child = backup(list.as_ref().map(|l| l.path.as_path()))?;
    // the summary is small; read it beside the wait so a full pipe cannot stall the child
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stdout {
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
        }
        text
    });
    let mut asked_to_stop = false;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| Error::io("backup child", e))? {
            break st;
        }
        if crate::platform::interrupted() && !asked_to_stop {
            asked_to_stop = true;
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
        }
        match rx.recv_timeout(TICK) {
            Ok(ev) => next.add(ev, Instant::now(), log),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => next.full = Some("the watcher stopped"),
        }
    };
    drop(list);
    let out = reader.join().unwrap_or_default();
    let summary = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message_type"] == "summary");
    Ok(Some(Round {
        changes: round.full.is_none().then_some(round.paths.len()),
        why_full: round.full.unwrap_or(""),
        status,
        summary,
        took: started.elapsed(),
    }))
}

/// A change list on disk, removed when dropped.
struct ListFile {
    path: PathBuf,
}

impl Drop for ListFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Write `paths`, each followed by a NUL byte (names may hold newlines), to a new private
/// file (0600, created exclusively, never through a symlink) in `dir`.
fn write_change_list(dir: &Path, paths: &BTreeSet<PathBuf>) -> Result<ListFile> {
    let mut text = Vec::new();
    for p in paths {
        text.extend_from_slice(p.as_os_str().as_bytes());
        text.push(0);
    }
    let name = format!("watch-changes-{}-{}", std::process::id(), hex::encode(crate::crypto::random_bytes::<8>()));
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| Error::io(path.display(), e).hint("the profile's job state directory must be yours"))?;
    let list = ListFile { path };
    f.write_all(&text).and_then(|()| f.sync_all()).map_err(|e| Error::io(list.path.display(), e))?;
    Ok(list)
}

fn watch_error(what: &str, e: notify::Error) -> Error {
    Error::new(Kind::Io, format!("watching {what}: {e}"))
        .hint("on Linux, many directories may need more inotify watches: raise /proc/sys/fs/inotify/max_user_watches")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts() -> WatchOptions {
        WatchOptions {
            paths: vec![],
            debounce: Duration::from_secs(30),
            max_delay: Duration::from_secs(600),
            min_interval: Duration::from_secs(60),
            state_dir: PathBuf::new(),
            backend: Backend::Auto,
        }
    }

    #[test]
    fn a_backup_waits_for_quiet_or_the_ceiling_and_the_interval() {
        let o = opts();
        let t0 = Instant::now();
        let mut p = Pending::default();
        assert!(!due(&p, None, &o, t0), "nothing changed");
        p.paths.insert("/x".into());
        p.note(t0);
        assert!(!due(&p, None, &o, t0 + Duration::from_secs(10)), "not quiet yet");
        assert!(due(&p, None, &o, t0 + Duration::from_secs(30)), "quiet for the debounce");
        // busy files: an event every 10 s keeps it from settling until the ceiling
        for i in 1..60 {
            p.note(t0 + Duration::from_secs(10 * i));
        }
        assert!(!due(&p, None, &o, t0 + Duration::from_secs(595)));
        assert!(due(&p, None, &o, t0 + Duration::from_secs(600)), "the ceiling");
        assert!(!due(&p, Some(t0 + Duration::from_secs(570)), &o, t0 + Duration::from_secs(600)), "min-interval");
    }

    #[test]
    fn the_change_list_is_private_nul_separated_and_removed_after_use() {
        let dir = tempfile::tempdir().unwrap();
        let set: BTreeSet<PathBuf> = ["/a/b", "/a/new\nline/deep", "/c"].iter().map(PathBuf::from).collect();
        let list = write_change_list(dir.path(), &set).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&list.path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&list.path).unwrap(), b"/a/b\0/a/new\nline/deep\0/c\0");
        let path = list.path.clone();
        drop(list);
        assert!(!path.exists(), "the list outlived its backup");
    }
}
