//! The commit order, packs → index → snapshot (format-spec §16), kept by the types rather
//! than by each caller's habit.
//!
//! - A pack is stored only by [`Repository::store_pack`], an index file only by
//!   [`Repository::store_index`]: the saver, prune's repacking, repair's salvage, copy and key
//!   rotation all go through these two. The repository remembers every pack this process
//!   stored until an index file naming it is stored too.
//! - A snapshot is stored only by [`Repository::save_snapshot`], which takes an
//!   [`IndexFlushed`] and the [`LockGuard`] it commits under, and checks the lock is still
//!   trusted ([`LockGuard::ensure_fresh`]) right before the write.
//! - An [`IndexFlushed`] has a private constructor. It comes from [`BlobSaver::finish`](super::BlobSaver::finish) (every
//!   pack that saver stored is uploaded and named by a stored index file), or, for a command
//!   that stores a snapshot without new data (tag, rewrite and repair without changes, key
//!   rotation), from [`Repository::nothing_pending`], which fails while a saver or a pack
//!   copier is open on this repository or a pack stored here is not yet indexed.
//!
//! So a snapshot stored before the packs and index it needs does not compile:
//!
//! ```compile_fail
//! # fn f(repo: &arca::repo::Repository, snap: &arca::format::snapshot::Snapshot) {
//! repo.save_snapshot(snap); // no proof that the index is flushed, no lock
//! # }
//! ```
//!
//! and the proof can't be made up outside `repo/`:
//!
//! ```compile_fail
//! # fn f(repo: &arca::repo::Repository, snap: &arca::format::snapshot::Snapshot, lock: &arca::repo::LockGuard) {
//! let made_up = arca::repo::IndexFlushed { repo: 0 };
//! repo.save_snapshot(snap, &made_up, lock);
//! # }
//! ```
//!
//! while the legitimate road does:
//!
//! ```no_run
//! # fn f(repo: std::sync::Arc<arca::repo::Repository>, snap: &arca::format::snapshot::Snapshot) -> arca::error::Result<()> {
//! let lock = repo.lock("backup", arca::repo::LockMode::Shared)?;
//! let saver = arca::repo::BlobSaver::new(repo.clone(), arca::codec::Compression::AUTO, 2, 1, false)?;
//! // … save the blobs and trees the snapshot names …
//! let (_summary, flushed) = saver.finish()?;
//! repo.save_snapshot(snap, &flushed, &lock)?;
//! # Ok(()) }
//! ```
//!
//! A proof names the [`Repository`] it was made for (one opened value, not merely the same
//! storage): a proof from the source of a copy does not commit into its target.

use crate::util::words::count;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{pack_path, LockGuard, ObjectKind, Repository};
use crate::backend::Bytes;
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::IndexFile;
use crate::format::snapshot::Snapshot;
use crate::id::{storage_hash, ObjectId, PackId, SnapshotId};
use crate::util::sync::IgnorePoison;

/// Proof that everything written so far by the one who holds it (packs, then the index files
/// naming them) is stored, so a snapshot may now name it. Made only inside `repo/`.
#[must_use = "the proof is what lets a snapshot be stored"]
#[derive(Debug)]
pub struct IndexFlushed {
    repo: u64,
}

/// A number for each opened [`Repository`], so a proof or a lock made for one is refused by
/// another.
pub(super) fn next_instance() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What this process has written and not yet committed to an index.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Savers and pack copiers open on the repository.
    writers: AtomicUsize,
    /// Packs stored but not named by an index file stored since.
    unindexed: Mutex<HashSet<PackId>>,
}

/// An open writer of packs (a saver, a pack copier), counted while it lives.
pub(super) struct WriterTicket<'a>(&'a Pending);

impl Drop for WriterTicket<'_> {
    fn drop(&mut self) {
        self.0.writers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pending {
    /// Count a writer that owns its repository (a saver): it calls [`Self::writer_closed`]
    /// when dropped.
    pub(super) fn writer_opened(&self) {
        self.writers.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn writer_closed(&self) {
        self.writers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Repository {
    /// Count an open writer of packs until the returned ticket is dropped.
    pub(super) fn open_writer(&self) -> WriterTicket<'_> {
        self.pending.writer_opened();
        WriterTicket(&self.pending)
    }

    /// The proof for a writer that flushed its index (a finished saver).
    pub(super) fn flushed(&self) -> IndexFlushed {
        IndexFlushed { repo: self.instance }
    }

    /// Store a finished pack (its bytes with header and trailer) under its name; the one path
    /// every pack takes to storage. The pack counts as pending until an index file naming it
    /// is stored ([`Self::store_index`]).
    pub(crate) fn store_pack(&self, bytes: Vec<u8>) -> Result<PackId> {
        let id = PackId(storage_hash(&bytes));
        let path = pack_path(&id);
        // the pack's buffer goes to the storage client as it is: no copy
        self.backend.write(&path, bytes.into()).ctx(format!("uploading {path}"))?;
        self.pending.unindexed.lock().ignore_poison().insert(id);
        Ok(id)
    }

    /// Store an index file; the one path every index file takes to storage. The packs it
    /// names stop being pending.
    pub(crate) fn store_index(&self, file: &IndexFile) -> Result<ObjectId> {
        self.store_index_as(file, self.keys.format)
    }

    /// [`Self::store_index`] in format `format`: `migrate` writes version 3 index files into
    /// the repository it upgrades before `config` says version 3 (format-spec §17.1).
    pub(crate) fn store_index_as(&self, file: &IndexFile, format: u8) -> Result<ObjectId> {
        let keys = self.keys_as(format);
        let id = self.write_object(ObjectKind::Index, &file.encode(&keys))?;
        let mut unindexed = self.pending.unindexed.lock().ignore_poison();
        for p in file.packs.iter().chain(file.marked.iter().map(|m| &m.pack)) {
            unindexed.remove(&p.id);
        }
        Ok(id)
    }

    /// The proof for a command that stores snapshots naming only what is indexed already
    /// (tag, key rotation, rewrite or repair that changed nothing): fails while a saver or
    /// pack copier is open on this repository, or a pack stored here is not yet indexed.
    pub fn nothing_pending(&self) -> Result<IndexFlushed> {
        let writers = self.pending.writers.load(Ordering::SeqCst);
        let unindexed = self.pending.unindexed.lock().ignore_poison().len();
        if writers > 0 || unindexed > 0 {
            return Err(Error::new(
                Kind::Internal,
                format!(
                    "refusing to store a snapshot: {} still open and {} not yet indexed",
                    count(writers, "pack writer"),
                    count(unindexed, "stored pack")
                ),
            )
            .hint(
                "a snapshot comes after the packs and index it needs; packs of a backup that failed in this \
                 process are indexed by the next backup, otherwise this is a bug in arca (please report it)",
            ));
        }
        Ok(self.flushed())
    }

    /// Store a snapshot, last in the commit order: `flushed` proves the packs and index it
    /// names are stored, and `lock` must still be trusted (checked here, right before the
    /// write).
    pub fn save_snapshot(&self, snap: &Snapshot, flushed: &IndexFlushed, lock: &LockGuard) -> Result<SnapshotId> {
        self.may_commit(flushed, lock)?;
        self.write_object(ObjectKind::Snapshot, &snap.encode(&self.keys)).map(SnapshotId::from_object)
    }

    /// Store `snap` unless one of `existing` is identical, whose id is returned instead. Commands
    /// that replace snapshots (store the new one, then delete the old) use it, so a re-run after
    /// a stop between the two finds the replacement it stored and does not store it twice.
    /// The lock is checked either way: the caller deletes the old snapshot next.
    pub fn save_snapshot_once(
        &self,
        snap: &Snapshot,
        existing: &[(SnapshotId, Snapshot)],
        flushed: &IndexFlushed,
        lock: &LockGuard,
    ) -> Result<SnapshotId> {
        self.may_commit(flushed, lock)?;
        match existing.iter().find(|(_, s)| s == snap) {
            Some((id, _)) => Ok(*id),
            None => self.write_object(ObjectKind::Snapshot, &snap.encode(&self.keys)).map(SnapshotId::from_object),
        }
    }

    /// The proof and the lock are this repository's, and the lock is still trusted.
    fn may_commit(&self, flushed: &IndexFlushed, lock: &LockGuard) -> Result<()> {
        if flushed.repo != self.instance || lock.repo != self.instance {
            let which = if flushed.repo != self.instance { "proof of a flushed index" } else { "lock" };
            return Err(Error::new(
                Kind::Internal,
                format!(
                    "refusing to store a snapshot in {}: the {which} belongs to another repository",
                    self.backend.location()
                ),
            )
            .hint("this is a bug in arca; please report it"));
        }
        if !lock.holds {
            return Err(Error::new(Kind::Internal, "refusing to store a snapshot under --no-lock: no lock is held")
                .hint("this is a bug in arca; please report it"));
        }
        lock.ensure_fresh()
    }

    /// Write a content-addressed object; returns its id. Private to `repo/`: packs, index
    /// files and snapshots have their own roads above.
    pub(super) fn write_object(&self, kind: ObjectKind, bytes: &[u8]) -> Result<ObjectId> {
        let id = ObjectId(storage_hash(bytes));
        let path = kind.path(&id);
        self.backend.write(&path, Bytes::copy_from_slice(bytes)).ctx(format!("writing {path}"))?;
        if let Some(c) = &self.cache {
            c.put(&path, bytes);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::codec::Compression;
    use crate::crypto::KdfParams;
    use crate::format::tree::Tree;
    use crate::id::TreeId;
    use crate::repo::{BlobSaver, InitOptions, LockMode, PackCopier};

    fn repo() -> Arc<Repository> {
        let backend = crate::backend::memory().unwrap();
        let opts = InitOptions { kdf: KdfParams::INSECURE_TEST, ..Default::default() };
        Arc::new(Repository::init(backend, b"pw", &opts).unwrap().with_lock_refresh(Duration::from_secs(3600)))
    }

    fn snapshot(tree: TreeId) -> Snapshot {
        Snapshot {
            time: "2026-12-07T00:00:00+00:00".into(),
            tree,
            paths: vec!["/x".into()],
            hostname: "h".into(),
            username: "u".into(),
            uid: 0,
            gid: 0,
            tags: vec![],
            parent: None,
            excludes: vec![],
            program_version: "test".into(),
            summary: None,
            original: None,
            change_list: None,
        }
    }

    fn stored_snapshots(repo: &Repository) -> usize {
        repo.list(ObjectKind::Snapshot).unwrap().len()
    }

    #[test]
    fn no_proof_without_flushing_while_a_saver_is_open() {
        let repo = repo();
        let lock = repo.lock("test", LockMode::Shared).unwrap();
        let saver = BlobSaver::new(repo.clone(), Compression::AUTO, 1, 1, false).unwrap();
        let tree = saver.save_tree(Tree { nodes: vec![] }).unwrap();
        // the tree sits in the saver's open pack: nothing names it in storage yet
        let e = repo.nothing_pending().unwrap_err();
        assert!(e.message.contains("1 pack writer still open"), "{}", e.message);
        let (_, flushed) = saver.finish().unwrap();
        repo.save_snapshot(&snapshot(tree), &flushed, &lock).unwrap();
        assert_eq!(stored_snapshots(&repo), 1);
        // the saver is gone: a command with nothing new to store may commit again
        repo.save_snapshot(&snapshot(tree), &repo.nothing_pending().unwrap(), &lock).unwrap();
    }

    #[test]
    fn a_pack_stored_but_not_indexed_holds_back_every_snapshot() {
        let repo = repo();
        {
            let _copier = PackCopier::new(&repo);
            assert!(repo.nothing_pending().is_err(), "an open pack copier may hold unindexed packs");
        }
        assert!(repo.nothing_pending().is_ok());
        let mut pack = IndexFile::default();
        let id = repo.store_pack(b"a pack's bytes".to_vec()).unwrap();
        let e = repo.nothing_pending().unwrap_err();
        assert!(e.message.contains("1 stored pack not yet indexed"), "{}", e.message);
        pack.packs.push(crate::format::index::IndexPack { id, blobs: vec![] });
        repo.store_index(&pack).unwrap();
        assert!(repo.nothing_pending().is_ok());
    }

    #[test]
    fn a_proof_or_a_lock_of_another_repository_is_refused() {
        let (a, b) = (repo(), repo());
        let (lock_a, lock_b) = (a.lock("test", LockMode::Shared).unwrap(), b.lock("test", LockMode::Shared).unwrap());
        let (proof_a, proof_b) = (a.nothing_pending().unwrap(), b.nothing_pending().unwrap());
        let snap = snapshot(TreeId([7; 32]));
        let e = b.save_snapshot(&snap, &proof_a, &lock_b).unwrap_err();
        assert!(e.message.contains("proof of a flushed index belongs to another repository"), "{}", e.message);
        let e = b.save_snapshot_once(&snap, &[], &proof_b, &lock_a).unwrap_err();
        assert!(e.message.contains("lock belongs to another repository"), "{}", e.message);
        assert_eq!(stored_snapshots(&b), 0);
        b.save_snapshot(&snap, &proof_b, &lock_b).unwrap();
        assert_eq!(stored_snapshots(&b), 1);
    }

    #[test]
    fn a_lock_no_longer_trusted_stores_no_snapshot() {
        let backend = crate::backend::memory().unwrap();
        let opts = InitOptions { kdf: KdfParams::INSECURE_TEST, ..Default::default() };
        let repo = Repository::init(backend, b"pw", &opts)
            .unwrap()
            .with_lock_refresh(Duration::from_secs(3600))
            .with_lock_trust(Duration::from_millis(1));
        let lock = repo.lock("test", LockMode::Shared).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let flushed = repo.nothing_pending().unwrap();
        let snap = snapshot(TreeId([7; 32]));
        let e = repo.save_snapshot(&snap, &flushed, &lock).unwrap_err();
        assert_eq!(e.kind, Kind::Locked);
        let e = repo.save_snapshot_once(&snap, &[(SnapshotId([1; 32]), snap.clone())], &flushed, &lock).unwrap_err();
        assert_eq!(e.kind, Kind::Locked, "checked even when the snapshot exists already");
        assert_eq!(stored_snapshots(&repo), 0);
    }
}
