//! `check`: is every snapshot restorable from what is stored?
//!
//! 1. Every index file decodes; every entry points into a stored pack within its bounds, and
//!    matches that pack's (authenticated) header. A pack marked for deletion that is gone is
//!    a deletion in progress, not damage.
//!    The sealed header of every stored pack, indexed or not, is read: two packs with
//!    byte-identical sealed headers are reported, since one is a copy of the other's header
//!    on other bytes (someone who can only add files planted it, format-spec/v3.md §18.3).
//! 2. With `read_data`, the selected packs are downloaded whole: each must hash to its name,
//!    its units must be the ones its header commits to (format 3), and every blob must
//!    authenticate and match its id. Unindexed packs are verified against their headers too
//!    and listed when they do not match (never adopted, so harmless to the data).
//! 3. Every snapshot decodes, and every tree and blob reachable from it is indexed and not
//!    damaged; each problem is reported with the snapshot and the file path it affects.
//!
//! Check reads storage, never the cache (unless asked), so a good cached copy cannot hide a
//! damaged stored one.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result, ResultExt};
use crate::format::index::IndexFile;
use crate::format::pack::{sealed_header, PackEntry, TRAILER_LEN};
use crate::format::tree::{ContentList, Node, NodeKind};
use crate::format::BlobType;
use crate::id::{storage_hash, BlobId, PackId, SnapshotId, TreeId};
use crate::repo::{pack_path, ObjectKind, Repository};
use crate::util::progress::{Meter, Unit, Unmetered};

/// Which packs `--read-data` / `--read-data-subset` downloads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadData {
    None,
    All,
    /// The n-th of t groups (1-based), by pack id.
    Part(u64, u64),
    /// A random x percent of the packs.
    Percent(f64),
    /// Random packs up to this many bytes.
    Bytes(u64),
}

impl ReadData {
    /// Parse `--read-data-subset`: `n/t`, `x%` or a size (with `parse_size`).
    pub fn parse_subset(s: &str, parse_size: impl Fn(&str) -> Result<u64>) -> Result<ReadData> {
        let t = s.trim();
        if let Some((n, total)) = t.split_once('/') {
            return match (n.trim().parse::<u64>(), total.trim().parse::<u64>()) {
                (Ok(n), Ok(total)) if n >= 1 && n <= total => Ok(ReadData::Part(n, total)),
                _ => Err(Error::usage(format!("--read-data-subset {s:?}: use n/t with 1 <= n <= t"))),
            };
        }
        if let Some(p) = t.strip_suffix('%') {
            return match p.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 100.0 => Ok(ReadData::Percent(v)),
                _ => Err(Error::usage(format!("--read-data-subset {s:?}: a percentage must be in (0, 100]"))),
            };
        }
        parse_size(t).map(ReadData::Bytes)
    }
}

/// One snapshot file that a problem touches.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Damage {
    /// The snapshot, printed short.
    #[serde(serialize_with = "crate::id::serialize_short")]
    pub snapshot: SnapshotId,
    pub path: String,
    pub problem: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub index_files: usize,
    pub packs: usize,
    pub blobs: usize,
    pub trees_checked: usize,
    pub packs_read: usize,
    pub bytes_read: u64,
    pub blobs_read: usize,
    /// Packs no index names: left by an interrupted backup. Harmless; the next backup (or
    /// prune) indexes them.
    pub unreferenced_packs: Vec<String>,
    /// With `--read-data`: unreferenced packs whose bytes do not match their header (or whose
    /// header is not valid), each with the reason. Never adopted, so harmless to the data, but
    /// a partial upload or a planted file (format-spec/v3.md §21.10).
    pub invalid_unreferenced_packs: Vec<String>,
    /// Packs prune marked for deletion and already deleted (the index is rewritten next).
    pub pending_deletion: Vec<String>,
    /// Damage to stored objects.
    pub errors: Vec<String>,
    /// What the damage means: snapshot, path, problem.
    pub damaged: Vec<Damage>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.damaged.is_empty()
    }

    /// The snapshots with damaged files.
    pub fn damaged_snapshots(&self) -> Vec<SnapshotId> {
        let mut v: Vec<SnapshotId> = self.damaged.iter().map(|d| d.snapshot).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A pack named by the index, with every entry any index file gives it.
struct IndexedPack {
    entries: Vec<PackEntry>,
    marked: bool,
    /// The index files that name it.
    files: Vec<crate::id::ObjectId>,
}

pub fn check(repo: &Repository, read_data: ReadData) -> Result<CheckReport> {
    check_metered(repo, read_data, &Unmetered)
}

/// [`check`], telling `meter` how many packs are checked (and read, with `--read-data`).
pub fn check_metered(repo: &Repository, read_data: ReadData, meter: &dyn Meter) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    // Snapshots are listed first: the index files of each were stored before it (§16), so
    // the index read next covers them even while backups run.
    let mut snapshot_ids: Vec<SnapshotId> =
        repo.list(ObjectKind::Snapshot)?.into_iter().map(SnapshotId::from_object).collect();
    snapshot_ids.sort();
    let stored: HashMap<PackId, u64> = repo.stored_packs()?.into_iter().collect();

    // 1. index files
    let mut packs: HashMap<PackId, IndexedPack> = HashMap::new();
    let files = read_index_files(repo, &mut report)?;
    report.index_files = files.len();
    for (file, f) in &files {
        for (p, marked) in f.packs.iter().map(|p| (p, false)).chain(f.marked.iter().map(|m| (&m.pack, true))) {
            let e = packs.entry(p.id).or_insert_with(|| IndexedPack { entries: vec![], marked: false, files: vec![] });
            e.marked |= marked;
            e.files.push(*file);
            e.entries.extend(p.blobs.iter().copied());
        }
    }
    drop(files);
    let mut damaged_blobs: HashSet<BlobId> = HashSet::new();
    for p in packs.values_mut() {
        p.entries.sort_by_key(|e| (e.offset, e.group_offset, e.id));
        p.entries.dedup();
    }
    report.packs = packs.len();
    report.blobs = packs.values().map(|p| p.entries.len()).sum();
    let mut to_read: Vec<(PackId, u64)> = vec![];
    let mut unindexed: Vec<(PackId, u64)> =
        stored.iter().filter(|(id, _)| !packs.contains_key(id)).map(|(id, s)| (*id, *s)).collect();
    unindexed.sort();
    for (id, p) in &packs {
        match stored.get(id) {
            None if p.marked => report.pending_deletion.push(pack_path(id)),
            None => {
                let by: Vec<String> = p.files.iter().map(|f| ObjectKind::Index.path(f)).collect();
                report.errors.push(format!(
                    "{}: indexed but missing ({} blobs, named by {}; an index file naming only missing packs may be an old one replayed)",
                    pack_path(id),
                    p.entries.len(),
                    by.join(", ")
                ));
                damaged_blobs.extend(p.entries.iter().map(|e| e.id));
            }
            Some(&size) => to_read.push((*id, size)),
        }
    }
    to_read.sort();
    let selected = select_packs(&to_read, read_data);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .thread_name(|i| format!("arca-check-{i}"))
        .build()
        .map_err(|e| Error::new(crate::error::Kind::Other, format!("starting check threads: {e}")))?;
    let selected_unindexed = select_packs(&unindexed, read_data);
    let step = if read_data == ReadData::None { "checking packs" } else { "checking packs (reading selected ones)" };
    meter.step(step, (to_read.len() + unindexed.len()) as u64, Unit::Items);
    let results: Vec<PackResult> = pool.install(|| {
        to_read
            .par_iter()
            .map(|(id, size)| check_pack(repo, id, *size, &packs[id].entries, selected.contains(id)))
            .chain(
                unindexed
                    .par_iter()
                    .map(|(id, size)| check_unindexed(repo, id, *size, selected_unindexed.contains(id))),
            )
            .inspect(|_| meter.add(1))
            .collect()
    });
    let mut headers: HashMap<[u8; 32], Vec<PackId>> = HashMap::new();
    for r in &results {
        if let Some(h) = r.header {
            headers.entry(h).or_default().push(r.pack);
        }
    }
    let mut copies: Vec<Vec<PackId>> = headers.into_values().filter(|p| p.len() > 1).collect();
    copies.iter_mut().for_each(|p| p.sort());
    copies.sort();
    for p in copies {
        let names: Vec<String> = p.iter().map(pack_path).collect();
        report.errors.push(format!(
            "{} have byte-identical sealed headers: all but one hold a copy of another pack's header on other \
             bytes (planted by someone who can add files to the storage, or a damaged duplicate); \
             `arca check --read-data` names those whose bytes do not match their header",
            names.join(" and ")
        ));
    }
    for r in results {
        report.invalid_unreferenced_packs.extend(r.invalid);
        report.errors.extend(r.errors);
        damaged_blobs.extend(r.damaged);
        if r.read {
            report.packs_read += 1;
            report.bytes_read += r.bytes;
            report.blobs_read += r.blobs;
        }
    }
    let indexed: HashSet<&PackId> = packs.keys().collect();
    let mut unref: Vec<String> = stored.keys().filter(|id| !indexed.contains(id)).map(pack_path).collect();
    unref.sort();
    report.unreferenced_packs = unref;
    report.pending_deletion.sort();
    let deleted: HashSet<PackId> =
        packs.iter().filter(|(id, p)| p.marked && !stored.contains_key(id)).map(|(id, _)| *id).collect();
    drop(packs);

    // 3. snapshots
    repo.load_index()?;
    let mut walker = Walker { repo, damaged: &damaged_blobs, deleted: &deleted, clean: HashSet::new(), trees: 0 };
    for sid in snapshot_ids {
        let snap = match repo.load_snapshot(&sid) {
            Ok(s) => s,
            Err(e) if e.kind == crate::error::Kind::NotFound => continue, // forgotten meanwhile
            Err(e) => {
                let named = e.message.contains(&sid.to_hex());
                report.errors.push(if named {
                    e.message
                } else {
                    format!("{}: {}", ObjectKind::Snapshot.path(&sid.as_object()), e.message)
                });
                continue;
            }
        };
        report.snapshots += 1;
        let mut found = vec![];
        walker.walk(&snap.tree, "/", 0, &mut found);
        report.damaged.extend(found.into_iter().map(|(path, problem)| Damage { snapshot: sid, path, problem }));
    }
    report.trees_checked = walker.trees;
    report.damaged.sort();
    Ok(report)
}

/// The current index files. A file that vanishes while being read was superseded and deleted
/// by a concurrent prune: the listing is taken again (its replacement is listed then).
fn read_index_files(repo: &Repository, report: &mut CheckReport) -> Result<Vec<(crate::id::ObjectId, IndexFile)>> {
    let mut attempt = 0;
    'listing: loop {
        let mut files = vec![];
        let mut errors = vec![];
        for id in repo.list(ObjectKind::Index)? {
            match repo.load_index_file(&id) {
                Ok(f) => files.push((id, f)),
                Err(e) if e.kind == crate::error::Kind::NotFound && attempt < 5 => {
                    attempt += 1;
                    continue 'listing;
                }
                Err(e) => errors.push(format!("{}: {}", ObjectKind::Index.path(&id), e.message)),
            }
        }
        report.errors.extend(errors);
        let superseded: HashSet<_> = files.iter().flat_map(|(_, f)| f.supersedes.iter().copied()).collect();
        return Ok(files.into_iter().filter(|(id, _)| !superseded.contains(id)).collect());
    }
}

fn select_packs(packs: &[(PackId, u64)], how: ReadData) -> HashSet<PackId> {
    let mut shuffled: Vec<(PackId, u64)> = packs.to_vec();
    let mut rng = u64::from_le_bytes(crate::crypto::random_bytes()) | 1;
    for i in (1..shuffled.len()).rev() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        shuffled.swap(i, (rng % (i as u64 + 1)) as usize);
    }
    match how {
        ReadData::None => HashSet::new(),
        ReadData::All => packs.iter().map(|p| p.0).collect(),
        ReadData::Part(n, t) => packs
            .iter()
            .filter(|(id, _)| u64::from_le_bytes(id.0[..8].try_into().unwrap_or_default()) % t == n - 1)
            .map(|p| p.0)
            .collect(),
        ReadData::Percent(x) => {
            let n = ((packs.len() as f64 * x / 100.0).ceil() as usize).min(packs.len());
            shuffled.into_iter().take(n).map(|p| p.0).collect()
        }
        ReadData::Bytes(limit) => {
            let mut total = 0u64;
            shuffled
                .into_iter()
                .take_while(|(_, size)| {
                    let go = total < limit;
                    total += size;
                    go
                })
                .map(|p| p.0)
                .collect()
        }
    }
}

#[derive(Default)]
struct PackResult {
    pack: PackId,
    /// BLAKE3 of the pack's sealed header, when it could be read.
    header: Option<[u8; 32]>,
    /// An unreferenced pack that does not match its header, and why.
    invalid: Vec<String>,
    errors: Vec<String>,
    damaged: Vec<BlobId>,
    read: bool,
    bytes: u64,
    blobs: usize,
}

/// Compare a pack's header with its index entries; with `read`, download and verify it.
fn check_pack(repo: &Repository, id: &PackId, size: u64, entries: &[PackEntry], read: bool) -> PackResult {
    let path = pack_path(id);
    let mut r = PackResult { pack: *id, ..PackResult::default() };
    let limit = size.saturating_sub(TRAILER_LEN as u64);
    for e in entries {
        if e.offset as u64 + e.length as u64 > limit {
            r.errors.push(format!("{path}: index entry for blob {} lies outside the pack", e.id));
            r.damaged.push(e.id);
        }
    }
    let header = repo.read_pack_tail(id, size).and_then(|tail| {
        r.header = sealed_header(&tail, size).ok().map(|s| *blake3::hash(s).as_bytes());
        repo.decode_pack_header(&tail, size).ctx_object(&path)
    });
    match header {
        Ok(header) => {
            let key = |e: &PackEntry| (e.id, e.offset, e.length, e.raw_length, e.group_offset);
            let listed: HashSet<_> = header.iter().map(key).collect();
            for e in entries {
                if !listed.contains(&key(e)) {
                    r.errors.push(format!("{path}: index entry for blob {} does not match the pack header", e.id));
                    r.damaged.push(e.id);
                }
            }
        }
        Err(e) => r.errors.push(format!("{path}: {}", e.message)),
    }
    if !read {
        return r;
    }
    let bytes = match repo.read_pack_listed(id, size) {
        Ok(b) => b,
        Err(e) => {
            r.errors.push(format!("{path}: {}", e.message));
            r.damaged.extend(entries.iter().map(|e| e.id));
            return r;
        }
    };
    r.read = true;
    r.bytes = bytes.len() as u64;
    if storage_hash(&bytes) != id.0 {
        r.errors.push(format!("{path}: content does not match its name"));
    }
    // format 3: the units must be the ones the header commits to (formats 1 and 2 commit to
    // nothing: there the units opened below are the check)
    if repo.config().version >= 3 {
        match repo.verify_pack_bytes(&bytes) {
            Ok((_, problems)) => r.errors.extend(problems.into_iter().map(|p| format!("{path}: {p}"))),
            Err(e) => r.errors.push(format!("{path}: {}", e.message)),
        }
    }
    // each sealed unit (a blob, or a group) is opened once; entries are in (offset, group
    // offset) order, so the members of a group are next to each other
    for unit in entries.chunk_by(|a, b| a.same_unit(b)) {
        r.blobs += unit.len();
        let e = &unit[0];
        let need = unit.iter().map(PackEntry::plain_end).max().unwrap_or(0);
        let opened = match bytes.get(e.offset as usize..e.unit_end() as usize) {
            Some(s) => repo.open_unit(e, s, need),
            None => Err(Error::corrupt("out of range")),
        };
        for e in unit {
            let failed = match &opened {
                Ok(u) => repo.unit_blob(u, e).err().map(|err| err.message),
                Err(err) => Some(err.message.clone()),
            };
            if let Some(message) = failed {
                r.errors.push(format!("{path}: {} blob {}: {message}", e.blob_type, e.id));
                r.damaged.push(e.id);
            }
        }
    }
    r
}

/// A stored pack no index names: its sealed header is read (to find copies of another pack's
/// header); with `read`, the whole pack is verified against its name and its header.
fn check_unindexed(repo: &Repository, id: &PackId, size: u64, read: bool) -> PackResult {
    let mut r = PackResult { pack: *id, ..PackResult::default() };
    if let Ok(tail) = repo.read_pack_tail(id, size) {
        r.header = sealed_header(&tail, size).ok().map(|s| *blake3::hash(s).as_bytes());
    }
    if !read {
        return r;
    }
    r.read = true;
    r.bytes = size;
    match repo.verify_pack(id) {
        Ok(entries) => r.blobs = entries.len(),
        Err(e) => r.invalid.push(e.message),
    }
    r
}

/// Walks snapshot trees, remembering subtrees found whole so shared ones are walked once.
struct Walker<'a> {
    repo: &'a Repository,
    damaged: &'a HashSet<BlobId>,
    /// Marked packs prune has deleted: a used blob found only there is lost.
    deleted: &'a HashSet<PackId>,
    clean: HashSet<TreeId>,
    trees: usize,
}

use crate::format::tree::MAX_DEPTH;

impl Walker<'_> {
    fn problem(&self, id: &BlobId, t: BlobType) -> Option<String> {
        self.length(id, t).err()
    }

    /// The plaintext length of blob `id` of type `t`, or what is wrong with it: one index
    /// lookup for both (a check of 10 M blobs spent half its time in a second lookup).
    fn length(&self, id: &BlobId, t: BlobType) -> std::result::Result<u64, String> {
        let Ok(idx) = self.repo.index() else { return Err("the index could not be loaded".into()) };
        match idx.get(id) {
            None => Err(format!("{t} blob {} is missing", id.short())),
            Some(l) if l.entry.blob_type != t => {
                Err(format!("blob {} is a {} blob, expected {t}", id.short(), l.entry.blob_type))
            }
            Some(_) if self.damaged.contains(id) => Err(format!("{t} blob {} is damaged", id.short())),
            Some(l) if self.deleted.contains(&l.pack) => {
                Err(format!("{t} blob {} was only in pack {}, which prune deleted", id.short(), l.pack.short()))
            }
            Some(l) => Ok(u64::from(l.entry.raw_length)),
        }
    }

    /// What is wrong with a file node: missing or damaged content, or content that does not
    /// add up to the size the node records (which restore would refuse), or inline content in
    /// a repository older than format 4.
    fn file_problems(&self, n: &Node) -> Vec<String> {
        let mut problems = vec![];
        let mut size = 0u64;
        let mut add = |ids: &[BlobId], problems: &mut Vec<String>| {
            for c in ids {
                match self.length(c, BlobType::Data) {
                    Ok(len) => size += len,
                    Err(p) => problems.push(p),
                }
            }
        };
        add(&n.content, &mut problems);
        for list in &n.content_lists {
            match self.problem(list, BlobType::Tree) {
                Some(p) => problems.push(format!("content list: {p}")),
                None => match self.repo.read_blob(BlobType::Tree, list).and_then(|b| ContentList::decode(&b)) {
                    Ok(l) => add(&l.content, &mut problems),
                    Err(e) => problems.push(format!("content list {}: {}", list.short(), e.message)),
                },
            }
        }
        let version = self.repo.config().version;
        if n.inline.is_some() && version < crate::format::tree::INLINE_FORMAT {
            problems.push(format!("inline content in a format {version} repository, whose readers cannot read it"));
        }
        // inline content (format 4): the tree's decoder checked its length against `size`
        size += n.inline.as_ref().map_or(0, |b| b.len() as u64);
        if problems.is_empty() && size != n.size {
            problems.push(format!("the content adds up to {size} bytes, the snapshot records {}", n.size));
        }
        problems
    }

    /// Collect (path, problem) below tree `id` at `at`; returns whether it is whole.
    fn walk(&mut self, id: &TreeId, at: &str, depth: usize, found: &mut Vec<(String, String)>) -> bool {
        if self.clean.contains(id) {
            return true;
        }
        if depth > MAX_DEPTH {
            found.push((at.to_string(), format!("directories nested deeper than {MAX_DEPTH}")));
            return false;
        }
        if let Some(p) = self.problem(&id.as_blob(), BlobType::Tree) {
            found.push((at.to_string(), format!("directory unreadable: {p}")));
            return false;
        }
        self.trees += 1;
        let tree = match self.repo.load_tree(id) {
            Ok(t) => t,
            Err(e) => {
                found.push((at.to_string(), format!("directory unreadable: {}", e.message)));
                return false;
            }
        };
        let mut whole = true;
        for n in &tree.nodes {
            let path = format!("{at}{}", n.name_lossy());
            match n.kind {
                NodeKind::Dir => {
                    if let Some(s) = n.subtree {
                        whole &= self.walk(&s, &format!("{path}/"), depth + 1, found);
                    }
                }
                NodeKind::File => {
                    let problems = self.file_problems(n);
                    if let Some(first) = problems.first() {
                        let more = if problems.len() > 1 {
                            format!(" (and {} more)", problems.len() - 1)
                        } else {
                            String::new()
                        };
                        found.push((path, format!("{first}{more}")));
                        whole = false;
                    }
                }
                _ => {}
            }
        }
        if whole {
            self.clean.insert(*id);
        }
        whole
    }
}
