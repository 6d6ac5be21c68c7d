//! `arca copy`: snapshots from one repository into another, on any backends.
//!
//! Blob ids are keyed per repository, so every copied blob gets its id under the target's key:
//! its plaintext is read from the source, and saved (deduplicated, compressed, sealed and
//! packed) in the target; trees are rebuilt with the new ids. Chunk boundaries stay those of
//! the source. What was copied before is not read again: the target's cache remembers
//! source id → target id for every copied blob and tree (checked against the target's index
//! before use), so copying the next snapshot of a series reads only what changed. A snapshot
//! whose copy exists (a target snapshot naming it as `original`) is skipped. An interrupted
//! copy is resumed by running it again: uploaded packs are indexed as they go, so nothing is
//! uploaded twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Serialize;

use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::NodeKind;
use crate::format::BlobType;
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::repo::{BlobSaver, LockGuard, Repository};

#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Default, Serialize)]
pub struct CopyReport {
    pub copied: Vec<Copied>,
    /// Source snapshots whose copy the target already has.
    pub already_copied: Vec<String>,
    pub blobs_read: u64,
    pub data_blobs_added: u64,
    pub tree_blobs_added: u64,
    pub data_added: u64,
}

struct Copier<'a> {
    src: &'a Repository,
    dst: &'a Repository,
    saver: BlobSaver,
    /// Source id → target id, found or made in this run (stored in the cache at the end).
    map: Mutex<HashMap<BlobId, BlobId>>,
    read: std::sync::atomic::AtomicU64,
}

impl Copier<'_> {
    /// The target id of source blob `id` if the target has it stored already.
    fn known(&self, id: &BlobId) -> Result<Option<BlobId>> {
        if let Some(d) = self.map.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(Some(*d));
        }
        let hint = self.dst.cache().and_then(|c| c.copied(&self.src.config().id, &id.0)).map(BlobId);
        match hint {
            Some(d) if self.dst.index()?.get(&d).is_some() => {
                self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(*id, d);
                Ok(Some(d))
            }
            _ => Ok(None),
        }
    }

    fn blob(&self, t: BlobType, id: &BlobId) -> Result<BlobId> {
        if let Some(d) = self.known(id)? {
            return Ok(d);
        }
        let plain = self.src.read_blob(t, id)?;
        self.read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (d, _) = self.saver.save(t, plain)?;
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(*id, d);
        Ok(d)
    }

    fn tree(&self, id: &TreeId) -> Result<TreeId> {
        if let Some(d) = self.known(id)? {
            return Ok(d);
        }
        let mut tree = self.src.load_tree(id)?;
        // files in parallel (their blobs are independent reads), directories depth first
        tree.nodes.par_iter_mut().filter(|n| n.kind == NodeKind::File).try_for_each(|n| -> Result<()> {
            let content = self.src.file_content(n)?;
            let mapped = content.iter().map(|c| self.blob(BlobType::Data, c)).collect::<Result<Vec<_>>>()?;
            n.content.clear();
            n.content_lists.clear();
            self.saver.set_content(n, mapped)
        })?;
        for n in tree.nodes.iter_mut().filter(|n| n.kind == NodeKind::Dir) {
            let sub = n.subtree.ok_or_else(|| Error::corrupt(format!("tree {id}: directory without subtree")))?;
            n.subtree = Some(self.tree(&sub)?);
        }
        let d = self.saver.save_tree(tree)?;
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(*id, d);
        Ok(d)
    }
}

/// Copy `snapshots` of `src` into `dst` (oldest first).
pub fn run(
    src: &Repository,
    dst: &Arc<Repository>,
    mut snapshots: Vec<(SnapshotId, Snapshot)>,
    lock: &LockGuard,
    log: &dyn Fn(String),
) -> Result<CopyReport> {
    dst.load_index()?;
    let have: HashSet<SnapshotId> = dst.snapshots()?.into_iter().filter_map(|(_, s)| s.original).collect();
    snapshots.sort_by(|a, b| a.1.time.cmp(&b.1.time));
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let saver = BlobSaver::new(dst.clone(), Compression::AUTO, workers, 4, false)?;
    let copier = Copier { src, dst, saver, map: Mutex::new(HashMap::new()), read: Default::default() };
    let mut report = CopyReport::default();
    let mut pending = vec![];
    for (sid, snap) in snapshots {
        let key = snap.original.unwrap_or(sid);
        if have.contains(&key) || have.contains(&sid) {
            report.already_copied.push(sid.to_hex());
            continue;
        }
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        log(format!("copying snapshot {} of {} from {}", sid.short(), snap.paths.join(", "), snap.time));
        let tree = copier.tree(&snap.tree)?;
        // the parent is a source id, meaningless in the target
        let new = Snapshot { tree, parent: None, original: Some(key), ..snap };
        pending.push((sid, new));
    }
    let Copier { saver, map, read, .. } = copier;
    let summary = saver.finish()?;
    // everything is stored and indexed: remember the ids, then write the snapshots
    if let Some(c) = dst.cache() {
        let pairs: Vec<_> =
            map.into_inner().unwrap_or_else(|p| p.into_inner()).iter().map(|(s, d)| (s.0, d.0)).collect();
        c.put_copied(&src.config().id, &pairs);
    }
    for (sid, new) in pending {
        lock.ensure_fresh()?;
        let id = dst.save_snapshot(&new)?;
        report.copied.push(Copied { source: sid.to_hex(), target: id.to_hex() });
    }
    report.blobs_read = read.into_inner();
    report.data_blobs_added = summary.data_blobs;
    report.tree_blobs_added = summary.tree_blobs;
    report.data_added = summary.data_added;
    Ok(report)
}
