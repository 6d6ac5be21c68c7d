//! What every request shares: the open repository, the snapshot list (reloaded when older
//! than the refresh interval, so new snapshots appear as in `arca mount --refresh`), and the
//! authentication state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::Repository;

use super::auth::{Credentials, Sessions};

/// The snapshots, oldest first (as `Repository::snapshots` returns them).
pub type SnapshotList = Arc<Vec<(SnapshotId, Snapshot)>>;

pub struct State {
    pub repo: Arc<Repository>,
    pub credentials: Credentials,
    pub sessions: Sessions,
    /// Served over HTTPS: the session cookie is `Secure`.
    pub tls: bool,
    /// Failed logins per client address.
    pub throttle: super::throttle::Throttle,
    /// Jobs, restore roots and what runs them.
    pub work: super::jobs::Work,
    refresh: Duration,
    snapshots: RwLock<Option<(Instant, SnapshotList)>>,
    /// Bumped each time the index is loaded again: what is computed from the index is
    /// computed once per generation.
    index_generation: AtomicU64,
    /// The server changed the snapshots: reload the list on the next request.
    changed: AtomicBool,
    /// The dashboard's sums, the warm `find` catalog and the dashboard's settings.
    pub insights: super::insights::Insights,
}

impl State {
    pub fn new(repo: Arc<Repository>, credentials: Credentials, refresh: Duration) -> State {
        State {
            repo,
            credentials,
            sessions: Sessions::default(),
            throttle: Default::default(),
            tls: false,
            work: Default::default(),
            refresh,
            snapshots: RwLock::new(None),
            index_generation: AtomicU64::new(0),
            changed: AtomicBool::new(false),
            insights: Default::default(),
        }
    }

    pub fn with_work(self, work: super::jobs::Work) -> State {
        State { work, ..self }
    }

    /// How many times the index was loaded again since the server started.
    pub fn index_generation(&self) -> u64 {
        self.index_generation.load(Ordering::Acquire)
    }

    /// This server changed the snapshots (a backup job): reload the list at the next request.
    pub fn snapshots_changed(&self) {
        self.invalidate_snapshots();
    }

    /// Forget the snapshot list: the next request reads it again (after the server itself
    /// changed the snapshots, so its own answers show the change at once).
    pub fn invalidate_snapshots(&self) {
        self.changed.store(true, Ordering::Release);
    }

    /// The snapshot list, reloaded from the repository when older than the refresh interval.
    /// Blocking (it may list and read snapshot files): call it off the async threads.
    pub fn snapshots(&self) -> Result<SnapshotList> {
        let poisoned = || Error::new(Kind::Internal, "the snapshot list's lock is poisoned");
        if let Some((at, list)) = self.snapshots.read().map_err(|_| poisoned())?.as_ref() {
            if at.elapsed() < self.refresh && !self.changed.load(Ordering::Acquire) {
                return Ok(list.clone());
            }
        }
        // cleared before the listing: a change made while it runs marks the list again
        self.changed.store(false, Ordering::Release);
        let list: SnapshotList = match self.repo.snapshots() {
            Ok(l) => Arc::new(l),
            Err(e) => {
                self.changed.store(true, Ordering::Release);
                return Err(e);
            }
        };
        let mut held = self.snapshots.write().map_err(|_| poisoned())?;
        // a new snapshot's trees and contents are in index files stored after the index was
        // loaded: load it again, or its files would be "not in the index"
        let known = |id: &SnapshotId| held.as_ref().is_some_and(|(_, old)| old.iter().any(|(o, _)| o == id));
        if held.is_some() && list.iter().any(|(id, _)| !known(id)) {
            self.repo.reload_index()?;
            self.index_generation.fetch_add(1, Ordering::AcqRel);
        }
        *held = Some((Instant::now(), list.clone()));
        Ok(list)
    }
}
