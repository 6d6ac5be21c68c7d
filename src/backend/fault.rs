//! Fault injection for tests: fail the Nth operation (and every later one, like a crash), or
//! fail a fraction transiently, or flip bits in what is read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{Backend, BackendError, BackendErrorKind, BackendResult, DynBackend, Entry};

pub struct FaultBackend {
    inner: DynBackend,
    ops: AtomicU64,
    writes: AtomicU64,
    /// Writes and deletes numbered from 1; from this one on, every one fails permanently.
    crash_at: Option<u64>,
    /// Every `n`th operation fails with a transient error.
    transient_every: Option<u64>,
    /// Paths whose reads come back with one bit flipped.
    flip_reads: Mutex<Vec<String>>,
}

impl FaultBackend {
    pub fn new(inner: DynBackend) -> Self {
        FaultBackend {
            inner,
            ops: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            crash_at: None,
            transient_every: None,
            flip_reads: Mutex::new(vec![]),
        }
    }

    pub fn crash_at(mut self, n: u64) -> Self {
        self.crash_at = Some(n);
        self
    }

    pub fn transient_every(mut self, n: u64) -> Self {
        self.transient_every = Some(n);
        self
    }

    pub fn flip_reads_of(&self, path_prefix: &str) {
        self.flip_reads.lock().unwrap_or_else(|p| p.into_inner()).push(path_prefix.to_string());
    }

    fn check(&self, op: &'static str, path: &str, mutating: bool) -> BackendResult<()> {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if mutating {
            let w = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
            if self.crash_at.is_some_and(|c| w >= c) {
                return Err(BackendError {
                    kind: BackendErrorKind::Permanent,
                    op,
                    path: path.into(),
                    message: format!("injected crash at write {w}"),
                });
            }
        }
        if self.transient_every.is_some_and(|t| n.is_multiple_of(t)) {
            return Err(BackendError {
                kind: BackendErrorKind::Transient,
                op,
                path: path.into(),
                message: "injected transient failure".into(),
            });
        }
        Ok(())
    }

    fn maybe_flip(&self, path: &str, mut data: Vec<u8>) -> Vec<u8> {
        let flip =
            self.flip_reads.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|p| path.starts_with(p.as_str()));
        if flip && !data.is_empty() {
            let i = data.len() / 2;
            data[i] ^= 0x10;
        }
        data
    }
}

impl Backend for FaultBackend {
    fn location(&self) -> String {
        format!("fault({})", self.inner.location())
    }
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        self.check("list", dir, false)?;
        self.inner.list(dir)
    }
    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        self.check("stat", path, false)?;
        self.inner.stat(path)
    }
    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        self.check("read", path, false)?;
        Ok(self.maybe_flip(path, self.inner.read(path)?))
    }
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        self.check("read", path, false)?;
        Ok(self.maybe_flip(path, self.inner.read_range(path, offset, len)?))
    }
    fn write(&self, path: &str, data: &[u8]) -> BackendResult<()> {
        self.check("write", path, true)?;
        self.inner.write(path, data)
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        self.check("delete", path, true)?;
        self.inner.delete(path)
    }
}
