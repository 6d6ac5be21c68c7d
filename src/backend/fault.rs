//! Fault injection for tests: fail the Nth write (and every later one, like a crash), fail
//! every Nth or a random share of operations transiently, drop or truncate writes while
//! reporting success (a lying server), delay every operation, flip bits in what is read, or
//! leave recent writes out of listings for a while (eventual consistency).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Backend, BackendError, BackendErrorKind, BackendResult, Bytes, DynBackend, Entry};
use crate::util::sync::IgnorePoison;

pub struct FaultBackend {
    inner: DynBackend,
    ops: AtomicU64,
    writes: AtomicU64,
    /// Writes and deletes numbered from 1; from this one on, every one fails permanently.
    crash_at: Option<u64>,
    /// Every `n`th operation fails with a transient error.
    transient_every: Option<u64>,
    /// This share (per mille) of operations fails transiently, chosen by a seeded generator.
    transient_per_mille: Option<(u64, u64)>,
    /// The next N writes under a prefix report success but store nothing / half the bytes.
    drop_writes: Mutex<Option<(String, u64)>>,
    truncate_writes: Mutex<Option<(String, u64)>>,
    delay: Option<Duration>,
    /// Paths whose reads come back with one bit flipped.
    flip_reads: Mutex<Vec<String>>,
    /// Listings leave out objects written less than this long ago.
    list_lag: Option<Duration>,
    written_at: Mutex<HashMap<String, Instant>>,
}

/// splitmix64: a fixed, seeded sequence, so a failing run can be repeated.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Take one from a "next N writes under prefix" budget.
fn take(budget: &Mutex<Option<(String, u64)>>, path: &str) -> bool {
    let mut b = budget.lock().ignore_poison();
    match b.as_mut() {
        Some((prefix, n)) if *n > 0 && path.starts_with(prefix.as_str()) => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

impl FaultBackend {
    pub fn new(inner: DynBackend) -> Self {
        FaultBackend {
            inner,
            ops: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            crash_at: None,
            transient_every: None,
            transient_per_mille: None,
            drop_writes: Mutex::new(None),
            truncate_writes: Mutex::new(None),
            delay: None,
            flip_reads: Mutex::new(vec![]),
            list_lag: None,
            written_at: Mutex::new(HashMap::new()),
        }
    }

    /// Listings leave out what was written less than `d` ago (reads and stats see it).
    pub fn list_lag(mut self, d: Duration) -> Self {
        self.list_lag = Some(d);
        self
    }

    /// Fail `per_mille`/1000 of all operations transiently, drawn from `seed`.
    pub fn transient_share(mut self, per_mille: u64, seed: u64) -> Self {
        self.transient_per_mille = Some((per_mille, seed));
        self
    }

    /// The next `n` writes under `prefix` report success and store nothing.
    pub fn drop_writes(self, prefix: &str, n: u64) -> Self {
        *self.drop_writes.lock().ignore_poison() = Some((prefix.into(), n));
        self
    }

    /// The next `n` writes under `prefix` report success and store only the first half.
    pub fn truncate_writes(self, prefix: &str, n: u64) -> Self {
        *self.truncate_writes.lock().ignore_poison() = Some((prefix.into(), n));
        self
    }

    /// Every operation first waits this long (a slow link).
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
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
        self.flip_reads.lock().ignore_poison().push(path_prefix.to_string());
    }

    fn check(&self, op: &'static str, path: &str, mutating: bool) -> BackendResult<()> {
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
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
        let random = self.transient_per_mille.is_some_and(|(p, seed)| mix(seed ^ mix(n)) % 1000 < p);
        if random || self.transient_every.is_some_and(|t| n.is_multiple_of(t)) {
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
        let flip = self.flip_reads.lock().ignore_poison().iter().any(|p| path.starts_with(p.as_str()));
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
        let mut entries = self.inner.list(dir)?;
        if let Some(lag) = self.list_lag {
            let written = self.written_at.lock().ignore_poison();
            entries.retain(|e| written.get(&e.path).is_none_or(|t| t.elapsed() >= lag));
        }
        Ok(entries)
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
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        self.check("write", path, true)?;
        if take(&self.drop_writes, path) {
            return Ok(());
        }
        if take(&self.truncate_writes, path) {
            return self.inner.write(path, data.slice(..data.len() / 2));
        }
        if self.list_lag.is_some() {
            self.written_at.lock().ignore_poison().insert(path.to_string(), Instant::now());
        }
        self.inner.write(path, data)
    }
    fn delete(&self, path: &str) -> BackendResult<()> {
        self.check("delete", path, true)?;
        self.inner.delete(path)
    }
}
