//! The whole backup pipeline on one machine's cores: read, chunk, hash, compress, encrypt,
//! pack and store, into an in-memory repository (so storage speed does not count), from a
//! source in the page cache. Each run starts from a fresh repository, so nothing deduplicates
//! against an earlier run.
//!
//! The source: 48 files of 2 MiB (half text-like, half random) and 2,000 files of 4 KiB text.
//! After timing, the median of five more runs prints where its time went per stage (the report `backup -v`
//! prints), and the arithmetic that compares the pipeline with its stages: each stage's
//! single-thread speed on this data is bytes / busy seconds, and the bound for the pipeline on
//! this machine's cores is bytes / (busy seconds of all CPU stages / cores).
//!
//! `cargo bench --bench pipeline` (or `cargo xtask bench-stages`, with the stage benchmarks).
#![allow(clippy::expect_used, clippy::panic)] // a benchmark whose setup fails has nothing to measure

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arca::archiver::{self, BackupOptions, Progress, Source};
use arca::chunker::ChunkerParams;
use arca::repo::stage_clock::StageReport;
use arca::repo::{InitOptions, Repository};
use common::{text, XorShift, MIB};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Write the source; returns its size in bytes.
fn source(dir: &Path) -> u64 {
    let mut rng = XorShift(42);
    let mut total = 0;
    for i in 0..48 {
        let data = if i % 2 == 0 { text(2 * MIB, &mut rng) } else { rng.bytes(2 * MIB) };
        total += data.len() as u64;
        std::fs::write(dir.join(format!("big-{i:02}")), data).expect("write the source");
    }
    let small = dir.join("small");
    std::fs::create_dir_all(&small).expect("create the source");
    for i in 0..2000 {
        let data = text(4096, &mut rng);
        total += data.len() as u64;
        std::fs::write(small.join(format!("s{i:04}")), data).expect("write the source");
    }
    total
}

fn fresh_repository() -> Arc<Repository> {
    let backend = arca::backend::memory().expect("memory backend");
    let opts = InitOptions { chunker: ChunkerParams::DEFAULT, ..arca::test_repo::init_options() };
    Arc::new(Repository::init(backend, b"bench", &opts).expect("init"))
}

fn backup(repo: Arc<Repository>, src: &Path) -> StageReport {
    let outcome = archiver::backup(
        repo,
        Source::Paths(vec![src.to_path_buf()]),
        &BackupOptions::default(),
        &Progress::default(),
        &|w| panic!("warning: {w}"),
    )
    .expect("backup");
    outcome.stages
}

/// The stage table, then the pipeline against the bound its stages set on `cores` cores.
fn explain(report: &StageReport, bytes: u64, cores: usize) {
    eprintln!("{report}");
    let mb = bytes as f64 / 1e6;
    eprintln!("  single-thread speed of each stage on this data (bytes / busy seconds):");
    for s in report.stages.iter().filter(|s| s.busy_seconds > 0.0 && s.stage != "upload") {
        eprintln!("    {:<9} {:>9.0} MB/s", s.stage, mb / s.busy_seconds);
    }
    let cpu: f64 = report.stages.iter().filter(|s| s.stage != "upload").map(|s| s.busy_seconds).sum();
    let bound = mb / (cpu / cores as f64);
    let got = mb / report.wall_seconds;
    eprintln!(
        "  bound on {cores} cores: {mb:.0} MB / ({cpu:.2} CPU-s / {cores}) = {bound:.0} MB/s; \
         the pipeline: {mb:.0} MB / {:.2} s = {got:.0} MB/s = {:.0}% of the bound",
        report.wall_seconds,
        100.0 * got / bound
    );
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = source(dir.path());
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(bytes))
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    g.bench_function("backup_104MiB_mixed_to_memory", |b| {
        b.iter_batched(fresh_repository, |repo| backup(repo, dir.path()), BatchSize::PerIteration)
    });
    g.finish();
    // the stage table of the median of five more runs (one run alone is too noisy here)
    let mut runs: Vec<StageReport> = (0..5).map(|_| backup(fresh_repository(), dir.path())).collect();
    runs.sort_by(|a, b| a.wall_seconds.total_cmp(&b.wall_seconds));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    explain(&runs[2], bytes, cores);
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
