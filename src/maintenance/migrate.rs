//! Format upgrades (`migrate`, format-spec/v4.md §17.1): `upgrade_repo_v4` makes a version 3
//! repository a version 4 one by writing `config` alone (version 4 adds inline content to
//! trees and changes nothing a version 3 repository holds), after doing what `upgrade_repo_v3`
//! does for a version 1 or 2 one; `upgrade_repo_v3` makes a version 1 or 2 repository
//! a version 3 one without losing a byte, and a crash at any write leaves a repository that
//! opens, checks and restores everything, in which `migrate` run again finishes the job.
//!
//! What changes is what a reader of version 3 requires of stored bytes: pack headers in the
//! version 3 layout (pack nonce, unit hashes, padding; §11.1), because a version 3 reader
//! decodes no other. Every pack is therefore copied: its sealed units are moved as they are
//! (blob ids, trees and snapshots stay, so every snapshot keeps its id and content and later
//! backups deduplicate against everything) into new packs with version 3 headers, and a new
//! index in version 3 names them. What stays: snapshots, trees (their version 1 and 2 time
//! encoding is read by every version, §13.1), keys, blob ids, chunk boundaries.
//!
//! The order is the commit order of §16, with `config` last:
//!
//! 1. Adopt unindexed packs (§12): the version 3 packs of an interrupted run are indexed
//!    again, so their blobs are not copied twice.
//! 2. Copy every unit of every old-format pack that no unmarked version 3 pack holds yet into
//!    new packs; each pack is stored before the index file naming it.
//! 3. Store an index naming every version 3 pack (prune's marks kept), superseding every
//!    index file listed before it; then delete those files, then the old packs.
//! 4. Store `config` with version 3 (one write, read back).
//!
//! Until step 4 the repository is a version 1 or 2 one that may hold version 3 packs, which
//! its readers accept (§17.1); after it, no old pack is left. A pack that does not verify
//! stops the upgrade before anything is deleted.

use crate::util::words::count;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::IndexPack;
use crate::format::pack::{units, PackEntry};
use crate::format::BlobType;

/// The version `upgrade_repo_v3` upgrades to: the first whose pack headers commit to their
/// units (every later version keeps that layout).
const V3: u8 = 3;
/// The version `upgrade_repo_v4` upgrades to: trees may hold inline content (format-spec/v4.md).
const V4: u8 = 4;
use crate::id::{BlobId, PackId};
use crate::repo::{pack_path, IndexWriter, LockGuard, ObjectKind, PackCopier, Repository};

/// A migration `arca migrate` knows.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub name: &'static str,
    pub description: &'static str,
}

/// The one migration: to format version 3.
pub const UPGRADE_V3: Migration = Migration {
    name: "upgrade_repo_v3",
    description: "upgrade a version 1 or 2 repository to format version 3: every pack gets a version 3 header \
                  that commits to its blobs' bytes (packs are copied, snapshots and blob ids stay)",
};

/// To format version 4: a version 3 repository only changes `config` (a version 4 reader reads
/// version 3 trees; version 4 writers may then store inline content); an older one is first
/// upgraded as `upgrade_repo_v3` does.
pub const UPGRADE_V4: Migration = Migration {
    name: "upgrade_repo_v4",
    description: "upgrade a repository to format version 4 (tiny files stored inline in trees): a version 3 \
                  repository only changes config; a version 1 or 2 one first gets what upgrade_repo_v3 does",
};

pub const MIGRATIONS: &[Migration] = &[UPGRADE_V3, UPGRADE_V4];

/// The version a migration upgrades to.
fn target(m: &Migration) -> u8 {
    if m.name == UPGRADE_V4.name {
        V4
    } else {
        V3
    }
}

/// A migration and whether it applies to this repository.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub name: &'static str,
    pub description: &'static str,
    pub applies: bool,
    /// Why it does not apply (empty when it does).
    pub reason: String,
}

pub fn status(repo: &Repository) -> Vec<MigrationStatus> {
    let version = repo.config().version;
    MIGRATIONS
        .iter()
        .map(|m| {
            let reason = if version >= target(m) {
                format!("the repository is at format version {version} already")
            } else if repo.rotation_in_progress() {
                "a key rotation is in progress (finish it with `arca key rotate`)".into()
            } else {
                String::new()
            };
            MigrationStatus { name: m.name, description: m.description, applies: reason.is_empty(), reason }
        })
        .collect()
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct UpgradeReport {
    pub migration: String,
    pub dry_run: bool,
    pub from_version: u8,
    pub to_version: u8,
    /// Packs in an older layout, to be (or that were) copied.
    pub old_packs: usize,
    pub old_bytes: u64,
    /// Version 3 packs found at the start (stored by an interrupted run).
    pub packs_already_upgraded: usize,
    pub blobs_copied: usize,
    /// Blobs of old packs that a version 3 pack held already.
    pub blobs_already_upgraded: usize,
    pub packs_written: u64,
    pub index_files_written: usize,
    pub index_files_removed: usize,
    pub packs_removed: usize,
    /// `config` now says `to_version`.
    pub config_written: bool,
}

/// Apply the migration named `name` (one of [`MIGRATIONS`]) under `lock` (exclusive), or
/// with `dry_run` say what it would do. `log` hears each phase.
pub fn upgrade(
    repo: &mut Repository,
    name: &str,
    lock: &LockGuard,
    dry_run: bool,
    log: &dyn Fn(String),
) -> Result<UpgradeReport> {
    let m = MIGRATIONS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::usage(format!("no migration named {name:?}")))?;
    if let Some(s) = status(repo).into_iter().find(|s| s.name == name && !s.applies) {
        return Err(Error::usage(format!("{} does not apply: {}", s.name, s.reason)));
    }
    let from = repo.config().version;
    let mut r = if from < V3 {
        upgrade_to_v3(repo, lock, dry_run, log)?
    } else {
        UpgradeReport { dry_run, from_version: from, ..Default::default() }
    };
    r.migration = m.name.into();
    r.from_version = from;
    r.to_version = target(m);
    if target(m) == V4 && !dry_run {
        // a version 4 reader reads every version 3 tree, pack and index: only config changes
        repo.store_config_version(V4, lock)?;
        r.config_written = true;
        log(format!("config now says format version {V4}"));
    }
    Ok(r)
}

/// Upgrade `repo` from format version 1 or 2 to 3 (the caller checked that the migration
/// applies), or with `dry_run` say what would be copied.
fn upgrade_to_v3(
    repo: &mut Repository,
    lock: &LockGuard,
    dry_run: bool,
    log: &dyn Fn(String),
) -> Result<UpgradeReport> {
    let from = repo.config().version;
    let mut r = UpgradeReport {
        migration: UPGRADE_V3.name.into(),
        dry_run,
        from_version: from,
        to_version: V3,
        ..Default::default()
    };
    // 1. the packs of an interrupted run (or backup) become known again
    // (a dry run adopts them in memory only: no index file names them)
    let adopted = repo.adopt_unindexed_packs(dry_run)?;
    let listed_files = repo.list(ObjectKind::Index)?;
    let mut marks: HashMap<PackId, u64> = HashMap::new();
    let mut indexed: HashSet<PackId> = adopted.into_iter().collect();
    for id in &listed_files {
        let f = repo.load_index_file(id).ctx_object(ObjectKind::Index.path(id))?;
        indexed.extend(f.packs.iter().map(|p| p.id));
        for m in f.marked {
            indexed.insert(m.pack.id);
            let t = marks.entry(m.pack.id).or_default();
            *t = (*t).max(m.marked_at);
        }
    }
    let mut upgraded: Vec<(PackId, Vec<PackEntry>)> = vec![];
    let mut old: Vec<(PackId, u64, Vec<PackEntry>)> = vec![];
    for (id, size) in repo.stored_packs()? {
        if !indexed.contains(&id) {
            // not adopted above: it did not verify, and no index needs it
            log(format!("{} is not indexed and does not verify: left as it is", pack_path(&id)));
            continue;
        }
        match repo.read_pack_header_versioned(&id, size)? {
            (v, entries) if v >= V3 => upgraded.push((id, entries)),
            (_, entries) => old.push((id, size, entries)),
        }
    }
    r.packs_already_upgraded = upgraded.len();
    r.old_packs = old.len();
    r.old_bytes = old.iter().map(|(_, s, _)| s).sum();
    // a blob counts as upgraded only in an unmarked pack: a marked one is on its way out (§21)
    let mut have: HashSet<(BlobType, BlobId)> = upgraded
        .iter()
        .filter(|(id, _)| !marks.contains_key(id))
        .flat_map(|(_, e)| e.iter().map(|e| (e.blob_type, e.id)))
        .collect();
    log(format!("format {from} → {V3}: {} to copy, {} already in version 3", count(old.len(), "pack"), upgraded.len()));
    if dry_run {
        for (_, _, entries) in &old {
            for e in entries {
                if have.insert((e.blob_type, e.id)) {
                    r.blobs_copied += 1;
                } else {
                    r.blobs_already_upgraded += 1;
                }
            }
        }
        return Ok(r);
    }
    // 2. copy; nothing is deleted until every old pack is copied
    let mut copier = PackCopier::with_format(repo, V3);
    for (id, _, _) in &old {
        let path = pack_path(id);
        let damaged = |e: Error| {
            if e.kind == Kind::Corrupt {
                e.hint(format!(
                    "nothing was changed; salvage the pack first: `arca repair packs {}`, then `arca repair snapshots`, \
                     then migrate again",
                    id.short()
                ))
            } else {
                e
            }
        };
        let bytes = repo.read_pack_verified(id).map_err(damaged)?;
        let (header, problems) = repo.verify_pack_bytes(&bytes).ctx_object(&path).map_err(damaged)?;
        if let Some(p) = problems.first() {
            return Err(damaged(Error::corrupt(format!("{path}: {p}")).object(&path)));
        }
        for unit in units(&header.entries) {
            let keep: Vec<bool> = unit.iter().map(|e| !have.contains(&(e.blob_type, e.id))).collect();
            let sealed = bytes
                .get(unit[0].offset as usize..unit[0].unit_end() as usize)
                .ok_or_else(|| Error::corrupt(format!("{path}: a unit lies outside the pack")).object(&path))?;
            let copied = copier.copy_unit(unit, &keep, sealed, false).ctx_object(&path).map_err(damaged)?;
            r.blobs_copied += copied;
            r.blobs_already_upgraded += unit.len() - copied;
            have.extend(unit.iter().map(|e| (e.blob_type, e.id)));
        }
        lock.ensure_fresh()?;
    }
    let (packs_written, copier_files) = copier.finish()?;
    r.packs_written = packs_written;
    // 3. one index naming every version 3 pack, then the old files and packs go
    let mut w = IndexWriter::with_format(repo, V3);
    for (id, blobs) in upgraded {
        match marks.get(&id) {
            Some(t) => w.add_marked(IndexPack { id, blobs }, *t)?,
            None => w.add(IndexPack { id, blobs })?,
        }
    }
    for f in &copier_files {
        for p in repo.load_index_file(f).ctx_object(ObjectKind::Index.path(f))?.packs {
            w.add(p)?;
        }
    }
    let mut supersedes = listed_files;
    supersedes.extend(copier_files.iter().copied());
    lock.ensure_fresh()?;
    r.index_files_written = w.finish(supersedes.clone())?.len();
    log(format!(
        "index written; removing {} and {}",
        count(supersedes.len(), "old index file"),
        count(old.len(), "old pack")
    ));
    for id in &supersedes {
        repo.delete(ObjectKind::Index, id)?;
        r.index_files_removed += 1;
    }
    for (id, _, _) in &old {
        repo.delete_pack(id)?;
        r.packs_removed += 1;
    }
    repo.unload_index()?;
    // 4. config last
    repo.store_config_version(V3, lock)?;
    r.config_written = true;
    log(format!("config now says format version {V3}"));
    Ok(r)
}
