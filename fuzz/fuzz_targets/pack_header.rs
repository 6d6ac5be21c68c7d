//! Pack headers: `decode_header` must never panic, on raw bytes (the tail of a hostile pack)
//! and on genuine sealed headers listing fuzz-chosen entries. For the latter the verdict is
//! checked against a model of the rules: entries are accepted, unchanged, exactly when every
//! sealed length covers the seal overhead and is no longer than the plaintext stored raw and
//! padded (§11.3), no plaintext length exceeds the maximum, and the entries lie in order,
//! without overlap, inside the blob area.
//!
//! Input: first byte picks the mode (even: raw tail; odd: build a header), then for a built
//! header a 4-byte blob-area length and 16-byte entries `type, id byte, offset, length,
//! raw_length (u32 LE each), pad` (the id is the byte repeated; its value does not matter).
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{padme, Keys, MasterSecret, SEAL_OVERHEAD};
use arca::format::pack::{decode_header, encode_header, PackEntry};
use arca::format::BlobType;
use arca::id::BlobId;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn valid(entries: &[PackEntry], blob_area: u64) -> bool {
    let mut next_free = 0u64;
    entries.iter().all(|e| {
        let (start, end) = (u64::from(e.offset), u64::from(e.offset) + u64::from(e.length));
        let ok = e.length as usize >= SEAL_OVERHEAD
            && e.raw_length <= e.blob_type.max_len()
            && e.length as usize <= 40 + padme(5 + e.raw_length as usize)
            && start >= next_free
            && end <= blob_area;
        next_free = end;
        ok
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 || rest.len() < 4 {
        let _ = decode_header(&KEYS, rest, rest.len() as u64);
        // The same tail claimed to end a larger pack.
        let _ = decode_header(&KEYS, rest, rest.len() as u64 + u64::from(mode));
        return;
    }

    let blob_area = u64::from(u32_at(rest, 0));
    let entries: Vec<PackEntry> = rest[4..]
        .chunks_exact(16)
        .map(|c| PackEntry {
            blob_type: if c[0] & 1 == 0 { BlobType::Data } else { BlobType::Tree },
            id: BlobId([c[1]; 32]),
            offset: u32_at(c, 2),
            length: u32_at(c, 6),
            raw_length: u32_at(c, 10),
        })
        .collect();
    let tail = encode_header(&KEYS, &entries);
    let decoded = decode_header(&KEYS, &tail, blob_area + tail.len() as u64);
    if valid(&entries, blob_area) {
        assert_eq!(decoded.expect("a valid header decodes"), entries);
    } else {
        assert!(decoded.is_err(), "an invalid header was accepted");
    }
});
