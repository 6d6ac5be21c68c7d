//! Packs, under `data/<2 hex>/<id>`: listing them, reading a header (authenticated), a
//! range or a whole pack (size-capped), verifying one against its name and its header,
//! adopting the ones no index names, deleting. A pack is stored only through
//! `Repository::store_pack` (`commit.rs`).

use crate::util::words::count;
use std::collections::HashSet;

use super::{limits, Repository};
use crate::crypto::Keys;
use crate::error::{Error, Operation, Result, ResultExt};
use crate::format::index::{IndexFile, IndexPack};
use crate::format::pack::{PackEntry, PackHeader};
use crate::id::{storage_hash, PackId};

/// The stored path of a pack, as messages name it: `data/<first 2 hex digits>/<64 hex digits>`.
pub fn pack_path(id: &PackId) -> String {
    let h = id.to_hex();
    format!("data/{}/{}", &h[..2], h)
}

impl Repository {
    /// The packs stored under `data/` with their sizes (files at non-canonical paths ignored).
    pub fn stored_packs(&self) -> Result<Vec<(PackId, u64)>> {
        let entries = self.backend.list("data/").ctx("listing data")?;
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let id = PackId::from_hex(e.path.rsplit('/').next()?)?;
                (pack_path(&id) == e.path).then_some((id, e.size))
            })
            .collect())
    }

    /// Read and authenticate a pack's header (two ranged reads: trailer, then header).
    pub fn read_pack_header(&self, pack: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        self.read_pack_header_with(&self.keys, pack, size)
    }

    /// [`Self::read_pack_header`] under the given keys.
    pub fn read_pack_header_with(&self, keys: &Keys, pack: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        let tail = self.read_pack_tail(pack, size)?;
        crate::format::pack::decode_header(keys, &tail, size).ctx_object(pack_path(pack))
    }

    /// Authenticate and decode the header at the end of `tail` (a pack's tail from
    /// [`Self::read_pack_tail`], or a whole pack) of a pack of `size` bytes. The error does
    /// not name the pack: the caller does.
    pub fn decode_pack_header(&self, tail: &[u8], size: u64) -> Result<Vec<PackEntry>> {
        crate::format::pack::decode_header(&self.keys, tail, size)
    }

    /// A pack's sealed header and trailer, unauthenticated (two ranged reads: trailer, then
    /// header); [`Self::decode_pack_header`] authenticates it.
    pub fn read_pack_tail(&self, pack: &PackId, size: u64) -> Result<Vec<u8>> {
        use crate::format::pack::{header_len_from_trailer, TRAILER_LEN};
        let path = pack_path(pack);
        let trailer_len = TRAILER_LEN as u64;
        if size < trailer_len {
            return Err(Error::corrupt(format!("{path}: shorter than its trailer")).object(&path));
        }
        let trailer =
            self.backend.read_range(&path, size - trailer_len, trailer_len).ctx_op(Operation::Reading, &path)?;
        let hlen = header_len_from_trailer(&trailer, size).ctx_object(&path)? as u64;
        self.backend.read_range(&path, size - hlen - trailer_len, hlen + trailer_len).ctx_op(Operation::Reading, &path)
    }

    /// A whole pack, as stored (not yet checked against its name): its size is asked first
    /// and a file larger than any pack this repository's writers make is refused before a
    /// byte is read (`limits::max_pack_len`), so a planted file of many gigabytes costs one
    /// request, not the memory to hold it.
    pub fn read_pack(&self, pack: &PackId) -> Result<Vec<u8>> {
        limits::read_capped(&self.backend, &pack_path(pack), limits::max_pack_len(self.config.pack_size))
    }

    /// [`read_pack`](Self::read_pack) with the size a listing gave, saving the request that
    /// asks for it.
    pub fn read_pack_listed(&self, pack: &PackId, size: u64) -> Result<Vec<u8>> {
        limits::read_listed(&self.backend, &pack_path(pack), size, limits::max_pack_len(self.config.pack_size))
    }

    /// [`read_pack`](Self::read_pack), then checked against its name: the bytes hash to the
    /// pack's id. Their units are not opened ([`Self::verify_pack`] does that).
    pub fn read_pack_verified(&self, pack: &PackId) -> Result<Vec<u8>> {
        let bytes = self.read_pack(pack)?;
        if storage_hash(&bytes) != pack.0 {
            let path = pack_path(pack);
            return Err(Error::corrupt(format!("{path}: content does not match its name")).object(&path));
        }
        Ok(bytes)
    }

    /// `len` bytes of a pack from `offset`, as stored (units are authenticated when opened,
    /// [`Self::open_unit`]): one ranged read, for readers that fetch many blobs at once. A
    /// missing pack is [`crate::error::Kind::NotFound`].
    pub fn read_pack_range(&self, pack: &PackId, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.backend.read_range(&pack_path(pack), offset, len).map_err(Error::from)
    }

    /// Verify a whole pack's bytes against its header: the header and one line per unit that
    /// does not match it (format 3: a unit not the one its header commits to; formats 1 and
    /// 2: a blob whose unit does not open or hold it). An error means the header is invalid.
    pub fn verify_pack_bytes(&self, bytes: &[u8]) -> Result<(PackHeader, Vec<String>)> {
        crate::format::pack::verify_pack_bytes(&self.keys, bytes)
    }

    /// Delete a pack and its cached copy; one already gone is no error.
    pub fn delete_pack(&self, pack: &PackId) -> Result<()> {
        self.delete_file(&pack_path(pack))
    }

    /// Download a whole pack and verify it against its name and its header: its bytes hash
    /// to its id, and every unit is the one its header commits to (format 3) or opens and
    /// holds the blobs its header lists (formats 1 and 2). Returns its entries; an error names
    /// the first thing that does not match.
    pub fn verify_pack(&self, pack: &PackId) -> Result<Vec<PackEntry>> {
        let path = pack_path(pack);
        let bytes = self.read_pack_verified(pack)?;
        let problems = self.verify_pack_bytes(&bytes).ctx_object(&path)?;
        match problems.1.first() {
            None => Ok(problems.0.entries),
            Some(p) => Err(Error::corrupt(format!(
                "{path}: {p} ({} of its header not matched)",
                count(problems.1.len(), "unit")
            ))
            .object(&path)),
        }
    }

    /// Index the packs that no index file names: those of a backup that was interrupted
    /// after uploading them. Each is downloaded whole and verified against its name and its
    /// header first ([`Self::verify_pack`]): a header copied onto other bytes by someone who
    /// can only add files is never adopted. The blobs of those that pass become usable again
    /// (so the next backup does not upload them twice), and an index file records them unless
    /// `dry_run`. Packs that an index names as marked for deletion are never adopted. Indexed
    /// packs missing from the `data/` listing are remembered as absent: deduplication does
    /// not count blobs stored only there ([`Self::blob_stored`]). Returns the adopted packs.
    pub fn adopt_unindexed_packs(&self, dry_run: bool) -> Result<Vec<PackId>> {
        self.load_index()?;
        let known: HashSet<PackId> = self.index()?.packs().iter().copied().collect();
        let stored = self.stored_packs()?;
        let listed: HashSet<PackId> = stored.iter().map(|(id, _)| *id).collect();
        if let Ok(mut absent) = self.absent_packs.write() {
            *absent = known.iter().filter(|p| !listed.contains(p)).copied().collect();
        }
        let mut adopted = IndexFile::default();
        for (id, _size) in stored {
            if known.contains(&id) {
                continue;
            }
            match self.verify_pack(&id) {
                Ok(blobs) => {
                    self.index_add_pack(id, &blobs)?;
                    adopted.packs.push(IndexPack { id, blobs });
                }
                Err(err) => tracing::warn!("not reusing {}: {err}", pack_path(&id)),
            }
        }
        let n = adopted.packs.len();
        if n > 0 && !dry_run {
            self.store_index(&adopted)?;
            tracing::info!("indexed {} left by an interrupted backup", count(n, "pack"));
        }
        Ok(adopted.packs.iter().map(|p| p.id).collect())
    }
}
