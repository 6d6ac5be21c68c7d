//! Snapshots, under `snapshots/`: one read by id, every one listed and read (damaged ones
//! set apart), one deleted. A snapshot is stored only through `Repository::save_snapshot`
//! (`commit.rs`), last in the commit order.

use super::{ObjectKind, Repository};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::snapshot::Snapshot;
use crate::id::{ObjectId, SnapshotId};

impl Repository {
    pub fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        Snapshot::decode(&self.keys, &self.read(ObjectKind::Snapshot, &id.as_object())?)
            .ctx_object(ObjectKind::Snapshot.path(&id.as_object()))
    }

    /// Every readable snapshot, oldest first. A snapshot file that fails authentication or
    /// decoding is skipped with a warning naming it, so one damaged file does not hide the
    /// others; storage errors still fail. See [`Self::snapshots_strict`].
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (ok, damaged) = self.snapshots_and_damaged()?;
        for (id, e) in &damaged {
            tracing::warn!(
                "snapshot {} skipped: {} (`arca check` reports it, `arca forget {}` removes it)",
                id.short(),
                e.message,
                id.short()
            );
        }
        Ok(ok)
    }

    /// Every snapshot, or an error naming the first that cannot be read: for commands that
    /// must know everything every snapshot references (prune).
    pub fn snapshots_strict(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (ok, mut damaged) = self.snapshots_and_damaged()?;
        match damaged.pop() {
            None => Ok(ok),
            Some((id, e)) => Err(Error::corrupt(format!("snapshot {} cannot be read: {}", id.short(), e.message))
                .object(ObjectKind::Snapshot.path(&id.as_object()))
                .hint(format!("what it references is unknown; remove it first with `arca forget {}`", id.short()))),
        }
    }

    /// The readable snapshots, oldest first, and the damaged ones with their errors.
    #[allow(clippy::type_complexity)]
    pub fn snapshots_and_damaged(&self) -> Result<(Vec<(SnapshotId, Snapshot)>, Vec<(SnapshotId, Error)>)> {
        let sized = self.list_sized(ObjectKind::Snapshot)?;
        let ids: Vec<ObjectId> = sized.iter().map(|(id, _)| *id).collect();
        let mut out = Vec::with_capacity(ids.len());
        let mut damaged = vec![];
        for (id, size) in &sized {
            let loaded = self
                .read_sized(ObjectKind::Snapshot, id, Some(*size))
                .and_then(|b| Snapshot::decode(&self.keys, &b).ctx_object(ObjectKind::Snapshot.path(id)));
            match loaded {
                Ok(s) => out.push((SnapshotId::from_object(*id), s)),
                Err(e) if e.kind == Kind::NotFound => tracing::debug!("snapshot {id} vanished: {}", e.message),
                Err(e) if matches!(e.kind, Kind::Corrupt | Kind::Unsupported) => {
                    damaged.push((SnapshotId::from_object(*id), e))
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(c) = &self.cache {
            c.retain_dir(ObjectKind::Snapshot.dir(), &ids);
        }
        out.sort_by(|a, b| a.1.timestamp().cmp(&b.1.timestamp()).then(a.0.cmp(&b.0)));
        Ok((out, damaged))
    }

    /// Delete a snapshot's file and its cached copy; one already gone is no error.
    pub fn delete_snapshot(&self, id: &SnapshotId) -> Result<()> {
        self.delete(ObjectKind::Snapshot, &id.as_object())
    }
}
