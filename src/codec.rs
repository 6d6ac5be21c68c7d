//! Compression (zstd) and the single home of CBOR encoding (serde_cbor), so the CBOR library
//! can be swapped in one place. Pure functions, no I/O.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// How hard to compress. `Off` stores raw; levels are zstd levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Off,
    Level(i32),
}

impl Compression {
    pub const AUTO: Compression = Compression::Level(3);
    pub const MAX: Compression = Compression::Level(19);

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "off" | "none" => Ok(Compression::Off),
            "auto" => Ok(Compression::AUTO),
            "max" => Ok(Compression::MAX),
            n => match n.parse::<i32>() {
                Ok(l) if (1..=22).contains(&l) => Ok(Compression::Level(l)),
                _ => Err(Error::usage(format!("invalid compression {s:?}: use off, auto, max or a level 1-22"))),
            },
        }
    }
}

/// Compress `data`; `None` when compression is off or does not make it smaller (stored raw).
pub fn compress(level: Compression, data: &[u8]) -> Option<Vec<u8>> {
    let Compression::Level(l) = level else { return None };
    if data.len() < 64 {
        return None;
    }
    let out = zstd::bulk::compress(data, l).ok()?;
    (out.len() < data.len()).then_some(out)
}

/// [`compress`] for a stream of blobs on one thread: the zstd context is made once and kept
/// (making one per blob allocates and clears its tables every time), and the output goes into
/// a buffer the caller reuses.
pub struct Compressor {
    level: Compression,
    ctx: Option<zstd::bulk::Compressor<'static>>,
}

impl Compressor {
    pub fn new(level: Compression) -> Self {
        Compressor { level, ctx: None }
    }

    /// Compress `data` into `out` (emptied first). False, with `out` to be ignored, when
    /// [`compress`] would return `None`: compression off, or output not smaller than `data`.
    pub fn compress_into(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        let Compression::Level(l) = self.level else { return false };
        if data.len() < 64 {
            return false;
        }
        let ctx = match &mut self.ctx {
            Some(c) => c,
            None => match zstd::bulk::Compressor::new(l) {
                Ok(c) => self.ctx.insert(c),
                Err(_) => return false,
            },
        };
        out.clear();
        // room for about the input's size, not zstd's worst case: output that does not fit is
        // not smaller than the input, so zstd's "too small" error means "store it raw"
        out.reserve(data.len());
        matches!(ctx.compress_to_buffer(data, out), Ok(n) if n < data.len())
    }
}

thread_local! {
    /// Each thread's zstd decompression context, made on first use and kept: making one per
    /// blob allocated and cleared its tables every time (3.6% of an unchanged re-backup's CPU,
    /// which decompresses every parent tree).
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Decompress, refusing to produce more than `limit` bytes (a hostile frame can't blow up memory).
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let size = zstd::bulk::Decompressor::upper_bound(data).unwrap_or(limit).min(limit);
    let zstd_error = |e: std::io::Error| Error::corrupt(format!("zstd: {e}"));
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = match &mut *slot {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new().map_err(zstd_error)?),
        };
        d.decompress(data, size).map_err(zstd_error)
    })
}

/// The first `len` bytes of what `data` decompresses to, without decompressing the rest;
/// Corrupt when it decompresses to fewer.
pub fn decompress_prefix(data: &[u8], len: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(|e| Error::corrupt(format!("zstd: {e}")))?;
    let mut out = Vec::with_capacity(len);
    decoder.take(len as u64).read_to_end(&mut out).map_err(|e| Error::corrupt(format!("zstd: {e}")))?;
    if out.len() != len {
        return Err(Error::corrupt(format!("zstd: {} bytes where {len} were expected", out.len())));
    }
    Ok(out)
}

pub fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain data structures into a Vec cannot fail.
    #[allow(clippy::expect_used)]
    serde_cbor::to_vec(value).expect("CBOR encoding of an in-memory value")
}

pub fn from_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_cbor::from_slice(bytes).map_err(|e| Error::corrupt(format!("CBOR: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_compressor_gives_what_compress_gives() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| format!("line {} of text\n", i % 97).into_bytes()).collect();
        let mut x = 1u64;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        let inputs: [&[u8]; 6] = [&text, &noise, &text[..100], &noise[..100], b"short", &[0; 64]];
        for level in [Compression::AUTO, Compression::Level(1), Compression::Off] {
            let mut c = Compressor::new(level);
            // one buffer for all, large from the first input: its spare capacity must not
            // let a larger-than-input frame through
            let mut out = Vec::new();
            for _ in 0..2 {
                for data in inputs {
                    let kept = c.compress_into(data, &mut out);
                    match compress(level, data) {
                        Some(want) => assert!(kept && out == want, "level {level:?}, {} bytes", data.len()),
                        None => assert!(!kept, "level {level:?}, {} bytes", data.len()),
                    }
                }
            }
        }
    }

    #[test]
    fn the_kept_decompressor_recovers_from_bad_frames() {
        let text: Vec<u8> = (0..50_000u32).flat_map(|i| format!("row {}\n", i % 89).into_bytes()).collect();
        let frame = compress(Compression::AUTO, &text).unwrap();
        let mut flipped = frame.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        for _ in 0..2 {
            assert_eq!(decompress(&frame, text.len()).unwrap(), text);
            assert!(decompress(&frame, text.len() - 1).is_err(), "a frame over the limit was accepted");
            assert_ne!(decompress(&flipped, text.len()).ok().as_ref(), Some(&text), "a damaged frame came out whole");
            assert!(decompress(&frame[..frame.len() - 3], text.len()).is_err(), "a cut frame was accepted");
            assert!(decompress(b"not zstd at all", 100).is_err());
        }
        assert_eq!(decompress(&frame, text.len()).unwrap(), text, "a bad frame left the context unusable");
    }
}
