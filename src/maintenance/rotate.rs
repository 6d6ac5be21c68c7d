//! `key rotate` (format-spec §22): a new master secret, every pack, index file and snapshot
//! sealed again under it, then the new `config` and key, and every old key removed.
//!
//! Blob ids and chunk boundaries stay (the new `config` names the keys that make them), so
//! trees and snapshots keep their content and deduplication goes on across the rotation.
//! The run holds an exclusive lock. It can stop anywhere: the repository stays readable
//! with the password the rotation keeps (its rotation key holds both master secrets), and
//! running `key rotate` again finishes the job without sealing anything twice.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Kind, Result};
use crate::format::index::IndexPack;
use crate::format::pack::PackEntry;
use crate::format::snapshot::Snapshot;
use crate::id::{storage_hash, BlobId, ObjectId, PackId, SnapshotId};
use crate::repo::{pack_path, IndexWriter, LockGuard, LockMode, ObjectKind, Repository};
use crate::util::progress::{Meter, Unit, Unmetered};

/// Packs handled between two looks at the lock and the log.
const BATCH: usize = 256;
const THREADS: usize = 4;

#[derive(Clone, Debug, Default, Serialize)]
pub struct RotateStats {
    /// This run finished a rotation an earlier run started.
    pub resumed: bool,
    pub packs_resealed: u64,
    pub bytes_resealed: u64,
    /// Packs an interrupted run had sealed again already.
    pub packs_already_current: u64,
    pub snapshots_resealed: u64,
    pub index_files_written: u64,
    pub locks_removed: u64,
    /// The key of the new master secret.
    pub key: ObjectId,
    /// Every key removed: the old master secret's, and the rotation's own.
    pub keys_removed: Vec<ObjectId>,
}

/// Rotate the master secret. `password` opened `repo`; the new key is for `new_password`
/// when given (only when starting: a run that resumes keeps the password it started with).
pub fn rotate(
    repo: &mut Repository,
    password: &[u8],
    new_password: Option<&[u8]>,
    log: &dyn Fn(String),
) -> Result<RotateStats> {
    rotate_metered(repo, password, new_password, log, &Unmetered)
}

/// [`rotate`], telling `meter` how many packs are read and sealed again.
pub fn rotate_metered(
    repo: &mut Repository,
    password: &[u8],
    new_password: Option<&[u8]>,
    log: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<RotateStats> {
    let mut st = RotateStats { resumed: repo.rotation_in_progress(), ..Default::default() };
    let keep = if st.resumed {
        if new_password.is_some() {
            log("resuming the rotation in progress; it keeps the password it was started for".into());
        }
        password
    } else {
        new_password.unwrap_or(password)
    };
    let mut lock = repo.lock("key rotate", LockMode::Exclusive)?;
    if !st.resumed {
        repo.begin_rotation(keep)?;
        log("new master secret stored in a rotation key".into());
        // our lock again, under the new secret: the old one becomes unreadable at the end
        lock = repo.relock("key rotate", LockMode::Exclusive, lock)?;
    }
    reseal_packs(repo, &lock, &mut st, log, meter)?;
    reseal_snapshots(repo, &lock, &mut st, log)?;
    // lock files that only the old secret opens: stale ones (this run holds the exclusive
    // lock) that would otherwise read as unreadable locks blocking everyone afterwards
    st.locks_removed = repo.remove_locks_of_previous_secret(&lock)?;
    lock.ensure_fresh()?;
    let (key, removed) = repo.finish_rotation(keep)?;
    let keys = if removed.len() == 1 { "key" } else { "keys" };
    log(format!("config and key {} written; {} old {keys} removed", key.short(), removed.len()));
    st.key = key;
    st.keys_removed = removed;
    Ok(st)
}

enum Outcome {
    /// Sealed under the new secret already: its header's entries.
    Current(Vec<PackEntry>),
    /// Sealed under the old one.
    Old,
}

enum Resealed {
    New(PackId, Vec<PackEntry>, u64),
    /// Every blob is in a pack sealed under the new secret already.
    Covered,
}

fn pool() -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .thread_name(|i| format!("arca-rotate-{i}"))
        .build()
        .map_err(|e| Error::new(Kind::Other, format!("starting threads: {e}")))
}

/// Every pack not yet sealed under the new secret is sealed again, one for one; one index
/// naming every pack replaces all index files; then the old index files and packs go.
fn reseal_packs(
    repo: &Repository,
    lock: &LockGuard,
    st: &mut RotateStats,
    log: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<()> {
    repo.adopt_unindexed_packs(false)?;
    let listed = repo.reload_index()?;
    let stored: HashMap<PackId, u64> = repo.stored_packs()?.into_iter().collect();
    let packs: Vec<(PackId, Option<u64>)> = {
        let idx = repo.index()?;
        (0..idx.packs().len() as u32).map(|n| (idx.pack_id(n), idx.pack_mark(n))).collect()
    };
    let size = |id: &PackId| {
        stored.get(id).copied().ok_or_else(|| {
            Error::corrupt(format!("{}: indexed but missing from storage", pack_path(id)))
                .hint("nothing was changed; run `arca repair index`, then `arca key rotate` again")
        })
    };
    let pool = pool()?;
    let mut w = IndexWriter::new(repo);
    let add = |w: &mut IndexWriter, pack: IndexPack, mark: Option<u64>| match mark {
        Some(t) => w.add_marked(pack, t),
        None => w.add(pack),
    };

    // 1: which packs are sealed under the new secret (an earlier run's work)?
    log(format!("reading the headers of {} packs", packs.len()));
    meter.step("reading pack headers", packs.len() as u64, Unit::Items);
    let mut covered: HashSet<BlobId> = HashSet::new();
    let mut old = vec![];
    for batch in packs.chunks(BATCH) {
        let outcomes: Vec<Result<Outcome>> = pool.install(|| {
            batch
                .par_iter()
                .map(|(id, _)| match repo.read_pack_header_current(id, size(id)?) {
                    Ok(entries) => Ok(Outcome::Current(entries)),
                    Err(e) if e.kind == Kind::Corrupt => Ok(Outcome::Old),
                    Err(e) => Err(e),
                })
                .collect()
        });
        meter.add(batch.len() as u64);
        for ((id, mark), outcome) in batch.iter().zip(outcomes) {
            match outcome? {
                Outcome::Current(entries) => {
                    covered.extend(entries.iter().map(|e| e.id));
                    st.packs_already_current += 1;
                    add(&mut w, IndexPack { id: *id, blobs: entries }, *mark)?;
                }
                Outcome::Old => old.push((*id, *mark)),
            }
        }
    }

    // 2: seal the others again
    log(format!("sealing {} packs under the new master secret", old.len()));
    meter.step("sealing packs again", old.len() as u64, Unit::Items);
    for batch in old.chunks(BATCH) {
        lock.ensure_fresh()?;
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        let results: Vec<Result<Resealed>> = pool.install(|| {
            batch
                .par_iter()
                .map(|(id, _)| {
                    let (new, entries, old_len) = repo.reseal_pack(id)?;
                    if entries.iter().all(|e| covered.contains(&e.id)) {
                        return Ok(Resealed::Covered);
                    }
                    let new_id = repo.store_pack(new)?;
                    Ok(Resealed::New(new_id, entries, old_len))
                })
                .collect()
        });
        meter.add(batch.len() as u64);
        for ((_, mark), r) in batch.iter().zip(results) {
            match r? {
                Resealed::New(id, entries, bytes) => {
                    st.packs_resealed += 1;
                    st.bytes_resealed += bytes;
                    add(&mut w, IndexPack { id, blobs: entries }, *mark)?;
                }
                Resealed::Covered => st.packs_already_current += 1,
            }
        }
    }

    // 3: one index under the new secret replaces every file listed; then the old go
    lock.ensure_fresh()?;
    st.index_files_written = w.finish(listed.clone())?.len() as u64;
    for id in &listed {
        repo.delete(ObjectKind::Index, id)?;
    }
    for (id, _) in &old {
        repo.delete_pack(id)?;
    }
    repo.unload_index()?;
    let files = if st.index_files_written == 1 { "file" } else { "files" };
    log(format!("{} packs sealed again, {} index {files} written", st.packs_resealed, st.index_files_written));
    Ok(())
}

/// Every snapshot sealed under the old secret is stored again under the new one (same
/// content plus `original`, under a new name) and the old file removed. One stored again by an interrupted
/// run is recognised by its content and not stored twice.
fn reseal_snapshots(repo: &Repository, lock: &LockGuard, st: &mut RotateStats, log: &dyn Fn(String)) -> Result<()> {
    let mut have = HashSet::new();
    let mut old = vec![];
    for id in repo.list(ObjectKind::Snapshot)?.into_iter().map(SnapshotId::from_object) {
        match repo.load_snapshot_sealed(&id)? {
            (s, true) => {
                have.insert(storage_hash(&crate::codec::to_cbor(&s)));
            }
            (s, false) => old.push((id, s)),
        }
    }
    log(format!("sealing {} snapshots under the new master secret", old.len()));
    lock.ensure_fresh()?;
    // every pack is sealed again and indexed (`reseal_packs`); snapshots keep their trees
    let flushed = repo.nothing_pending()?;
    for (id, s) in old {
        // like a copy or a rewrite, it names what it came from: `copy` then knows the
        // snapshot as the one it copied before (format-spec §14)
        let s = Snapshot { original: s.original.or(Some(id)), ..s };
        if !have.contains(&storage_hash(&crate::codec::to_cbor(&s))) {
            repo.save_snapshot(&s, &flushed, lock)?;
            st.snapshots_resealed += 1;
        }
        repo.delete_snapshot(&id)?;
    }
    Ok(())
}
