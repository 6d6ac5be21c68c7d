//! Stored objects (config, index, snapshot, lock): a 6-byte clear header, then a sealed,
//! optionally compressed payload.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `ARCA` |
//! | 4 | 1 | format version: the repository's (1 or 2) |
//! | 5 | 1 | kind (seal kind byte) |
//! | 6 | .. | sealed payload; AAD = domain, kind, the 6 header bytes |

use crate::codec::{compress, decompress, Compression};
use crate::crypto::{seal, Aad, Keys, SealKind, FLAG_ZSTD};
use crate::error::{Error, Kind, Result};

use super::{FORMAT_VERSION, READ_VERSIONS};

pub const MAGIC: &[u8; 4] = b"ARCA";
pub const HEADER_LEN: usize = 6;
/// Largest decoded object payload accepted (1 GiB).
pub const MAX_OBJECT_PAYLOAD: usize = 1 << 30;

fn header(version: u8, kind: SealKind) -> [u8; HEADER_LEN] {
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], version, kind as u8]
}

/// An object of the repository's format version (`keys.format`).
pub fn encode(keys: &Keys, kind: SealKind, payload: &[u8]) -> Vec<u8> {
    encode_as(keys.format, keys, kind, payload)
}

/// An object of format `version` (`config` carries its own).
pub fn encode_as(version: u8, keys: &Keys, kind: SealKind, payload: &[u8]) -> Vec<u8> {
    let h = header(version, kind);
    let (flags, body) = match compress(Compression::AUTO, payload) {
        Some(c) => (FLAG_ZSTD, c),
        None => (0, payload.to_vec()),
    };
    let mut out = h.to_vec();
    out.extend_from_slice(&seal(&keys.seal, &Aad::new(kind, &h), flags, &body));
    out
}

/// Check the clear header: magic, a version this build understands, and the expected kind.
/// Returns the version.
pub fn check_header(bytes: &[u8], kind: SealKind) -> Result<u8> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return Err(Error::corrupt("not an arca object (bad magic)"));
    }
    if !READ_VERSIONS.contains(&bytes[4]) {
        return Err(Error::new(
            Kind::Unsupported,
            format!("object has format version {}, this arca reads versions 1 to {FORMAT_VERSION}", bytes[4]),
        )
        .hint("upgrade arca to a version that supports this repository"));
    }
    if bytes[5] != kind as u8 {
        return Err(Error::corrupt(format!("object kind {:#04x}, expected {:?}", bytes[5], kind)));
    }
    Ok(bytes[4])
}

pub fn decode(keys: &Keys, kind: SealKind, bytes: &[u8]) -> Result<Vec<u8>> {
    decode_versioned(keys, kind, bytes).map(|(_, payload)| payload)
}

/// [`decode`], also returning the object's format version (which fixes an index file's
/// entry layout).
pub fn decode_versioned(keys: &Keys, kind: SealKind, bytes: &[u8]) -> Result<(u8, Vec<u8>)> {
    let version = check_header(bytes, kind)?;
    let (flags, body) = keys.open(&Aad::new(kind, &bytes[..HEADER_LEN]), &bytes[HEADER_LEN..])?;
    let payload = if flags & FLAG_ZSTD != 0 { decompress(&body, MAX_OBJECT_PAYLOAD)? } else { body };
    Ok((version, payload))
}
