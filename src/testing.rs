//! Helpers for arca's tests: compiled for the unit tests, and for integration tests, benches
//! and fuzz targets with the `testing` feature (never in a release build). A helper fails the
//! calling test by panicking, as an assertion in the test itself would.
#![allow(clippy::panic)]

use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// How long a test that waits on threads, locks or channels may take before it counts as hung:
/// far above what any of them needs, far below a CI run's limit.
pub const HANG: Duration = Duration::from_secs(60);

/// Run `f` on a thread of its own and return its result; fail (panic) if it has not finished
/// within `limit`, so a lost wake-up or a deadlock fails the test with a message naming `what`
/// instead of hanging the suite. A panic inside `f` is the test's panic.
pub fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        // the receiver is gone only after a timeout, which has already failed the test
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within {limit:?}: it hangs"),
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what} ended without a result"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_comes_back() {
        assert_eq!(within(HANG, "an addition", || 2 + 2), 4);
    }

    #[test]
    #[should_panic(expected = "a sleeper did not finish within 50ms: it hangs")]
    fn a_hang_fails_instead_of_waiting_forever() {
        within(Duration::from_millis(50), "a sleeper", || std::thread::sleep(Duration::from_secs(5)));
    }

    #[test]
    #[should_panic(expected = "the waiter's own failure")]
    fn a_panic_inside_is_the_tests_panic() {
        within(HANG, "a failing waiter", || panic!("the waiter's own failure"));
    }
}
