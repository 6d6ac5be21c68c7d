//! Throughput of each stage a backup's bytes pass through, measured alone so a regression
//! points at its stage: chunking, the keyed hash that names blobs, compression, sealing and
//! opening, the pack header codec, and blob index lookups.
//!
//! Inputs are generated deterministically (xorshift64) before timing, so runs compare; random
//! bytes stand for incompressible content and a word salad for text. `cargo bench --bench
//! stages -- --quick` (or `cargo xtask bench-stages --quick`) samples each stage until its estimate
//! is stable, in well under two minutes in all.
#![allow(clippy::expect_used)] // a benchmark whose setup fails has nothing to measure

use std::hint::black_box;
use std::time::Duration;

use arca::chunker::{Chunker, ChunkerParams};
use arca::codec::{compress, decompress, Compression};
use arca::crypto::{open, seal, Aad, Keys, MasterSecret, SealKind};
use arca::format::index::{IndexFile, IndexPack};
use arca::format::pack::{decode_header, encode_header, PackEntry};
use arca::format::BlobType;
use arca::id::{BlobId, PackId};
use arca::repo::BlobIndex;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

mod common;
use common::{text, XorShift, MIB};

fn keys() -> Keys {
    Keys::derive(&MasterSecret([7u8; 32]))
}

fn group<'a>(c: &'a mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g
}

fn chunker(c: &mut Criterion) {
    let data = XorShift(1).bytes(32 * MIB);
    let chunker = Chunker::new(&[3u8; 32], ChunkerParams::DEFAULT).expect("default chunker parameters are valid");
    let mut g = group(c, "chunker", data.len());
    g.sample_size(10);
    g.bench_function("split_slice_32MiB", |b| {
        b.iter(|| {
            let mut chunks = 0usize;
            chunker
                .split_slice(black_box(&data), |chunk| {
                    chunks += black_box(chunk).len();
                    Ok(())
                })
                .expect("splitting a slice does not fail");
            chunks
        })
    });
    g.finish();
}

fn keyed_hash(c: &mut Criterion) {
    let data = XorShift(2).bytes(MIB);
    let keys = keys();
    let mut g = group(c, "keyed_hash", data.len());
    g.bench_function("blob_id_1MiB", |b| b.iter(|| keys.blob_id(black_box(&data))));
    g.finish();
}

fn seal_open(c: &mut Criterion) {
    let data = XorShift(3).bytes(MIB);
    let keys = keys();
    let aad = Aad::blob(SealKind::DataBlob, &keys.blob_id(&data));
    let sealed = seal(&keys.seal, &aad, 0, &data);
    let mut g = group(c, "seal", data.len());
    g.bench_function("seal_1MiB", |b| b.iter(|| seal(&keys.seal, &aad, 0, black_box(&data))));
    g.bench_function("open_1MiB", |b| {
        b.iter(|| open(&keys.seal, &aad, black_box(&sealed)).expect("opening what was just sealed"))
    });
    g.finish();
}

fn compression(c: &mut Criterion) {
    let mut rng = XorShift(4);
    let text = text(MIB, &mut rng);
    let random = rng.bytes(MIB);
    let level = Compression::Level(3);
    let packed = compress(level, &text).expect("text compresses");
    let mut g = group(c, "compress", MIB);
    g.bench_function("zstd3_text_1MiB", |b| b.iter(|| compress(level, black_box(&text))));
    g.bench_function("zstd3_random_1MiB", |b| b.iter(|| compress(level, black_box(&random))));
    g.bench_function("decompress_text_1MiB", |b| {
        b.iter(|| decompress(black_box(&packed), MIB).expect("decompressing what was just compressed"))
    });
    g.finish();
}

fn pack_entries(n: usize, rng: &mut XorShift) -> Vec<PackEntry> {
    let mut offset = 0u32;
    (0..n)
        .map(|i| {
            let length = 1000 + (rng.next() % 100_000) as u32;
            let e = PackEntry {
                blob_type: if i % 10 == 0 { BlobType::Tree } else { BlobType::Data },
                id: BlobId(rng.id()),
                offset,
                length,
                raw_length: length - 50,
                group_offset: None,
            };
            offset += length;
            e
        })
        .collect()
}

fn pack_codec(c: &mut Criterion) {
    let entries = pack_entries(1000, &mut XorShift(5));
    let keys = keys();
    let area = vec![0u8; (entries[999].offset + entries[999].length) as usize];
    let tail = encode_header(&keys, &entries, &area);
    let pack_len = area.len() as u64 + tail.len() as u64;
    let mut g = group(c, "pack_header", tail.len());
    g.bench_function("encode_1000_entries", |b| b.iter(|| encode_header(&keys, black_box(&entries), &area)));
    g.bench_function("decode_1000_entries", |b| {
        b.iter(|| decode_header(&keys, black_box(&tail), pack_len).expect("decoding what was just encoded"))
    });
    g.finish();
}

fn index_lookup(c: &mut Criterion) {
    const PACKS: usize = 1000;
    const PER_PACK: usize = 1000;
    const PROBES: usize = 1 << 16;
    let mut rng = XorShift(6);
    let file = IndexFile {
        supersedes: Vec::new(),
        packs: (0..PACKS)
            .map(|_| IndexPack { id: PackId(rng.id()), blobs: pack_entries(PER_PACK, &mut rng) })
            .collect(),
        marked: Vec::new(),
    };
    let present: Vec<BlobId> =
        (0..PROBES).map(|_| file.packs[rng.next() as usize % PACKS].blobs[rng.next() as usize % PER_PACK].id).collect();
    let absent: Vec<BlobId> = (0..PROBES).map(|_| BlobId(rng.id())).collect();
    let index = BlobIndex::from_files([&file]);
    drop(file);

    // One lookup per iteration, so criterion's time is the time per lookup.
    let mut g = c.benchmark_group("index_lookup_1M");
    g.throughput(Throughput::Elements(1));
    for (name, probes) in [("get_present", &present), ("get_absent", &absent)] {
        g.bench_function(name, |b| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) & (PROBES - 1);
                index.get(black_box(&probes[i]))
            })
        });
    }
    g.finish();
}

/// `forget`'s policy over 100,000 snapshots (hourly for ~11 years), with a typical policy.
fn forget_policy(c: &mut Criterion) {
    use arca::maintenance::policy::{apply, Item, Policy};
    use chrono::{Duration as Span, TimeZone};
    let start = chrono::FixedOffset::east_opt(3600).and_then(|z| z.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).single());
    let Some(start) = start else { return };
    let tags: Vec<Vec<String>> =
        (0..100_000).map(|i| if i % 500 == 0 { vec!["keep".into()] } else { vec![] }).collect();
    let items: Vec<Item<'_>> =
        (0..100_000).map(|i| Item { time: start + Span::hours(i as i64), tags: &tags[i] }).collect();
    let policy = Policy {
        last: 10,
        hourly: 48,
        daily: 7,
        weekly: 5,
        monthly: 12,
        yearly: -1,
        within: "2d".parse().unwrap_or_default(),
        tags: vec![vec!["keep".into()]],
        ..Default::default()
    };
    let now = start + Span::hours(100_001);
    let mut g = c.benchmark_group("forget");
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function("policy_100k_snapshots", |b| b.iter(|| apply(&policy, &items, now)));
    g.finish();
}

criterion_group! {
    name = stages;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = chunker, keyed_hash, seal_open, compression, pack_codec, index_lookup, forget_policy
}
criterion_main!(stages);
