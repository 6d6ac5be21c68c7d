//! Copying blobs that are sealed already into new packs, on the caller's thread: prune's
//! repacking and repair's salvage. A unit is copied sealed as it is (only a group losing
//! members is grouped again) and nothing crosses threads, so copying a pack of a hundred
//! thousand small blobs costs two pack buffers, not a hundred thousand allocations. Each pack
//! is stored before the index file naming it (§16).

use super::commit::WriterTicket;
use super::saver::{OpenPack, INDEX_FLUSH_BLOBS};
use super::Repository;
use crate::codec::Compression;
use crate::error::Result;
use crate::format::index::{IndexFile, IndexPack};
use crate::format::pack::{open_unit, seal_blob, GroupBuilder, PackEntry};
use crate::format::BlobType;
use crate::id::{BlobId, ObjectId};

pub struct PackCopier<'a> {
    repo: &'a Repository,
    /// Open until dropped: no snapshot commits while it may hold unindexed packs.
    _writer: WriterTicket<'a>,
    data: OpenPack,
    tree: OpenPack,
    pending: IndexFile,
    /// The format of the packs and index files written: the repository's, or the newer one
    /// of a `migrate` (format-spec §17.1).
    format: u8,
    pub index_files: Vec<ObjectId>,
    pub packs: u64,
}

impl<'a> PackCopier<'a> {
    pub fn new(repo: &'a Repository) -> Self {
        Self::with_format(repo, repo.keys().format)
    }

    /// A copier whose packs and index files are of format `format` (`migrate`'s).
    pub fn with_format(repo: &'a Repository, format: u8) -> Self {
        PackCopier {
            format,
            repo,
            _writer: repo.open_writer(),
            data: OpenPack::default(),
            tree: OpenPack::default(),
            pending: IndexFile::default(),
            index_files: vec![],
            packs: 0,
        }
    }

    /// Add one sealed blob; stores a pack once it is full (format-spec §11.2).
    pub fn add(&mut self, blob_type: BlobType, id: BlobId, raw_length: u32, sealed: &[u8]) -> Result<()> {
        self.add_unit(blob_type, &[(id, raw_length)], sealed)
    }

    /// Add one sealed unit: a blob, or a group of `members` (id, plaintext length, in order).
    pub fn add_unit(&mut self, blob_type: BlobType, members: &[(BlobId, u32)], sealed: &[u8]) -> Result<()> {
        let open = if blob_type == BlobType::Data { &mut self.data } else { &mut self.tree };
        open.add_unit(blob_type, members, sealed);
        if open.is_full(self.repo.pack_target()) {
            self.store(blob_type)?;
        }
        Ok(())
    }

    /// Copy the blobs of one sealed unit (`unit`: its entries, in order) that `keep` selects,
    /// each authenticated and verified first: the unit as it is when it keeps them all, else
    /// the kept members grouped again (or sealed alone, format-spec §21.4). With `recompress`,
    /// a unit stored uncompressed is sealed again compressed. Returns how many blobs it copied;
    /// fails if the unit does not open or a kept blob does not verify.
    pub fn copy_unit(&mut self, unit: &[PackEntry], keep: &[bool], sealed: &[u8], recompress: bool) -> Result<usize> {
        let kept: Vec<&PackEntry> = unit.iter().zip(keep).filter(|(_, k)| **k).map(|(e, _)| e).collect();
        let Some(first) = kept.first() else { return Ok(0) };
        let need = kept.iter().map(|e| e.plain_end()).max().unwrap_or(0);
        let opened = open_unit(self.repo.keys(), first, sealed, need)?;
        for e in &kept {
            opened.blob(self.repo.keys(), e)?;
        }
        if kept.len() == unit.len() && (opened.compressed || !recompress) {
            let members: Vec<(BlobId, u32)> = unit.iter().map(|e| (e.id, e.raw_length)).collect();
            self.add_unit(first.blob_type, &members, sealed)?;
            return Ok(kept.len());
        }
        let mut group = GroupBuilder::default();
        for e in &kept {
            group.push(e.id, opened.blob(self.repo.keys(), e)?);
        }
        if first.blob_type == BlobType::Data {
            let again = group.seal(self.repo.keys(), Compression::AUTO);
            self.add_unit(BlobType::Data, &group.members, &again)?;
        } else {
            // a tree blob is sealed alone, always
            let again = seal_blob(self.repo.keys(), first.blob_type, &first.id, &group.plain, Compression::AUTO);
            self.add(first.blob_type, first.id, first.raw_length, &again)?;
        }
        Ok(kept.len())
    }

    fn store(&mut self, blob_type: BlobType) -> Result<()> {
        let open = if blob_type == BlobType::Data { &mut self.data } else { &mut self.tree };
        let Some((bytes, entries)) = open.close(&self.repo.keys_as(self.format)) else { return Ok(()) };
        let id = self.repo.store_pack(bytes)?;
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
            self.index_files.push(self.repo.store_index_as(&file, self.format)?);
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
