//! `arca copy`: snapshots from one repository into another, on any backends.
//!
//! Blob ids are keyed per repository, so every copied blob gets its id under the target's key:
//! its plaintext is read from the source, and saved (deduplicated, compressed, sealed and
//! packed) in the target; trees are rebuilt with the new ids. When both repositories chunk
//! alike (same parameters and gear key: `init --copy-chunker-params`), each blob is carried
//! over as it is; otherwise each file's content is streamed through the target's chunker, so
//! the copies deduplicate against the target's own backups. What was copied before is not
//! read again: the target's cache remembers source id → target id for every copied data blob
//! (checked against the target's index before use), so copying the next snapshot of a series
//! reads its trees and only the file content that changed. A tree is never taken from the
//! cache: that the target holds a tree does not prove it holds everything below it (a copy
//! stopped half way may have stored a tree pack before the data packs it needs). A snapshot
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
use crate::repo::{BlobSaver, LockGuard, LockMode, Repository};
use crate::util::progress::{Meter, Unit, Unmetered};
use crate::util::sync::IgnorePoison;

#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub source: SnapshotId,
    pub target: SnapshotId,
}

#[derive(Debug, Default, Serialize)]
pub struct CopyReport {
    pub copied: Vec<Copied>,
    /// Source snapshots whose copy the target already has.
    pub already_copied: Vec<SnapshotId>,
    /// The repositories chunk differently, so file contents were cut again.
    pub rechunked: bool,
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
    /// The repositories chunk differently: cut file contents again with the target's chunker.
    rechunk: bool,
}

impl Copier<'_> {
    /// The target id of source blob or tree `id` if this run has copied it already.
    fn copied(&self, id: &BlobId) -> Option<BlobId> {
        self.map.lock().ignore_poison().get(id).copied()
    }

    /// The target id of source data blob `id` if the target has it stored already.
    fn known(&self, id: &BlobId) -> Result<Option<BlobId>> {
        if let Some(d) = self.copied(id) {
            return Ok(Some(d));
        }
        let hint = self.dst.cache().and_then(|c| c.copied(&self.src.config().id, &id.0)).map(BlobId);
        match hint {
            Some(d) if self.dst.index()?.get(&d).is_some() => {
                self.map.lock().ignore_poison().insert(*id, d);
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
        self.map.lock().ignore_poison().insert(*id, d);
        Ok(d)
    }

    fn tree(&self, id: &TreeId, depth: usize) -> Result<TreeId> {
        if let Some(d) = self.copied(&id.as_blob()) {
            return Ok(TreeId::from_blob(d));
        }
        crate::format::tree::check_depth(depth, &format!("tree {}", id.short()))?;
        let mut tree = self.src.load_tree(id)?;
        // files in parallel (their blobs are independent reads), directories depth first
        let inline_kept = self.saver.repo().config().version >= crate::format::tree::INLINE_FORMAT;
        tree.nodes.par_iter_mut().filter(|n| n.kind == NodeKind::File).try_for_each(|n| -> Result<()> {
            if let Some(bytes) = &n.inline {
                if inline_kept {
                    return Ok(());
                }
                // a destination older than format 4 cannot hold inline content: its bytes
                // become one data blob (at most MAX_INLINE_BYTES: one chunk under any chunker)
                let (id, _) = self.saver.save_slice(BlobType::Data, bytes)?;
                n.inline = None;
                return self.saver.set_content(n, vec![id]);
            }
            let content = self.src.file_content(n)?;
            let mapped = if self.rechunk {
                self.rechunked(content)?
            } else {
                content.iter().map(|c| self.blob(BlobType::Data, c)).collect::<Result<Vec<_>>>()?
            };
            n.content.clear();
            n.content_lists.clear();
            self.saver.set_content(n, mapped)
        })?;
        for n in tree.nodes.iter_mut().filter(|n| n.kind == NodeKind::Dir) {
            let sub = n.subtree.ok_or_else(|| Error::corrupt(format!("tree {id}: directory without subtree")))?;
            n.subtree = Some(self.tree(&sub, depth + 1)?);
        }
        let d = self.saver.save_tree(tree)?;
        self.map.lock().ignore_poison().insert(id.as_blob(), d.as_blob());
        Ok(d)
    }
}

impl Copier<'_> {
    /// A file's content cut again by the target's chunker; returns the target's blob ids.
    fn rechunked(&self, content: Vec<BlobId>) -> Result<Vec<BlobId>> {
        let mut reader = BlobReader { copier: self, ids: content.into_iter(), buf: vec![], pos: 0 };
        let mut ids = vec![];
        let mut scratch = vec![];
        self.dst.chunker().split_reader(&mut reader, &mut scratch, |chunk| {
            ids.push(self.saver.save_slice(BlobType::Data, chunk)?.0);
            Ok(())
        })?;
        Ok(ids)
    }
}

/// The plaintext of a list of source blobs, as one stream.
struct BlobReader<'a, 'b> {
    copier: &'a Copier<'b>,
    ids: std::vec::IntoIter<BlobId>,
    buf: Vec<u8>,
    pos: usize,
}

impl std::io::Read for BlobReader<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let Some(id) = self.ids.next() else { return Ok(0) };
            self.buf = self.copier.src.read_blob(BlobType::Data, &id).map_err(|e| std::io::Error::other(e.message))?;
            self.copier.read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// `arca copy`: lock `src` for reading and `dst` shared, select the snapshots of `src` that
/// `ids` and `filter` name (every one the filter selects when `ids` is empty), then [`run`].
pub fn copy(
    src: &Repository,
    dst: &Arc<Repository>,
    ids: &[String],
    filter: &super::Filter,
    log: &dyn Fn(String),
) -> Result<CopyReport> {
    copy_metered(src, dst, ids, filter, log, &Unmetered)
}

/// [`copy`], telling `meter` how many snapshots are copied.
pub fn copy_metered(
    src: &Repository,
    dst: &Arc<Repository>,
    ids: &[String],
    filter: &super::Filter,
    log: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<CopyReport> {
    let _src_lock = src.lock_read("copy (source)")?;
    let dst_lock = dst.lock("copy", LockMode::Shared)?;
    let snapshots = super::select_many(src, ids, filter)?;
    run_metered(src, dst, snapshots, &dst_lock, log, meter)
}

/// Copy `snapshots` of `src` into `dst` (oldest first), under `lock` on `dst`, which the
/// caller holds (with a read lock on `src`).
pub fn run(
    src: &Repository,
    dst: &Arc<Repository>,
    snapshots: Vec<(SnapshotId, Snapshot)>,
    lock: &LockGuard,
    log: &dyn Fn(String),
) -> Result<CopyReport> {
    run_metered(src, dst, snapshots, lock, log, &Unmetered)
}

/// [`run`], telling `meter` how many snapshots are copied.
pub fn run_metered(
    src: &Repository,
    dst: &Arc<Repository>,
    mut snapshots: Vec<(SnapshotId, Snapshot)>,
    lock: &LockGuard,
    log: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<CopyReport> {
    dst.load_index()?;
    let have: HashSet<SnapshotId> = dst.snapshots()?.into_iter().filter_map(|(_, s)| s.original).collect();
    snapshots.sort_by(|a, b| a.1.time.cmp(&b.1.time));
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let saver = BlobSaver::new(dst.clone(), Compression::AUTO, workers, 4, false)?;
    let rechunk = src.config().chunker != dst.config().chunker || src.chunker_key() != dst.chunker_key();
    let copier = Copier { src, dst, saver, map: Mutex::new(HashMap::new()), read: Default::default(), rechunk };
    let mut report = CopyReport { rechunked: rechunk, ..Default::default() };
    let mut pending = vec![];
    let to_copy =
        snapshots.iter().filter(|(sid, s)| !have.contains(&s.original.unwrap_or(*sid)) && !have.contains(sid));
    meter.step("copying snapshots", to_copy.count() as u64, Unit::Items);
    for (sid, snap) in snapshots {
        let key = snap.original.unwrap_or(sid);
        if have.contains(&key) || have.contains(&sid) {
            report.already_copied.push(sid);
            continue;
        }
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        log(format!("copying snapshot {} of {} from {}", sid.short(), snap.paths.join(", "), snap.time));
        let tree = copier.tree(&snap.tree, 0)?;
        // the parent is a source id, meaningless in the target
        let new = Snapshot { tree, parent: None, original: Some(key), ..snap };
        pending.push((sid, new));
        meter.add(1);
    }
    let Copier { saver, map, read, .. } = copier;
    let (summary, flushed) = saver.finish()?;
    // everything is stored and indexed: remember the ids, then write the snapshots
    if let Some(c) = dst.cache() {
        let pairs: Vec<_> = map.into_inner().ignore_poison().iter().map(|(s, d)| (s.0, d.0)).collect();
        c.put_copied(&src.config().id, &pairs);
    }
    for (sid, new) in pending {
        let id = dst.save_snapshot(&new, &flushed, lock)?;
        report.copied.push(Copied { source: sid, target: id });
    }
    report.blobs_read = read.into_inner();
    report.data_blobs_added = summary.data_blobs;
    report.tree_blobs_added = summary.tree_blobs;
    report.data_added = summary.data_added;
    Ok(report)
}
