//! Tampering with a sealed object is always detected. A valid object is built once (one with a
//! zstd-compressed payload, one stored raw); the fuzz input is a program of edits: flip a byte,
//! truncate, or extend. Opening must fail, unless the edits left the bytes unchanged, in which
//! case it must return the original payload.
//!
//! Input: first byte picks the object, then 3-byte edits `op, position u8, value`.
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{Keys, MasterSecret, SealKind};
use arca::format::object;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));
const KIND: SealKind = SealKind::Snapshot;
const SHORT: &[u8] = b"a short payload, stored raw";

static LONG: LazyLock<Vec<u8>> =
    LazyLock::new(|| b"a longer payload that zstd compresses well. ".repeat(20).into_iter().collect());
static OBJECTS: LazyLock<[Vec<u8>; 2]> =
    LazyLock::new(|| [object::encode(&KEYS, KIND, SHORT), object::encode(&KEYS, KIND, &LONG)]);

fuzz_target!(|data: &[u8]| {
    let Some((&pick, edits)) = data.split_first() else { return };
    let which = usize::from(pick & 1);
    let (original, payload) = (&OBJECTS[which], if which == 0 { SHORT } else { LONG.as_slice() });

    let mut bytes = original.clone();
    for edit in edits.chunks_exact(3) {
        let (op, pos, value) = (edit[0] % 3, usize::from(edit[1]), edit[2]);
        match op {
            0 if !bytes.is_empty() => {
                // Positions past 255 are reached from the end, so the tag gets hit too.
                let i = if value & 0x80 != 0 { bytes.len() - 1 - pos % bytes.len() } else { pos % bytes.len() };
                bytes[i] ^= value | 1;
            }
            1 => bytes.truncate(bytes.len().saturating_sub(pos)),
            2 => bytes.extend(std::iter::repeat_n(value, pos % 8 + 1)),
            _ => {}
        }
    }

    let opened = object::decode(&KEYS, KIND, &bytes);
    if bytes == *original {
        assert_eq!(opened.expect("an untouched object opens"), payload);
    } else {
        assert!(opened.is_err(), "a tampered object opened ({} bytes vs {})", bytes.len(), original.len());
    }
    assert!(object::decode(&KEYS, SealKind::Index, &bytes).is_err(), "opened as the wrong kind");
});
