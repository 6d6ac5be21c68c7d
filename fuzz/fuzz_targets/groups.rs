//! The two things arca parses that are called groups.
//!
//! Blob groups (format-spec/v3.md §11.2, small files sealed as one unit): a genuine group of
//! fuzz-chosen members, compressed or stored raw, is opened through entries that lie. Every
//! genuine entry opens to its member's bytes, alone and from the whole unit; an entry with a
//! changed offset, length, type or grouping, opened with a fuzz-chosen prefix length, either
//! fails or yields exactly the member it names (a blob is verified against its id); a flipped
//! byte of the sealed unit never opens. Nothing panics, whatever the entry claims within the
//! bounds a decoded header or index entry has (larger claims never get this far).
//!
//! `--group-by` (`GroupBy::parse`): whatever it accepts names only known fields and parses the
//! same from their canonical names and with empty parts and spaces around; whatever it refuses
//! is a usage error with a hint that no valid field added to the list repairs.
//!
//! Input: first byte picks the mode (bit 0 odd: blob groups, even: `--group-by` on the rest as
//! UTF-8). Blob groups: a byte of flags (bits 0-2: members − 2, bit 3: compressed), one byte per
//! member (its length in 16-byte steps), then the lie: member, offset change (i8, 0x80: sealed
//! alone), length change (i8), type flip (bit 0), prefix needed (u16 LE), flip position (u16 LE).
#![no_main]

use std::sync::LazyLock;

use arca::codec::Compression;
use arca::commands::forget::GroupBy;
use arca::crypto::{Keys, MasterSecret};
use arca::error::Kind;
use arca::format::pack::{open_blob, open_unit, unit_entries, GroupBuilder, PackEntry, MAX_GROUP_LEN};
use arca::format::BlobType;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        if let Ok(s) = std::str::from_utf8(rest) {
            group_by(s);
        }
    } else {
        blob_group(rest);
    }
});

fn group_by(s: &str) {
    match GroupBy::parse(s) {
        Ok(g) => {
            let named = [("host", g.host), ("paths", g.paths), ("tags", g.tags)];
            for (field, set) in named {
                // every alias of a field contains its singular name
                let stem = field.trim_end_matches('s');
                assert!(!set || s.contains(&stem), "{s:?} set {field} without naming it");
            }
            let canonical: Vec<&str> = named.iter().filter(|(_, set)| *set).map(|(f, _)| *f).collect();
            assert_eq!(GroupBy::parse(&canonical.join(",")).expect("canonical fields parse"), g);
            assert_eq!(GroupBy::parse(&format!(" , {s} ,,")).expect("padding is ignored"), g);
        }
        Err(e) => {
            assert_eq!(e.kind, Kind::Usage, "{s:?}: {}", e.message);
            assert!(e.hint.is_some(), "{s:?}: no hint");
            assert!(e.message.contains("unknown field"), "{}", e.message);
            assert!(GroupBy::parse(&format!("host,{s}")).is_err(), "adding a valid field repaired {s:?}");
        }
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn blob_group(rest: &[u8]) {
    let flags = byte(rest, 0);
    let n = 2 + usize::from(flags & 7);
    let level = if flags & 8 != 0 { Compression::AUTO } else { Compression::Off };
    // members: text-like bytes that differ per member (so ids differ unless both are empty)
    let members: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let len = usize::from(byte(rest, 1 + i)) * 16;
            (0..len).map(|j| b"group member "[j % 13] ^ (i as u8) ^ ((j / 64) as u8)).collect()
        })
        .collect();
    let mut group = GroupBuilder::default();
    for m in &members {
        group.push(BlobType::Data.id(&KEYS, m), m);
    }
    let sealed = group.seal(&KEYS, level);
    let entries: Vec<PackEntry> = unit_entries(BlobType::Data, 0, sealed.len() as u32, &group.members).collect();

    let whole = open_unit(&KEYS, &entries[0], &sealed, MAX_GROUP_LEN as usize).expect("a genuine group opens");
    for (e, m) in entries.iter().zip(&members) {
        assert_eq!(&open_blob(&KEYS, e, &sealed).expect("a member opens alone"), m);
        assert_eq!(whole.blob(&KEYS, e).expect("a member opens from the whole group"), m.as_slice());
    }

    // an entry that lies about where its member is, how long, what, and whether grouped
    let lie = &rest[(1 + n).min(rest.len())..];
    let k = usize::from(byte(lie, 0)) % n;
    let mut e = entries[k];
    let shift = byte(lie, 1) as i8;
    e.group_offset = if shift == i8::MIN { None } else { e.group_offset.map(|g| g.wrapping_add_signed(shift.into())) };
    e.raw_length = e.raw_length.wrapping_add_signed((byte(lie, 2) as i8).into());
    if byte(lie, 3) & 1 != 0 {
        e.blob_type = BlobType::Tree;
    }
    let need = usize::from(u16::from_le_bytes([byte(lie, 4), byte(lie, 5)])) * 64;
    let honest = e == entries[k];
    let names_member = |got: &[u8]| {
        assert_eq!(got, members[k].as_slice(), "a lying entry opened other bytes than its member");
        assert_eq!(e.blob_type, BlobType::Data, "a data blob opened as a tree");
    };
    // only entries within the bounds every decoded header and index entry has (PackEntry::read)
    let admissible = match e.group_offset {
        Some(g) => e.blob_type == BlobType::Data && u64::from(g) + u64::from(e.raw_length) <= u64::from(MAX_GROUP_LEN),
        None => e.raw_length <= e.blob_type.max_len(),
    };
    if admissible {
        match open_blob(&KEYS, &e, &sealed) {
            Ok(got) => names_member(&got),
            Err(_) => assert!(!honest, "a genuine entry did not open"),
        }
        if let Ok(unit) = open_unit(&KEYS, &e, &sealed, need) {
            assert!(e.group_offset.is_some(), "a group opened as a blob sealed alone");
            if let Ok(got) = unit.blob(&KEYS, &e) {
                names_member(got);
            }
        }
    }

    // a flipped byte of the sealed unit
    let mut bad = sealed.clone();
    let at = usize::from(u16::from_le_bytes([byte(lie, 6), byte(lie, 7)])) % bad.len();
    bad[at] ^= 1 | byte(lie, 8);
    assert!(open_unit(&KEYS, &entries[k], &bad, need).is_err(), "a tampered group opened");
}
