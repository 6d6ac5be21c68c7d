//! The blob index: a sorted table of fixed-width entries and a table of pack ids, rather than
//! a hash map of heap objects, so a million blobs cost about 50 MB. The table is either built
//! from the index files or mapped from the local cache, where it is kept in the byte layout
//! below, so a later run needs neither to download nor to decrypt the index files (the table
//! names only keyed blob ids, packs and offsets). Entries added while a backup runs go to a
//! small side table.
//!
//! Cached table: `"ARCAIT01"`, set hash [32] (BLAKE3 of the sorted ids of the index files it
//! was built from), pack count u32 LE, entry count u64 LE, pack ids [32] each, then entries of
//! 48 bytes sorted by blob id: id [32], pack number u32 LE (top bit set for tree blobs),
//! offset u32 LE, length u32 LE, plaintext length u32 LE.

use std::collections::HashMap;

use crate::format::index::IndexFile;
use crate::format::pack::PackEntry;
use crate::format::BlobType;
use crate::id::{BlobId, PackId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub id: BlobId,
    pub pack: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    pub blob_type: BlobType,
}

/// Where a blob is: its pack and its entry there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub pack: PackId,
    pub entry: PackEntry,
}

const TABLE_MAGIC: &[u8; 8] = b"ARCAIT01";
const TABLE_HEADER: usize = 52;
const TABLE_ENTRY: usize = 48;
const TREE_BIT: u32 = 1 << 31;

/// Bytes of a cached table (a memory map, or a buffer in tests).
pub type TableBytes = Box<dyn AsRef<[u8]> + Send + Sync>;

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

#[derive(Default)]
pub struct BlobIndex {
    packs: Vec<PackId>,
    pack_numbers: HashMap<PackId, u32>,
    sorted: Table,
    recent: HashMap<BlobId, IndexEntry>,
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
        blob_type: if pack & TREE_BIT != 0 { BlobType::Tree } else { BlobType::Data },
    }
}

impl BlobIndex {
    pub fn from_files<'a>(files: impl IntoIterator<Item = &'a IndexFile>) -> Self {
        let mut idx = BlobIndex::default();
        for f in files {
            for p in &f.packs {
                let n = idx.pack_number(p.id);
                if let Table::Owned(v) = &mut idx.sorted {
                    v.extend(p.blobs.iter().map(|b| entry(n, b)));
                }
            }
        }
        if let Table::Owned(v) = &mut idx.sorted {
            v.sort_unstable_by_key(|e| e.id);
        }
        idx
    }

    /// The cached-table bytes of this index (side table excluded).
    pub fn encode_table(&self, set_hash: &[u8; 32]) -> Vec<u8> {
        let n = self.table_len();
        let mut out = Vec::with_capacity(TABLE_HEADER + self.packs.len() * 32 + n * TABLE_ENTRY);
        out.extend_from_slice(TABLE_MAGIC);
        out.extend_from_slice(set_hash);
        out.extend_from_slice(&(self.packs.len() as u32).to_le_bytes());
        out.extend_from_slice(&(n as u64).to_le_bytes());
        for p in &self.packs {
            out.extend_from_slice(&p.0);
        }
        for i in 0..n {
            let e = self.table_entry(i);
            out.extend_from_slice(&e.id.0);
            let pack = e.pack | if e.blob_type == BlobType::Tree { TREE_BIT } else { 0 };
            for v in [pack, e.offset, e.length, e.raw_length] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Use a cached table if it was built from exactly the index files named by `set_hash`
    /// and is well formed (sorted, pack numbers in range); `None` otherwise.
    pub fn from_table(bytes: TableBytes, set_hash: &[u8; 32]) -> Option<Self> {
        let b = (*bytes).as_ref();
        if b.len() < TABLE_HEADER || &b[..8] != TABLE_MAGIC || &b[8..40] != set_hash {
            return None;
        }
        let packs_n = u32::from_le_bytes(b[40..44].try_into().ok()?) as usize;
        let count = usize::try_from(u64::from_le_bytes(b[44..52].try_into().ok()?)).ok()?;
        let start = TABLE_HEADER.checked_add(packs_n.checked_mul(32)?)?;
        if b.len() != start.checked_add(count.checked_mul(TABLE_ENTRY)?)? {
            return None;
        }
        let mut idx = BlobIndex::default();
        for c in b[TABLE_HEADER..start].chunks_exact(32) {
            idx.pack_number(PackId(c.try_into().ok()?));
        }
        if idx.packs.len() != packs_n {
            return None; // duplicate pack ids
        }
        let mut prev: Option<[u8; 32]> = None;
        for e in b[start..].chunks_exact(TABLE_ENTRY) {
            let d = decode_entry(e);
            if d.pack as usize >= packs_n || prev.is_some_and(|p| p > d.id.0) {
                return None;
            }
            prev = Some(d.id.0);
        }
        idx.sorted = Table::Mapped { bytes, start, count };
        Some(idx)
    }

    fn table_len(&self) -> usize {
        match &self.sorted {
            Table::Owned(v) => v.len(),
            Table::Mapped { count, .. } => *count,
        }
    }

    fn table_entry(&self, i: usize) -> IndexEntry {
        match &self.sorted {
            Table::Owned(v) => v[i],
            Table::Mapped { bytes, start, .. } => {
                let at = start + i * TABLE_ENTRY;
                decode_entry(&(**bytes).as_ref()[at..at + TABLE_ENTRY])
            }
        }
    }

    fn table_find(&self, id: &BlobId) -> Option<IndexEntry> {
        match &self.sorted {
            Table::Owned(v) => v.binary_search_by(|e| e.id.cmp(id)).ok().map(|i| v[i]),
            Table::Mapped { bytes, start, count } => {
                let b = (**bytes).as_ref();
                let (mut lo, mut hi) = (0usize, *count);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let at = start + mid * TABLE_ENTRY;
                    match b[at..at + 32].cmp(&id.0[..]) {
                        std::cmp::Ordering::Less => lo = mid + 1,
                        std::cmp::Ordering::Greater => hi = mid,
                        std::cmp::Ordering::Equal => return Some(decode_entry(&b[at..at + TABLE_ENTRY])),
                    }
                }
                None
            }
        }
    }

    fn pack_number(&mut self, id: PackId) -> u32 {
        *self.pack_numbers.entry(id).or_insert_with(|| {
            self.packs.push(id);
            (self.packs.len() - 1) as u32
        })
    }

    /// Add the blobs of a newly uploaded pack.
    pub fn add_pack(&mut self, id: PackId, blobs: &[PackEntry]) {
        let n = self.pack_number(id);
        for b in blobs {
            self.recent.entry(b.id).or_insert_with(|| entry(n, b));
        }
    }

    fn find(&self, id: &BlobId) -> Option<IndexEntry> {
        self.table_find(id).or_else(|| self.recent.get(id).copied())
    }

    pub fn contains(&self, id: &BlobId) -> bool {
        self.find(id).is_some()
    }

    pub fn get(&self, id: &BlobId) -> Option<Location> {
        self.find(id).map(|e| Location {
            pack: self.packs[e.pack as usize],
            entry: PackEntry {
                blob_type: e.blob_type,
                id: e.id,
                offset: e.offset,
                length: e.length,
                raw_length: e.raw_length,
            },
        })
    }

    pub fn len(&self) -> usize {
        self.table_len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Location> + '_ {
        (0..self.table_len()).map(|i| self.table_entry(i)).chain(self.recent.values().copied()).map(|e| Location {
            pack: self.packs[e.pack as usize],
            entry: PackEntry {
                blob_type: e.blob_type,
                id: e.id,
                offset: e.offset,
                length: e.length,
                raw_length: e.raw_length,
            },
        })
    }
}

fn entry(pack: u32, b: &PackEntry) -> IndexEntry {
    IndexEntry { id: b.id, pack, offset: b.offset, length: b.length, raw_length: b.raw_length, blob_type: b.blob_type }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::index::IndexPack;

    fn file(n: usize) -> IndexFile {
        let blobs = (0..n)
            .map(|i| PackEntry {
                blob_type: if i % 2 == 0 { BlobType::Data } else { BlobType::Tree },
                id: BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                offset: i as u32 * 100,
                length: 100,
                raw_length: 7 + i as u32,
            })
            .collect();
        IndexFile { supersedes: vec![], packs: vec![IndexPack { id: PackId([5; 32]), blobs }] }
    }

    #[test]
    fn cached_table_answers_like_the_built_one() {
        let f = file(1000);
        let built = BlobIndex::from_files([&f]);
        let bytes = built.encode_table(&[9; 32]);
        assert!(BlobIndex::from_table(Box::new(bytes.clone()), &[8; 32]).is_none(), "stale table accepted");
        let mapped = BlobIndex::from_table(Box::new(bytes.clone()), &[9; 32]).unwrap();
        for b in &f.packs[0].blobs {
            assert_eq!(mapped.get(&b.id), built.get(&b.id));
            assert_eq!(mapped.get(&b.id).unwrap().entry, *b);
        }
        assert!(mapped.get(&BlobId([0xee; 32])).is_none());
        assert_eq!(mapped.len(), 1000);
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 48..n - 16].copy_from_slice(&[0; 32]); // unsorted now
        assert!(BlobIndex::from_table(Box::new(bad), &[9; 32]).is_none());
        assert!(BlobIndex::from_table(Box::new(bytes[..n - 1].to_vec()), &[9; 32]).is_none());
    }
}
