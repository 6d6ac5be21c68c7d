//! Retry with exponential backoff and jitter, for transient errors only: a missing object or a
//! refused credential is returned at once.

use std::time::Duration;

use super::{Backend, BackendErrorKind, BackendResult, Bytes, DynBackend, Entry};

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 6, base: Duration::from_millis(100), max: Duration::from_secs(10) }
    }
}

pub struct RetryBackend {
    inner: DynBackend,
    policy: RetryPolicy,
}

impl RetryBackend {
    pub fn new(inner: DynBackend, policy: RetryPolicy) -> Self {
        RetryBackend { inner, policy }
    }

    fn run<T>(&self, mut f: impl FnMut() -> BackendResult<T>) -> BackendResult<T> {
        let mut attempt = 0;
        loop {
            match f() {
                Err(e) if e.kind == BackendErrorKind::Transient && attempt + 1 < self.policy.attempts => {
                    let exp = self.policy.base.saturating_mul(1 << attempt.min(16)).min(self.policy.max);
                    // jitter in [0.5, 1.0) of the backoff, from std's randomly seeded hasher
                    let jitter =
                        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), attempt);
                    let delay = exp.mul_f64(0.5 + (jitter % 1000) as f64 / 2000.0);
                    tracing::debug!("retrying after {delay:?}: {e}");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                r => return r,
            }
        }
    }
}

impl Backend for RetryBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        self.run(|| self.inner.list(dir))
    }
    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        self.run(|| self.inner.stat(path))
    }
    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        self.run(|| self.inner.read(path))
    }
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        self.run(|| self.inner.read_range(path, offset, len))
    }
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        // a clone of `Bytes` shares the buffer: a retried upload copies nothing
        self.run(|| self.inner.write(path, data.clone()))
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        self.run(|| self.inner.delete(path))
    }
}
