//! `index/<id>`: which blob lives in which pack. Sealed object of kind Index; binary payload:
//!
//! ```text
//! supersedes_count u32 LE, supersedes_count × index object id [32]
//! pack_count u32 LE, then per pack: pack id [32], blob_count u32 LE, blob_count × pack entry (45 bytes)
//! ```
//! Pack entries are those of `format::pack`. `supersedes` names index files this one replaces
//! (written by prune; readers ignore superseded files once this one exists).

use crate::crypto::{Keys, SealKind};
use crate::error::{Error, Result};
use crate::id::{ObjectId, PackId};

use super::pack::{PackEntry, ENTRY_LEN, MAX_PACK_ENTRIES};
use super::{object, Reader};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexFile {
    pub supersedes: Vec<ObjectId>,
    pub packs: Vec<IndexPack>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPack {
    pub id: PackId,
    pub blobs: Vec<PackEntry>,
}

impl IndexFile {
    pub fn blob_count(&self) -> usize {
        self.packs.iter().map(|p| p.blobs.len()).sum()
    }

    pub fn encode_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.packs.len() * 36 + self.blob_count() * ENTRY_LEN);
        out.extend_from_slice(&(self.supersedes.len() as u32).to_le_bytes());
        for s in &self.supersedes {
            out.extend_from_slice(&s.0);
        }
        out.extend_from_slice(&(self.packs.len() as u32).to_le_bytes());
        for p in &self.packs {
            out.extend_from_slice(&p.id.0);
            out.extend_from_slice(&(p.blobs.len() as u32).to_le_bytes());
            for b in &p.blobs {
                b.write(&mut out);
            }
        }
        out
    }

    pub fn decode_payload(bytes: &[u8]) -> Result<Self> {
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
            let count = r.u32()?;
            if count > MAX_PACK_ENTRIES || count as usize * ENTRY_LEN > r.remaining() {
                return Err(Error::corrupt(format!("index: pack {} claims {count} blobs", id.short())));
            }
            let blobs = (0..count).map(|_| PackEntry::read(&mut r)).collect::<Result<_>>()?;
            packs.push(IndexPack { id, blobs });
        }
        r.finish()?;
        Ok(IndexFile { supersedes, packs })
    }

    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode(keys, SealKind::Index, &self.encode_payload())
    }

    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        Self::decode_payload(&object::decode(keys, SealKind::Index, bytes)?)
    }
}
