//! How engines tell a face how far they are, without knowing how it is shown.
//!
//! Backup and restore keep their own live counters (`archiver::Progress`,
//! `restorer::RestoreProgress`), read by whoever displays them. The maintenance engines
//! (`check --read-data`, `prune`, `copy`, `repair`, `key rotate`) work in steps, each with a
//! known total; they report through a [`Meter`], a small trait the command line implements
//! with a progress bar or JSON status lines and everyone else with [`Unmetered`].
//!
//! The arithmetic every display shares lives here too, so it is tested once: the fraction done
//! ([`fraction`]) and the time left ([`seconds_remaining`]), both defined only once the total is
//! known (a total still being counted gives neither: a percentage that falls as the count grows,
//! or an estimate from a partial total, would be a promise the display cannot keep).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::sync::IgnorePoison;

/// What a step counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Items: packs, snapshots, files, blobs (the step's name says which).
    Items,
    /// Bytes.
    Bytes,
}

/// Hears how far an engine is. Engines call [`Meter::step`] when a step with a known total
/// begins and [`Meter::add`] as work is done; a step ends when the next one begins or the
/// engine returns. Calls may come from several threads at once.
pub trait Meter: Sync {
    /// A step named `name` begins: `total` units to do.
    fn step(&self, name: &str, total: u64, unit: Unit);
    /// `n` more units of the current step are done.
    fn add(&self, n: u64);
}

/// A [`Meter`] that shows nothing: for tests, library callers and quiet runs.
pub struct Unmetered;

impl Meter for Unmetered {
    fn step(&self, _: &str, _: u64, _: Unit) {}
    fn add(&self, _: u64) {}
}

/// A [`Meter`] that keeps the current step in counters a display thread reads.
#[derive(Default)]
pub struct StepCounters {
    step: std::sync::Mutex<Option<(String, Unit)>>,
    /// Number of steps begun (a display notices a new step by it).
    pub steps: AtomicU64,
    pub total: AtomicU64,
    pub done: AtomicU64,
}

impl StepCounters {
    /// The current step: its name and unit, total and done.
    pub fn current(&self) -> Option<(String, Unit, u64, u64)> {
        let step = self.step.lock().ignore_poison().clone()?;
        let total = self.total.load(Ordering::Relaxed);
        Some((step.0, step.1, total, self.done.load(Ordering::Relaxed).min(total)))
    }
}

impl Meter for StepCounters {
    fn step(&self, name: &str, total: u64, unit: Unit) {
        let mut s = self.step.lock().ignore_poison();
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        *s = Some((name.to_string(), unit));
        self.steps.fetch_add(1, Ordering::Relaxed);
    }

    fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

/// The fraction done, `0.0..=1.0`, once `total` is known (`None` while it is still being
/// counted). More done than the total (a file that grew while it was read) is 1.0; a total of
/// zero is all done.
pub fn fraction(done: u64, total: u64, total_known: bool) -> Option<f64> {
    if !total_known {
        return None;
    }
    if total == 0 || done >= total {
        return Some(1.0);
    }
    Some(done as f64 / total as f64)
}

/// Seconds left at the average rate so far (restic's estimate: elapsed / done × left), once the
/// total is known and something is done; `Some(0)` when all is done.
pub fn seconds_remaining(elapsed: Duration, done: u64, total: u64, total_known: bool) -> Option<u64> {
    if !total_known || done == 0 {
        return None;
    }
    let left = total.saturating_sub(done);
    if left == 0 {
        return Some(0);
    }
    let secs = elapsed.as_secs_f64() * left as f64 / done as f64;
    Some(secs.ceil() as u64)
}

/// Units per second at the average rate so far.
pub fn rate(elapsed: Duration, done: u64) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0;
    }
    (done as f64 / secs) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fraction_and_no_estimate_while_the_total_is_being_counted() {
        assert_eq!(fraction(10, 20, false), None);
        assert_eq!(seconds_remaining(Duration::from_secs(5), 10, 20, false), None);
    }

    #[test]
    fn the_fraction_is_bounded_and_exact() {
        assert_eq!(fraction(0, 200, true), Some(0.0));
        assert_eq!(fraction(50, 200, true), Some(0.25));
        assert_eq!(fraction(200, 200, true), Some(1.0));
        // a file grew while it was read: never more than all
        assert_eq!(fraction(250, 200, true), Some(1.0));
        // nothing to do is all done, not a division by zero
        assert_eq!(fraction(0, 0, true), Some(1.0));
    }

    #[test]
    fn the_estimate_is_elapsed_over_done_times_left() {
        // a quarter in 10 s: 30 s left
        assert_eq!(seconds_remaining(Duration::from_secs(10), 25, 100, true), Some(30));
        // fractions of a second round up: never "0 s left" while work is left
        assert_eq!(seconds_remaining(Duration::from_millis(100), 99, 100, true), Some(1));
        assert_eq!(seconds_remaining(Duration::from_secs(7), 100, 100, true), Some(0));
        assert_eq!(seconds_remaining(Duration::from_secs(7), 120, 100, true), Some(0));
        // nothing done yet: no estimate rather than infinity
        assert_eq!(seconds_remaining(Duration::from_secs(7), 0, 100, true), None);
        // huge totals do not overflow
        assert_eq!(seconds_remaining(Duration::from_secs(1), 1, u64::MAX, true), Some(u64::MAX));
    }

    #[test]
    fn rate_is_done_per_second() {
        assert_eq!(rate(Duration::from_secs(4), 1000), 250);
        assert_eq!(rate(Duration::ZERO, 1000), 0);
    }

    #[test]
    fn step_counters_restart_at_each_step_and_never_report_more_than_the_total() {
        let m = StepCounters::default();
        assert_eq!(m.current(), None);
        m.step("reading packs", 3, Unit::Items);
        m.add(2);
        m.add(5);
        assert_eq!(m.current(), Some(("reading packs".into(), Unit::Items, 3, 3)));
        m.step("writing index", 10, Unit::Bytes);
        m.add(4);
        assert_eq!(m.current(), Some(("writing index".into(), Unit::Bytes, 10, 4)));
        assert_eq!(m.steps.load(Ordering::Relaxed), 2);
    }
}
