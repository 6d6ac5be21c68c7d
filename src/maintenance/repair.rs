//! `repair index` and `repair snapshots`.
//!
//! `repair index` rebuilds the index from the stored packs' headers alone (packs are
//! self-describing), keeps prune's marks for packs still stored, and supersedes every index
//! file, readable or not. A damaged pack (its header fails, or with `read_data` any of its
//! blobs or its hash) is salvaged: every blob that still authenticates (found by its header,
//! or by the old index when the header is gone) is copied into a new pack, and the damaged
//! pack is then deleted. What could not be salvaged is reported; `repair snapshots` then
//! rewrites the snapshots that referenced it.
//!
//! `repair snapshots` rewrites snapshots whose trees reference blobs the index lacks: a file
//! keeps the chunks that are stored (its size shrinks to match), a directory that cannot be
//! read becomes empty, and each changed node carries the extended attribute
//! [`REPAIRED_XATTR`] saying what was lost. The new snapshot is tagged `repaired` and names
//! its `original`.

use crate::util::words::count;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;
use serde_bytes::ByteBuf;

use crate::codec::Compression;
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::IndexPack;
use crate::format::pack::PackEntry;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind, Tree, Xattr};
use crate::format::BlobType;
use crate::id::{storage_hash, BlobId, PackId, SnapshotId, TreeId};
use crate::repo::{pack_path, BlobSaver, IndexWriter, LockGuard, ObjectKind, PackCopier, Repository};
use crate::util::progress::{Meter, Unit, Unmetered};

/// Marks a node that `repair snapshots` changed; the value says what was lost.
pub const REPAIRED_XATTR: &[u8] = b"user.arca.repaired";

#[derive(Debug, Default, Clone, Serialize)]
pub struct RepairIndexReport {
    pub dry_run: bool,
    pub packs: usize,
    pub blobs: usize,
    pub marked_kept: usize,
    /// Damaged packs (header or, with read_data, content): salvaged, then deleted.
    pub damaged_packs: Vec<String>,
    pub blobs_salvaged: usize,
    pub blobs_lost: usize,
    /// Packs the old index did not name (now indexed).
    pub packs_added: usize,
    /// Packs the old index named that are not stored (now dropped).
    pub packs_dropped: usize,
    pub index_files_replaced: usize,
    pub index_files_written: usize,
}

pub fn repair_index(
    repo: &Arc<Repository>,
    read_data: bool,
    dry_run: bool,
    lock: Option<&LockGuard>,
    log: &dyn Fn(String),
) -> Result<RepairIndexReport> {
    repair_index_metered(repo, read_data, dry_run, lock, log, &Unmetered)
}

/// [`repair_index`], telling `meter` how many packs are read.
pub fn repair_index_metered(
    repo: &Arc<Repository>,
    read_data: bool,
    dry_run: bool,
    lock: Option<&LockGuard>,
    log: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<RepairIndexReport> {
    let mut r = RepairIndexReport { dry_run, ..Default::default() };
    let listed = repo.list(ObjectKind::Index)?;
    r.index_files_replaced = listed.len();
    let mut marks: HashMap<PackId, u64> = HashMap::new();
    let mut old: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
    for id in &listed {
        match repo.load_index_file(id) {
            Ok(f) => {
                for p in f.packs {
                    old.entry(p.id).or_default().extend(p.blobs);
                }
                for m in f.marked {
                    let t = marks.entry(m.pack.id).or_default();
                    *t = (*t).max(m.marked_at);
                    old.entry(m.pack.id).or_default().extend(m.pack.blobs);
                }
            }
            Err(e) if e.kind == Kind::Corrupt => {
                log(format!("{} is damaged ({}); it will be replaced", ObjectKind::Index.path(id), e.message))
            }
            // a storage error is not damage: stop before replacing what could not be read
            Err(e) => return Err(e),
        }
    }
    let stored = repo.stored_packs()?;
    log(format!("reading the {} of {} packs", if read_data { "contents" } else { "headers" }, stored.len()));
    meter.step("reading packs", stored.len() as u64, Unit::Items);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .map_err(|e| Error::new(crate::error::Kind::Other, format!("starting threads: {e}")))?;
    let verdicts: Vec<(PackId, Verdict)> = pool.install(|| {
        stored
            .par_iter()
            // a pack the old index did not name is verified whole, as adoption does (§12): its
            // header alone may be a copy planted on other bytes
            .map(|(id, size)| inspect(repo, id, *size, read_data || !old.contains_key(id)).map(|v| (*id, v)))
            .inspect(|_| meter.add(1))
            .collect::<Result<Vec<_>>>()
    })?;
    let stored_ids: HashSet<PackId> = stored.iter().map(|(id, _)| *id).collect();
    r.packs_dropped = old.keys().filter(|id| !stored_ids.contains(id)).count();
    let mut w = (!dry_run).then(|| IndexWriter::new(repo));
    let mut damaged: Vec<(PackId, Vec<PackEntry>)> = vec![];
    for (id, v) in verdicts {
        match v {
            Verdict::Good(blobs) => {
                r.packs += 1;
                r.blobs += blobs.len();
                r.packs_added += usize::from(!old.contains_key(&id));
                let pack = IndexPack { id, blobs };
                match (marks.get(&id), w.as_mut()) {
                    (Some(t), Some(w)) => {
                        r.marked_kept += 1;
                        w.add_marked(pack, *t)?
                    }
                    (Some(_), None) => r.marked_kept += 1,
                    (None, Some(w)) => w.add(pack)?,
                    (None, None) => {}
                }
            }
            Verdict::Damaged(why, header) => {
                r.damaged_packs.push(format!("{}: {why}", pack_path(&id)));
                // the header's entries if it is readable, else what the old index knew
                let entries = header.unwrap_or_else(|| old.get(&id).cloned().unwrap_or_default());
                damaged.push((id, entries));
            }
        }
    }
    // salvage: copy every blob that still authenticates into new (self-indexed) packs
    let mut copier = (!dry_run).then(|| PackCopier::new(repo));
    for (id, mut entries) in damaged.iter().cloned() {
        entries.sort_by_key(|e| (e.offset, e.group_offset, e.id));
        entries.dedup();
        // a damaged pack may be short, but it must be readable: a storage error stops the repair
        let bytes = repo.read_pack(&id).ctx("to salvage it")?;
        for unit in entries.chunk_by(|a, b| a.same_unit(b)) {
            let sealed = bytes.get(unit[0].offset as usize..unit[0].unit_end() as usize);
            // copying verifies; only damage (Corrupt) loses the unit, a storage error stops
            let salvaged = match (sealed, copier.as_mut()) {
                (None, _) => false,
                (Some(s), None) => units_open(repo, unit, s),
                (Some(s), Some(c)) => match c.copy_unit(unit, &vec![true; unit.len()], s, false) {
                    Ok(_) => true,
                    Err(e) if e.kind == Kind::Corrupt => false,
                    Err(e) => return Err(e),
                },
            };
            if salvaged {
                r.blobs_salvaged += unit.len();
            } else {
                r.blobs_lost += unit.len();
            }
        }
    }
    let salvage_files = match copier {
        Some(c) => c.finish()?.1,
        None => vec![],
    };
    if let Some(l) = lock {
        l.ensure_fresh()?;
    }
    if let Some(w) = w {
        // the salvaged packs are named by the copier's own index files, which stay
        let replaced: Vec<_> = listed.iter().filter(|id| !salvage_files.contains(id)).copied().collect();
        r.index_files_written = w.finish(replaced.clone())?.len() + salvage_files.len();
        for (id, _) in &damaged {
            repo.delete_pack(id)?;
        }
        for id in &replaced {
            repo.delete(ObjectKind::Index, id)?;
        }
        repo.unload_index()?;
    }
    Ok(r)
}

enum Verdict {
    Good(Vec<PackEntry>),
    /// Why, and the header's entries if the header could be read.
    Damaged(String, Option<Vec<PackEntry>>),
}

/// Read a pack's header (and with `read_data` its whole content) and judge it. Only damage
/// to the bytes counts; a storage error (after retries) stops the repair instead, so an
/// intact pack is never deleted because of a network failure.
/// Read a pack's header; with `read_data`, download it whole and verify its name and every
/// unit.
fn inspect(repo: &Repository, id: &PackId, size: u64, read_data: bool) -> Result<Verdict> {
    let blobs = match repo.read_pack_header(id, size) {
        Ok(b) => b,
        Err(e) if e.kind == Kind::Corrupt => return Ok(Verdict::Damaged(e.message, None)),
        Err(e) => return Err(e),
    };
    if !read_data {
        return Ok(Verdict::Good(blobs));
    }
    let bytes = repo.read_pack(id)?;
    if storage_hash(&bytes) != id.0 {
        return Ok(Verdict::Damaged("content does not match its name".into(), Some(blobs)));
    }
    for unit in blobs.chunk_by(|a, b| a.same_unit(b)) {
        let ok =
            bytes.get(unit[0].offset as usize..unit[0].unit_end() as usize).is_some_and(|s| units_open(repo, unit, s));
        if !ok {
            return Ok(Verdict::Damaged(format!("blob {} does not authenticate", unit[0].id), Some(blobs)));
        }
    }
    Ok(Verdict::Good(blobs))
}

/// Does the sealed unit of `unit` (a blob, or a group's members in order) open, and does every
/// blob in it verify?
fn units_open(repo: &Repository, unit: &[PackEntry], sealed: &[u8]) -> bool {
    let need = unit.iter().map(PackEntry::plain_end).max().unwrap_or(0);
    repo.open_unit(&unit[0], sealed, need).is_ok_and(|u| unit.iter().all(|e| repo.unit_blob(&u, e).is_ok()))
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RepairedSnapshot {
    pub original: SnapshotId,
    pub repaired: Option<SnapshotId>,
    /// "path: what was lost", one per changed node.
    pub changes: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RepairSnapshotsReport {
    pub dry_run: bool,
    pub snapshots_checked: usize,
    pub repaired: Vec<RepairedSnapshot>,
    pub originals_removed: usize,
}

pub fn repair_snapshots(
    repo: &Arc<Repository>,
    snapshots: Vec<(SnapshotId, Snapshot)>,
    forget: bool,
    dry_run: bool,
    lock: Option<&LockGuard>,
) -> Result<RepairSnapshotsReport> {
    let mut report = RepairSnapshotsReport { dry_run, ..Default::default() };
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let saver = BlobSaver::new(repo.clone(), Compression::AUTO, workers, 2, dry_run)?;
    let mut memo: HashMap<TreeId, TreeId> = HashMap::new();
    let mut pending = vec![];
    for (sid, snap) in snapshots {
        report.snapshots_checked += 1;
        if stored(repo, &snap.tree.as_blob(), BlobType::Tree)?.is_none() || repo.load_tree(&snap.tree).is_err() {
            report.repaired.push(RepairedSnapshot {
                original: sid,
                repaired: None,
                changes: vec![
                    "/: the root directory is unreadable; nothing to keep (remove it with `arca forget`)".into()
                ],
            });
            continue;
        }
        let mut changes = vec![];
        let tree = repair_tree(repo, &saver, &snap.tree, "/", &mut memo, &mut changes)?;
        if changes.is_empty() {
            continue;
        }
        let mut new = snap.clone();
        new.tree = tree;
        if !new.tags.iter().any(|t| t == "repaired") {
            new.tags.push("repaired".into());
        }
        new.original = Some(new.original.unwrap_or(sid));
        pending.push((sid, new, changes));
    }
    let (_, flushed) = saver.finish()?;
    let existing = if pending.is_empty() { vec![] } else { repo.snapshots()? };
    for (sid, new, changes) in pending {
        let repaired = match (dry_run, lock) {
            (true, _) => None,
            (false, Some(lock)) => Some(repo.save_snapshot_once(&new, &existing, &flushed, lock)?),
            (false, None) => {
                return Err(Error::usage("repair snapshots stores the repaired snapshots only under a lock")
                    .hint("take the repository lock first (`Repository::lock`), or pass dry_run"))
            }
        };
        report.repaired.push(RepairedSnapshot { original: sid, repaired, changes });
        if forget && !dry_run {
            repo.delete_snapshot(&sid)?;
            report.originals_removed += 1;
        }
    }
    Ok(report)
}

fn stored(repo: &Repository, id: &BlobId, t: BlobType) -> Result<Option<u32>> {
    Ok(repo.index()?.get(id).filter(|l| l.entry.blob_type == t).map(|l| l.entry.raw_length))
}

fn mark(node: &mut Node, what: &str) {
    node.xattrs.retain(|x| x.name.as_slice() != REPAIRED_XATTR);
    node.xattrs
        .push(Xattr { name: ByteBuf::from(REPAIRED_XATTR.to_vec()), value: ByteBuf::from(what.as_bytes().to_vec()) });
    node.xattrs.sort_by(|a, b| a.name.cmp(&b.name));
}

/// The id of the repaired tree (the same id when nothing below it is damaged).
fn repair_tree(
    repo: &Repository,
    saver: &BlobSaver,
    id: &TreeId,
    at: &str,
    memo: &mut HashMap<TreeId, TreeId>,
    changes: &mut Vec<String>,
) -> Result<TreeId> {
    crate::format::tree::check_depth(crate::format::tree::path_depth(at), &at)?;
    if let Some(done) = memo.get(id) {
        if done != id {
            changes.push(format!("{at}: repaired as in an earlier snapshot"));
        }
        return Ok(*done);
    }
    let mut tree = repo.load_tree(id)?;
    let mut changed = false;
    for n in &mut tree.nodes {
        let path = format!("{at}{}", n.name_lossy());
        match n.kind {
            NodeKind::Dir => {
                let Some(sub) = n.subtree else { continue };
                let readable = stored(repo, &sub.as_blob(), BlobType::Tree)?.is_some() && repo.load_tree(&sub).is_ok();
                if !readable {
                    n.subtree = Some(saver.save_tree(Tree::default())?);
                    mark(n, "directory contents lost: its tree is missing or damaged");
                    changes.push(format!("{path}/: unreadable directory replaced by an empty one"));
                    changed = true;
                    continue;
                }
                let new = repair_tree(repo, saver, &sub, &format!("{path}/"), memo, changes)?;
                if new != sub {
                    n.subtree = Some(new);
                    changed = true;
                }
            }
            NodeKind::File => {
                let mut lists_lost = 0;
                let mut content = vec![];
                if n.content_lists.is_empty() {
                    content.clone_from(&n.content);
                } else {
                    for list in &n.content_lists {
                        let read = stored(repo, list, BlobType::Tree)?
                            .ok_or_else(|| Error::corrupt("missing"))
                            .and_then(|_| repo.read_blob(BlobType::Tree, list))
                            .and_then(|b| crate::format::tree::ContentList::decode(&b));
                        match read {
                            Ok(l) => content.extend(l.content),
                            Err(_) => lists_lost += 1,
                        }
                    }
                }
                let mut kept = Vec::with_capacity(content.len());
                let mut size = 0u64;
                for c in &content {
                    if let Some(len) = stored(repo, c, BlobType::Data)? {
                        kept.push(*c);
                        size += u64::from(len);
                    }
                }
                let lost = content.len() - kept.len();
                if lost == 0 && lists_lost == 0 {
                    continue;
                }
                let what = format!(
                    "{lost} of {} chunks missing{}; {} of {} bytes kept",
                    content.len(),
                    if lists_lost > 0 {
                        format!(", {} unreadable", count(lists_lost, "content list"))
                    } else {
                        String::new()
                    },
                    size,
                    n.size
                );
                changes.push(format!("{path}: {what}"));
                n.content.clear();
                n.content_lists.clear();
                saver.set_content(n, kept)?;
                n.size = size;
                mark(n, &what);
                changed = true;
            }
            _ => {}
        }
    }
    let new = if changed { saver.save_tree(tree)? } else { *id };
    memo.insert(*id, new);
    Ok(new)
}
