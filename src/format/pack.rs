//! Pack files: sealed blobs back to back, then a sealed header listing them, then the header's
//! length. The header makes a pack self-describing, so the index can be rebuilt from packs.
//!
//! ```text
//! blob_0 || blob_1 || ... || sealed_header || header_len u32 LE
//! ```
//! Header plaintext: `count u32 LE`, then `count` entries of 45 bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | blob type (1 data, 2 tree) |
//! | 1 | 32 | blob id |
//! | 33 | 4 | offset of the sealed blob in the pack, u32 LE |
//! | 37 | 4 | sealed length, u32 LE |
//! | 41 | 4 | plaintext length, u32 LE |

use crate::codec::{compress, decompress, Compression};
use crate::crypto::{padme, random_bytes, seal, seal_append, Aad, Keys, SealKind, FLAG_ZSTD, FRAME_LEN, SEAL_OVERHEAD};
use crate::error::{Error, Result};
use crate::id::BlobId;

use super::{BlobType, Reader};

pub const ENTRY_LEN: usize = 45;
pub const TRAILER_LEN: usize = 4;
/// Largest plaintext data blob accepted (the chunker's maximum is 16 MiB).
pub const MAX_BLOB_LEN: u32 = 64 * 1024 * 1024;
/// Largest plaintext tree blob accepted: a directory of several million entries. Writers
/// refuse to store a larger one rather than write what no reader accepts.
pub const MAX_TREE_LEN: u32 = 1024 * 1024 * 1024;

impl BlobType {
    /// The largest plaintext a blob of this type may have.
    pub fn max_len(self) -> u32 {
        match self {
            BlobType::Data => MAX_BLOB_LEN,
            BlobType::Tree => MAX_TREE_LEN,
        }
    }
}
/// Largest number of entries a pack header may list.
pub const MAX_PACK_ENTRIES: u32 = 1 << 20;

/// A writer closes a pack at this many blobs, however small they are (format-spec §11.2): a
/// pack of tiny blobs would otherwise list hundreds of thousands, which a writer holds in memory
/// until the pack is stored and a reader decodes in one header.
pub const CLOSE_AT_ENTRIES: usize = 1 << 16;

/// Where a blob lives inside its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    pub blob_type: BlobType,
    pub id: BlobId,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

impl PackEntry {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.blob_type.to_byte());
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.raw_length.to_le_bytes());
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let t = r.u8()?;
        let blob_type = BlobType::from_byte(t).ok_or_else(|| Error::corrupt(format!("unknown blob type {t}")))?;
        let e = PackEntry { blob_type, id: BlobId(r.id()?), offset: r.u32()?, length: r.u32()?, raw_length: r.u32()? };
        if e.length < SEAL_OVERHEAD as u32
            || e.raw_length > e.blob_type.max_len()
            || e.length > max_sealed_len(e.raw_length)
        {
            return Err(Error::corrupt(format!("blob {} has impossible lengths", e.id.short())));
        }
        Ok(e)
    }
}

/// The longest a sealed blob of `raw_length` plaintext bytes can be: stored raw and padded
/// (compression is only kept when it is smaller, and padding never shrinks).
pub fn max_sealed_len(raw_length: u32) -> u32 {
    let padded = padme(FRAME_LEN + raw_length as usize);
    u32::try_from(SEAL_OVERHEAD - FRAME_LEN + padded).unwrap_or(u32::MAX)
}

/// Seal one blob's plaintext for a pack. Returns the sealed bytes.
pub fn seal_blob(keys: &Keys, blob_type: BlobType, id: &BlobId, plain: &[u8], level: Compression) -> Vec<u8> {
    seal_compressed(keys, blob_type, id, compress(level, plain).as_deref(), plain)
}

/// The second half of [`seal_blob`], for callers that time compression apart: seal
/// `compressed` (the output of [`compress`], kept only when smaller) or else `plain`.
pub fn seal_compressed(
    keys: &Keys,
    blob_type: BlobType,
    id: &BlobId,
    compressed: Option<&[u8]>,
    plain: &[u8],
) -> Vec<u8> {
    let aad = Aad::blob(blob_type.seal_kind(), id);
    match compressed {
        Some(c) => seal(&keys.seal, &aad, FLAG_ZSTD, c),
        None => seal(&keys.seal, &aad, 0, plain),
    }
}

/// [`seal_compressed`] into `out` (emptied first), a buffer the caller reuses.
pub fn seal_compressed_into(
    keys: &Keys,
    blob_type: BlobType,
    id: &BlobId,
    compressed: Option<&[u8]>,
    plain: &[u8],
    out: &mut Vec<u8>,
) {
    let aad = Aad::blob(blob_type.seal_kind(), id);
    out.clear();
    let (flags, payload) = match compressed {
        Some(c) => (FLAG_ZSTD, c),
        None => (0, plain),
    };
    seal_append(&keys.seal, &aad, flags, payload, random_bytes(), out);
}

/// Open a sealed blob and verify that its plaintext hashes to `id`.
pub fn open_blob(keys: &Keys, entry: &PackEntry, sealed: &[u8]) -> Result<Vec<u8>> {
    open_blob_flagged(keys, entry, sealed).map(|(_, plain)| plain)
}

/// [`open_blob`], also saying whether the blob was stored compressed.
pub fn open_blob_flagged(keys: &Keys, entry: &PackEntry, sealed: &[u8]) -> Result<(bool, Vec<u8>)> {
    let aad = Aad::blob(entry.blob_type.seal_kind(), &entry.id);
    let (flags, body) = keys.open(&aad, sealed).map_err(|e| e.context(format!("blob {}", entry.id)))?;
    let compressed = flags & FLAG_ZSTD != 0;
    let plain = if compressed { decompress(&body, entry.raw_length as usize)? } else { body };
    if plain.len() != entry.raw_length as usize {
        return Err(Error::corrupt(format!(
            "blob {}: length {} != indexed {}",
            entry.id,
            plain.len(),
            entry.raw_length
        )));
    }
    if entry.blob_type.id(keys, &plain) != entry.id {
        return Err(Error::corrupt(format!("blob {}: content does not match its id", entry.id)));
    }
    Ok((compressed, plain))
}

/// The sealed header plus trailer that ends a pack whose blobs are `entries`.
pub fn encode_header(keys: &Keys, entries: &[PackEntry]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(4 + entries.len() * ENTRY_LEN);
    plain.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        e.write(&mut plain);
    }
    let mut out = seal(&keys.seal, &Aad::object(SealKind::PackHeader), 0, &plain);
    let len = out.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// A whole pack sealed again under `to.seal` (key rotation, format-spec §22): every blob is
/// opened with `from` and its frame (flags and payload, compressed or not) sealed again
/// with a fresh nonce. Padding is canonical, so every sealed length, hence every offset,
/// stays the same; nothing is decompressed. Returns the new pack and its entries.
pub fn reseal_pack(from: &Keys, to: &Keys, pack: &[u8]) -> Result<(Vec<u8>, Vec<PackEntry>)> {
    let entries = decode_header(from, pack, pack.len() as u64)?;
    let mut out = Vec::with_capacity(pack.len());
    let mut resealed = Vec::with_capacity(entries.len());
    for e in entries {
        let sealed = &pack[e.offset as usize..e.offset as usize + e.length as usize];
        let aad = Aad::blob(e.blob_type.seal_kind(), &e.id);
        let (flags, payload) = from.open(&aad, sealed).map_err(|err| err.context(format!("blob {}", e.id)))?;
        let again = seal(&to.seal, &aad, flags, &payload);
        debug_assert_eq!(again.len(), sealed.len());
        resealed.push(PackEntry { offset: out.len() as u32, length: again.len() as u32, ..e });
        out.extend_from_slice(&again);
    }
    out.extend_from_slice(&encode_header(to, &resealed));
    Ok((out, resealed))
}

/// Length of the sealed header, from a pack's last 4 bytes.
pub fn header_len_from_trailer(trailer: &[u8], pack_len: u64) -> Result<u32> {
    let t: [u8; 4] = trailer.try_into().map_err(|_| Error::corrupt("pack trailer is not 4 bytes"))?;
    let n = u32::from_le_bytes(t);
    if (n as u64) + TRAILER_LEN as u64 > pack_len || (n as usize) < SEAL_OVERHEAD {
        return Err(Error::corrupt(format!("pack header length {n} impossible for a pack of {pack_len} bytes")));
    }
    Ok(n)
}

/// Decode and validate a pack header. `tail` is the pack's last `header_len + 4` bytes and
/// `pack_len` the whole pack's length: every entry must lie inside the blob area, in order,
/// without overlap.
pub fn decode_header(keys: &Keys, tail: &[u8], pack_len: u64) -> Result<Vec<PackEntry>> {
    if tail.len() < TRAILER_LEN {
        return Err(Error::corrupt("pack too short"));
    }
    let n = header_len_from_trailer(&tail[tail.len() - TRAILER_LEN..], pack_len)? as usize;
    if tail.len() < n + TRAILER_LEN {
        return Err(Error::corrupt("pack header truncated"));
    }
    let sealed = &tail[tail.len() - TRAILER_LEN - n..tail.len() - TRAILER_LEN];
    let (flags, plain) = keys.open(&Aad::object(SealKind::PackHeader), sealed)?;
    if flags != 0 {
        return Err(Error::corrupt(format!("pack header has flags {flags:#04x}; v1 headers are stored raw")));
    }
    let blob_area_end = pack_len - (n + TRAILER_LEN) as u64;
    let mut r = Reader::new(&plain, "pack header");
    let count = r.u32()?;
    if count > MAX_PACK_ENTRIES || count as usize * ENTRY_LEN != r.remaining() {
        return Err(Error::corrupt(format!("pack header claims {count} entries")));
    }
    let mut entries = Vec::with_capacity(count as usize);
    let mut next_free = 0u64;
    for _ in 0..count {
        let e = PackEntry::read(&mut r)?;
        let (start, end) = (e.offset as u64, e.offset as u64 + e.length as u64);
        if start < next_free || end > blob_area_end {
            return Err(Error::corrupt(format!(
                "pack header entry for blob {} overlaps or is out of range",
                e.id.short()
            )));
        }
        next_free = end;
        entries.push(e);
    }
    r.finish()?;
    Ok(entries)
}
