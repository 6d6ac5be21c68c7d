//! Locks whose poisoning is ignored, with the reason written once.
//!
//! A `std` lock is poisoned when a thread panics while holding it. arca does not treat that as
//! a reason to panic again in every other thread that touches the lock:
//!
//! - the panic itself is not lost: every worker thread is joined and a panicked one fails the
//!   operation with a [`Kind::Internal`](crate::error::Kind::Internal) error (first error wins),
//!   so no result is reported as a success after a panic;
//! - what these locks guard stays valid between statements (counters, maps, queues, the first
//!   error of a run, a cache), so the value a panicking holder left is still one the code can
//!   read, and reading it lets the other threads stop in order and report the first error
//!   instead of a cascade of "poisoned" panics that hides it;
//! - locks whose contents can be left half-updated do not use this: the repository's index
//!   lock turns poisoning into an `Internal` error instead (`repo::poisoned`).

use std::sync::{LockResult, PoisonError};

/// `lock.lock().ignore_poison()`: the guard (or value) whether or not the lock is poisoned;
/// see the module documentation for why that is right here. Works on anything that returns a
/// [`LockResult`]: `Mutex::lock`, `RwLock::read` and `write`, `Condvar::wait`, `get_mut`,
/// `into_inner`.
pub trait IgnorePoison<T> {
    fn ignore_poison(self) -> T;
}

impl<T> IgnorePoison<T> for LockResult<T> {
    fn ignore_poison(self) -> T {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_panicked_holder_leaves_a_value_the_others_still_read() {
        let m = Arc::new(Mutex::new(vec![1]));
        let m2 = m.clone();
        let panicked = std::thread::spawn(move || {
            let mut g = m2.lock().ignore_poison();
            g.push(2);
            panic!("a worker fails while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(m.is_poisoned());
        assert_eq!(*m.lock().ignore_poison(), vec![1, 2]);
        m.lock().ignore_poison().push(3);
        let m = Arc::into_inner(m).map(|m| m.into_inner().ignore_poison());
        assert_eq!(m, Some(vec![1, 2, 3]));
    }
}
