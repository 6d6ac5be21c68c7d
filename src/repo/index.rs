//! Loading the index: every index file listed under `index/` is read (size-capped, checked
//! against its name), opened and merged into one [`BlobIndex`], or the local cache's table of
//! exactly that set of files is used. Superseded files and marked packs are resolved by the
//! builder (`blob_index.rs`).

use std::sync::RwLockReadGuard;

use super::blob_index::{self, BlobIndex};
use super::{ObjectKind, Repository};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::IndexFile;
use crate::format::pack::PackEntry;
use crate::id::{ObjectId, PackId};

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
        let ids: Vec<ObjectId> = sized.iter().map(|(id, _)| *id).collect();
        let listed = ids.clone();
        let mut h = blake3::Hasher::new();
        for id in &ids {
            h.update(&id.0);
        }
        let set_hash = *h.finalize().as_bytes();
        let cached =
            self.cache.as_ref().and_then(|c| c.index_table()).and_then(|t| BlobIndex::from_table(t, &set_hash));
        let idx = match cached {
            Some(idx) => idx,
            None => {
                // one decoded file at a time: the table is the only large allocation
                let mut b = blob_index::IndexBuilder::default();
                for (id, size) in sized {
                    let bytes = self.read_sized(ObjectKind::Index, &id, Some(size))?;
                    b.add(Some(id), &IndexFile::decode(&self.keys, &bytes).ctx_object(ObjectKind::Index.path(&id))?);
                }
                if let Some(c) = &self.cache {
                    c.retain_dir(ObjectKind::Index.dir(), &b.current_files());
                }
                let idx = b.finish();
                if let Some(c) = &self.cache {
                    c.put_index_table(&|w| idx.write_table(&set_hash, w));
                }
                idx
            }
        };
        *self.index.write().map_err(poisoned)? = Some(idx);
        Ok(listed)
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
