//! `repair packs ID…` (restic's): salvage the readable blobs of damaged packs into new packs,
//! then drop the damaged packs from the index and delete them.
//!
//! Each named pack is downloaded whole (a short or missing one too); its blobs are found by
//! its header when that still authenticates, and by the index otherwise (both, when both are
//! there). Every unit (a blob, or a group) that still opens and whose blobs verify against
//! their ids is copied sealed as it is into a new pack, stored before the index file naming it
//! (§16); a unit that does not is lost. Then an index naming every other pack (prune's marks
//! kept) supersedes every index file listed at the start, those files are deleted, and last
//! the damaged packs: a crash at any point leaves each blob reachable in the damaged pack, its
//! salvaged copy, or both. Lost blobs stay referenced by snapshots: `repair snapshots`
//! rewrites those next.

use crate::util::words::count;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::pack::PackEntry;
use crate::format::BlobType;
use crate::id::{BlobId, PackId};
use crate::repo::{pack_path, IndexWriter, LockGuard, ObjectKind, PackCopier, Repository};

#[derive(Debug, Default, Clone, Serialize)]
pub struct RepairedPack {
    pub pack: PackId,
    /// Why the header was not used (empty: it authenticated).
    pub header_problem: String,
    pub blobs_salvaged: usize,
    /// `TYPE ID` of each blob that could not be read, and that no other pack holds.
    pub blobs_lost: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RepairPacksReport {
    pub dry_run: bool,
    pub packs: Vec<RepairedPack>,
    pub blobs_salvaged: usize,
    pub blobs_lost: usize,
    pub packs_written: u64,
    pub index_files_written: usize,
    pub index_files_removed: usize,
    pub packs_removed: usize,
}

/// Salvage `packs` under `lock` (exclusive), or with `dry_run` say what would be salvaged.
pub fn repair_packs(
    repo: &Repository,
    packs: &[PackId],
    lock: &LockGuard,
    dry_run: bool,
    log: &dyn Fn(String),
) -> Result<RepairPacksReport> {
    let mut r = RepairPacksReport { dry_run, ..Default::default() };
    let damaged: HashSet<PackId> = packs.iter().copied().collect();
    let listed = repo.list(ObjectKind::Index)?;
    let mut known: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
    let mut elsewhere: HashSet<(BlobType, BlobId)> = HashSet::new();
    let mut files = vec![];
    for id in &listed {
        let f = repo
            .load_index_file(id)
            .ctx_object(ObjectKind::Index.path(id))
            .map_err(|e| e.hint("an index file that does not open is rebuilt by `arca repair index`; run it first"))?;
        for p in f.packs.iter().chain(f.marked.iter().map(|m| &m.pack)) {
            if damaged.contains(&p.id) {
                known.entry(p.id).or_default().extend(p.blobs.iter().copied());
            } else {
                elsewhere.extend(p.blobs.iter().map(|e| (e.blob_type, e.id)));
            }
        }
        files.push(f);
    }
    let stored: HashMap<PackId, u64> = repo.stored_packs()?.into_iter().collect();
    let mut copier = (!dry_run).then(|| PackCopier::new(repo));
    for id in packs {
        let path = pack_path(id);
        let mut rp = RepairedPack { pack: *id, ..Default::default() };
        let bytes = if stored.contains_key(id) { repo.read_pack(id).ctx("to salvage it")? } else { vec![] };
        let mut entries = known.remove(id).unwrap_or_default();
        if bytes.is_empty() {
            rp.header_problem = "not stored".into();
        } else {
            match repo.decode_pack_header(&bytes, bytes.len() as u64) {
                Ok(header) => entries.extend(header),
                Err(e) if e.kind == Kind::Corrupt => rp.header_problem = e.message,
                Err(e) => return Err(e.object(&path)),
            }
        }
        if entries.is_empty() {
            return Err(Error::corrupt(format!("{path}: neither its header nor the index lists a blob in it"))
                .object(&path)
                .hint("`arca list packs` lists the stored packs; a pack no index names is removed by `arca prune`"));
        }
        entries.sort_by_key(|e| (e.offset, e.group_offset, e.id));
        entries.dedup();
        for unit in entries.chunk_by(|a, b| a.same_unit(b)) {
            let sealed = bytes.get(unit[0].offset as usize..unit[0].unit_end() as usize);
            let salvaged = match (sealed, copier.as_mut()) {
                (None, _) => false,
                (Some(s), None) => {
                    let need = unit.iter().map(PackEntry::plain_end).max().unwrap_or(0);
                    repo.open_unit(&unit[0], s, need).is_ok_and(|u| unit.iter().all(|e| repo.unit_blob(&u, e).is_ok()))
                }
                (Some(s), Some(c)) => match c.copy_unit(unit, &vec![true; unit.len()], s, false) {
                    Ok(_) => true,
                    // only damage loses the unit; a storage error stops the repair
                    Err(e) if e.kind == Kind::Corrupt => false,
                    Err(e) => return Err(e),
                },
            };
            if salvaged {
                rp.blobs_salvaged += unit.len();
            } else {
                rp.blobs_lost.extend(
                    unit.iter()
                        .filter(|e| !elsewhere.contains(&(e.blob_type, e.id)))
                        .map(|e| format!("{} {}", e.blob_type, e.id)),
                );
            }
        }
        log(format!("{path}: {} salvaged, {} lost", count(rp.blobs_salvaged, "blob"), rp.blobs_lost.len()));
        r.blobs_salvaged += rp.blobs_salvaged;
        r.blobs_lost += rp.blobs_lost.len();
        r.packs.push(rp);
    }
    let Some(copier) = copier else { return Ok(r) };
    let (written, salvage_files) = copier.finish()?;
    r.packs_written = written;
    lock.ensure_fresh()?;
    // every other pack stays indexed, with its mark; the salvaged packs are named by the
    // copier's own files, which stay
    let mut w = IndexWriter::new(repo);
    for f in files {
        for p in f.packs.into_iter().filter(|p| !damaged.contains(&p.id)) {
            w.add(p)?;
        }
        for m in f.marked.into_iter().filter(|m| !damaged.contains(&m.pack.id)) {
            w.add_marked(m.pack, m.marked_at)?;
        }
    }
    r.index_files_written = w.finish(listed.clone())?.len() + salvage_files.len();
    for id in &listed {
        repo.delete(ObjectKind::Index, id)?;
        r.index_files_removed += 1;
    }
    for id in packs {
        if stored.contains_key(id) {
            repo.delete_pack(id)?;
            r.packs_removed += 1;
        }
    }
    repo.unload_index()?;
    Ok(r)
}
