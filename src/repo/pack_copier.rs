//! Copying blobs that are sealed already into new packs, on the caller's thread: prune's
//! repacking and repair's salvage. Nothing is re-sealed and nothing crosses threads, so
//! copying a pack of a hundred thousand small blobs costs two pack buffers, not a hundred
//! thousand allocations. Each pack is stored before the index file naming it (§16).

use super::saver::{OpenPack, INDEX_FLUSH_BLOBS};
use super::{pack_path, Repository};
use crate::error::{Result, ResultExt};
use crate::format::index::{IndexFile, IndexPack};
use crate::format::BlobType;
use crate::id::{storage_hash, BlobId, ObjectId, PackId};

pub struct PackCopier<'a> {
    repo: &'a Repository,
    data: OpenPack,
    tree: OpenPack,
    pending: IndexFile,
    pub index_files: Vec<ObjectId>,
    pub packs: u64,
}

impl<'a> PackCopier<'a> {
    pub fn new(repo: &'a Repository) -> Self {
        PackCopier {
            repo,
            data: OpenPack::default(),
            tree: OpenPack::default(),
            pending: IndexFile::default(),
            index_files: vec![],
            packs: 0,
        }
    }

    /// Add one sealed blob; stores a pack once it is full (format-spec §11.2).
    pub fn add(&mut self, blob_type: BlobType, id: BlobId, raw_length: u32, sealed: &[u8]) -> Result<()> {
        let open = if blob_type == BlobType::Data { &mut self.data } else { &mut self.tree };
        open.add_sealed(blob_type, id, raw_length, sealed);
        if open.is_full(self.repo.config().pack_size as usize) {
            self.store(blob_type)?;
        }
        Ok(())
    }

    fn store(&mut self, blob_type: BlobType) -> Result<()> {
        let open = if blob_type == BlobType::Data { &mut self.data } else { &mut self.tree };
        let Some((bytes, entries)) = open.close(self.repo.keys()) else { return Ok(()) };
        let id = PackId(storage_hash(&bytes));
        let path = pack_path(&id);
        self.repo.backend().write(&path, bytes.into()).ctx(format!("uploading {path}"))?;
        self.packs += 1;
        self.pending.packs.push(IndexPack { id, blobs: entries });
        if self.pending.blob_count() >= INDEX_FLUSH_BLOBS {
            self.flush_index()?;
        }
        Ok(())
    }

    fn flush_index(&mut self) -> Result<()> {
        if !self.pending.packs.is_empty() {
            let file = std::mem::take(&mut self.pending);
            self.index_files.push(self.repo.write_object("index", &file.encode(self.repo.keys()))?);
        }
        Ok(())
    }

    /// Store what is left, then the index naming it.
    pub fn finish(mut self) -> Result<(u64, Vec<ObjectId>)> {
        self.store(BlobType::Data)?;
        self.store(BlobType::Tree)?;
        self.flush_index()?;
        Ok((self.packs, self.index_files))
    }
}
