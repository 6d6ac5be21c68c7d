#![allow(clippy::unwrap_used)]
//! Property tests: chunker invariants (deterministic, bounded, keyed, stream = slice) and
//! round trips of every codec.

use std::io::Read;

use arca::chunker::{Chunker, ChunkerParams};
use arca::crypto::{open, seal, Aad, Keys, MasterSecret, SealKind};
use arca::format::index::{IndexFile, IndexPack, MarkedPack};
use arca::format::pack::{decode_header, encode_header, max_sealed_len, seal_blob, PackEntry, MAX_GROUP_LEN};
use arca::format::tree::{Node, NodeKind, Tree};
use arca::format::BlobType;
use arca::id::{BlobId, ObjectId, PackId};
use proptest::prelude::*;

const P: ChunkerParams = ChunkerParams { min: 1024, avg: 4096, max: 16384 };

fn keys(seed: u8) -> Keys {
    Keys::derive(&MasterSecret([seed; 32]))
}

fn chunks(c: &Chunker, data: &[u8]) -> Vec<usize> {
    let mut v = vec![];
    c.split_slice(data, |ch| {
        v.push(ch.len());
        Ok(())
    })
    .unwrap();
    v
}

/// A reader that hands out data in pieces of the given sizes.
struct Trickle<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.i % self.sizes.len()].max(1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunker_bounds_determinism_and_streaming(data in proptest::collection::vec(any::<u8>(), 0..200_000), sizes in proptest::collection::vec(1usize..40_000, 1..8)) {
        let c = Chunker::new(&[3; 32], P).unwrap();
        let a = chunks(&c, &data);
        prop_assert_eq!(a.iter().sum::<usize>(), data.len());
        for (i, &n) in a.iter().enumerate() {
            prop_assert!(n <= P.max as usize);
            if i + 1 < a.len() {
                prop_assert!(n >= P.min as usize, "chunk {} of {} is {} bytes", i, a.len(), n);
            }
        }
        prop_assert_eq!(&a, &chunks(&c, &data));
        let mut streamed = vec![];
        c.split_reader(&mut Trickle { data: &data, sizes, i: 0 }, &mut vec![], |ch| { streamed.push(ch.len()); Ok(()) }).unwrap();
        prop_assert_eq!(a, streamed);
    }

    #[test]
    fn seal_round_trip_and_any_flip_fails(payload in proptest::collection::vec(any::<u8>(), 0..5000), flip in any::<prop::sample::Index>()) {
        let k = keys(1);
        let aad = Aad::object(SealKind::Index);
        let s = seal(&k.seal, &aad, 0, &payload);
        prop_assert_eq!(open(&k.seal, &aad, &s).unwrap().1, payload);
        let mut bad = s.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 0x80;
        prop_assert!(open(&k.seal, &aad, &bad).is_err());
    }

    #[test]
    fn tree_round_trip(names in proptest::collection::btree_set(proptest::collection::vec(1u8..=255, 1..40), 0..30), mode in 0u32..0o7777, size in any::<u64>()) {
        let nodes: Vec<Node> = names
            .into_iter()
            .filter(|n| arca::format::tree::valid_name(n))
            .map(|n| {
                let mut node = Node::new(n, NodeKind::File);
                node.mode = mode;
                node.size = size;
                node.mtime = arca::format::tree::Time::from_nanos(-5);
                node.content = vec![BlobId([9; 32])];
                node
            })
            .collect();
        let t = Tree { nodes };
        prop_assert_eq!(Tree::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn a_sealed_blob_is_never_longer_than_its_entry_may_say(len in 0usize..300_000, fill in 0u8..3) {
        let plain: Vec<u8> = match fill {
            0 => vec![7; len],
            1 => (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect(),
            _ => (0..len).map(|i| (i % 251) as u8).collect(),
        };
        let id = BlobType::Data.id(&keys(4), &plain);
        for level in [arca::codec::Compression::AUTO, arca::codec::Compression::Off] {
            let sealed = seal_blob(&keys(4), BlobType::Data, &id, &plain, level);
            prop_assert!(sealed.len() as u32 <= max_sealed_len(len as u32), "{} > {}", sealed.len(), max_sealed_len(len as u32));
        }
    }

    #[test]
    fn index_and_pack_header_round_trip(n in 0usize..300, packs in 1usize..4, group in 1u32..6, format in 1u8..=2) {
        let mut k = keys(2);
        k.format = format;
        // in format 2, runs of `group` data blobs share a sealed unit (a group of one is alone)
        let grouping = format >= 2 && group > 1;
        let mut offset = 0u32;
        let mut entries: Vec<PackEntry> = vec![];
        for i in 0..n {
            let blob_type = if i % 7 == 0 { BlobType::Tree } else { BlobType::Data };
            let raw_length = 60 + i as u32;
            let prev = entries.last().copied();
            let joins = blob_type == BlobType::Data && prev.and_then(|p| p.group_offset).is_some() && !(i as u32).is_multiple_of(group);
            let e = match prev {
                Some(p) if joins => PackEntry { id: BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes()), raw_length, group_offset: Some(p.plain_end() as u32), ..p },
                _ => {
                    let grouped = grouping && blob_type == BlobType::Data;
                    let e = PackEntry {
                        blob_type,
                        id: BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                        offset,
                        length: if grouped { 45 + group } else { 100 + i as u32 },
                        raw_length,
                        group_offset: grouped.then_some(0),
                    };
                    offset += e.length;
                    e
                }
            };
            entries.push(e);
        }
        let mut pack = vec![0u8; offset as usize];
        pack.extend_from_slice(&encode_header(&k, &entries, &pack));
        prop_assert_eq!(decode_header(&k, &pack, pack.len() as u64).unwrap(), entries.clone());
        let idx = IndexFile {
            supersedes: vec![ObjectId([1; 32])],
            packs: (0..packs).map(|p| IndexPack { id: PackId([p as u8; 32]), blobs: entries.clone() }).collect(),
            marked: (0..packs % 3)
                .map(|p| MarkedPack {
                    pack: IndexPack { id: PackId([100 + p as u8; 32]), blobs: entries.clone() },
                    marked_at: 1_790_000_000 + p as u64,
                })
                .collect(),
        };
        prop_assert_eq!(IndexFile::decode(&k, &idx.encode(&k)).unwrap(), idx);
    }
}

#[test]
fn chunker_is_keyed() {
    let data: Vec<u8> = (0..400_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let a = chunks(&Chunker::new(&[1; 32], P).unwrap(), &data);
    let b = chunks(&Chunker::new(&[2; 32], P).unwrap(), &data);
    assert!(a.len() > 20 && b.len() > 20);
    assert_ne!(a, b, "two chunker keys cut identical boundaries");
}

#[test]
fn pack_header_rejects_overlap_and_out_of_range() {
    let k = keys(3);
    let e = |offset, length| PackEntry {
        blob_type: BlobType::Data,
        id: BlobId([1; 32]),
        offset,
        length,
        raw_length: 10_000,
        group_offset: None,
    };
    for entries in [vec![e(0, 100), e(50, 100)], vec![e(0, 100), e(100, 10_000)], vec![e(u32::MAX - 50, 100)]] {
        let mut pack = vec![0u8; 200];
        pack.extend_from_slice(&encode_header(&k, &entries, &pack));
        assert!(decode_header(&k, &pack, pack.len() as u64).is_err(), "{entries:?} accepted");
    }
    // a sealed length longer than the blob stored raw could be
    let huge = PackEntry { length: max_sealed_len(10_000) + 1, ..e(0, 100) };
    let mut pack = vec![0u8; huge.length as usize];
    pack.extend_from_slice(&encode_header(&k, &[huge], &pack));
    let err = decode_header(&k, &pack, pack.len() as u64).unwrap_err();
    assert!(err.to_string().contains("impossible lengths"), "{err}");
    // a huge claimed header length
    let mut pack = vec![0u8; 100];
    pack.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_header(&k, &pack, pack.len() as u64).is_err());
}

#[test]
fn pack_header_rejects_groups_no_writer_makes() {
    let k = keys(3);
    let m = |n: u8, group_offset: u32, raw_length: u32| PackEntry {
        blob_type: BlobType::Data,
        id: BlobId([n; 32]),
        offset: 0,
        length: 1000,
        raw_length,
        group_offset: Some(group_offset),
    };
    let check = |entries: &[PackEntry]| {
        let mut pack = vec![0u8; 2000];
        pack.extend_from_slice(&encode_header(&k, entries, &pack));
        decode_header(&k, &pack, pack.len() as u64)
    };
    let good = [m(1, 0, 600), m(2, 600, 400)];
    assert_eq!(check(&good).unwrap(), good.to_vec());
    let lone_after = PackEntry { offset: 1000, length: 500, group_offset: None, ..m(3, 0, 500) };
    assert!(check(&[m(1, 0, 600), m(2, 600, 400), lone_after]).is_ok());
    let cases: Vec<(&str, Vec<PackEntry>)> = vec![
        ("a gap between members", vec![m(1, 0, 600), m(2, 601, 400)]),
        ("members overlapping", vec![m(1, 0, 600), m(2, 500, 400)]),
        ("a group not starting at 0", vec![m(1, 10, 600)]),
        ("a tree in a group", vec![m(1, 0, 600), PackEntry { blob_type: BlobType::Tree, ..m(2, 600, 400) }]),
        ("a plaintext over MAX_GROUP_LEN", vec![m(1, 0, MAX_GROUP_LEN - 10), m(2, MAX_GROUP_LEN - 10, 20)]),
        ("a sealed length too long for the plaintext", vec![m(1, 0, 100), m(2, 100, 100)]),
        (
            "a lone blob inside the group",
            vec![m(1, 0, 600), PackEntry { offset: 500, group_offset: None, ..m(3, 0, 10) }],
        ),
        ("the same group twice", vec![m(1, 0, 600), m(2, 600, 400), m(3, 0, 600)]),
    ];
    for (what, entries) in cases {
        assert!(check(&entries).is_err(), "{what}: accepted");
    }
}
