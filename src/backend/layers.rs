//! The wrappers that [`super::stack`] puts around a service, outermost first:
//!
//! 1. [`LimitBackend`]: at most `--connections` operations at once (retries included, so a
//!    struggling server is not hit harder while it struggles);
//! 2. the per-attempt timeout lives inside the OpenDAL operator (it must be able to cancel the
//!    request), so a stalled attempt becomes a transient error for
//! 3. [`super::RetryBackend`]: exponential backoff with jitter, transient errors only;
//! 4. [`VerifyBackend`]: after each write, stat the object and compare its size, so a write
//!    that a server acknowledged but did not keep (or kept in part) is written again;
//! 5. [`LogBackend`]: every attempt with its size, time and outcome (`-v` mutations and
//!    listings, `-vv` reads too);
//! 6. [`ThrottleBackend`]: `--limit-upload` / `--limit-download`.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{Backend, BackendError, BackendErrorKind, BackendResult, Bytes, DynBackend, Entry};
use crate::util::sync::IgnorePoison;

/// A counting semaphore around every operation.
pub struct LimitBackend {
    inner: DynBackend,
    max: usize,
    in_use: Mutex<usize>,
    freed: Condvar,
}

impl LimitBackend {
    pub fn new(inner: DynBackend, max: usize) -> Self {
        LimitBackend { inner, max: max.max(1), in_use: Mutex::new(0), freed: Condvar::new() }
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut n = self.in_use.lock().ignore_poison();
        while *n >= self.max {
            n = self.freed.wait(n).ignore_poison();
        }
        *n += 1;
        drop(n);
        struct Release<'a>(&'a LimitBackend);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *self.0.in_use.lock().ignore_poison() -= 1;
                self.0.freed.notify_one();
            }
        }
        let _release = Release(self);
        f()
    }
}

impl Backend for LimitBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        self.with(|| self.inner.list(dir))
    }
    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        self.with(|| self.inner.stat(path))
    }
    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        self.with(|| self.inner.read(path))
    }
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        self.with(|| self.inner.read_range(path, offset, len))
    }
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        self.with(|| self.inner.write(path, data))
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        self.with(|| self.inner.delete(path))
    }
}

/// Checks that each write landed whole. One extra stat per object: packs are megabytes, so
/// this costs a request per several megabytes uploaded.
pub struct VerifyBackend {
    inner: DynBackend,
}

impl VerifyBackend {
    pub fn new(inner: DynBackend) -> Self {
        VerifyBackend { inner }
    }
}

impl Backend for VerifyBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        self.inner.list(dir)
    }
    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        self.inner.stat(path)
    }
    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        self.inner.read(path)
    }
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        self.inner.read_range(path, offset, len)
    }
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        let len = data.len();
        self.inner.write(path, data)?;
        let stored = self.inner.stat(path)?;
        if stored == Some(len as u64) {
            return Ok(());
        }
        let what = stored.map_or("does not have it".to_string(), |n| format!("has {n} bytes"));
        Err(BackendError {
            kind: BackendErrorKind::Transient,
            op: "write",
            path: path.to_string(),
            message: format!("{}: the storage accepted {len} bytes but {what}", self.inner.location()),
        })
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        self.inner.delete(path)
    }
}

/// Logs each operation through `tracing`.
pub struct LogBackend {
    inner: DynBackend,
}

impl LogBackend {
    pub fn new(inner: DynBackend) -> Self {
        LogBackend { inner }
    }
}

fn logged<T>(
    op: &str,
    path: &str,
    detail: bool,
    size: impl Fn(&T) -> String,
    f: impl FnOnce() -> BackendResult<T>,
) -> BackendResult<T> {
    let t = Instant::now();
    let r = f();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match &r {
        Ok(v) if detail => tracing::debug!("{op} {path} {} in {ms:.1} ms", size(v)),
        Ok(v) => tracing::info!("{op} {path} {} in {ms:.1} ms", size(v)),
        Err(e) => tracing::info!("{op} {path} failed after {ms:.1} ms ({:?}): {}", e.kind, e.message),
    }
    r
}

impl Backend for LogBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        logged("list", dir, false, |v: &Vec<Entry>| format!("{} files", v.len()), || self.inner.list(dir))
    }
    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        let size = |v: &Option<u64>| v.map_or("(none)".into(), |n| format!("{n} bytes"));
        logged("stat", path, true, size, || self.inner.stat(path))
    }
    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        logged("read", path, true, |v: &Vec<u8>| format!("{} bytes", v.len()), || self.inner.read(path))
    }
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        let size = |v: &Vec<u8>| format!("{} bytes at {offset}", v.len());
        logged("read", path, true, size, || self.inner.read_range(path, offset, len))
    }
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        let len = data.len();
        logged("write", path, false, |_: &()| format!("{len} bytes"), || self.inner.write(path, data))
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        logged("delete", path, false, |_: &()| String::new(), || self.inner.delete(path))
    }
}

/// A rate in bytes per second, shared by every thread of a command: each transfer takes the
/// next free slot on the line, so the average over whole objects stays at the limit.
struct Rate {
    bytes_per_sec: u64,
    next_free: Mutex<Instant>,
}

impl Rate {
    fn new(bytes_per_sec: u64) -> Self {
        Rate { bytes_per_sec: bytes_per_sec.max(1), next_free: Mutex::new(Instant::now()) }
    }

    /// Reserve the line for `bytes`; returns when the transfer may start.
    fn reserve(&self, bytes: u64) -> Instant {
        let mut next = self.next_free.lock().ignore_poison();
        let start = (*next).max(Instant::now());
        *next = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64);
        start
    }

    fn before(&self, bytes: u64) {
        let start = self.reserve(bytes);
        std::thread::sleep(start.saturating_duration_since(Instant::now()));
    }

    /// For reads of unknown size: account afterwards, so the next transfer waits.
    fn after(&self, bytes: u64) {
        let _ = self.reserve(bytes);
    }
}

/// `--limit-upload` and `--limit-download`, in bytes per second.
pub struct ThrottleBackend {
    inner: DynBackend,
    up: Option<Rate>,
    down: Option<Rate>,
}

impl ThrottleBackend {
    pub fn new(inner: DynBackend, upload: Option<u64>, download: Option<u64>) -> Self {
        ThrottleBackend { inner, up: upload.map(Rate::new), down: download.map(Rate::new) }
    }
}

impl Backend for ThrottleBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        self.inner.list(dir)
    }
    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        self.inner.stat(path)
    }
    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        if let Some(r) = &self.down {
            r.before(0);
        }
        let data = self.inner.read(path)?;
        if let Some(r) = &self.down {
            r.after(data.len() as u64);
        }
        Ok(data)
    }
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        if let Some(r) = &self.down {
            r.before(len);
        }
        self.inner.read_range(path, offset, len)
    }
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        if let Some(r) = &self.up {
            r.before(data.len() as u64);
        }
        self.inner.write(path, data)
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        self.inner.delete(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{within, HANG};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts how many calls are inside it at once.
    struct Gauge {
        now: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Backend for Gauge {
        fn location(&self) -> String {
            "gauge".into()
        }
        fn list(&self, _: &str) -> BackendResult<Vec<Entry>> {
            Ok(vec![])
        }
        fn stat(&self, _: &str) -> BackendResult<Option<u64>> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(None)
        }
        fn read(&self, _: &str) -> BackendResult<Vec<u8>> {
            Ok(vec![])
        }
        fn read_range(&self, _: &str, _: u64, len: u64) -> BackendResult<Vec<u8>> {
            Ok(vec![0; len as usize])
        }
        fn write(&self, _: &str, _: Bytes) -> BackendResult<()> {
            Ok(())
        }
        fn delete(&self, _: &str) -> BackendResult<()> {
            Ok(())
        }
    }

    #[test]
    fn the_limit_bounds_operations_in_flight() {
        within(HANG, "twelve calls through a limit of three", || {
            let gauge = Arc::new(Gauge { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) });
            let limited = Arc::new(LimitBackend::new(gauge.clone(), 3));
            let threads: Vec<_> = (0..12)
                .map(|_| {
                    let l = limited.clone();
                    std::thread::spawn(move || l.stat("x").unwrap())
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert!(gauge.peak.load(Ordering::SeqCst) <= 3);
            assert_eq!(*limited.in_use.lock().unwrap(), 0);
        });
    }

    #[test]
    fn the_rate_spaces_transfers_by_their_size() {
        let r = Rate::new(1000);
        let a = r.reserve(500);
        let b = r.reserve(500);
        let c = r.reserve(0);
        assert_eq!(b - a, Duration::from_millis(500));
        assert_eq!(c - b, Duration::from_millis(500));
    }
}
