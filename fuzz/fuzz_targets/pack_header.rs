//! Pack headers: `decode_header` must never panic, on raw bytes (the tail of a hostile pack)
//! and on genuine sealed headers listing fuzz-chosen entries. For the latter the verdict is
//! checked against a model of the rules: entries are accepted, unchanged, exactly when every
//! sealed length covers the seal overhead and is no longer than the plaintext stored raw and
//! padded (§11.3), no plaintext length exceeds the maximum, and the entries lie in order,
//! without overlap, inside the blob area.
//!
//! Format 3 headers also carry a pack nonce, a BLAKE3 per unit and zero padding to a bucket
//! length (format-spec/v3.md §11.1): a built header must commit to the blob area it was
//! written over (no unit mismatches) and must name the unit whose byte the target flips.
//!
//! Input: first byte picks the mode (bit 0 even: raw tail; odd: build a header; bit 1: format
//! 2 instead of 3), then for a built header a 4-byte blob-area length and 20-byte entries
//! `type, id byte, offset, length, raw_length, group offset (u32 LE each)` (the id is the byte
//! repeated; its value does not matter).
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{padme, Keys, MasterSecret, SEAL_OVERHEAD};
use arca::format::pack::{decode_header, decode_pack_header, encode_header, PackEntry, MAX_GROUP_LEN};
use arca::format::BlobType;
use arca::id::BlobId;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));
static KEYS_V2: LazyLock<Keys> = LazyLock::new(|| {
    let mut k = Keys::derive(&MasterSecret([7u8; 32]));
    k.format = 2;
    k
});

/// The blob areas a built header is written over (larger claimed areas commit to what exists).
const AREA_MAX: u64 = 1 << 16;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The header rules of format-spec §11.3 (format 2), written out independently of the decoder.
fn valid(entries: &[PackEntry], blob_area: u64) -> bool {
    let sealed_max = |raw: u64| 40 + padme(5 + raw as usize) as u64;
    let mut next_free = 0u64;
    // the open group: its first entry and the plaintext length so far
    let mut group: Option<(PackEntry, u64)> = None;
    let group_ok = |g: Option<(PackEntry, u64)>| {
        g.is_none_or(|(first, len)| len <= u64::from(MAX_GROUP_LEN) && u64::from(first.length) <= sealed_max(len))
    };
    for e in entries {
        let (start, end) = (u64::from(e.offset), u64::from(e.offset) + u64::from(e.length));
        if let (Some(g), Some((first, len))) = (e.group_offset, group) {
            if first.offset == e.offset && first.length == e.length {
                if u64::from(g) != len || e.blob_type != BlobType::Data {
                    return false;
                }
                group = Some((first, len + u64::from(e.raw_length)));
                continue;
            }
        }
        if !group_ok(group.take()) {
            return false;
        }
        let unit_ok = (e.length as usize) >= SEAL_OVERHEAD && start >= next_free && end <= blob_area;
        let ok = match e.group_offset {
            None => unit_ok && e.raw_length <= e.blob_type.max_len() && u64::from(e.length) <= sealed_max(e.raw_length.into()),
            Some(g) => unit_ok && g == 0 && e.blob_type == BlobType::Data,
        };
        if !ok {
            return false;
        }
        if e.group_offset.is_some() {
            group = Some((*e, u64::from(e.raw_length)));
        }
        next_free = end;
    }
    group_ok(group)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let keys: &Keys = if mode & 2 == 0 { &KEYS } else { &KEYS_V2 };
    if mode & 1 == 0 || rest.len() < 4 {
        let _ = decode_header(keys, rest, rest.len() as u64);
        // The same tail claimed to end a larger pack.
        let _ = decode_header(keys, rest, rest.len() as u64 + u64::from(mode));
        return;
    }

    let blob_area = u64::from(u32_at(rest, 0));
    let entries: Vec<PackEntry> = rest[4..]
        .chunks_exact(20)
        .map(|c| PackEntry {
            blob_type: if c[0] & 1 == 0 { BlobType::Data } else { BlobType::Tree },
            id: BlobId([c[1]; 32]),
            offset: u32_at(c, 2),
            length: u32_at(c, 6),
            raw_length: u32_at(c, 10),
            // bit 1 of the type byte: grouped; the offset is then kept small, so groups happen
            group_offset: (c[0] & 2 != 0).then(|| u32_at(c, 14) % 4096),
        })
        .collect();
    // the area's bytes: a function of the input, so units differ
    let mut area = vec![0u8; blob_area.min(AREA_MAX) as usize];
    area.iter_mut().enumerate().for_each(|(i, b)| *b = (i as u8) ^ mode);
    let tail = encode_header(keys, &entries, &area);
    let decoded = decode_pack_header(keys, &tail, blob_area + tail.len() as u64);
    if !valid(&entries, blob_area) {
        assert!(decoded.is_err(), "an invalid header was accepted");
        return;
    }
    let header = decoded.expect("a valid header decodes");
    assert_eq!(header.entries, entries);
    assert_eq!(header.commits(), keys.format >= 3);
    if header.commits() && blob_area <= AREA_MAX {
        assert!(header.mismatched_units(&area).is_empty(), "a header does not commit to its own blob area");
        if let Some(e) = entries.first().filter(|e| e.length > 0) {
            area[e.offset as usize] ^= 1;
            let bad = header.mismatched_units(&area);
            assert!(bad.len() == 1 && bad[0][0] == *e, "a flipped byte was not found in its unit");
        }
    }
});
