//! Prune: remove what no snapshot uses, safely while other clients back up (format-spec §21).
//!
//! Deletion is two-phase. A run marks packs that nothing uses (recorded in the index with the
//! time), and deletes packs marked by an earlier run once they have been marked for
//! `keep_delete`, are still unused, and no lock older than the mark is held; a marked pack
//! that became used again is un-marked. Partly used packs are repacked (their used blobs
//! copied, still sealed, into new packs) and then marked like unused ones. With
//! `instant_delete` (under an exclusive lock) marking and deleting happen in one run.
//!
//! Memory: the index table (mapped from the cache when possible), one bit per blob for the
//! used set, and four bytes per blob to walk the table pack by pack.

use crate::util::words::count;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::usage::{mark_used_stored, BitSet};
use crate::crypto::{padme, FRAME_LEN, SEAL_OVERHEAD};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::IndexPack;
use crate::format::pack::{PackEntry, CLOSE_AT_ENTRIES};
use crate::format::BlobType;
use crate::id::{storage_hash, PackId};
use crate::repo::{lock_is_stale, pack_path, BlobIndex, IndexWriter, LockGuard, ObjectKind, PackCopier, Repository};
use crate::util::progress::{Meter, Unit, Unmetered};

/// Clock difference between hosts that prune tolerates when comparing lock and mark times.
pub const CLOCK_SKEW: u64 = 10 * 60;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxUnused {
    /// Percent of the used bytes.
    Percent(f64),
    Bytes(u64),
    Unlimited,
}

#[derive(Clone, Debug)]
pub struct PruneOptions {
    pub max_unused: MaxUnused,
    pub max_repack: Option<u64>,
    pub repack_small: bool,
    pub repack_uncompressed: bool,
    pub keep_delete: Duration,
    pub instant_delete: bool,
    pub dry_run: bool,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            max_unused: MaxUnused::Percent(5.0),
            max_repack: None,
            repack_small: false,
            repack_uncompressed: false,
            keep_delete: Duration::from_secs(23 * 3600),
            instant_delete: false,
            dry_run: false,
        }
    }
}

/// What a run found and did (or would do, with `dry_run`). Sizes are stored bytes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneStats {
    pub dry_run: bool,
    pub snapshots: usize,
    pub trees_walked: u64,
    pub packs: u64,
    pub blobs_used: u64,
    pub blobs_unused: u64,
    pub bytes_used: u64,
    pub bytes_unused: u64,
    pub packs_kept: u64,
    pub packs_repack: u64,
    pub bytes_repack: u64,
    pub bytes_repack_unused: u64,
    pub blobs_repacked: u64,
    pub packs_written: u64,
    pub packs_marked: u64,
    pub bytes_marked: u64,
    pub packs_deleted: u64,
    pub bytes_deleted: u64,
    /// Marked packs whose grace period has not passed (or that an older lock still protects).
    pub packs_pending: u64,
    pub bytes_pending: u64,
    pub packs_unmarked: u64,
    /// Indexed packs missing from storage that hold nothing used: dropped from the index.
    pub packs_missing_dropped: u64,
    /// Packs no index named, indexed by this run (left by interrupted backups).
    pub packs_adopted: u64,
    /// Unused bytes left once every marked pack is deleted.
    pub bytes_unused_after: u64,
    pub index_files_before: u64,
    pub index_files_written: u64,
    /// Why some marked packs could not be deleted yet (an older lock), if that happened.
    pub deletion_blocked_by: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Keep,
    /// Marked for deletion in this run.
    Mark,
    Repack,
    Delete,
    /// Stays marked, with its old time.
    Pending,
    Unmark,
    /// Indexed but not stored, holds nothing used: drop from the index.
    Drop,
}

struct PackInfo {
    number: u32,
    /// Its entries are `order[first..first + count]` (table positions in (pack, offset) order).
    first: usize,
    count: usize,
    used_blobs: u64,
    used_bytes: u64,
    unused_bytes: u64,
    tree: bool,
    raw_stored: bool,
    size: Option<u64>,
    mark: Option<u64>,
    adopted: bool,
    action: Action,
}

/// Run prune. `lock` is the lock this run holds (its own file is not an "older lock");
/// `log` receives progress lines.
pub fn prune(
    repo: &Arc<Repository>,
    opts: &PruneOptions,
    lock: Option<&LockGuard>,
    log: &dyn Fn(String),
) -> Result<PruneStats> {
    prune_metered(repo, opts, lock, log, &Unmetered)
}

/// [`prune`], telling `meter` how many packs are repacked and deleted.
pub fn prune_metered(
    repo: &Arc<Repository>,
    opts: &PruneOptions,
    lock: Option<&LockGuard>,
    log: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<PruneStats> {
    let mut st = PruneStats { dry_run: opts.dry_run, ..Default::default() };
    let now = unix_now();

    log("loading index".into());
    let adopted = if opts.dry_run { vec![] } else { repo.adopt_unindexed_packs(false)? };
    st.packs_adopted = adopted.len() as u64;
    // Locks before snapshots: a client that started before an earlier mark is either still
    // running now (its lock is seen) or has finished (its snapshot is seen next).
    let oldest_lock = oldest_foreign_lock(repo, lock)?;
    // Snapshots before the index: every listed snapshot's index files were stored before it
    // (§16), so the index listed next names all its blobs. A snapshot stored after this
    // listing was written by a client whose lock protects what it uses (§21).
    let snapshots = repo.snapshots_strict()?;
    let listed = repo.reload_index()?;
    st.index_files_before = listed.len() as u64;
    let stored: HashMap<PackId, u64> = repo.stored_packs()?.into_iter().collect();

    log("finding used blobs".into());
    st.snapshots = snapshots.len();
    let listed_packs: std::collections::HashSet<PackId> = stored.keys().copied().collect();
    let usage = mark_used_stored(repo, &snapshots, Some(&listed_packs))?;
    st.trees_walked = usage.trees;
    if let Some(e) = usage.missing_error() {
        return Err(e);
    }
    drop(snapshots);

    let (mut packs, order) = {
        let idx = repo.whole_index()?;
        let adopted: std::collections::HashSet<PackId> = adopted.into_iter().collect();
        classify(&idx, &usage.used, &stored, &adopted)
    };
    st.packs = packs.len() as u64;
    let mut unknown_missing = vec![];
    for p in &mut packs {
        st.blobs_used += p.used_blobs;
        st.blobs_unused += p.count as u64 - p.used_blobs;
        st.bytes_used += p.used_bytes;
        st.bytes_unused += p.unused_bytes;
        p.action = match (p.size, p.mark) {
            (None, _) if p.used_blobs > 0 => {
                unknown_missing.push(p.number);
                Action::Keep
            }
            (None, _) => Action::Drop,
            (Some(_), Some(_)) if p.used_blobs > 0 => Action::Unmark,
            (Some(_), Some(t)) => {
                let old_enough = now.saturating_sub(t) >= opts.keep_delete.as_secs();
                let no_older_lock = oldest_lock.as_ref().is_none_or(|(started, _)| *started > t + CLOCK_SKEW);
                if opts.instant_delete || (old_enough && no_older_lock) {
                    Action::Delete
                } else {
                    if old_enough {
                        st.deletion_blocked_by = oldest_lock.as_ref().map(|(_, who)| who.clone());
                    }
                    Action::Pending
                }
            }
            (Some(_), None) if p.used_blobs == 0 && !p.adopted => Action::Mark,
            (Some(_), None) => Action::Keep,
        };
    }
    if let Some(n) = unknown_missing.first() {
        let idx = repo.whole_index()?;
        return Err(Error::corrupt(format!(
            "{} holding used blobs missing from storage (first: {})",
            count(unknown_missing.len(), "indexed pack"),
            pack_path(&idx.pack_id(*n))
        ))
        .hint("no pack was deleted; run `arca repair index`, then `arca repair snapshots`"));
    }
    choose_repacks(&mut packs, opts, repo.pack_target() as u64);
    keep_copies_of_unverified(repo, &mut packs, &order, &usage.used, log)?;
    for p in &packs {
        let size = p.size.unwrap_or(0);
        match p.action {
            Action::Keep | Action::Unmark => st.packs_kept += 1,
            Action::Mark => (st.packs_marked, st.bytes_marked) = (st.packs_marked + 1, st.bytes_marked + size),
            Action::Repack => {
                st.packs_repack += 1;
                st.bytes_repack += size;
                st.bytes_repack_unused += p.unused_bytes;
                st.blobs_repacked += p.used_blobs;
            }
            Action::Delete => (st.packs_deleted, st.bytes_deleted) = (st.packs_deleted + 1, st.bytes_deleted + size),
            Action::Pending => (st.packs_pending, st.bytes_pending) = (st.packs_pending + 1, st.bytes_pending + size),
            Action::Drop => st.packs_missing_dropped += 1,
        }
        if p.action == Action::Unmark {
            st.packs_unmarked += 1;
        }
        if matches!(p.action, Action::Keep | Action::Unmark) {
            st.bytes_unused_after += p.unused_bytes;
        }
    }
    if opts.instant_delete {
        // marked now (unused or repacked), deleted now
        st.packs_deleted += st.packs_marked + st.packs_repack;
        st.bytes_deleted += st.bytes_marked + st.bytes_repack;
    }
    let changes = packs.iter().any(|p| p.action != Action::Keep) || listed.len() > 1;
    if opts.dry_run || !changes {
        return Ok(st);
    }

    if st.packs_repack > 0 {
        log(format!("repacking {}", count(st.packs_repack, "pack")));
        meter.step("repacking packs", st.bytes_repack, Unit::Bytes);
        st.packs_written = repack(repo, &packs, &order, &usage.used, opts.repack_uncompressed, meter)?;
    }
    // our lock must still be trusted before anything is deleted or re-marked (§15)
    let fresh = || lock.map_or(Ok(()), |l| l.ensure_fresh());
    fresh()?;
    let idx = repo.whole_index()?;
    let doomed = |p: &PackInfo| match p.action {
        Action::Delete => true,
        Action::Mark | Action::Repack => opts.instant_delete,
        _ => false,
    };
    let delete = |p: &PackInfo| {
        repo.delete_pack(&idx.pack_id(p.number))?;
        meter.add(1);
        Ok::<(), Error>(())
    };
    if !opts.instant_delete {
        // Two-phase: these packs are marked in the current index, so no writer that started
        // after the mark uses or adopts them; delete before the index stops naming them.
        log(format!("deleting {}", count(st.packs_deleted, "pack")));
        meter.step("deleting packs", st.packs_deleted, Unit::Items);
        packs.iter().filter(|p| doomed(p)).try_for_each(delete)?;
    }
    log("writing index".into());
    // New marks carry the time they become visible (now, just before the index is written),
    // not the time the run started: a client starting before this moment has a lock that
    // started earlier, which postpones the deletion (§21).
    fresh()?;
    let mark_time = unix_now();
    let mut w = IndexWriter::new(repo);
    for p in &packs {
        let entries = || pack_entries(&idx, &order, p).map(|(e, _)| e).collect();
        let id = idx.pack_id(p.number);
        match p.action {
            _ if doomed(p) => {}
            Action::Drop => {}
            Action::Keep | Action::Unmark => w.add(IndexPack { id, blobs: entries() })?,
            Action::Mark | Action::Repack => w.add_marked(IndexPack { id, blobs: entries() }, mark_time)?,
            Action::Pending => w.add_marked(IndexPack { id, blobs: entries() }, p.mark.unwrap_or(mark_time))?,
            Action::Delete => {}
        }
    }
    let written = w.finish(listed.clone())?;
    st.index_files_written = written.len() as u64;
    if opts.instant_delete {
        // Exclusive lock: nobody can adopt a pack the new index no longer names.
        log(format!("deleting {}", count(st.packs_deleted, "pack")));
        meter.step("deleting packs", st.packs_deleted, Unit::Items);
        packs.iter().filter(|p| doomed(p)).try_for_each(delete)?;
    }
    drop(idx);
    for id in &listed {
        repo.delete(ObjectKind::Index, id)?;
    }
    repo.unload_index()?;
    Ok(st)
}

/// The earliest start among other clients' live locks, with who holds it.
fn oldest_foreign_lock(repo: &Repository, mine: Option<&LockGuard>) -> Result<Option<(u64, String)>> {
    let mine = mine.map(|l| l.id());
    let mut oldest: Option<(u64, String)> = None;
    for (id, l) in repo.locks()? {
        if Some(id) == mine || lock_is_stale(&l) {
            continue;
        }
        let started = l.started_at().map(|t| t.timestamp().max(0) as u64).unwrap_or(0);
        if oldest.as_ref().is_none_or(|(o, _)| started < *o) {
            let who = format!(
                "{} (pid {} on {}, since {})",
                l.command,
                l.pid,
                l.hostname,
                l.started.as_deref().unwrap_or(&l.time)
            );
            oldest = Some((started, who));
        }
    }
    Ok(oldest)
}

/// One `PackInfo` per pack, from the table walked in (pack, offset) order.
fn classify(
    idx: &BlobIndex,
    used: &BitSet,
    stored: &HashMap<PackId, u64>,
    adopted: &std::collections::HashSet<PackId>,
) -> (Vec<PackInfo>, Vec<u32>) {
    let mut order: Vec<u32> = (0..idx.table_len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        let e = idx.table_entry(i as usize);
        (e.pack, e.offset, e.group_offset)
    });
    let mut out: Vec<PackInfo> = vec![];
    let mut k = 0;
    while k < order.len() {
        let first = idx.table_entry(order[k] as usize);
        // the entries of one sealed unit: a blob, or the members of a group
        let unit_len = order[k..]
            .iter()
            .take_while(|&&i| {
                let n = idx.table_entry(i as usize);
                (n.pack, n.offset, n.length) == (first.pack, first.offset, first.length)
            })
            .count();
        let unit = &order[k..k + unit_len];
        if out.last().is_none_or(|p| p.number != first.pack) {
            let id = idx.pack_id(first.pack);
            out.push(PackInfo {
                number: first.pack,
                first: k,
                count: 0,
                used_blobs: 0,
                used_bytes: 0,
                unused_bytes: 0,
                tree: first.blob_type == BlobType::Tree,
                raw_stored: false,
                size: stored.get(&id).copied(),
                mark: idx.pack_mark(first.pack),
                adopted: adopted.contains(&id),
                action: Action::Keep,
            });
        }
        let Some(p) = out.last_mut() else { break };
        let plain_len =
            unit.iter().map(|&i| idx.table_entry(i as usize).pack_entry().plain_end() as u64).max().unwrap_or(0);
        p.count += unit.len();
        p.raw_stored |= stored_raw(first.length, plain_len as u32);
        for &i in unit {
            let bytes = idx.table_entry(i as usize).pack_entry().share_of_unit(plain_len);
            if used.contains(i as usize) {
                p.used_blobs += 1;
                p.used_bytes += bytes;
            } else {
                p.unused_bytes += bytes;
            }
        }
        k += unit_len;
    }
    (out, order)
}

/// Restic's rule: repack partly used tree packs (and raw-stored ones with
/// `--repack-uncompressed`, small ones with `--repack-small`) always, other partly used packs,
/// most unused bytes first, until the unused bytes left are within `max_unused`; never more
/// than `max_repack` bytes in all.
fn choose_repacks(packs: &mut [PackInfo], opts: &PruneOptions, target: u64) {
    let used_total: u64 = packs.iter().map(|p| p.used_bytes).sum();
    let limit = match opts.max_unused {
        MaxUnused::Percent(p) => (used_total as f64 * p / 100.0) as u64,
        MaxUnused::Bytes(b) => b,
        MaxUnused::Unlimited => u64::MAX,
    };
    let mut unused_left: u64 =
        packs.iter().filter(|p| matches!(p.action, Action::Keep | Action::Unmark)).map(|p| p.unused_bytes).sum();
    // a pack closed at its blob count is as full as a writer makes it, however few bytes it has
    let small = |p: &PackInfo| p.size.unwrap_or(0) < target * 4 / 5 && p.count < CLOSE_AT_ENTRIES;
    let small_count = packs.iter().filter(|p| p.action == Action::Keep && small(p)).count();
    let mut candidates: Vec<usize> = (0..packs.len())
        .filter(|&i| {
            let p = &packs[i];
            p.action == Action::Keep
                && !p.adopted
                && (p.unused_bytes > 0
                    || (opts.repack_small && small_count > 1 && small(p))
                    || (opts.repack_uncompressed && p.raw_stored))
        })
        .collect();
    candidates.sort_by_key(|&i| {
        let p = &packs[i];
        let must = (p.tree && p.unused_bytes > 0) || (opts.repack_uncompressed && p.raw_stored);
        (!must, std::cmp::Reverse(p.unused_bytes), p.number)
    });
    let mut repack_bytes = 0u64;
    for i in candidates {
        let p = &mut packs[i];
        let size = p.size.unwrap_or(0);
        if opts.max_repack.is_some_and(|m| repack_bytes + size > m) {
            continue;
        }
        let must = (p.tree && p.unused_bytes > 0)
            || (opts.repack_uncompressed && p.raw_stored)
            || (opts.repack_small && small_count > 1 && small(p));
        if !must && unused_left <= limit {
            continue;
        }
        p.action = if p.used_blobs == 0 { Action::Mark } else { Action::Repack };
        repack_bytes += size;
        unused_left = unused_left.saturating_sub(p.unused_bytes);
    }
}

/// The entries of one pack, each with whether it is used; the same location named by two
/// A pack about to be marked or repacked drops its copies of used blobs whose preferred
/// location is in another pack. Before version 3 a pack was adopted from its header alone, so
/// that other pack may be a planted copy of this one's header on other bytes: each such pack
/// is downloaded and verified once (§21.2), and a pack whose copies would otherwise be the
/// only genuine ones is kept. Copies are rare (concurrent backups of the same data), so this
/// downloads little.
fn keep_copies_of_unverified(
    repo: &Repository,
    packs: &mut [PackInfo],
    order: &[u32],
    used: &BitSet,
    log: &dyn Fn(String),
) -> Result<()> {
    let idx = repo.whole_index()?;
    let mut verdicts: HashMap<u32, bool> = HashMap::new();
    for p in packs.iter_mut().filter(|p| matches!(p.action, Action::Mark | Action::Repack)) {
        let mut holders: Vec<u32> = vec![];
        for (e, pos) in pack_entries(&idx, order, p).filter(|(_, pos)| !used.contains(*pos)) {
            let same = |i: &usize| idx.table_entry(*i).id == e.id;
            let before = (0..pos).rev().take_while(same);
            let after = (pos + 1..idx.table_len()).take_while(same);
            for i in before.chain(after).filter(|i| used.contains(*i)) {
                let n = idx.table_entry(i).pack;
                if n != p.number && !holders.contains(&n) {
                    holders.push(n);
                }
            }
        }
        for n in holders {
            let genuine = *verdicts.entry(n).or_insert_with(|| match repo.verify_pack(&idx.pack_id(n)) {
                Ok(_) => true,
                Err(e) => {
                    log(format!("not relying on {}: {}", pack_path(&idx.pack_id(n)), e.message));
                    tracing::warn!("{}", e.message);
                    false
                }
            });
            if !genuine {
                p.action = Action::Keep;
                break;
            }
        }
    }
    Ok(())
}

/// index files appears once (the table holds it once).
fn pack_entries<'a>(
    idx: &'a BlobIndex,
    order: &'a [u32],
    p: &PackInfo,
) -> impl Iterator<Item = (PackEntry, usize)> + 'a {
    order[p.first..p.first + p.count].iter().map(move |&i| {
        let e = idx.table_entry(i as usize);
        (e.pack_entry(), i as usize)
    })
}

/// Copy the used blobs of every pack chosen for repacking into new packs; returns how many
/// packs were written. Each pack is read whole and must hash to its name; each blob copied is
/// authenticated first. Blobs are copied sealed, or re-sealed (compressed) with `recompress`
/// when they were stored raw.
fn repack(
    repo: &Arc<Repository>,
    packs: &[PackInfo],
    order: &[u32],
    used: &BitSet,
    recompress: bool,
    meter: &dyn Meter,
) -> Result<u64> {
    let mut copier = PackCopier::new(repo);
    for p in packs.iter().filter(|p| p.action == Action::Repack) {
        let (id, entries) = {
            let idx = repo.whole_index()?;
            let entries: Vec<(PackEntry, bool)> =
                pack_entries(&idx, order, p).map(|(e, pos)| (e, used.contains(pos))).collect();
            (idx.pack_id(p.number), entries)
        };
        let path = pack_path(&id);
        let bytes = repo.read_pack(&id).ctx("to repack it")?;
        if storage_hash(&bytes) != id.0 {
            return Err(Error::corrupt(format!("{path}: content does not match its name; not repacking it"))
                .hint("nothing was deleted; run `arca check --read-data`, then `arca repair index`"));
        }
        for unit in entries.chunk_by(|a, b| a.0.same_unit(&b.0)) {
            let (unit, keep): (Vec<PackEntry>, Vec<bool>) = unit.iter().copied().unzip();
            if !keep.contains(&true) {
                continue;
            }
            let e = &unit[0];
            let sealed = bytes
                .get(e.offset as usize..e.unit_end() as usize)
                .ok_or_else(|| Error::corrupt(format!("{path}: blob {} out of range", e.id)))?;
            copier.copy_unit(&unit, &keep, sealed, recompress).ctx_object(&path)?;
        }
        meter.add(bytes.len() as u64);
    }
    Ok(copier.finish()?.0)
}

/// Was a blob (of at least 4 KiB; smaller ones rarely compress) stored without compression?
/// Its sealed length is then exactly that of its padded plaintext (format-spec §5); a
/// compressed blob is shorter, unless compression saved less than the padding granularity,
/// in which case compressing again gains nothing either.
fn stored_raw(sealed_len: u32, raw_len: u32) -> bool {
    raw_len >= 4096 && sealed_len as usize == padme(FRAME_LEN + raw_len as usize) + SEAL_OVERHEAD - FRAME_LEN
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Parse `--max-unused`: `5%`, a size like `2G`, or `unlimited`.
pub fn parse_max_unused(s: &str, parse_size: impl Fn(&str) -> Result<u64>) -> Result<MaxUnused> {
    let t = s.trim();
    if t == "unlimited" {
        return Ok(MaxUnused::Unlimited);
    }
    if let Some(p) = t.strip_suffix('%') {
        return match p.trim().parse::<f64>() {
            Ok(v) if (0.0..=100.0).contains(&v) => Ok(MaxUnused::Percent(v)),
            _ => Err(Error::new(Kind::Usage, format!("--max-unused {s:?}: a percentage must be 0-100"))),
        };
    }
    parse_size(t).map(MaxUnused::Bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compression;
    use crate::crypto::Keys;
    use crate::format::pack::seal_blob;

    #[test]
    fn raw_stored_blobs_are_told_apart_by_their_sealed_length() {
        let keys = Keys::derive(&crate::crypto::MasterSecret([7; 32]));
        let mut random = vec![0u8; 9000];
        blake3::Hasher::new().update(b"noise").finalize_xof().fill(&mut random);
        let text: Vec<u8> = (0..9000u32).flat_map(|i| format!("{} ", i % 50).into_bytes()).take(9000).collect();
        let id = crate::id::BlobId([1; 32]);
        let raw = seal_blob(&keys, BlobType::Data, &id, &random, Compression::AUTO);
        let off = seal_blob(&keys, BlobType::Data, &id, &text, Compression::Off);
        let on = seal_blob(&keys, BlobType::Data, &id, &text, Compression::AUTO);
        assert!(stored_raw(raw.len() as u32, 9000), "incompressible data is stored raw");
        assert!(stored_raw(off.len() as u32, 9000), "compression off stores raw");
        assert!(!stored_raw(on.len() as u32, 9000), "compressed text is not raw");
        assert!(!stored_raw(off.len() as u32 - 1, 9000));
        let small = seal_blob(&keys, BlobType::Data, &id, &text[..100], Compression::Off);
        assert!(!stored_raw(small.len() as u32, 100), "small blobs are not repacked for this");
    }
}
