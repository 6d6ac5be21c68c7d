//! A byte budget for blobs between the readers and the packer. The channels bound how many
//! blobs wait, but a chunk may be 8 MiB (the chunker's maximum, common in repetitive data) and
//! a tree more: counting bytes is what bounds memory. A blob larger than the whole budget goes
//! through alone. Once the pipeline has failed, nobody waits any more.

use crate::util::sync::IgnorePoison;
use std::sync::{Condvar, Mutex};

pub struct InFlight {
    state: Mutex<State>,
    freed: Condvar,
    limit: u64,
}

#[derive(Default)]
struct State {
    used: u64,
    closed: bool,
}

impl InFlight {
    pub fn new(limit: u64) -> Self {
        InFlight { state: Mutex::new(State::default()), freed: Condvar::new(), limit: limit.max(1) }
    }

    /// Wait until a blob of `len` bytes fits, and count it. Returns what was counted, to be
    /// given to [`release`](Self::release) once the blob's bytes are no longer held.
    pub fn acquire(&self, len: usize) -> u64 {
        let want = (len as u64).clamp(1, self.limit);
        let mut s = self.state.lock().ignore_poison();
        while s.used + want > self.limit && !s.closed {
            s = self.freed.wait(s).ignore_poison();
        }
        s.used += want;
        want
    }

    pub fn release(&self, counted: u64) {
        let mut s = self.state.lock().ignore_poison();
        s.used = s.used.saturating_sub(counted);
        drop(s);
        self.freed.notify_all();
    }

    /// Stop making anyone wait (the pipeline failed and is draining).
    pub fn close(&self) {
        self.state.lock().ignore_poison().closed = true;
        self.freed.notify_all();
    }

    #[cfg(test)]
    fn used(&self) -> u64 {
        self.state.lock().ignore_poison().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{within, HANG};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_blob_waits_until_earlier_ones_are_released() {
        within(HANG, "a waiter for budget", || {
            let budget = Arc::new(InFlight::new(100));
            let first = budget.acquire(70);
            let b = budget.clone();
            let waiter = std::thread::spawn(move || b.acquire(50));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished(), "70 + 50 bytes must not fit in 100");
            budget.release(first);
            assert_eq!(waiter.join().unwrap(), 50);
            assert_eq!(budget.used(), 50);
        });
    }

    #[test]
    fn a_blob_over_the_whole_budget_goes_through_alone() {
        let budget = InFlight::new(100);
        let big = budget.acquire(1_000);
        assert_eq!(big, 100);
        budget.release(big);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn closing_wakes_every_waiter() {
        within(HANG, "waiters woken by close", || {
            let budget = Arc::new(InFlight::new(10));
            budget.acquire(10);
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let b = budget.clone();
                    std::thread::spawn(move || b.acquire(5))
                })
                .collect();
            std::thread::sleep(Duration::from_millis(20));
            budget.close();
            for w in waiters {
                w.join().unwrap();
            }
        });
    }
}
