//! Blobs added to the index while a command runs (the packs a backup uploads): one sorted run
//! of fixed-width entries plus a small hash table of the newest, merged into the run when it
//! grows. A hash map of every new blob would cost about 180 bytes per blob once its buckets
//! double past a power of two (a first backup of a million small files: 180 MB); the run costs
//! the entry's 56 bytes and the table stays under a sixteenth of it.
//!
//! The merge is done in place from the back, after growing the run with `reserve_exact`, so
//! it needs no second copy of the run: a large vector's growth is a remap of its pages.

use std::collections::HashMap;

use super::blob_index::IndexEntry;
use crate::format::BlobType;
use crate::id::BlobId;

/// The hash table is merged into the run once it holds this many entries, or a sixteenth of
/// the run, whichever is more: few merges, each copying the run once.
const TAIL_MIN: usize = 16 * 1024;

#[derive(Clone, Copy)]
struct Where {
    pack: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
    group_offset: u32,
    blob_type: BlobType,
}

impl Where {
    fn entry(&self, id: BlobId) -> IndexEntry {
        let w = self;
        IndexEntry {
            id,
            pack: w.pack,
            offset: w.offset,
            length: w.length,
            raw_length: w.raw_length,
            group_offset: w.group_offset,
            blob_type: w.blob_type,
        }
    }
}

#[derive(Default)]
pub struct RecentBlobs {
    /// Sorted by id, ids distinct.
    run: Vec<IndexEntry>,
    /// Entries not yet merged; none of them is in `run`.
    tail: HashMap<BlobId, Where>,
}

impl RecentBlobs {
    pub fn get(&self, id: &BlobId) -> Option<IndexEntry> {
        if let Some(w) = self.tail.get(id) {
            return Some(w.entry(*id));
        }
        let i = self.run.partition_point(|e| e.id < *id);
        self.run.get(i).filter(|e| e.id == *id).copied()
    }

    /// Add a location for a blob that has none here yet; the first one added is kept.
    pub fn insert_if_absent(&mut self, e: IndexEntry) {
        if self.get(&e.id).is_some() {
            return;
        }
        let w = Where {
            pack: e.pack,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
            group_offset: e.group_offset,
            blob_type: e.blob_type,
        };
        self.tail.insert(e.id, w);
        if self.tail.len() >= TAIL_MIN.max(self.run.len() / 16) {
            self.merge();
        }
    }

    pub fn len(&self) -> usize {
        self.run.len() + self.tail.len()
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = IndexEntry> + '_ {
        self.run.iter().copied().chain(self.tail.iter().map(|(id, w)| w.entry(*id)))
    }

    /// Move the hash table's entries into the run, keeping it sorted.
    fn merge(&mut self) {
        let mut new: Vec<IndexEntry> = self.tail.drain().map(|(id, w)| w.entry(id)).collect();
        self.tail.shrink_to(TAIL_MIN);
        new.sort_unstable_by_key(|e| e.id);
        let old_len = self.run.len();
        self.run.reserve_exact(new.len());
        // placeholders, overwritten below from the back
        self.run.extend_from_slice(&new);
        let (mut i, mut j, mut k) = (old_len, new.len(), self.run.len());
        while j > 0 {
            k -= 1;
            if i > 0 && self.run[i - 1].id > new[j - 1].id {
                self.run[k] = self.run[i - 1];
                i -= 1;
            } else {
                self.run[k] = new[j - 1];
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> IndexEntry {
        IndexEntry {
            id: BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
            pack: (i % 7) as u32,
            offset: i as u32,
            length: 100 + i as u32,
            raw_length: 50,
            group_offset: crate::format::pack::NOT_GROUPED,
            blob_type: if i.is_multiple_of(3) { BlobType::Tree } else { BlobType::Data },
        }
    }

    #[test]
    fn every_entry_is_found_across_merges_and_the_first_location_wins() {
        let mut r = RecentBlobs::default();
        let n = 3 * TAIL_MIN as u64 + 123;
        for i in 0..n {
            r.insert_if_absent(entry(i));
        }
        assert!(!r.run.is_empty(), "no merge happened");
        assert!(r.run.windows(2).all(|w| w[0].id < w[1].id), "the run is not sorted");
        for i in 0..n {
            // a second location for the same blob does not replace the first
            let mut again = entry(i);
            again.pack = 99;
            r.insert_if_absent(again);
        }
        assert_eq!(r.len(), n as usize);
        for i in 0..n {
            assert_eq!(r.get(&entry(i).id), Some(entry(i)), "entry {i}");
        }
        assert_eq!(r.get(&BlobId([0xab; 32])), None);
        let mut all: Vec<_> = r.iter().map(|e| e.offset as u64).collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }
}
