//! Repository locks. A lock is a sealed object under `locks/`, refreshed by a background
//! thread while held and removed when dropped. A lock is stale when it has not been refreshed
//! for [`STALE_AFTER`], or when it belongs to this host and its process is gone.
//!
//! Shared locks (backup, restore, check, forget) coexist; a maintenance lock (two-phase prune)
//! coexists with shared ones but not with another maintenance lock; an exclusive lock excludes
//! all. A holder whose lock could not be refreshed for too long must not commit anything that
//! relies on it ([`LockGuard::ensure_fresh`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{ObjectKind, Repository};
use crate::error::{Error, Kind, Result};
use crate::format::lock::Lock;
pub use crate::format::lock::LockMode;
use crate::id::ObjectId;
use crate::platform;
use crate::util::sync::IgnorePoison;

pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// A holder stops trusting its lock once it went this many refresh intervals without a
/// successful refresh (15 minutes with the default interval): others call it stale after 30
/// minutes by their clocks, which may be up to 10 minutes off (format-spec §15).
pub const TRUST_REFRESHES: u32 = 3;
/// After a failed refresh, try again this soon.
const RETRY_REFRESH: Duration = Duration::from_secs(30);

pub struct LockGuard {
    trust_for: Duration,
    /// Dropped to stop the refresher: it wakes at once, so releasing a lock costs no wait.
    stop: Option<crossbeam_channel::Sender<()>>,
    current: Arc<Mutex<ObjectId>>,
    refreshed: Arc<Mutex<Instant>>,
    /// Set for good once a gap between successful writes exceeded `trust_for`: others may
    /// have treated the lock as stale during the gap, even if refreshing works again.
    broken: Arc<AtomicBool>,
    refresher: Option<JoinHandle<()>>,
    backend: crate::backend::DynBackend,
    /// The [`Repository`] value it was taken through: snapshots commit under it only there.
    pub(super) repo: u64,
    /// False for the guard a reader gets with `--no-lock`: no lock file is written, refreshed
    /// or removed; [`Repository::save_snapshot`] refuses it.
    pub(super) holds: bool,
}

impl LockGuard {
    /// Fail if the lock has not been written for [`TRUST_REFRESHES`] refresh intervals: other
    /// clients may soon consider it stale, and a prune could then delete what this command
    /// relies on.
    pub fn ensure_fresh(&self) -> Result<()> {
        let age = self.refreshed.lock().ignore_poison().elapsed();
        if !self.holds {
            return Ok(());
        }
        if age > self.trust_for || self.broken.load(Ordering::SeqCst) {
            return Err(Error::new(
                Kind::Locked,
                format!(
                    "the repository lock could not be refreshed for {} s; stopping before anything is committed",
                    age.as_secs()
                ),
            )
            .hint("check the connection to the repository and run the command again; nothing already stored is lost"));
        }
        Ok(())
    }

    /// The id of the lock file currently held.
    pub fn id(&self) -> ObjectId {
        *self.current.lock().ignore_poison()
    }
}

pub fn is_stale(lock: &Lock) -> bool {
    let age_stale = chrono::DateTime::parse_from_rfc3339(&lock.time)
        .map(|t| chrono::Utc::now().signed_duration_since(t).to_std().unwrap_or_default() > STALE_AFTER)
        .unwrap_or(true);
    age_stale || (lock.hostname == platform::hostname() && !platform::process_alive(lock.pid))
}

/// Does holding `held` exclude taking a lock in `mode`?
pub fn conflicts(mode: LockMode, held: &Lock) -> bool {
    matches!(
        (mode, held.mode()),
        (LockMode::Exclusive, _) | (_, LockMode::Exclusive) | (LockMode::Maintenance, LockMode::Maintenance)
    )
}

impl Repository {
    /// Every lock in the repository with its id. A lock that can't be read (damaged, too
    /// large, or written by a newer format) counts as an exclusive lock that never goes
    /// stale: it blocks writers until a person looks and removes it with
    /// `unlock --remove-all`.
    pub fn locks(&self) -> Result<Vec<(ObjectId, Lock)>> {
        Ok(self
            .read_locks()?
            .into_iter()
            .map(|(id, l)| match l {
                Ok(l) => (id, l),
                Err(why) => (id, unreadable(why)),
            })
            .collect())
    }

    /// One lock, read (size-capped, checked against its name) and opened.
    pub fn load_lock(&self, id: &ObjectId) -> Result<Lock> {
        Lock::decode(&self.keys, &self.read(ObjectKind::Lock, id)?)
    }

    /// Every lock, decoded or with why it can't be: each is read size-capped
    /// ([`super::limits::MAX_LOCK_LEN`]) and checked against its name. A lock file that
    /// vanished after the listing is left out.
    fn read_locks(&self) -> Result<Vec<(ObjectId, std::result::Result<Lock, String>)>> {
        let mut out = vec![];
        for (id, size) in self.list_sized(ObjectKind::Lock)? {
            let path = ObjectKind::Lock.path(&id);
            let read = match size {
                0 => super::limits::read_capped(&self.backend, &path, super::limits::MAX_LOCK_LEN),
                _ => super::limits::read_listed(&self.backend, &path, size, super::limits::MAX_LOCK_LEN),
            };
            match read {
                Ok(b) if crate::id::storage_hash(&b) != id.0 => {
                    out.push((id, Err("content does not match its name".into())))
                }
                Ok(b) => out.push((id, Lock::decode(&self.keys, &b).map_err(|e| e.message))),
                Err(e) if e.kind == Kind::NotFound => {}
                Err(e) if e.kind == Kind::Corrupt => out.push((id, Err(e.message))),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Take a shared lock for a command that only reads (restore, mount, check, dump, ...).
    /// Unlike [`Self::lock`], a lock file nobody can read does not stop it: it is reported
    /// with a warning and passed over (format-spec §15): a reader changes nothing, so the
    /// worst an unknown holder can do to it is make a read fail, which it reports; and a
    /// planted garbage file must not deny every restore.
    ///
    /// With [`Self::with_no_lock`] it writes no lock file: prune then does not wait for this
    /// reader (§21.6), and a pack it deletes meanwhile makes a read fail, which the command
    /// reports. Nothing is written, so a repository on read-only storage can be read.
    pub fn lock_read(&self, command: &str) -> Result<LockGuard> {
        if self.no_lock {
            return Ok(LockGuard {
                trust_for: Duration::MAX,
                stop: None,
                current: Arc::new(Mutex::new(ObjectId([0; 32]))),
                refreshed: Arc::new(Mutex::new(Instant::now())),
                broken: Arc::new(AtomicBool::new(false)),
                refresher: None,
                backend: self.backend.clone(),
                repo: self.instance,
                holds: false,
            });
        }
        self.lock_as(command, LockMode::Shared, true)
    }

    /// `--no-lock`: [`Self::lock_read`] takes no lock, and [`Self::lock`] refuses (a command
    /// that changes the repository without a lock could have prune delete what it stores).
    pub fn with_no_lock(mut self) -> Self {
        self.no_lock = true;
        self
    }

    /// Take a lock for `command`; on conflict retries until the repository's lock-retry
    /// duration has passed, then fails with [`Kind::Locked`] naming the holder.
    pub fn lock(&self, command: &str, mode: LockMode) -> Result<LockGuard> {
        self.lock_as(command, mode, false)
    }

    fn lock_as(&self, command: &str, mode: LockMode, read_only: bool) -> Result<LockGuard> {
        if self.no_lock {
            return Err(Error::usage(format!(
                "--no-lock: `{command}` changes the repository, so it must hold a lock"
            ))
            .hint("run it without --no-lock; only commands that read (snapshots, ls, cat, find, diff, dump, stats, restore, mount, check) take it"));
        }
        let deadline = Instant::now() + self.lock_retry;
        let mut wait = Duration::from_millis(500);
        loop {
            match self.try_lock(command, mode, None, read_only) {
                Err(e) if e.kind == Kind::Locked && Instant::now() + wait <= deadline => {
                    tracing::info!("{}; retrying in {} s", e.message, wait.as_secs_f32());
                    std::thread::sleep(wait);
                    if platform::interrupted() {
                        return Err(platform::interrupted_error());
                    }
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
                r => return r,
            }
        }
    }

    /// Take a new lock while holding `held`, then release `held`: the lock is written
    /// again under the keys in use now (a key rotation changed them), without a moment in
    /// which the repository is unlocked.
    pub fn relock(&self, command: &str, mode: LockMode, held: LockGuard) -> Result<LockGuard> {
        let new = self.try_lock(command, mode, Some(held.id()), false)?;
        drop(held);
        Ok(new)
    }

    fn try_lock(&self, command: &str, mode: LockMode, held: Option<ObjectId>, read_only: bool) -> Result<LockGuard> {
        // a reader passes over unreadable locks (warned about once); everyone else counts
        // them as exclusive locks held by somebody unknown
        let mut warned = false;
        let mut current_locks = || -> Result<Vec<(ObjectId, Lock)>> {
            let mut out = vec![];
            for (id, l) in self.read_locks()? {
                match l {
                    Ok(l) => out.push((id, l)),
                    Err(why) if read_only => {
                        if !warned {
                            tracing::warn!("ignoring the unreadable lock locks/{id} ({why}): this command only reads");
                        }
                    }
                    Err(why) => out.push((id, unreadable(why))),
                }
            }
            warned = true;
            Ok(out)
        };
        let conflict = |locks: &[(ObjectId, Lock)], mine: Option<ObjectId>| {
            locks
                .iter()
                .find(|(id, l)| Some(*id) != mine && Some(*id) != held && conflicts(mode, l) && !is_stale(l))
                .cloned()
        };
        if let Some((id, l)) = conflict(&current_locks()?, None) {
            return Err(locked_error(&id, &l));
        }
        let now = platform::now_rfc3339();
        let lock = Lock {
            time: now.clone(),
            exclusive: mode == LockMode::Exclusive,
            hostname: platform::hostname(),
            username: platform::username(),
            pid: std::process::id(),
            command: command.to_string(),
            started: Some(now),
            maintenance: mode == LockMode::Maintenance,
        };
        let id = self.write_object(ObjectKind::Lock, &lock.encode(&self.keys))?;
        let refreshed = Arc::new(Mutex::new(Instant::now()));
        // Re-check: two processes may have locked at the same moment.
        if let Some((other, l)) = conflict(&current_locks()?, Some(id)) {
            let _ = self.backend.delete(&ObjectKind::Lock.path(&id));
            return Err(locked_error(&other, &l));
        }
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let current = Arc::new(Mutex::new(id));
        let (backend, keys) = (self.backend.clone(), self.keys.clone());
        let (current2, refreshed2) = (current.clone(), refreshed.clone());
        let every = self.lock_refresh;
        let trust_for = self.lock_trust.unwrap_or(every * TRUST_REFRESHES);
        let broken = Arc::new(AtomicBool::new(false));
        let broken2 = broken.clone();
        let refresher = std::thread::spawn(move || {
            let mut next = Instant::now() + every;
            loop {
                // sleeps until the next refresh is due, or returns when the guard is dropped
                match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let fresh = Lock { time: platform::now_rfc3339(), ..lock.clone() };
                let bytes = fresh.encode(&keys);
                let new_id = ObjectId(crate::id::storage_hash(&bytes));
                match backend.write(&ObjectKind::Lock.path(&new_id), bytes.into()) {
                    Ok(()) => {
                        let mut last = refreshed2.lock().ignore_poison();
                        if last.elapsed() > trust_for {
                            broken2.store(true, Ordering::SeqCst);
                        }
                        *last = Instant::now();
                        drop(last);
                        let mut cur = current2.lock().ignore_poison();
                        let _ = backend.delete(&ObjectKind::Lock.path(&cur));
                        *cur = new_id;
                        next = Instant::now() + every;
                    }
                    Err(e) => {
                        tracing::warn!("could not refresh the repository lock: {e}");
                        next = Instant::now() + RETRY_REFRESH.min(every);
                    }
                }
            }
        });
        Ok(LockGuard {
            trust_for,
            stop: Some(stop),
            current,
            refreshed,
            broken,
            refresher: Some(refresher),
            backend: self.backend.clone(),
            repo: self.instance,
            holds: true,
        })
    }

    /// Remove stale locks (or all with `all`); returns how many.
    pub fn unlock(&self, all: bool) -> Result<usize> {
        let mut n = 0;
        for (id, l) in self.locks()? {
            if all || is_stale(&l) {
                self.backend.delete(&ObjectKind::Lock.path(&id))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// How a lock file that can't be read is counted by writers: exclusive, never stale.
fn unreadable(why: String) -> Lock {
    Lock {
        time: "9999-12-31T23:59:59+00:00".into(),
        exclusive: true,
        hostname: "?".into(),
        username: "?".into(),
        pid: 0,
        command: format!("an unreadable lock ({why})"),
        started: Some("0001-01-01T00:00:00+00:00".into()),
        maintenance: false,
    }
}

fn locked_error(id: &ObjectId, l: &Lock) -> Error {
    let how = match l.mode() {
        LockMode::Exclusive => "exclusively ",
        LockMode::Maintenance => "for maintenance ",
        LockMode::Shared => "",
    };
    Error::new(
        Kind::Locked,
        format!(
            "repository is locked {how}by {} (pid {} on {} as {}, since {}), lock {}",
            l.command,
            l.pid,
            l.hostname,
            l.username,
            l.started.as_deref().unwrap_or(&l.time),
            id.short()
        ),
    )
    .hint(
        "wait for it to finish (or pass --retry-lock 10m); if that process is gone, `arca unlock` removes stale locks",
    )
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(h) = self.refresher.take() {
            let _ = h.join();
        }
        if self.holds {
            let id = *self.current.lock().ignore_poison();
            let _ = self.backend.delete(&ObjectKind::Lock.path(&id));
        }
    }
}
