//! Repository locks. A lock is a sealed object under `locks/`, refreshed by a background
//! thread while held and removed when dropped. A lock is stale when it has not been refreshed
//! for [`STALE_AFTER`], or when it belongs to this host and its process is gone.
//! Non-exclusive locks (backup, restore, check) coexist; an exclusive lock excludes all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Repository;
use crate::error::{Error, Kind, Result};
use crate::format::lock::Lock;
use crate::id::ObjectId;
use crate::platform;

pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

pub struct LockGuard {
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<ObjectId>>,
    refresher: Option<JoinHandle<()>>,
    backend: crate::backend::DynBackend,
}

pub fn is_stale(lock: &Lock) -> bool {
    let age_stale = chrono::DateTime::parse_from_rfc3339(&lock.time)
        .map(|t| chrono::Utc::now().signed_duration_since(t).to_std().unwrap_or_default() > STALE_AFTER)
        .unwrap_or(true);
    age_stale || (lock.hostname == platform::hostname() && !platform::process_alive(lock.pid))
}

impl Repository {
    /// Every lock in the repository with its id. A lock that can't be read (damaged, or
    /// written by a newer format) counts as an exclusive lock that never goes stale: it
    /// blocks until a person looks and removes it with `unlock --remove-all`.
    pub fn locks(&self) -> Result<Vec<(ObjectId, Lock)>> {
        let mut out = vec![];
        for id in self.list_objects("locks")? {
            let unreadable = |why: String| Lock {
                time: "9999-12-31T23:59:59+00:00".into(),
                exclusive: true,
                hostname: "?".into(),
                username: "?".into(),
                pid: 0,
                command: format!("an unreadable lock ({why})"),
            };
            match self.backend.read(&format!("locks/{id}")) {
                Ok(b) if crate::id::storage_hash(&b) != id.0 => {
                    out.push((id, unreadable("content does not match its name".into())))
                }
                Ok(b) => match Lock::decode(&self.keys, &b) {
                    Ok(l) => out.push((id, l)),
                    Err(e) => out.push((id, unreadable(e.message))),
                },
                Err(e) if e.kind == crate::backend::BackendErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Take a lock for `command`; fails with [`Kind::Locked`] naming the holder on conflict.
    pub fn lock(&self, command: &str, exclusive: bool) -> Result<LockGuard> {
        let conflict = |locks: &[(ObjectId, Lock)], mine: Option<ObjectId>| {
            locks.iter().find(|(id, l)| Some(*id) != mine && (exclusive || l.exclusive) && !is_stale(l)).cloned()
        };
        if let Some((id, l)) = conflict(&self.locks()?, None) {
            return Err(locked_error(&id, &l));
        }
        let lock = Lock {
            time: platform::now_rfc3339(),
            exclusive,
            hostname: platform::hostname(),
            username: platform::username(),
            pid: std::process::id(),
            command: command.to_string(),
        };
        let id = self.write_object("locks", &lock.encode(&self.keys))?;
        // Re-check: two processes may have locked at the same moment.
        if let Some((other, l)) = conflict(&self.locks()?, Some(id)) {
            let _ = self.backend.delete(&format!("locks/{id}"));
            return Err(locked_error(&other, &l));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let current = Arc::new(Mutex::new(id));
        let (backend, keys) = (self.backend.clone(), self.keys.clone());
        let (stop2, current2) = (stop.clone(), current.clone());
        let refresher = std::thread::spawn(move || {
            let mut waited = Duration::ZERO;
            while !stop2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                waited += Duration::from_millis(200);
                if waited < REFRESH_EVERY {
                    continue;
                }
                waited = Duration::ZERO;
                let fresh = Lock { time: platform::now_rfc3339(), ..lock.clone() };
                let bytes = fresh.encode(&keys);
                let new_id = ObjectId(crate::id::storage_hash(&bytes));
                if backend.write(&format!("locks/{new_id}"), &bytes).is_ok() {
                    let mut cur = current2.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = backend.delete(&format!("locks/{}", *cur));
                    *cur = new_id;
                }
            }
        });
        Ok(LockGuard { stop, current, refresher: Some(refresher), backend: self.backend.clone() })
    }

    /// Remove stale locks (or all with `all`); returns how many.
    pub fn unlock(&self, all: bool) -> Result<usize> {
        let mut n = 0;
        for (id, l) in self.locks()? {
            if all || is_stale(&l) {
                self.backend.delete(&format!("locks/{id}"))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn locked_error(id: &ObjectId, l: &Lock) -> Error {
    Error::new(
        Kind::Locked,
        format!(
            "repository is locked {}by {} (pid {} on {} as {}, since {}), lock {}",
            if l.exclusive { "exclusively " } else { "" },
            l.command,
            l.pid,
            l.hostname,
            l.username,
            l.time,
            id.short()
        ),
    )
    .hint("wait for it to finish; if that process is gone, `arca unlock` removes stale locks")
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.refresher.take() {
            let _ = h.join();
        }
        let id = *self.current.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.backend.delete(&format!("locks/{id}"));
    }
}
