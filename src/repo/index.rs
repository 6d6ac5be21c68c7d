//! Loading the index: every index file listed under `index/` is read (size-capped, checked
//! against its name), opened and merged into one [`BlobIndex`], or the local cache's table is
//! used. Superseded files and marked packs are resolved by the builder (`blob_index.rs`).
//!
//! The cached table records which files it was built from. When every one of them is still
//! listed and the files listed since only add packs (what a backup writes: no supersedes, no
//! marks, no pack the table names), only those new files are read: a few are laid over the
//! table, many are folded into it and the table is written again. Walks over table positions
//! ([`Repository::whole_index`]) fold what is laid over first. Anything
//! else (a prune or repair superseded or deleted a file, marked a pack) builds the index from
//! every file, as a build without a cache would.

use std::sync::RwLockReadGuard;

use super::blob_index::{self, BlobIndex, Coverage};
use super::{ObjectKind, Repository};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::IndexFile;
use crate::format::pack::PackEntry;
use crate::id::{ObjectId, PackId};

/// Files listed since the cached table was made are laid over it (not written into it) while
/// there are at most this many of them ...
const LAYERED_FILES: usize = 64;
/// ... holding at most this many entries, or a sixteenth of the table if that is more.
const LAYERED_ENTRIES: usize = 64 * 1024;

/// The listed files (`sized`, sorted) that `covered` (sorted) does not hold; `None` when a
/// covered file is no longer listed.
fn listed_since<'a>(covered: &[ObjectId], sized: &'a [(ObjectId, u64)]) -> Option<Vec<&'a (ObjectId, u64)>> {
    let mut new = vec![];
    let mut covered = covered.iter().peekable();
    for entry in sized {
        if covered.next_if(|c| **c < entry.0).is_some() {
            return None; // covered, not listed
        }
        if covered.next_if(|c| **c == entry.0).is_none() {
            new.push(entry);
        }
    }
    covered.next().is_none().then_some(new)
}

impl Repository {
    /// Load the index if it isn't loaded yet.
    pub fn load_index(&self) -> Result<()> {
        if self.index.read().map_err(poisoned)?.is_some() {
            return Ok(());
        }
        self.load_index_listed().map(|_| ())
    }

    /// Drop the loaded index and load it again from the files `index/` lists now; returns
    /// the ids of every listed index file (superseded ones included).
    pub fn reload_index(&self) -> Result<Vec<ObjectId>> {
        *self.index.write().map_err(poisoned)? = None;
        self.load_index_listed()
    }

    /// Forget the loaded index; the next use loads it again (after prune or repair replaced
    /// the index files).
    pub fn unload_index(&self) -> Result<()> {
        *self.index.write().map_err(poisoned)? = None;
        Ok(())
    }

    /// Load from a fresh listing. A concurrent prune may delete superseded index files
    /// between our listing and our reads; then the listing is taken again (its replacement
    /// files were stored before the deletion, so the new listing has them).
    fn load_index_listed(&self) -> Result<Vec<ObjectId>> {
        let mut attempt = 0;
        loop {
            match self.load_index_once() {
                Err(e) if e.kind == Kind::NotFound && attempt < 8 => {
                    attempt += 1;
                    tracing::debug!("index changed while loading ({}); listing again", e.message);
                    // a prune deleting superseded files one by one: give it a moment to finish
                    std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
                }
                r => return r,
            }
        }
    }

    fn load_index_once(&self) -> Result<Vec<ObjectId>> {
        let mut sized = self.list_sized(ObjectKind::Index)?;
        sized.sort();
        let listed: Vec<ObjectId> = sized.iter().map(|(id, _)| *id).collect();
        let idx = match self.cached_index(&sized)? {
            Some(idx) => idx,
            None => self.build_index(sized)?,
        };
        *self.index.write().map_err(poisoned)? = Some(idx);
        Ok(listed)
    }

    /// Every listed file read and merged; the table cached for the next run.
    fn build_index(&self, sized: Vec<(ObjectId, u64)>) -> Result<BlobIndex> {
        let files: Vec<ObjectId> = sized.iter().map(|(id, _)| *id).collect();
        // one decoded file at a time: the table is the only large allocation
        let mut b = blob_index::IndexBuilder::default();
        for (id, size) in sized {
            let bytes = self.read_sized(ObjectKind::Index, &id, Some(size))?;
            b.add(Some(id), &IndexFile::decode(&self.keys, &bytes).ctx_object(ObjectKind::Index.path(&id))?);
        }
        let coverage = Coverage { files, superseded: b.superseded() };
        if let Some(c) = &self.cache {
            c.retain_dir(ObjectKind::Index.dir(), &b.current_files());
        }
        let idx = b.finish();
        if let Some(c) = &self.cache {
            c.put_index_table(&|w| idx.write_table(&coverage, w));
        }
        Ok(idx)
    }

    /// The cached table brought up to the listing `sized` (sorted), if it can be without
    /// reading the files it covers (module documentation); `None` when the index must be built
    /// from every file.
    fn cached_index(&self, sized: &[(ObjectId, u64)]) -> Result<Option<BlobIndex>> {
        let Some(cache) = &self.cache else { return Ok(None) };
        let Some((idx, coverage)) = cache.index_table().and_then(BlobIndex::from_table) else { return Ok(None) };
        let Some(new) = listed_since(&coverage.files, sized) else {
            tracing::debug!("an index file the cached table covers is gone; building the index from every file");
            return Ok(None);
        };
        if new.is_empty() {
            return Ok(Some(idx));
        }
        let mut idx = idx;
        for (id, size) in new.iter().copied() {
            if coverage.superseded.binary_search(id).is_ok() {
                continue; // left out by the build the table came from, as by any build
            }
            let bytes = self.read_sized(ObjectKind::Index, id, Some(*size))?;
            let f = IndexFile::decode(&self.keys, &bytes).ctx_object(ObjectKind::Index.path(id))?;
            if !idx.adds_only_new_packs(&f) {
                tracing::debug!("index/{} does more than add packs; building the index from every file", id.short());
                return Ok(None);
            }
            idx.lay_over(&f);
        }
        idx.set_coverage(Coverage {
            files: sized.iter().map(|(id, _)| *id).collect(),
            superseded: coverage.superseded,
        });
        if new.len() > LAYERED_FILES || idx.layered_len() > LAYERED_ENTRIES.max(idx.len() / 16) {
            idx.fold();
            self.cache_folded(&mut idx);
        } else {
            idx.settle();
        }
        Ok(Some(idx))
    }

    /// Write the table of an index folded since it was laid over the cached one.
    fn cache_folded(&self, idx: &mut BlobIndex) {
        if let (Some(cache), Some(coverage)) = (&self.cache, idx.take_coverage()) {
            cache.put_index_table(&|w| idx.write_table(&coverage, w));
        }
    }

    /// The loaded index with every entry in its sorted table, for walks over table positions
    /// (prune, usage, stats): entries laid over the cached table are folded in first.
    pub fn whole_index(&self) -> Result<IndexRef<'_>> {
        self.load_index()?;
        let laid_over = self.index.read().map_err(poisoned)?.as_ref().is_some_and(|i| i.layered_len() > 0);
        if laid_over {
            if let Some(idx) = self.index.write().map_err(poisoned)?.as_mut() {
                idx.fold();
                self.cache_folded(idx);
            }
        }
        Ok(IndexRef(self.index.read().map_err(poisoned)?))
    }

    /// The loaded index (loads it first if needed).
    pub fn index(&self) -> Result<IndexRef<'_>> {
        self.load_index()?;
        Ok(IndexRef(self.index.read().map_err(poisoned)?))
    }

    /// Read and open one index file. An error in opening it does not name the file: callers
    /// that read many (check, repair) name it in their own words.
    pub fn load_index_file(&self, id: &ObjectId) -> Result<IndexFile> {
        IndexFile::decode(&self.keys, &self.read(ObjectKind::Index, id)?)
    }

    pub(in crate::repo) fn index_add_pack(&self, id: PackId, blobs: &[PackEntry]) -> Result<()> {
        let mut guard = self.index.write().map_err(poisoned)?;
        guard.get_or_insert_with(BlobIndex::default).add_pack(id, blobs);
        Ok(())
    }
}

pub struct IndexRef<'a>(RwLockReadGuard<'a, Option<BlobIndex>>);

impl std::ops::Deref for IndexRef<'_> {
    type Target = BlobIndex;
    fn deref(&self) -> &BlobIndex {
        // load_index() ran before this guard was made
        static EMPTY: std::sync::OnceLock<BlobIndex> = std::sync::OnceLock::new();
        self.0.as_ref().unwrap_or_else(|| EMPTY.get_or_init(BlobIndex::default))
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::internal("a worker thread panicked while holding the index")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_listed_since_a_table_are_found_and_a_missing_covered_one_refuses() {
        let id = |b: u8| ObjectId([b; 32]);
        let sized: Vec<(ObjectId, u64)> = [1, 3, 4, 7].iter().map(|b| (id(*b), 10)).collect();
        let new = |covered: &[u8]| {
            let covered: Vec<ObjectId> = covered.iter().map(|b| id(*b)).collect();
            listed_since(&covered, &sized).map(|v| v.iter().map(|(i, _)| i.0[0]).collect::<Vec<u8>>())
        };
        assert_eq!(new(&[]), Some(vec![1, 3, 4, 7]));
        assert_eq!(new(&[1, 3, 4, 7]), Some(vec![]));
        assert_eq!(new(&[3, 7]), Some(vec![1, 4]));
        assert_eq!(new(&[2]), None, "a covered file before the listed ones");
        assert_eq!(new(&[1, 5]), None, "one between");
        assert_eq!(new(&[7, 9]), None, "one after");
    }
}
