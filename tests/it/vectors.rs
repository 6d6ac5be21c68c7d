#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Test vectors of `format-spec/vectors/v1.json`, `v2.json`, `v3.json` and `v4.json`, and the
//! golden repositories in `tests/fixtures/golden-v1` to `golden-v4`: the bytes the spec
//! describes, checked against the code.
//! `ARCA_REGENERATE_VECTORS=1 cargo test --test vectors` rewrites them (only when the format
//! version changes; a v1 repository must stay readable forever).

use crate::common;

use std::path::{Path, PathBuf};

use arca::chunker::{Chunker, ChunkerParams};
use arca::crypto::{padme, seal_with_nonce, Aad, Keys, MasterSecret, SealKind};
use serde_json::{json, Value};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("format-spec/vectors")
}

fn stream(seed: &str, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    blake3::Hasher::new().update(seed.as_bytes()).finalize_xof().fill(&mut out);
    out
}

fn compute() -> Value {
    let master = MasterSecret(std::array::from_fn(|i| i as u8));
    let keys = Keys::derive(&master);
    let padme_values: Vec<Value> = [0usize, 1, 2, 9, 100, 1000, 65_536, 1_048_576, 1_048_577, 5_000_000]
        .iter()
        .map(|&n| json!([n, padme(n)]))
        .collect();
    let nonce: [u8; 24] = std::array::from_fn(|i| 0xa0 + i as u8);
    let blob_plain = b"arca test vector blob";
    let blob_id = keys.blob_id(blob_plain);
    let sealed_blob = seal_with_nonce(&keys.seal, &Aad::blob(SealKind::DataBlob, &blob_id), 0, blob_plain, nonce);
    let sealed_snapshot = seal_with_nonce(&keys.seal, &Aad::new(SealKind::Snapshot, b"ARCA\x01\x12"), 0, b"{}", nonce);
    let params = ChunkerParams { min: 2048, avg: 8192, max: 65536 };
    let chunker = Chunker::new(&keys.chunker, params).unwrap();
    let data = stream("arca chunker vector", 1 << 20);
    let mut lengths = vec![];
    chunker
        .split_slice(&data, |c| {
            lengths.push(c.len());
            Ok(())
        })
        .unwrap();
    json!({
        "comment": "arca format v1 test vectors; see format-spec/v1.md. Byte strings are hex.",
        "master_secret": hex::encode(master.0),
        "derived_keys": {
            "seal": hex::encode(keys.seal),
            "blob_id": hex::encode(keys.blob_id),
            "chunker": hex::encode(keys.chunker),
            "tree_id": hex::encode(keys.tree_id),
        },
        "blob_id": {"plaintext": hex::encode(blob_plain), "id": blob_id.to_hex()},
        "padme": padme_values,
        "seal": [
            {"kind": "data blob", "kind_byte": SealKind::DataBlob as u8, "aad_extra": blob_id.to_hex(), "flags": 0,
             "nonce": hex::encode(nonce), "payload": hex::encode(blob_plain), "sealed": hex::encode(&sealed_blob)},
            {"kind": "snapshot", "kind_byte": SealKind::Snapshot as u8, "aad_extra": hex::encode(b"ARCA\x01\x12"), "flags": 0,
             "nonce": hex::encode(nonce), "payload": hex::encode(b"{}"), "sealed": hex::encode(&sealed_snapshot)},
        ],
        "chunker": {
            "params": {"min": params.min, "avg": params.avg, "max": params.max},
            "data": "first 1048576 bytes of BLAKE3 XOF of \"arca chunker vector\"",
            "chunk_lengths": lengths,
        },
    })
}

#[test]
fn spec_vectors_match_the_code() {
    let path = spec_dir().join("v1.json");
    let got = compute();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() {
        std::fs::create_dir_all(spec_dir()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in ["derived_keys", "blob_id", "padme", "seal", "chunker"] {
        assert_eq!(got[key], want[key], "vector {key:?} differs from format-spec/vectors/v1.json");
    }
    // and the sealed vectors open
    let keys = Keys::derive(&MasterSecret(std::array::from_fn(|i| i as u8)));
    let s = &want["seal"][1];
    let opened = arca::crypto::open(
        &keys.seal,
        &Aad::new(SealKind::Snapshot, &hex::decode(s["aad_extra"].as_str().unwrap()).unwrap()),
        &hex::decode(s["sealed"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(opened.1, b"{}");
}

/// The vectors format v2 adds (format-spec/v2.md §5.1, §11.1): entries with `group_offset`
/// and a group of two blobs sealed with the fixed nonce.
fn compute_v2() -> Value {
    use arca::format::pack::PackEntry;
    use arca::format::BlobType;
    let keys = Keys::derive(&MasterSecret(std::array::from_fn(|i| i as u8)));
    let nonce: [u8; 24] = std::array::from_fn(|i| 0xa0 + i as u8);
    let members: [&[u8]; 2] = [b"arca test vector blob", b"arca group member two"];
    let plain = members.concat();
    let sealed = seal_with_nonce(&keys.seal, &Aad::object(SealKind::DataGroup), 0, &plain, nonce);
    let entries: Vec<PackEntry> = arca::format::pack::unit_entries(
        BlobType::Data,
        0,
        sealed.len() as u32,
        &members.map(|m| (keys.blob_id(m), m.len() as u32)),
    )
    .collect();
    for (e, m) in entries.iter().zip(members) {
        assert_eq!(arca::format::pack::open_blob(&keys, e, &sealed).unwrap(), m, "the vector group does not open");
    }
    let bytes = |e: &PackEntry| {
        let mut out = vec![];
        e.write(&mut out, 2);
        hex::encode(out)
    };
    let alone = PackEntry { offset: 4096, length: 66, group_offset: None, ..entries[0] };
    json!({
        "comment": "arca format v2 test vectors (those of v1.json hold too); see format-spec/v2.md. Byte strings are hex.",
        "master_secret": hex::encode(std::array::from_fn::<u8, 32, _>(|i| i as u8)),
        "entry_v2": {
            "grouped": {"type": 1, "id": entries[1].id.to_hex(), "offset": 0, "length": sealed.len(),
                        "raw_length": 21, "group_offset": 21, "bytes": bytes(&entries[1])},
            "alone": {"type": 1, "id": alone.id.to_hex(), "offset": 4096, "length": 66, "raw_length": 21,
                      "group_offset": "0xFFFFFFFF", "bytes": bytes(&alone)},
        },
        "group_seal": {
            "kind_byte": SealKind::DataGroup as u8, "aad_extra": "", "flags": 0, "nonce": hex::encode(nonce),
            "members": entries.iter().zip(members).map(|(e, m)| json!({
                "plaintext": hex::encode(m), "id": e.id.to_hex(), "group_offset": e.group_offset, "raw_length": e.raw_length,
            })).collect::<Vec<_>>(),
            "sealed": hex::encode(&sealed),
            "sealed_length": sealed.len(),
        },
    })
}

#[test]
fn spec_vectors_v2_match_the_code() {
    let path = spec_dir().join("v2.json");
    let got = compute_v2();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in ["entry_v2", "group_seal"] {
        assert_eq!(got[key], want[key], "vector {key:?} differs from format-spec/vectors/v2.json");
    }
}

/// The vectors format v3 adds (format-spec/v3.md §11.1, §13.1): a pack header plaintext that
/// commits to its units and carries a pack nonce, padded to its bucket; the bucket lengths;
/// and a tree whose node times lie past 2262 and before 1678, in the v3 and the v2 encoding.
fn compute_v3() -> Value {
    use arca::format::pack::{header_bucket, header_plaintext, unit_entries, unit_hash, units};
    use arca::format::tree::{Node, NodeKind, Time, Tree};
    use arca::format::BlobType;
    let keys = Keys::derive(&MasterSecret(std::array::from_fn(|i| i as u8)));
    let nonce: [u8; 24] = std::array::from_fn(|i| 0xa0 + i as u8);
    let members: [&[u8]; 2] = [b"arca test vector blob", b"arca group member two"];
    let group = seal_with_nonce(&keys.seal, &Aad::object(SealKind::DataGroup), 0, &members.concat(), nonce);
    let alone_plain = b"arca blob sealed alone";
    let alone_id = keys.blob_id(alone_plain);
    let alone = seal_with_nonce(&keys.seal, &Aad::blob(SealKind::DataBlob, &alone_id), 0, alone_plain, nonce);
    let mut area = group.clone();
    area.extend_from_slice(&alone);
    let mut entries: Vec<_> =
        unit_entries(BlobType::Data, 0, group.len() as u32, &members.map(|m| (keys.blob_id(m), m.len() as u32)))
            .collect();
    entries.extend(unit_entries(BlobType::Data, group.len() as u32, alone.len() as u32, &[(alone_id, 22)]));
    let pack_nonce: [u8; 32] = std::array::from_fn(|i| 0x50 + i as u8);
    let plain = header_plaintext(3, &pack_nonce, &entries, &area);
    let hashes: Vec<String> = units(&entries).map(|u| hex::encode(unit_hash(&area, &u[0]))).collect();
    let buckets: Vec<Value> = [0usize, 256, 257, 384, 385, 512, 1000, 5224, 65_536, 3_211_304]
        .iter()
        .map(|&n| json!([n, header_bucket(n)]))
        .collect();
    let mut file = Node::new(b"far future".to_vec(), NodeKind::File);
    (file.mode, file.uid, file.gid) = (0o644, 1000, 1000);
    file.mtime = Time::new(1 << 34, 123_456_789);
    file.ctime = Time::new(-(1 << 34), 1);
    file.atime = Time::new(-1, 999_999_999);
    let tree = Tree { nodes: vec![file] };
    json!({
        "comment": "arca format v3 test vectors (those of v1.json and v2.json hold too); see format-spec/v3.md. Byte strings are hex.",
        "master_secret": hex::encode(std::array::from_fn::<u8, 32, _>(|i| i as u8)),
        "header_v3": {
            "blob_area": hex::encode(&area),
            "units": "the group of group_seal in v2.json (sealed with its nonce), then the data blob \"arca blob sealed alone\" sealed alone with the same nonce",
            "pack_nonce": hex::encode(pack_nonce),
            "unit_hashes": hashes,
            "count": entries.len(),
            "unpadded_length": 40 + 32 * 2 + 49 * entries.len(),
            "plaintext": hex::encode(&plain),
            "plaintext_length": plain.len(),
        },
        "header_bucket": buckets,
        "node_times": {
            "mtime": [file_secs(&tree, 0), 123_456_789],
            "ctime": [-(1i64 << 34), 1],
            "atime": [-1, 999_999_999],
            "tree_v3": hex::encode(tree.encode_for(3).unwrap()),
            "tree_id_v3": keys.tree_id(&tree.encode_for(3).unwrap()).to_hex(),
            "tree_v2": hex::encode(tree.encode_for(2).unwrap()),
            "v2_note": "formats 1 and 2 hold nanoseconds in an i64: these times saturate to i64::MAX and i64::MIN there",
        },
    })
}

fn file_secs(t: &arca::format::tree::Tree, i: usize) -> i64 {
    t.nodes[i].mtime.secs
}

#[test]
fn spec_vectors_v3_match_the_code() {
    let path = spec_dir().join("v3.json");
    let got = compute_v3();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() && !path.exists() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in ["header_v3", "header_bucket", "node_times"] {
        assert_eq!(got[key], want[key], "vector {key:?} differs from format-spec/vectors/v3.json");
    }
    // the header, sealed, decodes to its entries and commits to its blob area only
    let keys = Keys::derive(&MasterSecret(std::array::from_fn(|i| i as u8)));
    let area = hex::decode(want["header_v3"]["blob_area"].as_str().unwrap()).unwrap();
    let mut pack = area.clone();
    let plain = hex::decode(want["header_v3"]["plaintext"].as_str().unwrap()).unwrap();
    let sealed = seal_with_nonce(&keys.seal, &Aad::object(SealKind::PackHeader), 0, &plain, [7; 24]);
    pack.extend_from_slice(&sealed);
    pack.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    let header = arca::format::pack::decode_pack_header(&keys, &pack, pack.len() as u64).unwrap();
    assert_eq!(header.entries.len(), 3);
    assert!(header.mismatched_units(&area).is_empty());
    let mut forged = area.clone();
    forged[area.len() - 1] ^= 1;
    assert_eq!(header.mismatched_units(&forged).len(), 1, "a changed byte of the blob area went unnoticed");
    // and the tree decodes to the exact times
    let tree = arca::format::tree::Tree::decode(&hex::decode(want["node_times"]["tree_v3"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(tree.nodes[0].mtime, arca::format::tree::Time::new(1 << 34, 123_456_789));
}

/// The vector format v4 adds (format-spec/v4.md §13.5): a tree whose file is stored inline,
/// its encoding and its tree id, beside a file in a blob and an empty file.
fn compute_v4() -> Value {
    use arca::format::tree::{Node, NodeKind, Time, Tree};
    let keys = Keys::derive(&MasterSecret(std::array::from_fn(|i| i as u8)));
    let node = |name: &[u8], size: u64| {
        let mut n = Node::new(name.to_vec(), NodeKind::File);
        (n.mode, n.uid, n.gid, n.size) = (0o644, 1000, 1000, size);
        (n.mtime, n.ctime) = (Time::new(1_765_000_000, 1), Time::new(1_765_000_000, 2));
        n
    };
    let mut blob = node(b"a blob", 300);
    blob.content = vec![keys.blob_id(b"arca test vector blob")];
    let empty = node(b"b empty", 0);
    let mut inline = node(b"c inline", 17);
    inline.inline = Some(serde_bytes::ByteBuf::from(b"stored inline v4\n".to_vec()));
    let tree = Tree { nodes: vec![blob, empty, inline] };
    json!({
        "comment": "arca format v4 test vectors (those of v1.json, v2.json and v3.json hold too); see format-spec/v4.md. Byte strings are hex.",
        "master_secret": hex::encode(std::array::from_fn::<u8, 32, _>(|i| i as u8)),
        "node_inline": {
            "inline": hex::encode(b"stored inline v4\n"),
            "tree_v4": hex::encode(tree.encode_for(4).unwrap()),
            "tree_id_v4": keys.tree_id(&tree.encode_for(4).unwrap()).to_hex(),
            "note": "the node \"c inline\" holds its 17 bytes under \"inline\", between content_lists and subtree in the key order of §13.1; a version 3 encoding of this tree does not exist",
        },
    })
}

#[test]
fn spec_vectors_v4_match_the_code() {
    use arca::format::tree::Tree;
    let path = spec_dir().join("v4.json");
    let got = compute_v4();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() && !path.exists() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        got["node_inline"], want["node_inline"],
        "vector \"node_inline\" differs from format-spec/vectors/v4.json"
    );
    let bytes = hex::decode(want["node_inline"]["tree_v4"].as_str().unwrap()).unwrap();
    let tree = Tree::decode(&bytes).unwrap();
    let inline = hex::decode(want["node_inline"]["inline"].as_str().unwrap()).unwrap();
    assert_eq!(tree.nodes[2].inline.as_deref().map(|b| b.as_slice()), Some(inline.as_slice()));
    assert!(tree.nodes[2].content.is_empty() && tree.nodes[1].inline.is_none());
    assert_eq!(tree.encode_for(4).unwrap(), bytes, "re-encoding changed the bytes");
    let keys = Keys::derive(&MasterSecret(std::array::from_fn(|i| i as u8)));
    assert_eq!(keys.tree_id(&bytes).to_hex(), want["node_inline"]["tree_id_v4"].as_str().unwrap());
    // the key as the spec spells it, and its byte string
    let mut field = b"\x66inline\x51".to_vec();
    field.extend_from_slice(&inline);
    assert!(bytes.windows(field.len()).any(|w| w == field), "inline is not the key `inline` with a byte string");
}

/// The optional snapshot key `change_list` (format-spec §14, issue 23): a snapshot without it
/// encodes exactly as before (the key is omitted, not `null`), one with it carries a uint, and
/// readers ignore keys they do not know, which is why no version bump is needed.
fn compute_snapshot_change_list() -> Value {
    use arca::format::snapshot::Snapshot;
    let mut snap = Snapshot {
        time: "2026-12-07T18:00:00+00:00".into(),
        tree: arca::id::TreeId([0x11; 32]),
        paths: vec!["/home/u".into()],
        hostname: "h".into(),
        username: "u".into(),
        uid: 1000,
        gid: 1000,
        tags: vec![],
        parent: Some(arca::id::SnapshotId([0x22; 32])),
        excludes: vec![],
        program_version: "arca 0.1.0".into(),
        summary: None,
        original: None,
        change_list: None,
    };
    let full_walk = arca::codec::to_cbor(&snap);
    snap.change_list = Some(3);
    json!({
        "full_walk": hex::encode(full_walk),
        "change_list_3": hex::encode(arca::codec::to_cbor(&snap)),
    })
}

#[test]
fn snapshot_change_list_vector_matches_and_old_readers_ignore_it() {
    use arca::format::snapshot::Snapshot;
    let path = spec_dir().join("v3.json");
    let got = compute_snapshot_change_list();
    let mut want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() && want.get("snapshot_change_list").is_none() {
        // adding a vector never rewrites the existing ones
        want["snapshot_change_list"] = got.clone();
        std::fs::write(&path, serde_json::to_string_pretty(&want).unwrap() + "\n").unwrap();
    }
    assert_eq!(
        got, want["snapshot_change_list"],
        "vector \"snapshot_change_list\" differs from format-spec/vectors/v3.json"
    );
    let bytes = |k: &str| hex::decode(want["snapshot_change_list"][k].as_str().unwrap()).unwrap();
    let full: Snapshot = arca::codec::from_cbor(&bytes("full_walk")).unwrap();
    assert_eq!(full.change_list, None);
    assert!(!bytes("full_walk").windows(11).any(|w| w == b"change_list"), "an absent change_list is written");
    let listed: Snapshot = arca::codec::from_cbor(&bytes("change_list_3")).unwrap();
    assert_eq!(listed.change_list, Some(3));
    assert_eq!(Snapshot { change_list: None, ..listed }, full);
    // a reader that does not know a key skips it: what a reader older than `change_list` did
    let mut map: std::collections::BTreeMap<serde_cbor::Value, serde_cbor::Value> =
        serde_cbor::from_slice(&bytes("change_list_3")).unwrap();
    map.insert(serde_cbor::Value::Text("a_later_key".into()), serde_cbor::Value::Integer(7));
    let later: Snapshot = arca::codec::from_cbor(&serde_cbor::to_vec(&map).unwrap()).unwrap();
    assert_eq!(later.change_list, Some(3));
}

const GOLDEN_PASSWORD: &str = "golden v1";

fn golden_source(root: &Path, name: &str) {
    common::write(&root.join("hello.txt"), b"hello from format v1\n");
    common::write(&root.join("dir/data.bin"), &stream("golden data", 300_000));
    common::write(&root.join(common::os(b"non-utf8-\xff")), b"raw name");
    std::os::unix::fs::symlink("hello.txt", root.join("link")).unwrap();
    if name == "golden-v4" {
        common::write(&root.join("tiny.txt"), b"stored inline v4\n");
    }
}

/// A v1 repository made once and kept forever: every later arca must read it.
#[test]
fn golden_v1_repository_stays_readable() {
    golden_repository_stays_readable("golden-v1", GOLDEN_PASSWORD);
}

/// The v2 repository, made the same way by the first arca writing format 2: its data pack holds
/// one group.
#[test]
fn golden_v2_repository_stays_readable() {
    golden_repository_stays_readable("golden-v2", "golden v2");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v2");
    assert_eq!(std::fs::read(golden.join("config")).unwrap()[4], 2, "golden-v2 is not a version 2 repository");
    let env = common::Env::new();
    let mut grouped = 0;
    for dir in std::fs::read_dir(golden.join("data")).unwrap() {
        for pack in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let name = pack.unwrap().file_name().into_string().unwrap();
            let o = env
                .cmd()
                .env("ARCA_PASSWORD", "golden v2")
                .args(["-r", golden.to_str().unwrap(), "--no-cache", "cat", "pack", &name])
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            grouped += v["blobs"].as_array().unwrap().iter().filter(|b| b.get("group_offset").is_some()).count();
        }
    }
    assert!(grouped >= 3, "golden-v2 holds {grouped} grouped blobs");
}

/// The v3 repository, made the same way by the first arca writing format 3, except that
/// `dir/data.bin` has an mtime past 2262 (12,000,000,000 s + 5 ns, in 2350; ext4 holds it),
/// which only format 3 stores exactly.
#[test]
fn golden_v3_repository_stays_readable() {
    golden_repository_stays_readable("golden-v3", "golden v3");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v3");
    assert_eq!(std::fs::read(golden.join("config")).unwrap()[4], 3, "golden-v3 is not a version 3 repository");
    let env = common::Env::new();
    let o = env
        .cmd()
        .env("ARCA_PASSWORD", "golden v3")
        .args(["-r", golden.to_str().unwrap(), "--no-cache", "ls", "latest", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.contains("\"name\":\"data.bin\""))
        .map(str::to_string)
        .expect("ls lists data.bin");
    let node: Value = serde_json::from_str(&line).unwrap();
    let mtime = chrono::DateTime::parse_from_rfc3339(node["mtime"].as_str().unwrap()).unwrap();
    assert_eq!(
        (mtime.timestamp(), mtime.timestamp_subsec_nanos()),
        (12_000_000_000, 5),
        "golden-v3 lost its far mtime"
    );
}

/// The v4 repository, made as the v3 one by the first arca writing format 4, plus `tiny.txt`
/// (17 bytes): its small files are stored inline in their tree nodes (format-spec/v4.md §13.5).
#[test]
fn golden_v4_repository_stays_readable() {
    golden_repository_stays_readable("golden-v4", "golden v4");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v4");
    assert_eq!(std::fs::read(golden.join("config")).unwrap()[4], 4, "golden-v4 is not a version 4 repository");
    let source: Value = serde_json::from_str(&std::fs::read_to_string(golden.join("SOURCE")).unwrap()).unwrap();
    let env = common::Env::new();
    let arca = |args: &[&str]| {
        let o = env
            .cmd()
            .env("ARCA_PASSWORD", "golden v4")
            .args(["-r", golden.to_str().unwrap(), "--no-cache"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let dir = format!("latest:{}", source["source"].as_str().unwrap());
    let listing: Value = serde_json::from_str(arca(&["cat", "tree", &dir]).trim()).unwrap();
    let nodes = listing["nodes"].as_array().unwrap();
    let tiny = nodes.iter().find(|n| n["name"] == "tiny.txt").expect("tiny.txt is in the tree");
    assert_eq!(tiny["inline"], hex::encode(b"stored inline v4\n"), "tiny.txt is not inline: {tiny}");
    assert_eq!(tiny["content"], json!([]));
    let data = nodes.iter().find(|n| n["name"] == "dir").expect("dir is in the tree");
    assert!(data.get("inline").is_none());
    let dumped = arca(&["dump", "latest", &format!("{}/tiny.txt", source["source"].as_str().unwrap())]);
    assert_eq!(dumped, "stored inline v4\n");
}

/// Restore the golden repository `name` (made with `password` when regenerating and absent),
/// compare it with its source and `check --read-data` it.
fn golden_repository_stays_readable(name: &str, password: &str) {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let env = common::Env::new();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() && !golden.join("config").exists() {
        let src = env.path("golden-src");
        golden_source(&src, name);
        if name == "golden-v3" || name == "golden-v4" {
            let far = nix::sys::time::TimeSpec::new(12_000_000_000, 5);
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &src.join("dir/data.bin"),
                &far,
                &far,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
        let repo = golden.to_str().unwrap();
        let run = |args: &[&str]| {
            let o = env.cmd().env("ARCA_PASSWORD", password).args(["-r", repo]).args(args).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        run(&["init", "--chunker-params", "65536,131072,262144"]);
        let sel = src.to_str().unwrap().to_string();
        run(&["backup", "--host", "golden", "--time", "2026-11-22 00:00:00", &sel]);
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("source", sel);
        std::fs::write(golden.join("SOURCE"), serde_json::to_string(&meta).unwrap()).unwrap();
    }
    let source: Value = serde_json::from_str(&std::fs::read_to_string(golden.join("SOURCE")).unwrap()).unwrap();
    let src_path = source["source"].as_str().unwrap();
    let out = env.path("restored");
    let sel = format!("latest:{src_path}");
    let o = env
        .cmd()
        .env("ARCA_PASSWORD", password)
        .args([
            "-r",
            golden.to_str().unwrap(),
            "--no-cache",
            "restore",
            &sel,
            "--target",
            out.to_str().unwrap(),
            "--verify",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "golden repository did not restore: {}", String::from_utf8_lossy(&o.stderr));
    let expected = env.path("expected");
    golden_source(&expected, name);
    type Essentials = Vec<(PathBuf, Option<[u8; 32]>, Option<Vec<u8>>)>;
    let strip = |m: std::collections::BTreeMap<PathBuf, common::Meta>| -> Essentials {
        m.into_iter().map(|(p, m)| (p, m.content, m.link)).collect()
    };
    assert_eq!(strip(common::describe(&expected)), strip(common::describe(&out)));
    let o = env
        .cmd()
        .env("ARCA_PASSWORD", password)
        .args(["-r", golden.to_str().unwrap(), "--no-cache", "check", "--read-data"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `format-spec/vectors/raw_key.json`: the unwrapped key as the key cache and raw key files
/// hold it (format-spec/v3.md §18.9), without and with a previous master secret.
fn compute_raw_key() -> Value {
    use arca::format::raw_key::{Holder, RawKey};
    use arca::id::{ObjectId, RepoId};
    let key = |previous: bool| RawKey {
        repo_id: RepoId(std::array::from_fn(|i| 0x10 + i as u8)),
        key_id: ObjectId(std::array::from_fn(|i| 0x40 + i as u8)),
        master: MasterSecret(std::array::from_fn(|i| i as u8)),
        previous: previous.then(|| MasterSecret(std::array::from_fn(|i| 0x80 + i as u8))),
    };
    json!({
        "comment": "arca raw key layout version 1 (format-spec/v3.md §18.9). Byte strings are hex.",
        "repository_id": hex::encode(key(false).repo_id.0),
        "key_id": hex::encode(key(false).key_id.0),
        "master_secret": hex::encode(key(false).master.0),
        "previous_master_secret": hex::encode(key(true).previous.as_ref().map(|p| p.0).unwrap_or_default()),
        "key_cache_entry": hex::encode(&*key(false).encode(Holder::KeyCache)),
        "key_cache_entry_with_previous": hex::encode(&*key(true).encode(Holder::KeyCache)),
        "key_file": hex::encode(&*key(false).encode(Holder::KeyFile)),
        "key_file_with_previous": hex::encode(&*key(true).encode(Holder::KeyFile)),
    })
}

#[test]
fn spec_vectors_raw_key_match_the_code() {
    use arca::format::raw_key::{Holder, RawKey};
    let path = spec_dir().join("raw_key.json");
    let got = compute_raw_key();
    if std::env::var_os("ARCA_REGENERATE_VECTORS").is_some() && !path.exists() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(got, want, "format-spec/vectors/raw_key.json differs from the code");
    // and the stored bytes decode to the stored fields
    for (name, holder) in [("key_cache_entry_with_previous", Holder::KeyCache), ("key_file", Holder::KeyFile)] {
        let bytes = hex::decode(want[name].as_str().unwrap()).unwrap();
        let k = RawKey::decode(holder, &bytes).unwrap();
        assert_eq!(hex::encode(k.repo_id.0), want["repository_id"].as_str().unwrap());
        assert_eq!(hex::encode(k.master.0), want["master_secret"].as_str().unwrap());
    }
}
