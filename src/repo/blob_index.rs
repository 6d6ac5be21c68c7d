//! The blob index in memory: a sorted table of fixed-width entries (56 bytes per blob) and
//! a table of pack ids, rather than a hash map of heap objects, so a million blobs cost
//! about 56 MB. Entries added while a backup runs go to a small side table, merged on demand.

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

#[derive(Default)]
pub struct BlobIndex {
    packs: Vec<PackId>,
    pack_numbers: HashMap<PackId, u32>,
    sorted: Vec<IndexEntry>,
    recent: HashMap<BlobId, IndexEntry>,
}

impl BlobIndex {
    pub fn from_files<'a>(files: impl IntoIterator<Item = &'a IndexFile>) -> Self {
        let mut idx = BlobIndex::default();
        for f in files {
            for p in &f.packs {
                let n = idx.pack_number(p.id);
                idx.sorted.extend(p.blobs.iter().map(|b| entry(n, b)));
            }
        }
        idx.sorted.sort_unstable_by_key(|e| e.id);
        idx
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

    fn find(&self, id: &BlobId) -> Option<&IndexEntry> {
        match self.sorted.binary_search_by(|e| e.id.cmp(id)) {
            Ok(i) => Some(&self.sorted[i]),
            Err(_) => self.recent.get(id),
        }
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
        self.sorted.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Location> + '_ {
        self.sorted.iter().chain(self.recent.values()).map(|e| Location {
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
