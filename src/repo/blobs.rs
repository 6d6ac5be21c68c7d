//! Blobs: reading one by id from the locations the index holds (falling back from a damaged
//! pack to the others), and the sealed-unit operations that readers fetching many blobs at
//! once need without holding the keys: open a unit, take a blob from it, compute a blob id.

use std::sync::Arc;

use super::{pack_path, BlobIndex, BlobLocation, Repository};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::pack::{open_blob, open_unit, OpenedUnit, PackEntry};
use crate::format::BlobType;
use crate::id::{storage_hash, BlobId, PackId};

impl Repository {
    /// Is the blob stored in a live pack that the last `data/` listing holds? What
    /// deduplication asks: an index entry naming a pack that is not stored (a replayed or
    /// stale index file) must not keep a blob from being stored again.
    pub fn blob_stored(&self, index: &BlobIndex, id: &BlobId) -> bool {
        if !index.contains(id) {
            return false;
        }
        let absent = match self.absent_packs.read() {
            Ok(a) => a,
            Err(_) => return false,
        };
        absent.is_empty() || index.locations(id).iter().any(|l| !absent.contains(&l.pack) && !index.is_marked(&l.pack))
    }

    /// Read a blob from its preferred location; when that fails (the pack is missing or
    /// damaged, or its bytes are not the blob), from every other location the index holds,
    /// warning about each bad one. The first error stands when none works.
    pub fn read_blob(&self, blob_type: BlobType, id: &BlobId) -> Result<Vec<u8>> {
        self.read_blob_except(blob_type, id, None)
    }

    /// [`Self::read_blob`] from the locations outside the pack `except` (one a caller found
    /// bad already).
    pub fn read_blob_except(&self, blob_type: BlobType, id: &BlobId, except: Option<&PackId>) -> Result<Vec<u8>> {
        let mut locations = self.index()?.locations(id);
        if locations.is_empty() {
            return Err(Error::new(Kind::NotFound, format!("{blob_type} blob {id} is not in the index"))
                .hint("run `arca check` to see what else is damaged"));
        }
        locations.retain(|l| Some(&l.pack) != except);
        if locations.is_empty() {
            return Err(Error::new(Kind::NotFound, format!("{blob_type} blob {id} has no other location"))
                .hint("run `arca check --read-data` to see what else is damaged"));
        }
        let mut first: Option<Error> = None;
        for loc in &locations {
            let got = if loc.entry.blob_type != blob_type {
                Err(Error::corrupt(format!("blob {id} is a {} blob, expected {blob_type}", loc.entry.blob_type)))
            } else {
                self.read_blob_at(loc)
            };
            match got {
                Ok(plain) => return Ok(plain),
                Err(e) if e.kind == Kind::Interrupted => return Err(e),
                Err(e) => {
                    if locations.len() > 1 {
                        tracing::warn!(
                            "{blob_type} blob {id} in {} is unreadable ({}); trying its other locations",
                            pack_path(&loc.pack),
                            e.message
                        );
                    }
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_else(|| Error::corrupt(format!("blob {id}: no location"))))
    }

    /// Read and open the blob at `loc`: from the group cache, the cached tree pack, or one
    /// ranged read.
    pub(in crate::repo) fn read_blob_at(&self, loc: &BlobLocation) -> Result<Vec<u8>> {
        let path = pack_path(&loc.pack);
        if loc.entry.group_offset.is_some() {
            if let Some(unit) = self.groups.get(&loc.pack, loc.entry.offset) {
                return unit.blob(&self.keys, &loc.entry).map(<[u8]>::to_vec).ctx_object(&path);
            }
        }
        let known_damaged = || self.damaged_packs.lock().map(|d| d.contains(&loc.pack)).unwrap_or(true);
        if loc.entry.blob_type == BlobType::Tree && !known_damaged() {
            if let Some(c) = &self.cache {
                // Tree packs are cached whole, so walking trees reads nothing remote twice; a
                // blob is read from the cached copy by its range, and its authentication is
                // the check (a damaged cached copy fails it and is fetched again).
                let (start, len) = (loc.entry.offset as u64, loc.entry.length as u64);
                if let Some(sealed) = c.get_range(&path, start, len) {
                    if let Ok(plain) = open_blob(&self.keys, &loc.entry, &sealed) {
                        return Ok(plain);
                    }
                }
                let pack = self.read_pack(&loc.pack)?;
                if storage_hash(&pack) == loc.pack.0 {
                    c.put(&path, &pack);
                    let (start, len) = (loc.entry.offset as usize, loc.entry.length as usize);
                    let sealed = pack
                        .get(start..start + len)
                        .ok_or_else(|| Error::corrupt(format!("{path}: blob out of range")).object(&path))?;
                    return open_blob(&self.keys, &loc.entry, sealed).ctx_object(&path);
                }
                // damaged somewhere: its other blobs are still good, read one by one below
                tracing::warn!("{path}: content does not match its name; reading its intact blobs one by one");
                if let Ok(mut d) = self.damaged_packs.lock() {
                    d.insert(loc.pack);
                }
            }
        }
        let sealed = self
            .backend
            .read_range(&path, loc.entry.offset as u64, loc.entry.length as u64)
            .ctx(format!("reading blob {} from {path}", loc.entry.id))?;
        if loc.entry.group_offset.is_none() {
            return open_blob(&self.keys, &loc.entry, &sealed).ctx_object(&path);
        }
        let unit = Arc::new(open_unit(&self.keys, &loc.entry, &sealed, usize::MAX).ctx_object(&path)?);
        let plain = unit.blob(&self.keys, &loc.entry).ctx_object(&path)?.to_vec();
        self.groups.put(loc.pack, loc.entry.offset, unit);
        Ok(plain)
    }

    /// Open a sealed unit (a blob, or a group of blobs) whose bytes were read from a pack at
    /// `entry`'s place, decompressing at least `need` bytes of its plaintext.
    #[inline]
    pub fn open_unit(&self, entry: &PackEntry, sealed: &[u8], need: usize) -> Result<OpenedUnit> {
        open_unit(&self.keys, entry, sealed, need)
    }

    /// The blob `entry` inside an opened unit, verified against its id (no copy).
    #[inline]
    pub fn unit_blob<'u>(&self, unit: &'u OpenedUnit, entry: &PackEntry) -> Result<&'u [u8]> {
        unit.blob(&self.keys, entry)
    }

    /// The id `plaintext` has as a blob of `blob_type` in this repository (keyed BLAKE3).
    #[inline]
    pub fn blob_id(&self, blob_type: BlobType, plaintext: &[u8]) -> BlobId {
        blob_type.id(&self.keys, plaintext)
    }
}
