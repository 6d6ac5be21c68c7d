//! Writing a replacement index (prune, repair): files of at most [`INDEX_FLUSH_BLOBS`] blobs,
//! the last of which names every file it replaces in `supersedes`. Until that last file is
//! stored, readers see old and new files together (the same packs named twice, which is
//! legal); once it is stored they see only the new ones. Only then may the superseded files
//! be deleted (format-spec §12).

use super::saver::INDEX_FLUSH_BLOBS;
use super::Repository;
use crate::error::Result;
use crate::format::index::{IndexFile, IndexPack, MarkedPack};
use crate::id::ObjectId;

pub struct IndexWriter<'a> {
    repo: &'a Repository,
    current: IndexFile,
    written: Vec<ObjectId>,
    /// The format of the files written: the repository's, or `migrate`'s (format-spec §17.1).
    format: u8,
}

impl<'a> IndexWriter<'a> {
    pub fn new(repo: &'a Repository) -> Self {
        Self::with_format(repo, repo.keys().format)
    }

    /// A writer of index files of format `format` (`migrate`'s).
    pub fn with_format(repo: &'a Repository, format: u8) -> Self {
        IndexWriter { repo, current: IndexFile::default(), written: vec![], format }
    }

    /// A live pack, with all its entries.
    pub fn add(&mut self, pack: IndexPack) -> Result<()> {
        self.current.packs.push(pack);
        self.flush_if_full()
    }

    /// A pack marked for deletion at `marked_at` (Unix seconds).
    pub fn add_marked(&mut self, pack: IndexPack, marked_at: u64) -> Result<()> {
        self.current.marked.push(MarkedPack { pack, marked_at });
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.current.blob_count() >= INDEX_FLUSH_BLOBS {
            let file = std::mem::take(&mut self.current);
            self.written.push(self.repo.store_index_as(&file, self.format)?);
        }
        Ok(())
    }

    /// Write the last file, naming `supersedes`; returns the ids of every file written.
    pub fn finish(mut self, supersedes: Vec<ObjectId>) -> Result<Vec<ObjectId>> {
        self.current.supersedes = supersedes;
        let file = std::mem::take(&mut self.current);
        self.written.push(self.repo.store_index_as(&file, self.format)?);
        Ok(self.written)
    }
}
