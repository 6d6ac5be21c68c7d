#![allow(clippy::unwrap_used)]
//! Property tests: chunker invariants (deterministic, bounded, keyed, stream = slice) and
//! round trips of every codec.

use std::io::Read;

use arca::chunker::{Chunker, ChunkerParams};
use arca::crypto::{open, seal, Aad, Keys, MasterSecret, SealKind};
use arca::format::index::{IndexFile, IndexPack, MarkedPack};
use arca::format::pack::{decode_header, encode_header, max_sealed_len, seal_blob, PackEntry};
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
                node.mtime = -5;
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
    fn index_and_pack_header_round_trip(n in 0usize..300, packs in 1usize..4) {
        let k = keys(2);
        let mut offset = 0u32;
        let entries: Vec<PackEntry> = (0..n)
            .map(|i| {
                let e = PackEntry {
                    blob_type: if i % 3 == 0 { BlobType::Tree } else { BlobType::Data },
                    id: BlobId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                    offset,
                    length: 100 + i as u32,
                    raw_length: 60 + i as u32,
                };
                offset += e.length;
                e
            })
            .collect();
        let mut pack = vec![0u8; offset as usize];
        pack.extend_from_slice(&encode_header(&k, &entries));
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
    };
    for entries in [vec![e(0, 100), e(50, 100)], vec![e(0, 100), e(100, 10_000)], vec![e(u32::MAX - 50, 100)]] {
        let mut pack = vec![0u8; 200];
        pack.extend_from_slice(&encode_header(&k, &entries));
        assert!(decode_header(&k, &pack, pack.len() as u64).is_err(), "{entries:?} accepted");
    }
    // a sealed length longer than the blob stored raw could be
    let huge = PackEntry { length: max_sealed_len(10_000) + 1, ..e(0, 100) };
    let mut pack = vec![0u8; huge.length as usize];
    pack.extend_from_slice(&encode_header(&k, &[huge]));
    let err = decode_header(&k, &pack, pack.len() as u64).unwrap_err();
    assert!(err.to_string().contains("impossible lengths"), "{err}");
    // a huge claimed header length
    let mut pack = vec![0u8; 100];
    pack.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_header(&k, &pack, pack.len() as u64).is_err());
}
