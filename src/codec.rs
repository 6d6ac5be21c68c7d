//! Compression (zstd) and the single home of CBOR encoding (serde_cbor), so the CBOR library
//! can be swapped in one place. Pure functions, no I/O.

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

/// Decompress, refusing to produce more than `limit` bytes (a hostile frame can't blow up memory).
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let size = zstd::bulk::Decompressor::upper_bound(data).unwrap_or(limit).min(limit);
    zstd::bulk::decompress(data, size).map_err(|e| Error::corrupt(format!("zstd: {e}")))
}

pub fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain data structures into a Vec cannot fail.
    #[allow(clippy::expect_used)]
    serde_cbor::to_vec(value).expect("CBOR encoding of an in-memory value")
}

pub fn from_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_cbor::from_slice(bytes).map_err(|e| Error::corrupt(format!("CBOR: {e}")))
}
