//! Progress on long work, shown the way the output goes:
//!
//! - on a terminal (stderr), a bar redrawn in place (indicatif), cleared at the end;
//! - with `--json`, restic's `status` lines on stdout (for backup and restore in restic's exact
//!   shape), at most once a second when stdout is not a terminal, 60 times a second when it is
//!   (restic's rate);
//! - anywhere else (a log, a pipe, cron), nothing: no spinner frames, no carriage returns, no
//!   escapes. `ARCA_PROGRESS_FPS=N` (restic's `RESTIC_PROGRESS_FPS`) asks for N updates a second
//!   (at most 60) everywhere, and then a log gets one plain line per update;
//! - with `-q`, nothing at all.
//!
//! A [`Display`] runs on its own thread and reads the engine's counters through a closure
//! that returns a [`Frame`]; the engine never waits for it. Dropping the display stops it: a
//! last frame is written (JSON, plain lines) or the bar cleared, before the command's result.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use serde_json::json;

use super::output::{term, Out};
use crate::archiver::Progress;
use crate::restorer::RestoreProgress;
use crate::util::progress::{fraction, rate, seconds_remaining, Meter, StepCounters, Unit, Unmetered};

/// One picture of the counters: a line of text and a JSON status message.
pub struct Frame {
    pub text: String,
    /// `None` when this moment has nothing to say in JSON (no step begun yet).
    pub json: Option<serde_json::Value>,
    /// How much is done, `0.0..=1.0`, once the total is known.
    pub fraction: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Bar,
    Lines,
    Json,
}

/// The update rate `ARCA_PROGRESS_FPS` asks for, if it is a positive number (at most 60).
fn fps_from_env() -> Option<f64> {
    let fps: f64 = std::env::var("ARCA_PROGRESS_FPS").ok()?.trim().parse().ok()?;
    (fps.is_finite() && fps > 0.0).then_some(fps.min(60.0))
}

/// How progress is shown and how often, or `None` for not at all.
fn mode(out: Out, stdout_tty: bool, stderr_tty: bool, fps: Option<f64>) -> Option<(Mode, Duration)> {
    if out.quiet {
        return None;
    }
    let every = |default: f64| Duration::from_secs_f64(1.0 / fps.unwrap_or(default));
    if out.json {
        return Some((Mode::Json, every(if stdout_tty { 60.0 } else { 1.0 })));
    }
    if stderr_tty {
        return Some((Mode::Bar, every(60.0)));
    }
    fps.map(|f| (Mode::Lines, Duration::from_secs_f64(1.0 / f)))
}

/// Will progress be shown at all (so it is worth counting totals for)?
pub fn shown(out: Out) -> bool {
    mode(out, std::io::stdout().is_terminal(), std::io::stderr().is_terminal(), fps_from_env()).is_some()
}

/// A progress display over an engine's counters; stops (with a last frame) when dropped.
pub struct Display {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    pub fn start(out: Out, mut frame: impl FnMut(Duration, bool) -> Frame + Send + 'static) -> Display {
        let stop = Arc::new(AtomicBool::new(false));
        let chosen = mode(out, std::io::stdout().is_terminal(), std::io::stderr().is_terminal(), fps_from_env());
        let Some((mode, every)) = chosen else { return Display { stop, handle: None } };
        let s2 = stop.clone();
        let started = Instant::now();
        let handle = std::thread::Builder::new().name("arca-progress".into()).spawn(move || {
            let bar = (mode == Mode::Bar).then(|| {
                let b = ProgressBar::new(10_000);
                b.set_style(
                    ProgressStyle::with_template("{bar:20} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            });
            let show = |f: Frame| match mode {
                Mode::Bar => {
                    if let Some(b) = &bar {
                        b.set_position(f.fraction.map_or(0, |x| (x * 10_000.0) as u64));
                        b.set_message(f.text);
                    }
                }
                Mode::Lines => {
                    let _ = writeln!(std::io::stderr().lock(), "{}", f.text);
                }
                Mode::Json => {
                    if let Some(v) = f.json {
                        out.json_line(&v);
                    }
                }
            };
            let mut next = started + every;
            loop {
                // sleep in short slices so the end of the work is not kept waiting
                while Instant::now() < next && !s2.load(Ordering::Acquire) {
                    std::thread::sleep(next.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
                }
                if s2.load(Ordering::Acquire) {
                    break;
                }
                show(frame(started.elapsed(), false));
                next += every;
                if next < Instant::now() {
                    next = Instant::now() + every;
                }
            }
            match &bar {
                Some(b) => b.finish_and_clear(),
                None => show(frame(started.elapsed(), true)),
            }
        });
        Display { stop, handle: handle.ok() }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Run `work` (a maintenance command named `action`) with a display of the steps it reports.
pub fn metered<T>(out: Out, action: &'static str, work: impl FnOnce(&dyn Meter) -> T) -> T {
    // restic's maintenance commands print one JSON document: no status lines in it
    if out.json {
        return work(&Unmetered);
    }
    let counters = Arc::new(StepCounters::default());
    let display = Display::start(out, steps(action, counters.clone()));
    let result = work(&*counters);
    drop(display);
    result
}

/// `0:07`, `1:02:03`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Keeps a percentage from going back (a total that grew when the last file grew).
#[derive(Default)]
struct Monotone(f64);

impl Monotone {
    fn of(&mut self, f: Option<f64>) -> Option<f64> {
        let f = f?.clamp(0.0, 1.0).max(self.0);
        self.0 = f;
        Some(f)
    }
}

fn errors(n: u64) -> String {
    match n {
        0 => String::new(),
        1 => ", 1 error".into(),
        n => format!(", {n} errors"),
    }
}

/// Backup: files and bytes read of the scan's totals, rate, bytes stored, time left.
pub fn backup(p: Arc<Progress>) -> impl FnMut(Duration, bool) -> Frame + Send + 'static {
    let mut last = Monotone::default();
    move |elapsed, last_frame| {
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let scanned = p.scan_finished.load(Ordering::Acquire);
        let (files, bytes) = (l(&p.files_done), l(&p.bytes_done));
        // the scan may be behind the walk, and files may grow while read: never less than done
        let total_files = l(&p.total_files).max(files);
        let total_bytes = l(&p.total_bytes).max(bytes);
        // at the end, what was done is the total
        let known = scanned || last_frame;
        let f = last.of(fraction(bytes, total_bytes, known));
        let remaining = seconds_remaining(elapsed, bytes, total_bytes, known);
        let errs = l(&p.errors);
        let stored = l(&p.bytes_stored);
        let current: Vec<String> = p.current_files().iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let mut json = json!({
            "message_type": "status",
            "seconds_elapsed": elapsed.as_secs(),
            "percent_done": f.unwrap_or(0.0),
            "total_files": total_files,
            "files_done": files,
            "total_bytes": total_bytes,
            "bytes_done": bytes,
            "error_count": errs,
            "current_files": current,
            "bytes_stored": stored,
        });
        if let Some(r) = remaining {
            json["seconds_remaining"] = r.into();
        }
        let text = match f {
            Some(f) => {
                format!(
                    "[{}] {:.2}%  {files} / {total_files} files  {} / {}  {}/s{}{}",
                    clock(elapsed),
                    f * 100.0,
                    HumanBytes(bytes),
                    HumanBytes(total_bytes),
                    HumanBytes(rate(elapsed, bytes)),
                    format_args!(", {} stored", HumanBytes(stored)),
                    remaining.map(|r| format!(", {} left", clock(Duration::from_secs(r)))).unwrap_or_default(),
                ) + &errors(errs)
            }
            None => {
                format!(
                    "[{}] {files} files  {}  {}/s, {} stored; scanning: {total_files} files {} so far",
                    clock(elapsed),
                    HumanBytes(bytes),
                    HumanBytes(rate(elapsed, bytes)),
                    HumanBytes(stored),
                    HumanBytes(total_bytes),
                ) + &errors(errs)
            }
        };
        Frame { text: term(&text).into_owned(), json: Some(json), fraction: f }
    }
}

/// Restore: files and bytes restored (or kept as they were) of the plan's totals.
pub fn restore(p: Arc<RestoreProgress>) -> impl FnMut(Duration, bool) -> Frame + Send + 'static {
    let mut last = Monotone::default();
    move |elapsed, _| {
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let known = p.totals_known.load(Ordering::Acquire);
        let (files, bytes, skipped, bytes_skipped) =
            (l(&p.files_done), l(&p.bytes_done), l(&p.files_skipped), l(&p.bytes_skipped));
        let total_files = l(&p.total_files).max(files + skipped);
        let total_bytes = l(&p.total_bytes).max(bytes + bytes_skipped);
        let f = last.of(fraction(bytes + bytes_skipped, total_bytes, known));
        let remaining = seconds_remaining(elapsed, bytes + bytes_skipped, total_bytes, known);
        let errs = l(&p.errors);
        let mut json = json!({
            "message_type": "status",
            "seconds_elapsed": elapsed.as_secs(),
            "percent_done": f.unwrap_or(0.0),
            "total_files": total_files,
            "files_restored": files,
            "files_skipped": skipped,
            "total_bytes": total_bytes,
            "bytes_restored": bytes,
            "bytes_skipped": bytes_skipped,
            "error_count": errs,
        });
        if let Some(r) = remaining {
            json["seconds_remaining"] = r.into();
        }
        let text = format!(
            "[{}] {:.2}%  {} / {total_files} files  {} / {}  {}/s{}",
            clock(elapsed),
            f.unwrap_or(0.0) * 100.0,
            files + skipped,
            HumanBytes(bytes + bytes_skipped),
            HumanBytes(total_bytes),
            HumanBytes(rate(elapsed, bytes)),
            remaining.map(|r| format!(", {} left", clock(Duration::from_secs(r)))).unwrap_or_default(),
        ) + &errors(errs);
        Frame { text, json: Some(json), fraction: f }
    }
}

/// A maintenance command (`action`: check, prune, copy, repair, key rotate): the current step
/// of its [`StepCounters`] with its total. (Its JSON is for a face that wants it; the command
/// line prints none, see [`metered`].)
pub fn steps(action: &'static str, m: Arc<StepCounters>) -> impl FnMut(Duration, bool) -> Frame + Send + 'static {
    let mut step_started = (0u64, Duration::ZERO);
    move |elapsed, _| {
        let steps = m.steps.load(Ordering::Relaxed);
        if steps != step_started.0 {
            step_started = (steps, elapsed);
        }
        let Some((name, unit, total, done)) = m.current() else {
            return Frame { text: format!("[{}] {action}", clock(elapsed)), json: None, fraction: None };
        };
        let in_step = elapsed.saturating_sub(step_started.1);
        let f = fraction(done, total, true);
        let remaining = seconds_remaining(in_step, done, total, true);
        let amount = |n: u64| match unit {
            Unit::Bytes => HumanBytes(n).to_string(),
            Unit::Items => n.to_string(),
        };
        let text = format!(
            "[{}] {action}: {name} {:.2}%  {} / {}{}",
            clock(elapsed),
            f.unwrap_or(0.0) * 100.0,
            amount(done),
            amount(total),
            remaining.map(|r| format!(", {} left", clock(Duration::from_secs(r)))).unwrap_or_default(),
        );
        let mut json = json!({
            "message_type": "status",
            "action": action,
            "step": name,
            "unit": match unit { Unit::Bytes => "bytes", Unit::Items => "items" },
            "seconds_elapsed": elapsed.as_secs(),
            "percent_done": f.unwrap_or(0.0),
            "total": total,
            "done": done,
        });
        if let Some(r) = remaining {
            json["seconds_remaining"] = r.into();
        }
        Frame { text: term(&text).into_owned(), json: Some(json), fraction: f }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(json: bool, quiet: bool) -> Out {
        Out { json, quiet, verbose: 0 }
    }

    #[test]
    fn a_log_or_a_pipe_gets_no_progress_unless_asked_and_quiet_gets_none_at_all() {
        assert_eq!(mode(out(false, false), false, false, None), None);
        assert_eq!(mode(out(false, false), true, false, None), None);
        assert_eq!(mode(out(false, false), false, false, Some(2.0)), Some((Mode::Lines, Duration::from_millis(500))));
        for (json, tty, fps) in
            [(false, true, None), (true, false, None), (true, true, Some(60.0)), (false, false, Some(5.0))]
        {
            assert_eq!(mode(out(json, true), tty, tty, fps), None);
        }
    }

    #[test]
    fn json_status_lines_are_rate_limited_less_often_off_a_terminal() {
        assert_eq!(mode(out(true, false), false, false, None), Some((Mode::Json, Duration::from_secs(1))));
        assert_eq!(mode(out(true, false), true, true, None).map(|m| m.0), Some(Mode::Json));
        assert!(mode(out(true, false), true, true, None).is_some_and(|(_, d)| d < Duration::from_millis(20)));
        assert_eq!(mode(out(false, false), false, true, None).map(|m| m.0), Some(Mode::Bar));
    }

    #[test]
    fn the_percentage_never_goes_back() {
        let mut m = Monotone::default();
        assert_eq!(m.of(None), None);
        assert_eq!(m.of(Some(0.5)), Some(0.5));
        assert_eq!(m.of(Some(0.4)), Some(0.5));
        assert_eq!(m.of(Some(1.5)), Some(1.0));
    }

    #[test]
    fn backup_status_has_restics_keys_and_no_fraction_before_the_scan_is_done() {
        let p = Arc::new(Progress::default());
        p.total_files.store(10, Ordering::Relaxed);
        p.total_bytes.store(1000, Ordering::Relaxed);
        p.files_done.store(12, Ordering::Relaxed);
        p.bytes_done.store(400, Ordering::Relaxed);
        let mut f = backup(p.clone());
        let fr = f(Duration::from_secs(2), false);
        assert_eq!(fr.fraction, None);
        let j = fr.json.unwrap_or_default();
        for k in ["message_type", "seconds_elapsed", "percent_done", "total_files", "files_done", "total_bytes"] {
            assert!(j.get(k).is_some(), "{k} missing in {j}");
        }
        for k in ["bytes_done", "error_count", "current_files"] {
            assert!(j.get(k).is_some(), "{k} missing in {j}");
        }
        // the walk is ahead of the scan: the total is at least what is done
        assert_eq!(j["total_files"], 12);
        assert!(j.get("seconds_remaining").is_none());
        p.scan_finished.store(true, Ordering::Relaxed);
        let j = f(Duration::from_secs(2), false).json.unwrap_or_default();
        assert_eq!(j["percent_done"], 0.4);
        assert_eq!(j["seconds_remaining"], 3);
        assert!(!f(Duration::from_secs(3), false).text.contains('\r'));
    }
}
