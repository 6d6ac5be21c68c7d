//! `arca daemon`: one process that runs a profile set's scheduled jobs at their times, for
//! machines and containers without systemd.
//!
//! Each run is a child process, `arca -P PROFILE… JOB ARGS…` with `ARCA_TRIGGER=daemon`, in
//! its own process group (a Ctrl-C at the terminal reaches the daemon, which passes it on), so
//! it goes through the command line's guard, hooks and run record like any other run. A job is
//! never started while its previous run still goes (the daemon's own child, or any other
//! process holding the job's lock: that start is logged as skipped). When a job starts, the
//! time it was due is saved as `<job state>/daemon-<job>.trigger` (RFC 3339, bounded, strictly
//! parsed, written atomically, never through a symlink); at start a `persistent` job whose
//! calendar elapsed since that time while the daemon was down runs once at once (catch-up).
//! A `randomized-delay` moves each due time later by a random part of it. On SIGTERM or
//! SIGINT the daemon starts nothing more, sends SIGTERM to its running children (they stop as
//! `arca` does when interrupted, releasing their locks), waits for them, and returns.
//!
//! With `[watch] enabled = true` the daemon also keeps one `arca -P PROFILE… watch` child
//! running (watch mode, `automation::watch`): started with the daemon, started again when it
//! ends (after 5 s, doubling to at most 5 minutes while it keeps ending within 10 minutes of
//! its start), and asked to stop with SIGTERM like the jobs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};

use super::job::ScheduledJob;
use crate::cache::job_lock::JobLock;
use crate::cache::runs;
use crate::error::{Error, Result};

/// Longest trigger file read back.
const MAX_TRIGGER_LEN: u64 = 64;
/// The longest the daemon sleeps between looks at its children and the stop flag.
const TICK: Duration = Duration::from_millis(200);

/// What the daemon runs: one profile set and its jobs.
pub struct Daemon {
    /// This arca, which the children run.
    pub exe: PathBuf,
    /// The profiles as given to -P.
    pub profiles: Vec<String>,
    /// The set's job state directory.
    pub state_dir: PathBuf,
    pub jobs: Vec<ScheduledJob>,
    /// Keep an `arca -P … watch` child running (`[watch] enabled`).
    pub watch: bool,
}

/// The watch child and when it may be started again.
struct WatchSlot {
    running: Option<(Child, Instant)>,
    start_at: Instant,
    backoff: Duration,
}

/// The first wait before a watch that ended is started again, and the longest.
const WATCH_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
/// A watch that ran this long before it ended starts again after the first wait.
const WATCH_HEALTHY: Duration = Duration::from_secs(600);

struct Slot<'a> {
    job: &'a ScheduledJob,
    /// When it runs next (`None`: its calendars never elapse again).
    due: Option<DateTime<Local>>,
    /// The elapse `due` was drawn for (saved as the trigger when it starts).
    elapse: Option<DateTime<Local>>,
    catch_up: bool,
    running: Option<(Child, Instant)>,
}

/// One log line on stderr, with the local time.
fn log(msg: &str) {
    eprintln!("{} arca daemon: {msg}", Local::now().format("%Y-%m-%dT%H:%M:%S%:z"));
}

impl Daemon {
    /// Run until `stop()` is true; then stop the children and return.
    pub fn run(&self, stop: &dyn Fn() -> bool) -> Result<()> {
        let now = Local::now();
        let mut slots: Vec<Slot<'_>> = self.jobs.iter().map(|job| self.first_slot(job, now)).collect();
        log(&format!("started for profile {} (pid {})", self.profiles.join(" + "), std::process::id()));
        for s in &slots {
            let when = if s.catch_up {
                "now, to catch up a run missed while the daemon was down".to_string()
            } else {
                s.due.map_or("never".to_string(), |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
            };
            log(&format!("{}: next run {when}", s.job.job));
        }
        let mut watch = WatchSlot { running: None, start_at: Instant::now(), backoff: WATCH_BACKOFF.0 };
        while !stop() {
            if self.watch {
                self.keep_watching(&mut watch);
            }
            let now = Local::now();
            for s in &mut slots {
                self.reap(s);
                if s.due.is_some_and(|d| d <= now) {
                    self.start(s, now);
                }
            }
            let nearest = slots.iter().filter_map(|s| s.due).min();
            let wait = nearest.and_then(|d| (d - Local::now()).to_std().ok()).map_or(TICK, |w| w.min(TICK));
            std::thread::sleep(wait);
        }
        let running: Vec<&mut Slot<'_>> = slots.iter_mut().filter(|s| s.running.is_some()).collect();
        log(&format!("stopping: {} running job(s) asked to stop", running.len()));
        if let Some((mut child, started)) = watch.running.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let status = child.wait().map_err(|e| Error::io("waiting for watch", e))?;
            log(&format!("watch: finished, {}, after {:.1}s", how(status), started.elapsed().as_secs_f64()));
        }
        for s in running {
            if let Some((child, started)) = s.running.take() {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                let mut child = child;
                let status = child.wait().map_err(|e| Error::io(format!("waiting for {}", s.job.job), e))?;
                log_finish(s.job, status, started);
            }
        }
        log("stopped");
        Ok(())
    }

    /// Reap the watch child if it ended, and start it when none runs and its wait is over.
    fn keep_watching(&self, w: &mut WatchSlot) {
        if let Some((child, started)) = &mut w.running {
            match child.try_wait() {
                Ok(None) => return,
                Ok(Some(status)) => {
                    let ran = started.elapsed();
                    if ran >= WATCH_HEALTHY {
                        w.backoff = WATCH_BACKOFF.0;
                    }
                    let wait = w.backoff;
                    w.backoff = (w.backoff * 2).min(WATCH_BACKOFF.1);
                    w.start_at = Instant::now() + wait;
                    log(&format!(
                        "watch: ended, {}, after {:.1}s; starting it again in {}s",
                        how(status),
                        ran.as_secs_f64(),
                        wait.as_secs()
                    ));
                    w.running = None;
                }
                Err(e) => {
                    log(&format!("watch: cannot wait for it: {e}"));
                    return;
                }
            }
        }
        if Instant::now() < w.start_at {
            return;
        }
        let mut args: Vec<String> = self.profiles.iter().flat_map(|p| ["-P".to_string(), p.clone()]).collect();
        args.push("watch".to_string());
        let mut cmd = self.child_command(&args);
        match cmd.spawn() {
            Ok(child) => {
                log(&format!("watch: started (pid {}): {}", child.id(), super::job::shell_line(&self.exe, &args)));
                w.running = Some((child, Instant::now()));
            }
            Err(e) => {
                w.start_at = Instant::now() + w.backoff;
                w.backoff = (w.backoff * 2).min(WATCH_BACKOFF.1);
                log(&format!("watch: cannot start {}: {e}", self.exe.display()));
            }
        }
    }

    /// `exe ARGS` as the daemon's child: `ARCA_TRIGGER=daemon`, no stdin, its output where the
    /// daemon logs, its own process group.
    fn child_command(&self, args: &[String]) -> Command {
        use std::os::fd::AsFd;
        use std::os::unix::process::CommandExt;
        let stdout = std::io::stderr().as_fd().try_clone_to_owned().ok();
        let mut cmd = Command::new(&self.exe);
        cmd.args(args).env("ARCA_TRIGGER", "daemon").stdin(Stdio::null());
        if let Some(fd) = stdout {
            cmd.stdout(Stdio::from(fd));
        }
        cmd.process_group(0);
        cmd
    }

    fn first_slot<'a>(&self, job: &'a ScheduledJob, now: DateTime<Local>) -> Slot<'a> {
        let last = read_trigger(&self.state_dir, job.job.name());
        let missed = last.and_then(|l| job.next_after(l)).filter(|&n| n <= now);
        match missed {
            Some(elapse) if job.persistent => {
                Slot { job, due: Some(now), elapse: Some(elapse), catch_up: true, running: None }
            }
            _ => {
                let elapse = job.next_after(now);
                Slot { job, due: elapse.map(|e| e + random_delay(job)), elapse, catch_up: false, running: None }
            }
        }
    }

    fn reap(&self, s: &mut Slot<'_>) {
        let Some((child, started)) = &mut s.running else { return };
        match child.try_wait() {
            Ok(Some(status)) => {
                log_finish(s.job, status, *started);
                s.running = None;
            }
            Ok(None) => {}
            Err(e) => log(&format!("{}: cannot wait for its run: {e}", s.job.job)),
        }
    }

    fn start(&self, s: &mut Slot<'_>, now: DateTime<Local>) {
        let job = s.job;
        let name = job.job.name();
        let elapse = s.elapse.unwrap_or(now);
        // whatever happens to this start, the next one is drawn from the calendar
        let next = job.next_after(now.max(elapse));
        s.elapse = next;
        s.due = next.map(|e| e + random_delay(job));
        let catch_up = std::mem::take(&mut s.catch_up);
        if s.running.is_some() {
            log(&format!("{name}: skipped, its previous run is still going"));
            return;
        }
        match JobLock::try_acquire(&self.state_dir, name) {
            Ok(Some(lock)) => drop(lock),
            Ok(None) => {
                let pid = JobLock::holder(&self.state_dir, name).map_or("unknown".to_string(), |p| p.to_string());
                log(&format!("{name}: skipped, another run holds its lock (pid {pid})"));
                return;
            }
            Err(e) => log(&format!("{name}: its lock cannot be checked ({e}); the run guards itself")),
        }
        if let Err(e) = write_trigger(&self.state_dir, name, elapse) {
            log(&format!("{name}: its trigger time is not saved: {e}"));
        }
        let args = job.arguments(&self.profiles);
        match self.child_command(&args).spawn() {
            Ok(child) => {
                log(&format!(
                    "{name}: started (pid {}){}: {}",
                    child.id(),
                    if catch_up { ", catching up a missed run" } else { "" },
                    super::job::shell_line(&self.exe, &args)
                ));
                s.running = Some((child, Instant::now()));
            }
            Err(e) => log(&format!("{name}: cannot start {}: {e}", self.exe.display())),
        }
    }
}

fn log_finish(job: &ScheduledJob, status: std::process::ExitStatus, started: Instant) {
    log(&format!("{}: finished, {}, after {:.1}s", job.job, how(status), started.elapsed().as_secs_f64()));
}

/// How a child ended, for the log.
fn how(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended".to_string(),
    }
}

/// A random part of the job's randomized delay (not a secret: the clock and pid, hashed).
fn random_delay(job: &ScheduledJob) -> chrono::Duration {
    let max = job.randomized_delay.as_millis() as u64;
    if max == 0 {
        return chrono::Duration::zero();
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seed = blake3::hash(format!("{nanos} {} {}", std::process::id(), job.job).as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&seed.as_bytes()[..8]);
    chrono::Duration::milliseconds((u64::from_le_bytes(b) % (max + 1)) as i64)
}

fn trigger_path(dir: &Path, job: &str) -> PathBuf {
    dir.join(format!("daemon-{job}.trigger"))
}

/// The saved trigger time of `job`, if the file is there and is exactly one RFC 3339 time.
pub fn read_trigger(dir: &Path, job: &str) -> Option<DateTime<Local>> {
    let bytes = runs::read_bounded(&trigger_path(dir, job), MAX_TRIGGER_LEN)?;
    let text = std::str::from_utf8(&bytes).ok()?.strip_suffix('\n')?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Local))
}

fn write_trigger(dir: &Path, job: &str, at: DateTime<Local>) -> Result<()> {
    let text = format!("{}\n", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
    runs::write_atomic(&trigger_path(dir, job), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::calendar::Calendar;
    use crate::automation::job::Job;

    fn job(cal: &str, persistent: bool) -> ScheduledJob {
        ScheduledJob {
            job: Job::Backup,
            calendars: vec![Calendar::parse(cal).unwrap()],
            calendar_text: vec![cal.into()],
            randomized_delay: Duration::ZERO,
            persistent,
            args: vec![],
        }
    }

    #[test]
    fn a_missed_run_is_caught_up_only_when_persistent_and_the_trigger_file_is_strict() {
        let tmp = tempfile::tempdir().unwrap();
        let d = Daemon {
            exe: "/bin/false".into(),
            profiles: vec!["p".into()],
            state_dir: tmp.path().into(),
            jobs: vec![],
            watch: false,
        };
        let now = Local::now();
        let daily = job("daily", true);
        assert!(!d.first_slot(&daily, now).catch_up, "no trigger saved: nothing to catch up");
        write_trigger(tmp.path(), "backup", now - chrono::Duration::days(2)).unwrap();
        assert!(d.first_slot(&daily, now).catch_up, "a day was missed");
        assert!(!d.first_slot(&job("daily", false), now).catch_up, "not persistent: no catch-up");
        write_trigger(tmp.path(), "backup", now - chrono::Duration::seconds(1)).unwrap();
        assert!(!d.first_slot(&daily, now).catch_up, "nothing elapsed since the last run");
        for bad in ["yesterday\n", "2026-12-07T10:00:00+00:00", "2026-12-07T10:00:00+00:00\nmore\n", &"9".repeat(100)] {
            std::fs::write(trigger_path(tmp.path(), "backup"), bad).unwrap();
            assert_eq!(read_trigger(tmp.path(), "backup"), None, "{bad:?}");
        }
        let delayed = ScheduledJob { randomized_delay: Duration::from_secs(60), ..daily };
        for _ in 0..20 {
            let r = random_delay(&delayed);
            assert!(r >= chrono::Duration::zero() && r <= chrono::Duration::seconds(60));
        }
    }
}
