//! Where a backup's time goes: each pipeline stage adds the time its threads spent working
//! (busy) and the time they spent waiting for the next stage to take their output (blocked).
//! Idle time (waiting for input) is what is left of threads × wall time. The report is printed
//! by `backup -v` and by the pipeline benchmark, so a slow backup can be traced to its slowest
//! stage.
//!
//! Timing costs two clock reads per measured piece of work (a read of a 1 MiB block, a chunk,
//! a blob), far below the work itself.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The stages in data-flow order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Listing directories, reading metadata, comparing with the parent snapshot.
    Walk,
    /// `read` system calls on source files.
    Read,
    /// Finding chunk boundaries (FastCDC).
    Chunk,
    /// Blob ids (keyed BLAKE3) and deduplication.
    Hash,
    /// zstd.
    Compress,
    /// XChaCha20-Poly1305 and padding.
    Encrypt,
    /// Building packs and their headers.
    Pack,
    /// Writing packs and index files to storage.
    Upload,
    /// Encoding and saving trees.
    Trees,
}

const STAGES: [Stage; 9] = [
    Stage::Walk,
    Stage::Read,
    Stage::Chunk,
    Stage::Hash,
    Stage::Compress,
    Stage::Encrypt,
    Stage::Pack,
    Stage::Upload,
    Stage::Trees,
];

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Walk => "walk",
            Stage::Read => "read",
            Stage::Chunk => "chunk",
            Stage::Hash => "hash",
            Stage::Compress => "compress",
            Stage::Encrypt => "encrypt",
            Stage::Pack => "pack",
            Stage::Upload => "upload",
            Stage::Trees => "trees",
        }
    }
}

#[derive(Default)]
struct Counters {
    busy_ns: AtomicU64,
    blocked_ns: AtomicU64,
    threads: AtomicU64,
}

/// Busy and blocked time per stage, added to from any thread.
pub struct StageClock {
    started: Instant,
    stages: [Counters; STAGES.len()],
}

impl Default for StageClock {
    fn default() -> Self {
        StageClock { started: Instant::now(), stages: Default::default() }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl StageClock {
    fn at(&self, s: Stage) -> &Counters {
        &self.stages[s as usize]
    }

    /// One more thread works in stage `s` (a stage may run on several).
    pub fn thread(&self, s: Stage) {
        self.at(s).threads.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_busy(&self, s: Stage, d: Duration) {
        self.at(s).busy_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }

    /// Time stage `s` waited for the next stage to accept its output.
    pub fn add_blocked(&self, s: Stage, d: Duration) {
        self.at(s).blocked_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }

    /// Run `f`, counting its time as busy in stage `s`.
    pub fn busy<T>(&self, s: Stage, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.add_busy(s, t.elapsed());
        r
    }

    /// Run `f` (a send into a bounded queue), counting its time as blocked in stage `s`.
    pub fn blocked<T>(&self, s: Stage, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.add_blocked(s, t.elapsed());
        r
    }

    /// The times so far, with the wall time since the clock started.
    pub fn report(&self) -> StageReport {
        let secs = |ns: &AtomicU64| ns.load(Ordering::Relaxed) as f64 / 1e9;
        StageReport {
            wall_seconds: self.started.elapsed().as_secs_f64(),
            stages: STAGES
                .iter()
                .map(|&s| {
                    let c = self.at(s);
                    StageTime {
                        stage: s.name(),
                        threads: c.threads.load(Ordering::Relaxed),
                        busy_seconds: secs(&c.busy_ns),
                        blocked_seconds: secs(&c.blocked_ns),
                    }
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct StageTime {
    pub stage: &'static str,
    pub threads: u64,
    pub busy_seconds: f64,
    pub blocked_seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StageReport {
    pub wall_seconds: f64,
    pub stages: Vec<StageTime>,
}

impl StageReport {
    /// CPU seconds all stages were busy together.
    pub fn busy_seconds(&self) -> f64 {
        self.stages.iter().map(|s| s.busy_seconds).sum()
    }

    /// The stage with the most busy time per thread: the one that bounds the pipeline.
    pub fn slowest(&self) -> Option<&StageTime> {
        let per_thread = |s: &StageTime| s.busy_seconds / s.threads.max(1) as f64;
        self.stages.iter().filter(|s| s.busy_seconds > 0.0).max_by(|a, b| per_thread(a).total_cmp(&per_thread(b)))
    }
}

/// A table: per stage its threads, busy seconds, share of its threads' wall time spent busy,
/// and seconds blocked on the next stage.
impl fmt::Display for StageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pipeline stages over {:.2} s (busy = working, blocked = waiting for the next stage, \
             idle = waiting for input):",
            self.wall_seconds
        )?;
        writeln!(
            f,
            "  {:<9} {:>7} {:>9} {:>7} {:>10} {:>8}",
            "stage", "threads", "busy s", "busy %", "blocked s", "idle s"
        )?;
        for s in self.stages.iter().filter(|s| s.threads > 0 || s.busy_seconds > 0.0) {
            let capacity = s.threads.max(1) as f64 * self.wall_seconds;
            let share = if capacity > 0.0 { 100.0 * s.busy_seconds / capacity } else { 0.0 };
            let idle = (capacity - s.busy_seconds - s.blocked_seconds).max(0.0);
            writeln!(
                f,
                "  {:<9} {:>7} {:>9.2} {:>6.0}% {:>10.2} {:>8.2}",
                s.stage, s.threads, s.busy_seconds, share, s.blocked_seconds, idle
            )?;
        }
        match self.slowest() {
            Some(s) => write!(f, "  busiest per thread: {} ({:.2} s busy in all stages)", s.stage, self.busy_seconds()),
            None => write!(f, "  nothing was processed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_add_up_per_stage_and_the_busiest_is_named() {
        let c = StageClock::default();
        c.thread(Stage::Compress);
        c.thread(Stage::Compress);
        c.thread(Stage::Read);
        c.add_busy(Stage::Compress, Duration::from_millis(300));
        c.add_busy(Stage::Compress, Duration::from_millis(500));
        c.add_busy(Stage::Read, Duration::from_millis(100));
        c.add_blocked(Stage::Read, Duration::from_millis(40));
        let r = c.report();
        let get = |n: &str| r.stages.iter().find(|s| s.stage == n).unwrap().clone();
        assert!((get("compress").busy_seconds - 0.8).abs() < 1e-9);
        assert_eq!(get("compress").threads, 2);
        assert!((get("read").blocked_seconds - 0.04).abs() < 1e-9);
        assert_eq!(r.slowest().map(|s| s.stage), Some("compress"));
        assert!((r.busy_seconds() - 0.9).abs() < 1e-9);
        let text = r.to_string();
        assert!(text.contains("compress") && text.contains("busiest per thread: compress"), "{text}");
        assert!(!text.contains("upload"), "stages that never ran are left out: {text}");
    }

    #[test]
    fn busy_and_blocked_time_what_they_run() {
        let c = StageClock::default();
        let v = c.busy(Stage::Hash, || {
            std::thread::sleep(Duration::from_millis(5));
            7
        });
        c.blocked(Stage::Hash, || std::thread::sleep(Duration::from_millis(5)));
        let r = c.report();
        assert_eq!(v, 7);
        let h = r.stages.iter().find(|s| s.stage == "hash").unwrap();
        assert!(h.busy_seconds >= 0.005 && h.blocked_seconds >= 0.005, "{h:?}");
    }
}
