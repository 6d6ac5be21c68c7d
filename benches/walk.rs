//! The unchanged re-backup's walk against its limit: a backup of a tree of 20,000 small files
//! in 400 directories whose parent snapshot holds every file unchanged (nothing is read or
//! stored: the walk lists, stats and compares), with 0, 1 and 2 threads listing directories
//! ahead of the walk (`BackupOptions::list_workers`), beside a minimal walk of the same tree
//! (`openat` + `getdents64` + `fstatat` of every entry, one thread), which is what the issue
//! measures the step against. An in-memory repository, the tree in the page cache.
//!
//! `cargo bench --bench walk`.
#![allow(clippy::expect_used, clippy::panic)] // a benchmark whose setup fails has nothing to measure

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arca::archiver::{self, BackupOptions, Progress, Source};
use arca::id::TreeId;
use arca::repo::Repository;
use common::XorShift;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const DIRS: usize = 400;
const FILES_PER_DIR: usize = 50;

fn source(dir: &Path) {
    let mut rng = XorShift(7);
    for d in 0..DIRS {
        let sub = dir.join(format!("{:02}/{d:03}", d % 20));
        std::fs::create_dir_all(&sub).expect("mkdir");
        for f in 0..FILES_PER_DIR {
            let len = 64 + (rng.next() % 512) as usize;
            std::fs::write(sub.join(format!("{f:03}.txt")), rng.bytes(len)).expect("write");
        }
    }
}

fn backup(repo: &Arc<Repository>, src: &Path, parent: Option<TreeId>, list_workers: usize) -> TreeId {
    let opts = BackupOptions { parent_tree: parent, list_workers, ..Default::default() };
    let out =
        archiver::backup(repo.clone(), Source::Paths(vec![src.to_path_buf()]), &opts, &Progress::default(), &|w| {
            panic!("warning: {w}")
        })
        .expect("backup");
    out.tree
}

/// Entries seen by a depth-first `read_dir` + `DirEntry::metadata` walk (on Linux:
/// `openat`, `getdents64`, `fstatat(AT_SYMLINK_NOFOLLOW)`).
fn minimal_walk(root: &Path) -> u64 {
    let mut stack = vec![root.to_path_buf()];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let m = e.metadata().expect("fstatat");
            n += 1;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    n
}

fn walk(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    source(&src);
    let backend = arca::backend::memory().expect("memory backend");
    let repo = Arc::new(Repository::init(backend, b"bench", &arca::test_repo::init_options()).expect("init"));
    let parent = backup(&repo, &src, None, 0);
    let entries = minimal_walk(&src);
    let mut g = c.benchmark_group("unchanged_rebackup");
    g.throughput(Throughput::Elements(entries));
    g.sample_size(20);
    g.bench_function("minimal_fstatat_walk", |b| b.iter(|| minimal_walk(&src)));
    for workers in [0, 1, 2] {
        g.bench_function(format!("arca_list_workers_{workers}"), |b| {
            b.iter(|| assert_eq!(backup(&repo, &src, Some(parent), workers), parent))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = walk
}
criterion_main!(benches);
