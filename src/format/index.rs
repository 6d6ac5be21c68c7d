//! `index/<id>`: which blob lives in which pack. Sealed object of kind Index; binary payload:
//!
//! ```text
//! supersedes_count u32 LE, supersedes_count × index object id [32]
//! pack_count u32 LE, then per pack: pack id [32], blob_count u32 LE, blob_count × pack entry (45 bytes in format v1, 49 in v2)
//! optional: marked_count u32 LE, then per marked pack: pack id [32], marked_at u64 LE,
//!           blob_count u32 LE, blob_count × pack entry
//! ```
//! Pack entries are those of `format::pack`. `supersedes` names index files this one replaces
//! (written by prune; readers ignore superseded files once this one exists). Marked packs are
//! scheduled for deletion by prune (two-phase deletion, format-spec §21): still readable, never
//! deduplicated against. The marked section is present only when it is not empty.

use crate::crypto::{Keys, SealKind};
use crate::error::{Error, Result};
use crate::id::{ObjectId, PackId};

use super::pack::{entry_len, PackEntry, MAX_PACK_ENTRIES};
use super::{object, Reader};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexFile {
    pub supersedes: Vec<ObjectId>,
    pub packs: Vec<IndexPack>,
    pub marked: Vec<MarkedPack>,
}

/// A pack scheduled for deletion, with the time (Unix seconds) prune marked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkedPack {
    pub pack: IndexPack,
    pub marked_at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPack {
    pub id: PackId,
    pub blobs: Vec<PackEntry>,
}

impl IndexFile {
    pub fn blob_count(&self) -> usize {
        self.packs.iter().chain(self.marked.iter().map(|m| &m.pack)).map(|p| p.blobs.len()).sum()
    }

    /// The payload with entries in the layout of format `version`.
    pub fn encode_payload(&self, version: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.packs.len() * 36 + self.blob_count() * entry_len(version));
        out.extend_from_slice(&(self.supersedes.len() as u32).to_le_bytes());
        for s in &self.supersedes {
            out.extend_from_slice(&s.0);
        }
        out.extend_from_slice(&(self.packs.len() as u32).to_le_bytes());
        for p in &self.packs {
            write_pack(&mut out, p, version);
        }
        if !self.marked.is_empty() {
            out.extend_from_slice(&(self.marked.len() as u32).to_le_bytes());
            for m in &self.marked {
                out.extend_from_slice(&m.pack.id.0);
                out.extend_from_slice(&m.marked_at.to_le_bytes());
                out.extend_from_slice(&(m.pack.blobs.len() as u32).to_le_bytes());
                for b in &m.pack.blobs {
                    b.write(&mut out, version);
                }
            }
        }
        out
    }

    /// A payload whose entries are in the layout of format `version`.
    pub fn decode_payload(bytes: &[u8], version: u8) -> Result<Self> {
        let mut r = Reader::new(bytes, "index");
        let n = r.u32()? as usize;
        if n * 32 > r.remaining() {
            return Err(Error::corrupt("index: supersedes list longer than the file"));
        }
        let supersedes = (0..n).map(|_| r.id().map(ObjectId)).collect::<Result<_>>()?;
        let packs_n = r.u32()? as usize;
        if packs_n * 36 > r.remaining() {
            return Err(Error::corrupt("index: pack list longer than the file"));
        }
        let mut packs = Vec::with_capacity(packs_n);
        for _ in 0..packs_n {
            let id = PackId(r.id()?);
            packs.push(read_pack(&mut r, id, version)?);
        }
        let mut marked = vec![];
        if r.remaining() > 0 {
            let marked_n = r.u32()? as usize;
            if marked_n == 0 || marked_n * 44 > r.remaining() {
                return Err(Error::corrupt("index: marked list empty or longer than the file"));
            }
            marked.reserve(marked_n);
            for _ in 0..marked_n {
                let id = PackId(r.id()?);
                let marked_at = r.u64()?;
                marked.push(MarkedPack { pack: read_pack(&mut r, id, version)?, marked_at });
            }
        }
        r.finish()?;
        Ok(IndexFile { supersedes, packs, marked })
    }

    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode(keys, SealKind::Index, &self.encode_payload(keys.format))
    }

    /// Entries are read in the layout of the file's own format version.
    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        let (version, payload) = object::decode_versioned(keys, SealKind::Index, bytes)?;
        Self::decode_payload(&payload, version)
    }
}

fn write_pack(out: &mut Vec<u8>, p: &IndexPack, version: u8) {
    out.extend_from_slice(&p.id.0);
    out.extend_from_slice(&(p.blobs.len() as u32).to_le_bytes());
    for b in &p.blobs {
        b.write(out, version);
    }
}

/// A pack's blob count and entries (its id already read).
fn read_pack(r: &mut Reader<'_>, id: PackId, version: u8) -> Result<IndexPack> {
    let count = r.u32()?;
    if count > MAX_PACK_ENTRIES || count as usize * entry_len(version) > r.remaining() {
        return Err(Error::corrupt(format!("index: pack {} claims {count} blobs", id.short())));
    }
    let blobs = (0..count).map(|_| PackEntry::read(r, version)).collect::<Result<_>>()?;
    Ok(IndexPack { id, blobs })
}
