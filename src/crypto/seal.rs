//! Sealing: XChaCha20-Poly1305 with a random 24-byte nonce over a padded, optionally
//! compressed payload. The associated data names what is sealed (its kind and, for blobs,
//! its id), so a sealed thing can't be swapped for another undetected.
//!
//! Sealed bytes: `nonce[24] || ciphertext || tag[16]`, where the plaintext is
//! `flags u8 || payload_len u32 LE || payload || zero padding` and its length is
//! `padme(5 + payload_len)`. Flag bit 0 means the payload is zstd-compressed.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};
use crate::id::BlobId;

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
pub const FRAME_LEN: usize = 5;
/// Bytes a sealed thing adds besides padding.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN + FRAME_LEN;
pub const FLAG_ZSTD: u8 = 0x01;
const AAD_DOMAIN: &[u8; 6] = b"arca1\0";

/// What a sealed thing is; its byte goes into the associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SealKind {
    DataBlob = 0x01,
    TreeBlob = 0x02,
    /// Small data blobs sealed together (format v2, format-spec §11).
    DataGroup = 0x03,
    Config = 0x10,
    Index = 0x11,
    Snapshot = 0x12,
    Lock = 0x13,
    PackHeader = 0x14,
    Key = 0x15,
}

impl SealKind {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0x01 => SealKind::DataBlob,
            0x02 => SealKind::TreeBlob,
            0x03 => SealKind::DataGroup,
            0x10 => SealKind::Config,
            0x11 => SealKind::Index,
            0x12 => SealKind::Snapshot,
            0x13 => SealKind::Lock,
            0x14 => SealKind::PackHeader,
            0x15 => SealKind::Key,
            _ => return None,
        })
    }
}

/// Associated data: `"arca1\0" || kind || extra` (extra: a blob's id, a key file's KDF input).
pub struct Aad(Vec<u8>);

impl Aad {
    pub fn new(kind: SealKind, extra: &[u8]) -> Self {
        let mut v = Vec::with_capacity(AAD_DOMAIN.len() + 1 + extra.len());
        v.extend_from_slice(AAD_DOMAIN);
        v.push(kind as u8);
        v.extend_from_slice(extra);
        Aad(v)
    }

    pub fn blob(kind: SealKind, id: &BlobId) -> Self {
        Aad::new(kind, &id.0)
    }

    pub fn object(kind: SealKind) -> Self {
        Aad::new(kind, &[])
    }
}

/// Padmé: round `len` up so that only O(log log len) bits of it remain visible; the overhead
/// is at most 12% and under 3.2% for lengths of 1 MiB and more.
pub fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // floor(log2 len)
    let s = u32::BITS - e.leading_zeros(); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (len + mask) & !mask
}

/// Seal `payload` (already compressed if `flags` says so).
pub fn seal(key: &[u8; 32], aad: &Aad, flags: u8, payload: &[u8]) -> Vec<u8> {
    seal_with_nonce(key, aad, flags, payload, super::random_bytes())
}

/// Seal with a given nonce. Only for test vectors: a nonce must never repeat under one key,
/// so everything else calls [`seal`].
pub fn seal_with_nonce(key: &[u8; 32], aad: &Aad, flags: u8, payload: &[u8], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sealed_len(payload.len()));
    seal_append(key, aad, flags, payload, nonce, &mut out);
    out
}

/// Bytes [`seal`] makes of a payload of `payload_len` bytes.
pub fn sealed_len(payload_len: usize) -> usize {
    NONCE_LEN + padme(FRAME_LEN + payload_len) + TAG_LEN
}

/// [`seal_with_nonce`], appending to `out` (whose earlier bytes are left alone), so a caller
/// can seal into a buffer it reuses.
pub fn seal_append(key: &[u8; 32], aad: &Aad, flags: u8, payload: &[u8], nonce: [u8; NONCE_LEN], out: &mut Vec<u8>) {
    let start = out.len();
    out.reserve(sealed_len(payload.len()));
    out.extend_from_slice(&nonce);
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(start + NONCE_LEN + padme(FRAME_LEN + payload.len()), 0);
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let nonce = XNonce::from(nonce);
    #[allow(clippy::expect_used)] // only fails for plaintexts of 256 GiB and more
    let tag = cipher
        .encrypt_inout_detached(&nonce, &aad.0, (&mut out[start + NONCE_LEN..]).into())
        .expect("XChaCha20-Poly1305 plaintext too long");
    out.extend_from_slice(&tag);
}

/// Open sealed bytes; returns `(flags, payload)`. Any failure is [`Kind::Corrupt`].
///
/// [`Kind::Corrupt`]: crate::error::Kind::Corrupt
pub fn open(key: &[u8; 32], aad: &Aad, sealed: &[u8]) -> Result<(u8, Vec<u8>)> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(Error::corrupt(format!("sealed data too short ({} bytes)", sealed.len())));
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plain = ct.to_vec();
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let nonce = XNonce::from(<[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| Error::corrupt("bad nonce"))?);
    let tag = <[u8; TAG_LEN]>::try_from(tag).map_err(|_| Error::corrupt("bad tag"))?;
    cipher
        .decrypt_inout_detached(&nonce, &aad.0, plain.as_mut_slice().into(), &tag.into())
        .map_err(|_| Error::corrupt("authentication failed (wrong key, tampered or misplaced data)"))?;
    let flags = plain[0];
    if flags & !FLAG_ZSTD != 0 {
        return Err(Error::corrupt(format!("unknown flags {flags:#04x}")));
    }
    let len = u32::from_le_bytes([plain[1], plain[2], plain[3], plain[4]]) as usize;
    if FRAME_LEN + len > plain.len() || padme(FRAME_LEN + len) != plain.len() {
        return Err(Error::corrupt("payload length does not match padding"));
    }
    if plain[FRAME_LEN + len..].iter().any(|&b| b != 0) {
        return Err(Error::corrupt("non-zero padding"));
    }
    plain.truncate(FRAME_LEN + len);
    plain.drain(..FRAME_LEN);
    Ok((flags, plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_known_values() {
        assert_eq!(padme(0), 0);
        assert_eq!(padme(1), 1);
        assert_eq!(padme(9), 10);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1 << 20), 1 << 20);
        assert_eq!(padme((1 << 20) + 1), (1 << 20) + (1 << 15));
        for len in 1..100_000usize {
            let p = padme(len);
            assert!(p >= len && (p - len) * 100 <= len * 12 + 100, "{len} -> {p}");
        }
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = [7u8; 32];
        let aad = Aad::object(SealKind::Snapshot);
        let sealed = seal(&key, &aad, 0, b"hello");
        assert_eq!(open(&key, &aad, &sealed).unwrap(), (0, b"hello".to_vec()));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(&key, &aad, &bad).is_err(), "flip at {i} accepted");
        }
        assert!(open(&key, &Aad::object(SealKind::Index), &sealed).is_err());
        assert!(open(&[8u8; 32], &aad, &sealed).is_err());
        assert!(open(&key, &aad, &sealed[..sealed.len() - 1]).is_err());
    }
}
