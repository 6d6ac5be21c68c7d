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
use arca::format::pack::{decode_header, encode_header, PackEntry, MAX_GROUP_LEN};
use arca::format::BlobType;
use arca::id::BlobId;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

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
    if mode & 1 == 0 || rest.len() < 4 {
        let _ = decode_header(&KEYS, rest, rest.len() as u64);
        // The same tail claimed to end a larger pack.
        let _ = decode_header(&KEYS, rest, rest.len() as u64 + u64::from(mode));
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
    let tail = encode_header(&KEYS, &entries);
    let decoded = decode_header(&KEYS, &tail, blob_area + tail.len() as u64);
    if valid(&entries, blob_area) {
        assert_eq!(decoded.expect("a valid header decodes"), entries);
    } else {
        assert!(decoded.is_err(), "an invalid header was accepted");
    }
});
