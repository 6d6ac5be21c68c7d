//! Pack files: sealed units back to back, then a sealed header listing every blob, then the
//! header's length. The header makes a pack self-describing, so the index can be rebuilt from
//! packs. A unit is one blob sealed alone or, in format v2, a *group*: small data blobs
//! concatenated and sealed (so compressed) together (format-spec/v3.md §11).
//!
//! ```text
//! unit_0 || unit_1 || ... || sealed_header || header_len u32 LE
//! ```
//! Header plaintext: `count u32 LE`, then `count` entries of 45 bytes (format v1) or 49 (v2):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | blob type (1 data, 2 tree) |
//! | 1 | 32 | blob id |
//! | 33 | 4 | offset of the sealed unit in the pack, u32 LE |
//! | 37 | 4 | sealed length of the unit, u32 LE |
//! | 41 | 4 | plaintext length of the blob, u32 LE |
//! | 45 | 4 | v2: offset of the blob in its group's plaintext, `0xFFFFFFFF` when sealed alone |
//!
//! Format v3 binds the header to the blob area and hides the exact blob count
//! (format-spec/v3.md §11.1): its plaintext is `pack_nonce [32] || count u32 || units u32 ||
//! units × BLAKE3(sealed unit) [32] || count × 49-byte entries || zeros`, stored raw (never
//! compressed) and zero-padded to [`header_bucket`] of its length. The pack nonce is random,
//! so two packs of the same blobs never share a header.

use crate::codec::{compress, decompress, decompress_prefix, Compression};
use crate::crypto::{padme, random_bytes, seal, seal_append, Aad, Keys, SealKind, FLAG_ZSTD, FRAME_LEN, SEAL_OVERHEAD};
use crate::error::{Error, Result};
use crate::id::BlobId;

use super::{BlobType, Reader, FORMAT_VERSION};

/// Bytes of a header or index entry in format v1, and in v2 (which adds `group_offset`).
pub const ENTRY_LEN_V1: usize = 45;
pub const ENTRY_LEN_V2: usize = 49;
pub const TRAILER_LEN: usize = 4;
/// `group_offset` of a blob sealed alone.
pub const NOT_GROUPED: u32 = u32::MAX;
/// Largest plaintext of a group a reader accepts.
pub const MAX_GROUP_LEN: u32 = 4 * 1024 * 1024;
/// Data blobs shorter than this join a group when the format has them (format-spec §11.2).
pub const GROUP_MEMBER_MAX: usize = 512 * 1024;
/// A group is sealed once its plaintext reaches this many bytes,
pub const GROUP_TARGET: usize = 1024 * 1024;
/// or once it holds this many blobs: a group of tiny files would otherwise gather a hundred
/// thousand members, whose ids and entries a writer holds until the group's pack is stored.
pub const GROUP_MAX_BLOBS: usize = 4096;

/// Format v3: bytes of the random pack nonce, of a unit's BLAKE3, and of the fixed part of a
/// header (nonce, `count`, `units`).
pub const PACK_NONCE_LEN: usize = 32;
pub const UNIT_HASH_LEN: usize = 32;
pub const HEADER_V3_FIXED: usize = PACK_NONCE_LEN + 8;
/// The smallest padded header plaintext of format v3.
pub const HEADER_V3_MIN: usize = 256;

/// The length a format v3 header plaintext of `len` bytes is padded to: the smallest `2^k` or
/// `3 · 2^(k-1)` that is at least `len` (and at least [`HEADER_V3_MIN`]), so a header's
/// length tells the blob count only to within a factor of 1.5 (format-spec/v3.md §11.1).
pub fn header_bucket(len: usize) -> usize {
    let len = len.max(HEADER_V3_MIN);
    let pow = len.next_power_of_two();
    if pow / 4 * 3 >= len {
        pow / 4 * 3
    } else {
        pow
    }
}

/// The largest header plaintext a reader of format `version` accepts.
pub fn max_header_plaintext(version: u8) -> usize {
    let n = MAX_PACK_ENTRIES as usize;
    match version {
        1 => 4 + n * ENTRY_LEN_V1,
        2 => 4 + n * ENTRY_LEN_V2,
        _ => header_bucket(HEADER_V3_FIXED + n * (UNIT_HASH_LEN + ENTRY_LEN_V2)),
    }
}

/// Bytes of one entry in format `version`.
pub fn entry_len(version: u8) -> usize {
    if version >= 2 {
        ENTRY_LEN_V2
    } else {
        ENTRY_LEN_V1
    }
}
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

/// Where a blob lives inside its pack: the sealed unit at `offset`, `length` bytes long, and,
/// when that unit is a group, where in the group's plaintext the blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    pub blob_type: BlobType,
    pub id: BlobId,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    pub group_offset: Option<u32>,
}

impl PackEntry {
    /// Append the entry in the layout of format `version` (v1 has no groups).
    pub fn write(&self, out: &mut Vec<u8>, version: u8) {
        out.push(self.blob_type.to_byte());
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.raw_length.to_le_bytes());
        if version >= 2 {
            out.extend_from_slice(&self.group_offset.unwrap_or(NOT_GROUPED).to_le_bytes());
        } else {
            debug_assert!(self.group_offset.is_none(), "a group in a format 1 pack");
        }
    }

    /// Read one entry of format `version`, refusing lengths no writer produces.
    pub(crate) fn read(r: &mut Reader<'_>, version: u8) -> Result<Self> {
        let t = r.u8()?;
        let blob_type = BlobType::from_byte(t).ok_or_else(|| Error::corrupt(format!("unknown blob type {t}")))?;
        let (id, offset, length, raw_length) = (BlobId(r.id()?), r.u32()?, r.u32()?, r.u32()?);
        let group_offset = if version >= 2 { Some(r.u32()?).filter(|g| *g != NOT_GROUPED) } else { None };
        let e = PackEntry { blob_type, id, offset, length, raw_length, group_offset };
        let possible = match group_offset {
            None => e.raw_length <= e.blob_type.max_len() && e.length <= max_sealed_len(e.raw_length),
            Some(g) => {
                e.blob_type == BlobType::Data
                    && u64::from(g) + u64::from(e.raw_length) <= u64::from(MAX_GROUP_LEN)
                    && e.length <= max_sealed_len(MAX_GROUP_LEN)
            }
        };
        if e.length < SEAL_OVERHEAD as u32 || !possible {
            return Err(Error::corrupt(format!("blob {} has impossible lengths", e.id.short())));
        }
        Ok(e)
    }

    /// Where the blob's sealed unit ends in the pack.
    pub fn unit_end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.length)
    }

    /// Bytes of its group's plaintext a reader needs to reach the end of this blob (its own
    /// length when sealed alone).
    pub fn plain_end(&self) -> usize {
        self.group_offset.unwrap_or(0) as usize + self.raw_length as usize
    }

    /// Do the two entries name the same sealed unit?
    pub fn same_unit(&self, other: &PackEntry) -> bool {
        self.offset == other.offset && self.length == other.length
    }

    /// The bytes of the pack its sealed unit takes, as a share for this blob: the whole unit
    /// when sealed alone, else the unit's length times the blob's part of the group's plaintext
    /// of `group_len` bytes (format-spec §21.3).
    pub fn share_of_unit(&self, group_len: u64) -> u64 {
        match self.group_offset {
            None => u64::from(self.length),
            Some(_) => u64::from(self.length) * u64::from(self.raw_length) / group_len.max(1),
        }
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

/// A group being filled: its members' plaintexts back to back, and their ids and lengths.
#[derive(Default)]
pub struct GroupBuilder {
    pub plain: Vec<u8>,
    pub members: Vec<(BlobId, u32)>,
}

impl GroupBuilder {
    pub fn push(&mut self, id: BlobId, data: &[u8]) {
        self.members.push((id, data.len() as u32));
        self.plain.extend_from_slice(data);
    }

    /// Is it time to seal it (format-spec §11.2)?
    pub fn is_full(&self) -> bool {
        self.plain.len() >= GROUP_TARGET || self.members.len() >= GROUP_MAX_BLOBS
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Seal the whole group, compressed at `level` when that is smaller; a group of one blob
    /// is sealed alone, as that blob. Returns the sealed unit.
    pub fn seal(&self, keys: &Keys, level: Compression) -> Vec<u8> {
        match self.members[..] {
            [(id, _)] => seal_blob(keys, BlobType::Data, &id, &self.plain, level),
            _ => {
                let mut out = Vec::new();
                seal_group_into(keys, compress(level, &self.plain).as_deref(), &self.plain, &mut out);
                out
            }
        }
    }
}

/// Seal a group's plaintext (`compressed` when it is smaller, as for one blob) into `out`.
pub fn seal_group_into(keys: &Keys, compressed: Option<&[u8]>, plain: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let (flags, payload) = match compressed {
        Some(c) => (FLAG_ZSTD, c),
        None => (0, plain),
    };
    seal_append(&keys.seal, &Aad::object(SealKind::DataGroup), flags, payload, random_bytes(), out);
}

/// The entries of a unit sealed at `offset`, `length` bytes long, holding `members` (id and
/// plaintext length, in order): one entry sealed alone, or a group's.
pub fn unit_entries(
    blob_type: BlobType,
    offset: u32,
    length: u32,
    members: &[(BlobId, u32)],
) -> impl Iterator<Item = PackEntry> + '_ {
    let grouped = members.len() > 1;
    members.iter().scan(0u32, move |at, &(id, raw_length)| {
        let group_offset = grouped.then_some(*at);
        *at += raw_length;
        Some(PackEntry { blob_type, id, offset, length, raw_length, group_offset })
    })
}

/// An opened sealed unit: a blob's plaintext, or a group's up to where the caller needs it.
pub struct OpenedUnit {
    pub compressed: bool,
    pub plain: Vec<u8>,
}

impl OpenedUnit {
    /// The blob of `entry` in this unit, verified against its length and id.
    pub fn blob(&self, keys: &Keys, entry: &PackEntry) -> Result<&[u8]> {
        let start = entry.group_offset.unwrap_or(0) as usize;
        let plain = self
            .plain
            .get(start..entry.plain_end())
            .ok_or_else(|| Error::corrupt(format!("blob {}: its unit holds {} bytes", entry.id, self.plain.len())))?;
        if entry.group_offset.is_none() && self.plain.len() != entry.raw_length as usize {
            return Err(Error::corrupt(format!(
                "blob {}: length {} != indexed {}",
                entry.id,
                self.plain.len(),
                entry.raw_length
            )));
        }
        if entry.blob_type.id(keys, plain) != entry.id {
            return Err(Error::corrupt(format!("blob {}: content does not match its id", entry.id)));
        }
        Ok(plain)
    }
}

/// Open the sealed unit `entry` names; of a group, the first `need` bytes of its plaintext
/// (at least up to the end of `entry`'s blob; all of it when `need` is `MAX_GROUP_LEN` or
/// more). Nothing is verified against ids yet: [`OpenedUnit::blob`] does.
pub fn open_unit(keys: &Keys, entry: &PackEntry, sealed: &[u8], need: usize) -> Result<OpenedUnit> {
    let aad = match entry.group_offset {
        None => Aad::blob(entry.blob_type.seal_kind(), &entry.id),
        Some(_) => Aad::object(SealKind::DataGroup),
    };
    let what = || match entry.group_offset {
        None => format!("blob {}", entry.id),
        Some(_) => format!("the group holding blob {}", entry.id),
    };
    let (flags, body) = keys.open(&aad, sealed).map_err(|e| e.context(what()))?;
    let compressed = flags & FLAG_ZSTD != 0;
    let plain = match (entry.group_offset, compressed) {
        (None, true) => decompress(&body, entry.raw_length as usize)?,
        (None, false) => body,
        (Some(_), true) if need >= MAX_GROUP_LEN as usize => {
            decompress(&body, MAX_GROUP_LEN as usize).map_err(|e| e.context(what()))?
        }
        (Some(_), true) => decompress_prefix(&body, need.max(entry.plain_end())).map_err(|e| e.context(what()))?,
        (Some(_), false) => body,
    };
    Ok(OpenedUnit { compressed, plain })
}

/// Open a sealed blob (alone or in its group) and verify that its plaintext hashes to `id`.
pub fn open_blob(keys: &Keys, entry: &PackEntry, sealed: &[u8]) -> Result<Vec<u8>> {
    let unit = open_unit(keys, entry, sealed, entry.plain_end())?;
    match entry.group_offset {
        None => {
            unit.blob(keys, entry)?;
            Ok(unit.plain)
        }
        Some(_) => unit.blob(keys, entry).map(<[u8]>::to_vec),
    }
}

/// The sealed units of a pack's blob area, one slice of entries per unit (a blob alone, or
/// the members of a group), in offset order as a valid header lists them.
pub fn units(entries: &[PackEntry]) -> impl Iterator<Item = &[PackEntry]> {
    entries.chunk_by(|a, b| a.group_offset.is_some() && b.group_offset.is_some() && a.same_unit(b))
}

/// BLAKE3 of the bytes of the unit `e` names in `blob_area` (of the empty string when the
/// unit lies outside it, which no valid header lists).
pub fn unit_hash(blob_area: &[u8], e: &PackEntry) -> [u8; UNIT_HASH_LEN] {
    let bytes = usize::try_from(e.unit_end()).ok().and_then(|end| blob_area.get(e.offset as usize..end));
    *blake3::hash(bytes.unwrap_or_default()).as_bytes()
}

/// The header plaintext of a pack of format `version` whose blobs are `entries` in
/// `blob_area` (format v3 commits to each unit's bytes there and carries `nonce`; v1 and v2
/// use neither).
pub fn header_plaintext(version: u8, nonce: &[u8; PACK_NONCE_LEN], entries: &[PackEntry], blob_area: &[u8]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(HEADER_V3_FIXED + entries.len() * (UNIT_HASH_LEN + entry_len(version)));
    if version >= 3 {
        let hashes: Vec<[u8; UNIT_HASH_LEN]> = units(entries).map(|u| unit_hash(blob_area, &u[0])).collect();
        plain.extend_from_slice(nonce);
        plain.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        plain.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
        hashes.iter().for_each(|h| plain.extend_from_slice(h));
    } else {
        plain.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    }
    for e in entries {
        e.write(&mut plain, version);
    }
    if version >= 3 {
        plain.resize(header_bucket(plain.len()), 0);
    }
    plain
}

/// The sealed header plus trailer that ends a pack whose blobs are `entries`, sealed in
/// `blob_area` (the pack's bytes before the header), in the layout of the repository's format
/// (`keys.format`); format v3 gets a fresh random pack nonce.
pub fn encode_header(keys: &Keys, entries: &[PackEntry], blob_area: &[u8]) -> Vec<u8> {
    let plain = header_plaintext(keys.format, &random_bytes(), entries, blob_area);
    // format 2 compresses headers (a group's members repeat its offset and length); format 3
    // stores them raw, so that their length depends on the padded size alone
    let compressed = if keys.format == 2 { compress(Compression::AUTO, &plain) } else { None };
    let aad = Aad::object(SealKind::PackHeader);
    let mut out = match compressed {
        Some(c) => seal(&keys.seal, &aad, FLAG_ZSTD, &c),
        None => seal(&keys.seal, &aad, 0, &plain),
    };
    let len = out.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// A whole pack sealed again under `to.seal` (key rotation, format-spec §22): every unit (a
/// blob, or a group as a whole) is opened with `from` and its frame (flags and payload,
/// compressed or not) sealed again with a fresh nonce. Padding is canonical, so every sealed
/// length, hence every offset, stays the same; nothing is decompressed. Returns the new pack
/// and its entries.
pub fn reseal_pack(from: &Keys, to: &Keys, pack: &[u8]) -> Result<(Vec<u8>, Vec<PackEntry>)> {
    let entries = decode_header(from, pack, pack.len() as u64)?;
    let mut out = Vec::with_capacity(pack.len());
    let mut resealed = Vec::with_capacity(entries.len());
    // the group last resealed: its old entry, and its new offset and length
    let mut group: Option<(PackEntry, u32, u32)> = None;
    for e in entries {
        if let Some((_, offset, length)) = group.filter(|(old, ..)| e.group_offset.is_some() && old.same_unit(&e)) {
            resealed.push(PackEntry { offset, length, ..e });
            continue;
        }
        let sealed = &pack[e.offset as usize..e.unit_end() as usize];
        let aad = match e.group_offset {
            None => Aad::blob(e.blob_type.seal_kind(), &e.id),
            Some(_) => Aad::object(SealKind::DataGroup),
        };
        let (flags, payload) = from.open(&aad, sealed).map_err(|err| err.context(format!("blob {}", e.id)))?;
        let again = seal(&to.seal, &aad, flags, &payload);
        debug_assert_eq!(again.len(), sealed.len());
        let (offset, length) = (out.len() as u32, again.len() as u32);
        resealed.push(PackEntry { offset, length, ..e });
        group = e.group_offset.map(|_| (e, offset, length));
        out.extend_from_slice(&again);
    }
    let header = encode_header(to, &resealed, &out);
    out.extend_from_slice(&header);
    Ok((out, resealed))
}

/// Length of the sealed header, from a pack's last 4 bytes.
/// The sealed length of the largest header: [`MAX_PACK_ENTRIES`] entries of the longest
/// layout, stored raw (format-spec §11.3). A trailer naming more is refused before the header
/// is read, so a planted pack can't make a reader fetch and allocate up to 4 GiB.
pub fn max_header_len() -> usize {
    SEAL_OVERHEAD - FRAME_LEN + padme(FRAME_LEN + 4 + MAX_PACK_ENTRIES as usize * ENTRY_LEN_V2)
}

pub fn header_len_from_trailer(trailer: &[u8], pack_len: u64) -> Result<u32> {
    let t: [u8; 4] = trailer.try_into().map_err(|_| Error::corrupt("pack trailer is not 4 bytes"))?;
    let n = u32::from_le_bytes(t);
    if n as usize > max_header_len() {
        return Err(Error::corrupt(format!(
            "pack header length {n} exceeds the largest possible header ({} bytes)",
            max_header_len()
        )));
    }
    if (n as u64) + TRAILER_LEN as u64 > pack_len || (n as usize) < SEAL_OVERHEAD {
        return Err(Error::corrupt(format!("pack header length {n} impossible for a pack of {pack_len} bytes")));
    }
    Ok(n)
}

/// A decoded pack header: its entries and, in format v3, its pack nonce and the BLAKE3 of
/// each unit (in the order of [`units`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackHeader {
    pub nonce: Option<[u8; PACK_NONCE_LEN]>,
    pub entries: Vec<PackEntry>,
    pub unit_hashes: Vec<[u8; UNIT_HASH_LEN]>,
}

impl PackHeader {
    /// Does the header commit to its blob area's bytes (format v3)?
    pub fn commits(&self) -> bool {
        self.nonce.is_some()
    }

    /// The units whose bytes in `blob_area` (the pack's bytes before its header) are not the
    /// ones the header commits to, each as its entries. Empty for a header that commits to
    /// nothing (format v1 and v2: there each unit must be opened to be verified).
    pub fn mismatched_units<'a>(&'a self, blob_area: &[u8]) -> Vec<&'a [PackEntry]> {
        units(&self.entries)
            .zip(&self.unit_hashes)
            .filter(|(u, h)| unit_hash(blob_area, &u[0]) != **h)
            .map(|(u, _)| u)
            .collect()
    }
}

/// Decode and validate a pack header, in the layout of the repository's format
/// (`keys.format`): its entries. See [`decode_pack_header`].
pub fn decode_header(keys: &Keys, tail: &[u8], pack_len: u64) -> Result<Vec<PackEntry>> {
    decode_pack_header(keys, tail, pack_len).map(|h| h.entries)
}

/// The sealed header of a pack, from its `tail` (at least the last `header_len + 4` bytes):
/// the bytes that identify it (two packs with byte-identical sealed headers are a copy).
pub fn sealed_header(tail: &[u8], pack_len: u64) -> Result<&[u8]> {
    if tail.len() < TRAILER_LEN {
        return Err(Error::corrupt("pack too short"));
    }
    let n = header_len_from_trailer(&tail[tail.len() - TRAILER_LEN..], pack_len)? as usize;
    if tail.len() < n + TRAILER_LEN {
        return Err(Error::corrupt("pack header truncated"));
    }
    Ok(&tail[tail.len() - TRAILER_LEN - n..tail.len() - TRAILER_LEN])
}

/// Decode and validate a pack header, in the layout of the repository's format
/// (`keys.format`). `tail` is the pack's last `header_len + 4` bytes and `pack_len` the whole
/// pack's length: every unit must lie inside the blob area, in order, without overlap, and the
/// members of a group must be back to back in its plaintext (format-spec/v3.md §11.3). In
/// format v3 the header must be stored raw, name as many unit hashes as it has units, and be
/// padded with zeros to exactly [`header_bucket`] of its length.
///
/// A repository of format 1 or 2 may also hold packs with version 3 headers, stored by a
/// `migrate` to version 3 that has not finished (format-spec/v3.md §17.1): such a repository
/// reads a header in its own layout first and, if that fails, in the version 3 layout, which
/// commits to more. A version 3 repository reads only version 3 headers.
pub fn decode_pack_header(keys: &Keys, tail: &[u8], pack_len: u64) -> Result<PackHeader> {
    match decode_pack_header_as(keys, keys.format, tail, pack_len) {
        Err(e) if keys.format < FORMAT_VERSION => {
            decode_pack_header_as(keys, FORMAT_VERSION, tail, pack_len).map_err(|_| e)
        }
        decoded => decoded,
    }
}

/// [`decode_pack_header`] in the layout of format `format` only.
fn decode_pack_header_as(keys: &Keys, format: u8, tail: &[u8], pack_len: u64) -> Result<PackHeader> {
    let sealed = sealed_header(tail, pack_len)?;
    let n = sealed.len();
    let (flags, body) = keys.open(&Aad::object(SealKind::PackHeader), sealed)?;
    let plain = match flags {
        0 => body,
        FLAG_ZSTD if format == 2 => decompress(&body, max_header_plaintext(2))?,
        _ => {
            return Err(Error::corrupt(format!(
                "pack header has flags {flags:#04x}; format {} headers are stored raw",
                format
            )))
        }
    };
    let blob_area_end = pack_len - (n + TRAILER_LEN) as u64;
    let mut r = Reader::new(&plain, "pack header");
    let (nonce, mut unit_hashes) = if format >= 3 { (Some(r.id()?), Vec::new()) } else { (None, Vec::new()) };
    let count = r.u32()?;
    let elen = entry_len(format);
    let mut padding = 0;
    if nonce.is_some() {
        let unit_count = r.u32()?;
        let len =
            (HEADER_V3_FIXED as u64) + u64::from(unit_count) * UNIT_HASH_LEN as u64 + u64::from(count) * elen as u64;
        if count > MAX_PACK_ENTRIES || unit_count > count || header_bucket(len as usize) != plain.len() {
            return Err(Error::corrupt(format!(
                "pack header claims {count} entries in {unit_count} units in {} bytes",
                plain.len()
            )));
        }
        unit_hashes = (0..unit_count).map(|_| r.id()).collect::<Result<_>>()?;
        padding = plain.len() - len as usize;
    } else if count > MAX_PACK_ENTRIES || count as usize * elen != r.remaining() {
        return Err(Error::corrupt(format!("pack header claims {count} entries")));
    }
    let mut entries: Vec<PackEntry> = Vec::with_capacity(count as usize);
    let mut next_free = 0u64;
    // the group being read: its unit and where its next member starts
    let mut group: Option<(PackEntry, u64)> = None;
    for _ in 0..count {
        let e = PackEntry::read(&mut r, format)?;
        let bad = |what: &str| Error::corrupt(format!("pack header entry for blob {} {what}", e.id.short()));
        match (e.group_offset, group) {
            (Some(g), Some((unit, at))) if unit.same_unit(&e) => {
                if u64::from(g) != at {
                    return Err(bad("is not where the previous member of its group ends"));
                }
                group = Some((unit, at + u64::from(e.raw_length)));
            }
            _ => {
                check_group_end(group.take())?;
                if (e.offset as u64) < next_free || e.unit_end() > blob_area_end {
                    return Err(bad("overlaps or is out of range"));
                }
                if let Some(g) = e.group_offset {
                    if g != 0 {
                        return Err(bad("starts a group at a plaintext offset other than 0"));
                    }
                    group = Some((e, u64::from(e.raw_length)));
                }
                next_free = e.unit_end();
            }
        }
        entries.push(e);
    }
    check_group_end(group)?;
    if r.take(padding)?.iter().any(|b| *b != 0) {
        return Err(Error::corrupt("pack header padding is not zero"));
    }
    r.finish()?;
    if nonce.is_some() && units(&entries).count() != unit_hashes.len() {
        return Err(Error::corrupt(format!(
            "pack header lists {} units but commits to {}",
            units(&entries).count(),
            unit_hashes.len()
        )));
    }
    Ok(PackHeader { nonce, entries, unit_hashes })
}

/// Verify a whole pack's bytes against its header. Returns the header and one line per unit
/// that does not match it: in format 3 a unit whose bytes do not hash to what the header
/// commits to; in formats 1 and 2, which commit to nothing, a blob whose unit does not open
/// or does not hold it. An error means the header itself is not valid.
pub fn verify_pack_bytes(keys: &Keys, pack: &[u8]) -> Result<(PackHeader, Vec<String>)> {
    let header = decode_pack_header(keys, pack, pack.len() as u64)?;
    let area = &pack[..pack.len() - sealed_header(pack, pack.len() as u64)?.len() - TRAILER_LEN];
    let mut problems = vec![];
    if header.commits() {
        for u in header.mismatched_units(area) {
            problems.push(format!(
                "the unit at offset {} ({}, the first {}) is not the one its header commits to",
                u[0].offset,
                crate::util::words::count(u.len(), "blob"),
                u[0].id.short()
            ));
        }
        return Ok((header, problems));
    }
    for u in units(&header.entries) {
        let e = &u[0];
        let need = u.iter().map(PackEntry::plain_end).max().unwrap_or(0);
        let opened = match area.get(e.offset as usize..e.unit_end() as usize) {
            Some(sealed) => open_unit(keys, e, sealed, need).map_err(|err| err.message),
            None => Err("out of range".to_string()),
        };
        for m in u {
            let failed = match &opened {
                Ok(o) => o.blob(keys, m).err().map(|err| err.message),
                Err(message) => Some(message.clone()),
            };
            if let Some(message) = failed {
                problems.push(format!("{} blob {}: {message}", m.blob_type, m.id));
            }
        }
    }
    Ok((header, problems))
}

/// A group's sealed length must be possible for its plaintext's length (no longer than
/// stored raw and padded).
fn check_group_end(group: Option<(PackEntry, u64)>) -> Result<()> {
    match group {
        Some((unit, len)) if len > u64::from(MAX_GROUP_LEN) || unit.length > max_sealed_len(len as u32) => {
            Err(Error::corrupt(format!("the group of blob {} has impossible lengths", unit.id.short())))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{seal_with_nonce, MasterSecret};

    #[test]
    fn header_buckets_are_powers_of_two_and_their_halfway_points() {
        let mut last = 0;
        for len in 0..100_000 {
            let b = header_bucket(len);
            assert!(b >= len.max(HEADER_V3_MIN) && b >= last, "bucket({len}) = {b}");
            assert!(b == HEADER_V3_MIN || b * 2 <= len.max(1) * 3, "bucket({len}) = {b} wastes more than half");
            assert!(b.is_power_of_two() || (b / 3).is_power_of_two() && b.is_multiple_of(3), "bucket({len}) = {b}");
            last = b;
        }
    }

    /// A pack of two units (a group of two and a blob alone) over `area`, its header plaintext
    /// changed by `edit`, then sealed with `flags` under `keys`.
    fn v3_pack(keys: &Keys, edit: impl Fn(&mut Vec<u8>), flags: u8) -> Result<PackHeader> {
        let area = vec![7u8; 300];
        let mut entries: Vec<PackEntry> =
            unit_entries(BlobType::Data, 0, 100, &[(BlobId([1; 32]), 30), (BlobId([2; 32]), 30)]).collect();
        entries.extend(unit_entries(BlobType::Data, 100, 60, &[(BlobId([3; 32]), 20)]));
        let mut plain = header_plaintext(3, &[9; 32], &entries, &area);
        edit(&mut plain);
        let payload = if flags == FLAG_ZSTD { compress(Compression::AUTO, &plain).unwrap_or(plain) } else { plain };
        let sealed = seal_with_nonce(&keys.seal, &Aad::object(SealKind::PackHeader), flags, &payload, [1; 24]);
        let mut pack = area;
        pack.extend_from_slice(&sealed);
        pack.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        decode_pack_header(keys, &pack, pack.len() as u64)
    }

    #[test]
    fn a_v3_header_refuses_what_no_writer_makes() {
        let keys = Keys::derive(&MasterSecret([1; 32]));
        assert_eq!(keys.format, 4, "format 4 packs are laid out as format 3's");
        let good = v3_pack(&keys, |_| {}, 0).unwrap();
        assert_eq!((good.entries.len(), good.unit_hashes.len(), good.nonce), (3, 2, Some([9; 32])));
        assert!(good.mismatched_units(&[7u8; 300]).is_empty());
        let mut other = vec![7u8; 300];
        other[120] = 0;
        assert_eq!(good.mismatched_units(&other).len(), 1, "a changed byte of the second unit");
        assert_eq!(good.mismatched_units(&other)[0][0].id, BlobId([3; 32]));
        type Edit = Box<dyn Fn(&mut Vec<u8>)>;
        let refused: [(&str, Edit); 5] = [
            ("a padding byte that is not zero", Box::new(|p: &mut Vec<u8>| *p.last_mut().unwrap() = 1)),
            ("padding cut short", Box::new(|p: &mut Vec<u8>| p.truncate(p.len() - 1))),
            ("padding past the bucket", Box::new(|p: &mut Vec<u8>| p.extend_from_slice(&[0; 256]))),
            ("one unit claimed", Box::new(|p: &mut Vec<u8>| p[36] = 1)),
            ("more units than entries", Box::new(|p: &mut Vec<u8>| p[36] = 4)),
        ];
        for (what, edit) in refused {
            assert!(v3_pack(&keys, edit, 0).is_err(), "accepted {what}");
        }
        assert!(v3_pack(&keys, |_| {}, FLAG_ZSTD).is_err(), "accepted a compressed format 3 header");
    }

    /// format-spec §17.1: a version 1 or 2 repository reads version 3 headers too (those of an
    /// interrupted `migrate`), a version 3 repository never reads an older layout (that would
    /// let a planted version 2 pack, committing to nothing, stand in for an upgraded one).
    #[test]
    fn older_repositories_also_read_v3_headers_and_v3_reads_only_its_own() {
        let v3 = Keys::derive(&MasterSecret([1; 32]));
        let area = vec![7u8; 160];
        let mut entries: Vec<PackEntry> = unit_entries(BlobType::Data, 0, 100, &[(BlobId([1; 32]), 60)]).collect();
        entries.extend(unit_entries(BlobType::Data, 100, 60, &[(BlobId([3; 32]), 20)]));
        let pack = |keys: &Keys| {
            let mut p = area.clone();
            p.extend_from_slice(&encode_header(keys, &entries, &area));
            p
        };
        let upgraded = pack(&v3);
        for format in [1, 2] {
            let old = Keys { format, ..v3.clone() };
            let own = decode_pack_header(&old, &pack(&old), pack(&old).len() as u64).unwrap();
            assert!(!own.commits() && own.entries.len() == 2, "format {format}");
            let h = decode_pack_header(&old, &upgraded, upgraded.len() as u64).unwrap();
            assert!(h.commits() && h.entries.len() == 2, "format {format} refused a version 3 header");
            assert!(h.mismatched_units(&area).is_empty());
            let e = decode_pack_header(&v3, &pack(&old), pack(&old).len() as u64).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Corrupt, "a version 3 repository read a format {format} header");
        }
    }

    #[test]
    fn a_group_is_full_at_its_size_or_its_blob_count() {
        let mut g = GroupBuilder::default();
        for i in 0..GROUP_MAX_BLOBS {
            assert!(!g.is_full(), "full after {i} blobs of 7 bytes");
            g.push(BlobId([i as u8; 32]), b"7 bytes");
        }
        assert!(g.is_full());
        let mut big = GroupBuilder::default();
        big.push(BlobId([1; 32]), &vec![0; GROUP_TARGET - 1]);
        assert!(!big.is_full());
        big.push(BlobId([2; 32]), &[0]);
        assert!(big.is_full());
    }
}
