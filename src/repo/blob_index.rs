//! The blob index: a sorted table of fixed-width entries and a table of pack ids, rather than
//! a hash map of heap objects, so a million blobs cost about 50 MB. The table is either built
//! from the index files or mapped from the local cache, where it is kept in the byte layout
//! below, so a later run needs neither to download nor to decrypt the index files (the table
//! names only keyed blob ids, packs and offsets). Entries added while a backup runs go to a
//! side table of their own ([`RecentBlobs`]), compact in the same way.
//!
//! A blob may have several locations (two backups stored it at once, or prune copied it out of
//! a pack it marked). All are kept, sorted so that locations in live packs come before those in
//! packs marked for deletion: lookups return the first, and deduplication counts a blob as
//! stored only when that first location is live (format-spec §12, marked packs).
//!
//! Cached table (the cache appends a keyed MAC and checks it before handing the bytes here,
//! format-spec §18.5): `"ARCAIT04"`, file count u32 LE, superseded count u32 LE, pack count
//! u32 LE, entry count u64 LE, the ids [32] of the index files it was built from (every file
//! then listed, sorted), the ids [32] those files supersede (sorted), per pack: id [32] and
//! marked_at u64 LE (0 when live), then entries of 52 bytes sorted by blob id (then live before
//! marked): id [32], pack number u32 LE (top bit set for tree blobs), offset u32 LE, length u32
//! LE, plaintext length u32 LE, group offset u32 LE (`0xFFFFFFFF`: sealed alone). Knowing which
//! files it covers lets a later run decode only the files listed since ([`BlobIndex::lay_over`],
//! [`BlobIndex::fold`]).
//!
//! Lookups first narrow the table with a fan-out of the ids' first 16 bits ([`FanOut`], built
//! in the pass that checks the table's order): blob ids are keyed hashes, evenly spread, so a
//! lookup searches a handful of neighbouring entries instead of bisecting the whole table
//! (a cache miss and a `memcmp` at each of ~18 steps for 200,000 blobs, 15% of an unchanged
//! re-backup's CPU).

use std::collections::HashMap;

use super::recent_blobs::RecentBlobs;
use crate::format::index::IndexFile;
use crate::format::pack::{PackEntry, NOT_GROUPED};
use crate::format::BlobType;
use crate::id::{BlobId, ObjectId, PackId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub id: BlobId,
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    /// Where the blob is in its group's plaintext; [`NOT_GROUPED`] when sealed alone.
    pub group_offset: u32,
    pub blob_type: BlobType,
}

impl IndexEntry {
    pub fn new(pack: u32, b: &PackEntry) -> Self {
        IndexEntry {
            id: b.id,
            pack,
            offset: b.offset,
            length: b.length,
            raw_length: b.raw_length,
            group_offset: b.group_offset.unwrap_or(NOT_GROUPED),
            blob_type: b.blob_type,
        }
    }

    pub fn pack_entry(&self) -> PackEntry {
        PackEntry {
            blob_type: self.blob_type,
            id: self.id,
            offset: self.offset,
            length: self.length,
            raw_length: self.raw_length,
            group_offset: Some(self.group_offset).filter(|g| *g != NOT_GROUPED),
        }
    }
}

/// Where a blob is: its pack and its entry there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub pack: PackId,
    pub entry: PackEntry,
}

const TABLE_MAGIC: &[u8; 8] = b"ARCAIT04";
const TABLE_PACK: usize = 40;
const TABLE_HEADER: usize = 28;
const TABLE_ENTRY: usize = 52;
const TREE_BIT: u32 = 1 << 31;

/// Bytes of a cached table (a memory map, or a buffer in tests).
pub type TableBytes = Box<dyn AsRef<[u8]> + Send + Sync>;

/// Which index files a cached table was built from: every file listed then (sorted), and the
/// ids those files supersede (sorted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub files: Vec<ObjectId>,
    pub superseded: Vec<ObjectId>,
}

enum Table {
    Owned(Vec<IndexEntry>),
    /// The whole cached file; entries start at `start`.
    Mapped {
        bytes: TableBytes,
        start: usize,
        count: usize,
    },
}

impl Default for Table {
    fn default() -> Self {
        Table::Owned(vec![])
    }
}

/// For each 16-bit id prefix `p`, the sorted table's entries with that prefix are
/// `starts[p]..starts[p + 1]`. Empty (search everything) for a table of more than `u32::MAX`
/// entries.
#[derive(Default)]
struct FanOut {
    starts: Vec<u32>,
}

impl FanOut {
    /// Start counting a table of `count` entries: [`add`](Self::add) each entry's id, then
    /// [`finish`](Self::finish).
    fn counting(count: usize) -> FanOut {
        match u32::try_from(count) {
            Ok(_) => FanOut { starts: vec![0; (1 << 16) + 1] },
            Err(_) => FanOut::default(),
        }
    }

    fn add(&mut self, id: &[u8]) {
        if let Some(n) = self.starts.get_mut(usize::from(prefix(id)) + 1) {
            *n += 1;
        }
    }

    fn finish(mut self) -> FanOut {
        for p in 1..self.starts.len() {
            self.starts[p] += self.starts[p - 1];
        }
        self
    }

    /// The range of the table that holds `id` if the table does.
    fn range(&self, id: &BlobId, count: usize) -> (usize, usize) {
        if self.starts.is_empty() {
            return (0, count);
        }
        let p = usize::from(prefix(&id.0));
        (self.starts[p] as usize, self.starts[p + 1] as usize)
    }
}

fn prefix(id: &[u8]) -> u16 {
    u16::from_be_bytes([id[0], id[1]])
}

#[derive(Default)]
pub struct BlobIndex {
    packs: Vec<PackId>,
    /// Per pack number: when prune marked it for deletion (Unix seconds), 0 when live.
    marks: Vec<u64>,
    pack_numbers: HashMap<PackId, u32>,
    sorted: Table,
    fan_out: FanOut,
    /// Entries of index files listed after the cached table was made, laid over it
    /// ([`BlobIndex::lay_over`]): sorted by id, pack, offset; every pack live. Positions in the
    /// table do not cover them until [`BlobIndex::fold`].
    layered: Vec<IndexEntry>,
    /// Entries were laid over since the run was last sorted.
    layered_unsorted: bool,
    /// What the table covers once the laid-over entries are folded in: the cache writes it
    /// then ([`BlobIndex::take_coverage`]).
    coverage: Option<Coverage>,
    recent: RecentBlobs,
}

fn decode_entry(b: &[u8]) -> IndexEntry {
    let u = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut id = [0u8; 32];
    id.copy_from_slice(&b[..32]);
    let pack = u(32);
    IndexEntry {
        id: BlobId(id),
        pack: pack & !TREE_BIT,
        offset: u(36),
        length: u(40),
        raw_length: u(44),
        group_offset: u(48),
        blob_type: if pack & TREE_BIT != 0 { BlobType::Tree } else { BlobType::Data },
    }
}

impl BlobIndex {
    pub fn from_files<'a>(files: impl IntoIterator<Item = &'a IndexFile>) -> Self {
        let mut b = IndexBuilder::default();
        for f in files {
            b.add_file(f);
        }
        b.finish()
    }

    /// The cached-table bytes of this index (side table excluded).
    pub fn encode_table(&self, coverage: &Coverage) -> Vec<u8> {
        let ids = 32 * (coverage.files.len() + coverage.superseded.len());
        let mut out =
            Vec::with_capacity(TABLE_HEADER + ids + self.packs.len() * TABLE_PACK + self.sorted_len() * TABLE_ENTRY);
        // writing into a Vec cannot fail
        let _ = self.write_table(coverage, &mut out);
        out
    }

    /// Write the cached-table bytes (streamed, so no second copy of the table is made).
    pub fn write_table(&self, coverage: &Coverage, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        if !self.layered.is_empty() {
            return Err(std::io::Error::other("the index has entries laid over its table: fold it first"));
        }
        let n = self.sorted_len();
        let count = |n: usize| u32::try_from(n).map_err(|_| std::io::Error::other("too many index files to cache"));
        w.write_all(TABLE_MAGIC)?;
        w.write_all(&count(coverage.files.len())?.to_le_bytes())?;
        w.write_all(&count(coverage.superseded.len())?.to_le_bytes())?;
        w.write_all(&(self.packs.len() as u32).to_le_bytes())?;
        w.write_all(&(n as u64).to_le_bytes())?;
        for id in coverage.files.iter().chain(&coverage.superseded) {
            w.write_all(&id.0)?;
        }
        for (p, m) in self.packs.iter().zip(&self.marks) {
            w.write_all(&p.0)?;
            w.write_all(&m.to_le_bytes())?;
        }
        let mut buf = [0u8; TABLE_ENTRY];
        for i in 0..n {
            let e = self.sorted_entry(i);
            buf[..32].copy_from_slice(&e.id.0);
            let pack = e.pack | if e.blob_type == BlobType::Tree { TREE_BIT } else { 0 };
            for (k, v) in [pack, e.offset, e.length, e.raw_length, e.group_offset].into_iter().enumerate() {
                buf[32 + 4 * k..36 + 4 * k].copy_from_slice(&v.to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        Ok(())
    }

    /// Use a cached table if it is well formed (exact length, covered and superseded ids
    /// strictly sorted, no duplicate pack id, pack numbers in range, entries sorted); `None`
    /// otherwise. The caller decides, from the coverage, whether it fits the listing.
    pub fn from_table(bytes: TableBytes) -> Option<(Self, Coverage)> {
        let b = (*bytes).as_ref();
        if b.len() < TABLE_HEADER || &b[..8] != TABLE_MAGIC {
            return None;
        }
        let u32_at = |i: usize| b[i..i + 4].try_into().ok().map(u32::from_le_bytes);
        let files_n = u32_at(8)? as usize;
        let superseded_n = u32_at(12)? as usize;
        let packs_n = u32_at(16)? as usize;
        let count = usize::try_from(u64::from_le_bytes(b[20..28].try_into().ok()?)).ok()?;
        let packs_at = TABLE_HEADER.checked_add(files_n.checked_add(superseded_n)?.checked_mul(32)?)?;
        let start = packs_at.checked_add(packs_n.checked_mul(TABLE_PACK)?)?;
        if b.len() != start.checked_add(count.checked_mul(TABLE_ENTRY)?)? {
            return None;
        }
        // lengths are checked against the bytes present: these vectors are bounded by the file
        let ids = |from: usize, n: usize| -> Option<Vec<ObjectId>> {
            let v: Vec<ObjectId> = b[from..from + 32 * n]
                .chunks_exact(32)
                .map(|c| <[u8; 32]>::try_from(c).map(ObjectId))
                .collect::<Result<_, _>>()
                .ok()?;
            v.windows(2).all(|w| w[0] < w[1]).then_some(v)
        };
        let files = ids(TABLE_HEADER, files_n)?;
        let superseded = ids(TABLE_HEADER + 32 * files_n, superseded_n)?;
        let mut idx = BlobIndex::default();
        for c in b[packs_at..start].chunks_exact(TABLE_PACK) {
            let n = idx.pack_number(PackId(c[..32].try_into().ok()?));
            idx.marks[n as usize] = u64::from_le_bytes(c[32..].try_into().ok()?);
        }
        if idx.packs.len() != packs_n {
            return None; // duplicate pack ids
        }
        let mut prev: Option<[u8; 32]> = None;
        let mut fan_out = FanOut::counting(count);
        for e in b[start..].chunks_exact(TABLE_ENTRY) {
            let d = decode_entry(e);
            if d.pack as usize >= packs_n || prev.is_some_and(|p| p > d.id.0) {
                return None;
            }
            prev = Some(d.id.0);
            fan_out.add(&d.id.0);
        }
        idx.fan_out = fan_out.finish();
        idx.sorted = Table::Mapped { bytes, start, count };
        Some((idx, Coverage { files, superseded }))
    }

    /// Whether adding `f` to the files this index was built from changes nothing but adding
    /// its blobs: it supersedes no file, marks no pack, and names only packs this index does
    /// not. Then [`Self::lay_over`] answers as a build from every file would (an index file a
    /// backup writes is always of this kind).
    pub fn adds_only_new_packs(&self, f: &IndexFile) -> bool {
        f.supersedes.is_empty() && f.marked.is_empty() && f.packs.iter().all(|p| !self.pack_numbers.contains_key(&p.id))
    }

    /// Lay the blobs of `f` (which [`Self::adds_only_new_packs`]) over the sorted table:
    /// lookups answer as a build from every file would, positions in the table do not cover
    /// them until [`Self::fold`].
    ///
    /// Entries are appended unsorted (sorting after every file would sort the growing run once
    /// per file): [`Self::settle`] or [`Self::fold`] once all are laid over, before any lookup.
    pub fn lay_over(&mut self, f: &IndexFile) {
        for p in &f.packs {
            let n = self.pack_number(p.id);
            self.layered.extend(p.blobs.iter().map(|b| IndexEntry::new(n, b)));
        }
        self.layered_unsorted = true;
    }

    /// Sort what [`Self::lay_over`] appended, so lookups can search it.
    pub fn settle(&mut self) {
        if std::mem::take(&mut self.layered_unsorted) {
            self.layered.sort_unstable_by_key(|e| (e.id, e.pack, e.offset));
            self.layered.dedup_by(|a, b| a.id == b.id && a.pack == b.pack && a.offset == b.offset);
            self.layered.shrink_to_fit();
        }
    }

    /// Remember what the table will cover once folded (the listing that was laid over).
    pub fn set_coverage(&mut self, coverage: Coverage) {
        self.coverage = Some(coverage);
    }

    /// What the table covers, once, if it was folded since it was laid over; `None` while
    /// entries are still laid over it.
    pub fn take_coverage(&mut self) -> Option<Coverage> {
        if self.layered.is_empty() {
            self.coverage.take()
        } else {
            None
        }
    }

    /// Entries laid over the table and not folded into it.
    pub fn layered_len(&self) -> usize {
        self.layered.len()
    }

    /// Merge the entries laid over the table into it, in the order a build from every file
    /// gives (then [`Self::table_len`] and positions cover every entry but the side table's).
    pub fn fold(&mut self) {
        if self.layered.is_empty() {
            return;
        }
        // the laid-over run becomes the table: one vector of every entry at the peak, not two
        let mut entries = std::mem::take(&mut self.layered);
        self.layered_unsorted = false;
        entries.reserve_exact(self.sorted_len());
        entries.extend((0..self.sorted_len()).map(|i| self.sorted_entry(i)));
        let marks = &self.marks;
        entries.sort_unstable_by_key(|e| (e.id, marks[e.pack as usize] != 0, e.pack, e.offset));
        entries.dedup_by(|a, b| a.id == b.id && a.pack == b.pack && a.offset == b.offset);
        entries.shrink_to_fit();
        let mut fan_out = FanOut::counting(entries.len());
        entries.iter().for_each(|e| fan_out.add(&e.id.0));
        self.fan_out = fan_out.finish();
        self.sorted = Table::Owned(entries);
    }

    /// The laid-over entries of `id`.
    fn layered_of(&self, id: &BlobId) -> &[IndexEntry] {
        debug_assert!(!self.layered_unsorted, "a lookup in entries laid over the table before settle()");
        let lo = self.layered.partition_point(|e| e.id < *id);
        let hi = lo + self.layered[lo..].partition_point(|e| e.id == *id);
        &self.layered[lo..hi]
    }

    /// Entries in the sorted table (the side table of recent packs excluded). Walks over table
    /// positions need an index with nothing laid over it ([`Self::fold`]).
    pub fn table_len(&self) -> usize {
        debug_assert!(self.layered.is_empty(), "table positions asked of an index with entries laid over it");
        self.sorted_len()
    }

    fn sorted_len(&self) -> usize {
        match &self.sorted {
            Table::Owned(v) => v.len(),
            Table::Mapped { count, .. } => *count,
        }
    }

    /// The sorted table's entry at position `i < table_len()`.
    pub fn table_entry(&self, i: usize) -> IndexEntry {
        debug_assert!(self.layered.is_empty(), "table positions asked of an index with entries laid over it");
        self.sorted_entry(i)
    }

    fn sorted_entry(&self, i: usize) -> IndexEntry {
        match &self.sorted {
            Table::Owned(v) => v[i],
            Table::Mapped { bytes, start, .. } => {
                let at = start + i * TABLE_ENTRY;
                decode_entry(&(**bytes).as_ref()[at..at + TABLE_ENTRY])
            }
        }
    }

    /// Position of the preferred table entry for `id` (the first of its locations).
    pub fn position(&self, id: &BlobId) -> Option<usize> {
        debug_assert!(self.layered.is_empty(), "table positions asked of an index with entries laid over it");
        self.sorted_position(id)
    }

    fn sorted_position(&self, id: &BlobId) -> Option<usize> {
        let (lo, hi) = self.fan_out.range(id, self.sorted_len());
        let i = match &self.sorted {
            Table::Owned(v) => lo + v[lo..hi].partition_point(|e| e.id < *id),
            Table::Mapped { bytes, start, .. } => {
                let b = (**bytes).as_ref();
                let (mut lo, mut hi) = (lo, hi);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let at = start + mid * TABLE_ENTRY;
                    if b[at..at + 32] < id.0[..] {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                lo
            }
        };
        (i < self.sorted_len() && self.sorted_entry(i).id == *id).then_some(i)
    }

    fn pack_number(&mut self, id: PackId) -> u32 {
        *self.pack_numbers.entry(id).or_insert_with(|| {
            self.packs.push(id);
            self.marks.push(0);
            (self.packs.len() - 1) as u32
        })
    }

    /// The pack with number `n` (as in [`IndexEntry::pack`]).
    pub fn pack_id(&self, n: u32) -> PackId {
        self.packs[n as usize]
    }

    /// When the pack numbered `n` was marked for deletion, if it was.
    pub fn pack_mark(&self, n: u32) -> Option<u64> {
        self.marks.get(n as usize).copied().filter(|m| *m != 0)
    }

    /// Is this pack indexed as marked for deletion?
    pub fn is_marked(&self, id: &PackId) -> bool {
        self.pack_numbers.get(id).is_some_and(|n| self.pack_mark(*n).is_some())
    }

    /// Add the blobs of a newly uploaded pack.
    pub fn add_pack(&mut self, id: PackId, blobs: &[PackEntry]) {
        let n = self.pack_number(id);
        for b in blobs {
            self.recent.insert_if_absent(IndexEntry::new(n, b));
        }
    }

    /// The preferred location: a live one if there is any.
    fn find(&self, id: &BlobId) -> Option<IndexEntry> {
        match self.sorted_position(id).map(|i| self.sorted_entry(i)) {
            Some(e) if self.pack_mark(e.pack).is_none() => Some(e),
            marked => self.layered_of(id).first().copied().or_else(|| self.recent.get(id)).or(marked),
        }
    }

    /// Is the blob stored in a live pack? (What deduplication asks: a blob only in packs marked
    /// for deletion must be stored again.)
    pub fn contains(&self, id: &BlobId) -> bool {
        self.find(id).is_some_and(|e| self.pack_mark(e.pack).is_none())
    }

    pub fn get(&self, id: &BlobId) -> Option<Location> {
        self.find(id).map(|e| Location { pack: self.packs[e.pack as usize], entry: e.pack_entry() })
    }

    /// Every location of the blob: the preferred one first, then the others in table order
    /// (live before marked), so a reader that fails at one can try the next.
    pub fn locations(&self, id: &BlobId) -> Vec<Location> {
        let mut found: Vec<IndexEntry> = self.find(id).into_iter().collect();
        if let Some(first) = self.sorted_position(id) {
            for e in (first..self.sorted_len()).map(|i| self.sorted_entry(i)).take_while(|e| e.id == *id) {
                if !found.contains(&e) {
                    found.push(e);
                }
            }
        }
        for e in self.layered_of(id) {
            if !found.contains(e) {
                found.push(*e);
            }
        }
        if let Some(e) = self.recent.get(id).filter(|e| !found.contains(e)) {
            found.push(e);
        }
        found.into_iter().map(|e| Location { pack: self.packs[e.pack as usize], entry: e.pack_entry() }).collect()
    }

    pub fn len(&self) -> usize {
        self.sorted_len() + self.layered.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Location> + '_ {
        (0..self.sorted_len())
            .map(|i| self.sorted_entry(i))
            .chain(self.layered.iter().copied())
            .chain(self.recent.iter())
            .map(|e| Location { pack: self.packs[e.pack as usize], entry: e.pack_entry() })
    }
}

/// One file added to an [`IndexBuilder`]: its id, its range of entries, its marks (pack
/// number, time).
type AddedFile = (Option<crate::id::ObjectId>, std::ops::Range<usize>, Vec<(u32, u64)>);

/// Builds a [`BlobIndex`] from index files one at a time, so only one decoded file is held
/// besides the table. Files superseded by another file added are left out at the end.
#[derive(Default)]
pub struct IndexBuilder {
    idx: BlobIndex,
    entries: Vec<IndexEntry>,
    files: Vec<AddedFile>,
    superseded: std::collections::HashSet<crate::id::ObjectId>,
}

impl IndexBuilder {
    /// Add a file (without a known id: it can't be superseded).
    pub fn add_file(&mut self, f: &IndexFile) {
        self.add(None, f);
    }

    pub fn add(&mut self, id: Option<crate::id::ObjectId>, f: &IndexFile) {
        let start = self.entries.len();
        for p in &f.packs {
            let n = self.idx.pack_number(p.id);
            self.entries.extend(p.blobs.iter().map(|b| IndexEntry::new(n, b)));
        }
        let mut marks = vec![];
        for m in &f.marked {
            let n = self.idx.pack_number(m.pack.id);
            marks.push((n, m.marked_at.max(1)));
            self.entries.extend(m.pack.blobs.iter().map(|b| IndexEntry::new(n, b)));
        }
        self.superseded.extend(f.supersedes.iter().copied());
        self.files.push((id, start..self.entries.len(), marks));
    }

    /// The ids the files added supersede, sorted.
    pub fn superseded(&self) -> Vec<ObjectId> {
        let mut v: Vec<ObjectId> = self.superseded.iter().copied().collect();
        v.sort_unstable();
        v
    }

    /// The ids of the files added that no other file supersedes.
    pub fn current_files(&self) -> Vec<crate::id::ObjectId> {
        self.files.iter().filter_map(|(id, _, _)| *id).filter(|id| !self.superseded.contains(id)).collect()
    }

    pub fn finish(mut self) -> BlobIndex {
        let mut keep = vec![true; self.entries.len()];
        let mut marks = vec![];
        for (id, range, m) in &self.files {
            if id.is_some_and(|id| self.superseded.contains(&id)) {
                keep[range.clone()].iter_mut().for_each(|k| *k = false);
            } else {
                marks.extend_from_slice(m);
            }
        }
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        drop(keep);
        // Number only the packs that current files name: a pack named only by superseded
        // files is not in the index (so a backup or prune may adopt it).
        let mut idx = BlobIndex::default();
        let mut remap = vec![u32::MAX; self.idx.packs.len()];
        for e in &mut self.entries {
            let old = e.pack as usize;
            if remap[old] == u32::MAX {
                remap[old] = idx.pack_number(self.idx.packs[old]);
            }
            e.pack = remap[old];
        }
        for (n, t) in marks {
            if let Some(&m) = remap.get(n as usize).filter(|m| **m != u32::MAX) {
                idx.marks[m as usize] = idx.marks[m as usize].max(t);
            }
        }
        let marks = &idx.marks;
        self.entries.sort_unstable_by_key(|e| (e.id, marks[e.pack as usize] != 0, e.pack, e.offset));
        self.entries.dedup_by(|a, b| a.id == b.id && a.pack == b.pack && a.offset == b.offset);
        self.entries.shrink_to_fit();
        let mut fan_out = FanOut::counting(self.entries.len());
        self.entries.iter().for_each(|e| fan_out.add(&e.id.0));
        idx.fan_out = fan_out.finish();
        idx.sorted = Table::Owned(self.entries);
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::index::{IndexPack, MarkedPack};

    fn file(n: usize) -> IndexFile {
        let blobs = (0..n)
            .map(|i| PackEntry {
                blob_type: if i % 2 == 0 { BlobType::Data } else { BlobType::Tree },
                id: BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                offset: i as u32 * 100,
                length: 100,
                raw_length: 7 + i as u32,
                group_offset: None,
            })
            .collect();
        IndexFile { supersedes: vec![], packs: vec![IndexPack { id: PackId([5; 32]), blobs }], marked: vec![] }
    }

    #[test]
    fn live_locations_win_over_marked_ones() {
        let f = file(10);
        let blobs = f.packs[0].blobs.clone();
        let marked = IndexFile {
            supersedes: vec![],
            packs: vec![],
            marked: vec![MarkedPack { pack: IndexPack { id: PackId([6; 32]), blobs: blobs.clone() }, marked_at: 77 }],
        };
        // only in a marked pack: readable, but not stored as far as dedup is concerned
        let only_marked = BlobIndex::from_files([&marked]);
        assert_eq!(only_marked.get(&blobs[0].id).unwrap().pack, PackId([6; 32]));
        assert!(!only_marked.contains(&blobs[0].id));
        assert!(only_marked.is_marked(&PackId([6; 32])));
        for files in [[&marked, &f], [&f, &marked]] {
            let both = BlobIndex::from_files(files);
            assert_eq!(both.get(&blobs[3].id).unwrap().pack, PackId([5; 32]), "live copy preferred");
            assert!(both.contains(&blobs[3].id));
            assert_eq!(both.table_len(), 20);
            let mapped = BlobIndex::from_table(Box::new(both.encode_table(&Coverage::default()))).unwrap().0;
            assert_eq!(mapped.get(&blobs[3].id).unwrap().pack, PackId([5; 32]));
            assert!(mapped.is_marked(&PackId([6; 32])) && !mapped.is_marked(&PackId([5; 32])));
        }
        // a marked pack that is also listed live (by another file) counts as marked
        let mut mixed = BlobIndex::from_files([
            &marked,
            &IndexFile { packs: vec![IndexPack { id: PackId([6; 32]), blobs: blobs.clone() }], ..Default::default() },
        ]);
        assert!(!mixed.contains(&blobs[0].id));
        assert_eq!(mixed.table_len(), 10, "the same location named twice is one entry");
        // a new live copy (repacked or uploaded again) makes it stored again
        mixed.add_pack(PackId([7; 32]), &blobs[..1]);
        assert!(mixed.contains(&blobs[0].id));
        assert_eq!(mixed.get(&blobs[0].id).unwrap().pack, PackId([7; 32]));
    }

    /// Every answer the index gives for `ids`: the preferred location, whether it counts as
    /// stored, every location as a set.
    type Answer = (Option<Location>, bool, Vec<(PackId, u32)>);

    fn answers(idx: &BlobIndex, ids: &[BlobId]) -> Vec<Answer> {
        ids.iter()
            .map(|id| {
                let mut all: Vec<(PackId, u32)> = idx.locations(id).iter().map(|l| (l.pack, l.entry.offset)).collect();
                all.sort();
                (idx.get(id), idx.contains(id), all)
            })
            .collect()
    }

    #[test]
    fn files_added_to_a_cached_table_answer_as_a_build_from_every_file() {
        let base = file(40);
        let ids: Vec<BlobId> = base.packs[0].blobs.iter().map(|b| b.id).collect();
        let mut marked = IndexFile::default();
        marked.marked.push(MarkedPack {
            pack: IndexPack { id: PackId([6; 32]), blobs: base.packs[0].blobs[..10].to_vec() },
            marked_at: 9,
        });
        // a backup's file: blobs only in a marked pack (stored again), blobs already live, new ones
        let mut blobs = base.packs[0].blobs[5..15].to_vec();
        blobs.extend(file(60).packs[0].blobs[40..].iter().cloned());
        blobs.iter_mut().enumerate().for_each(|(i, b)| b.offset = 10_000 + i as u32);
        let mut all_ids = ids.clone();
        all_ids.extend(blobs.iter().map(|b| b.id));
        all_ids.push(BlobId([0xab; 32]));
        let new = IndexFile { packs: vec![IndexPack { id: PackId([7; 32]), blobs }], ..Default::default() };
        let mut first = base.clone();
        first.packs[0].blobs = base.packs[0].blobs[10..30].to_vec(); // 0..10 only in the marked pack
        let everything = BlobIndex::from_files([&first, &marked, &new]);
        let cached = BlobIndex::from_files([&first, &marked]).encode_table(&Coverage::default());
        let (table, _) = BlobIndex::from_table(Box::new(cached)).unwrap();
        assert!(table.adds_only_new_packs(&new));
        let mut laid = table;
        laid.lay_over(&new);
        laid.settle();
        assert_eq!(answers(&laid, &all_ids), answers(&everything, &all_ids), "laid over");
        assert_eq!(laid.len(), everything.len());
        assert!(!laid.adds_only_new_packs(&new), "its packs are in the index now");
        laid.fold();
        assert_eq!(answers(&laid, &all_ids), answers(&everything, &all_ids), "folded");
        assert_eq!(laid.encode_table(&Coverage::default()), everything.encode_table(&Coverage::default()));
        // files that change more than the blobs they add are refused
        let table = BlobIndex::from_files([&first, &marked]);
        assert!(!table.adds_only_new_packs(&marked), "marks a pack");
        assert!(!table.adds_only_new_packs(&first), "names a pack the table has");
        let supersedes = IndexFile { supersedes: vec![ObjectId([1; 32])], ..new.clone() };
        assert!(!table.adds_only_new_packs(&supersedes), "supersedes a file");
    }

    #[test]
    fn cached_table_answers_like_the_built_one() {
        let f = file(1000);
        let built = BlobIndex::from_files([&f]);
        let coverage =
            Coverage { files: vec![ObjectId([1; 32]), ObjectId([3; 32])], superseded: vec![ObjectId([2; 32])] };
        let bytes = built.encode_table(&coverage);
        let (mapped, read) = BlobIndex::from_table(Box::new(bytes.clone())).unwrap();
        assert_eq!(read, coverage);
        for b in &f.packs[0].blobs {
            assert_eq!(mapped.get(&b.id), built.get(&b.id));
            assert_eq!(mapped.get(&b.id).unwrap().entry, *b);
        }
        assert!(mapped.get(&BlobId([0xee; 32])).is_none());
        assert_eq!(mapped.len(), 1000);
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - TABLE_ENTRY..n - TABLE_ENTRY + 32].copy_from_slice(&[0; 32]); // unsorted now
        assert!(BlobIndex::from_table(Box::new(bad)).is_none());
        assert!(BlobIndex::from_table(Box::new(bytes[..n - 1].to_vec())).is_none());
        let mut unsorted_files = bytes.clone();
        unsorted_files[TABLE_HEADER..TABLE_HEADER + 32].copy_from_slice(&[4; 32]); // after the second id
        assert!(BlobIndex::from_table(Box::new(unsorted_files)).is_none());
        let mut more_files = bytes.clone();
        more_files[8] += 1; // one more covered file than the bytes hold
        assert!(BlobIndex::from_table(Box::new(more_files)).is_none());
    }

    #[test]
    fn lookups_find_every_id_at_the_edges_of_the_fan_out() {
        // ids crowded into a few 16-bit prefixes, the first and the last among them, and spread ones
        let mut ids = vec![];
        for p in [[0u8, 0], [0, 1], [0x7f, 0xff], [0xff, 0xff]] {
            for k in 1..=5u8 {
                let mut id = [k.wrapping_mul(37); 32];
                id[..2].copy_from_slice(&p);
                id[31] = k;
                ids.push(BlobId(id));
            }
        }
        ids.extend((0..500u32).map(|i| BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes())));
        let blobs = ids
            .iter()
            .enumerate()
            .map(|(i, id)| PackEntry {
                blob_type: BlobType::Data,
                id: *id,
                offset: i as u32 * 10,
                length: 10,
                raw_length: 5,
                group_offset: None,
            })
            .collect();
        let f = IndexFile { supersedes: vec![], packs: vec![IndexPack { id: PackId([5; 32]), blobs }], marked: vec![] };
        let built = BlobIndex::from_files([&f]);
        let mapped = BlobIndex::from_table(Box::new(built.encode_table(&Coverage::default()))).unwrap().0;
        for (name, idx) in [("built", &built), ("mapped", &mapped)] {
            for (i, id) in ids.iter().enumerate() {
                let offset = idx.get(id).map(|l| l.entry.offset);
                assert_eq!(offset, Some(i as u32 * 10), "{name}: id {i} not found where stored");
                let mut near = id.0;
                near[31] ^= 0x80; // same prefix, not stored
                assert!(idx.get(&BlobId(near)).is_none(), "{name}: a neighbour of id {i} found");
            }
            assert!(idx.get(&BlobId([0; 32])).is_none() && idx.get(&BlobId([0xff; 32])).is_none());
        }
    }
}
