#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Backend conformance: every storage arca supports behaves the same for what the repository
//! relies on: write-once objects, exact listings of files only, stat, ranged reads, deletes,
//! not-found semantics, large (multipart) objects and concurrent writers. Run against the
//! local file system, memory, and the real servers of `scripts/test-servers`.

use crate::common;

use std::sync::Arc;

use arca::backend::{self, BackendErrorKind, Bytes, DynBackend, Location};
use common::noise;
use common::servers::{self, Server};

fn open(s: &Server) -> DynBackend {
    backend::open(&Location::parse(&s.location).unwrap(), &s.options)
        .unwrap_or_else(|e| panic!("opening {}: {e}", s.location))
}

fn local(dir: &tempfile::TempDir) -> Server {
    Server { name: "fs", location: dir.path().join("repo").display().to_string(), env: vec![], options: vec![] }
}

fn memory() -> Server {
    Server { name: "memory", location: "memory:".into(), env: vec![], options: vec![] }
}

/// Run `check` on every backend: local, memory and each configured server.
fn on_every_backend(tag: &str, check: fn(&str, DynBackend)) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![local(&dir), memory()];
    all.extend(servers::remote(tag));
    for s in all {
        eprintln!("{tag} on {}", s.location);
        check(s.name, open(&s));
    }
}

#[test]
fn objects_round_trip_and_listings_hold_files_only() {
    on_every_backend("roundtrip", |name, b| {
        b.write("config", Bytes::from_static(b"cfg")).unwrap();
        b.write("data/ab/ab01", noise(1000, 1).into()).unwrap();
        b.write("data/cd/cd02", noise(2000, 2).into()).unwrap();
        b.write("index/i1", Bytes::new()).unwrap();
        assert_eq!(b.read("config").unwrap(), b"cfg", "{name}");
        assert_eq!(b.read("data/ab/ab01").unwrap(), noise(1000, 1), "{name}");
        assert_eq!(b.read("index/i1").unwrap(), b"", "{name}: empty object");
        assert_eq!(b.stat("data/cd/cd02").unwrap(), Some(2000), "{name}");
        let data = b.list("data/").unwrap();
        let got: Vec<_> = data.iter().map(|e| (e.path.as_str(), e.size)).collect();
        assert_eq!(got, [("data/ab/ab01", 1000), ("data/cd/cd02", 2000)], "{name}: recursive, sorted, files only");
        assert_eq!(b.list("index/").unwrap().len(), 1, "{name}");
        assert!(b.list("snapshots/").unwrap().is_empty(), "{name}: a missing directory lists as empty");
        b.delete("data/ab/ab01").unwrap();
        assert_eq!(b.stat("data/ab/ab01").unwrap(), None, "{name}");
        assert_eq!(b.list("data/").unwrap().len(), 1, "{name}: no directory left behind in the listing");
    });
}

#[test]
fn missing_objects_are_not_found_everywhere() {
    on_every_backend("notfound", |name, b| {
        assert_eq!(b.stat("snapshots/none").unwrap(), None, "{name}");
        assert_eq!(b.read("snapshots/none").unwrap_err().kind, BackendErrorKind::NotFound, "{name}");
        assert_eq!(b.read_range("data/00/none", 0, 10).unwrap_err().kind, BackendErrorKind::NotFound, "{name}");
        // deleting what is gone is not an error: prune may run twice, or race another prune
        b.delete("locks/none").unwrap();
    });
}

#[test]
fn ranged_reads_return_exactly_the_range() {
    on_every_backend("range", |name, b| {
        let data = noise(100_000, 3);
        b.write("data/00/obj", data.clone().into()).unwrap();
        for (off, len) in [(0u64, 1u64), (0, 100_000), (99_999, 1), (12_345, 54_321), (50_000, 0)] {
            let got = b.read_range("data/00/obj", off, len).unwrap();
            assert_eq!(got, &data[off as usize..(off + len) as usize], "{name}: {off}+{len}");
        }
        let e = b.read_range("data/00/obj", 99_000, 2000).unwrap_err();
        assert_ne!(e.kind, BackendErrorKind::NotFound, "{name}: a read past the end is not 'not found'");
    });
}

#[test]
fn a_repeated_write_of_the_same_object_is_harmless() {
    // Objects are named by their content, so a retried upload writes the same bytes again.
    on_every_backend("rewrite", |name, b| {
        let data = noise(5000, 4);
        b.write("index/same", data.clone().into()).unwrap();
        b.write("index/same", data.clone().into()).unwrap();
        assert_eq!(b.read("index/same").unwrap(), data, "{name}");
        assert_eq!(b.list("index/").unwrap().len(), 1, "{name}");
    });
}

#[test]
fn large_objects_go_up_in_parts_and_come_back_whole() {
    on_every_backend("large", |name, b| {
        // above the part size (8 MiB) and not a multiple of it
        let data = noise(20 * 1024 * 1024 + 12_345, 5);
        b.write("data/ff/large", data.clone().into()).unwrap();
        assert_eq!(b.stat("data/ff/large").unwrap(), Some(data.len() as u64), "{name}");
        assert!(b.read("data/ff/large").unwrap() == data, "{name}: whole read differs");
        // a range across the part boundary
        let (off, len) = (8 * 1024 * 1024 - 100, 300);
        assert_eq!(b.read_range("data/ff/large", off, len).unwrap(), &data[off as usize..(off + len) as usize]);
    });
}

#[test]
fn concurrent_writers_all_land() {
    on_every_backend("concurrent", |name, b| {
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let b = Arc::clone(&b);
                std::thread::spawn(move || {
                    for i in 0..6u64 {
                        let n = t * 100 + i;
                        b.write(&format!("data/{:02x}/obj{n}", n % 7), noise(3000 + n as usize, n).into()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let listed = b.list("data/").unwrap();
        assert_eq!(listed.len(), 48, "{name}");
        for e in &listed {
            let n: u64 = e.path.rsplit("obj").next().unwrap().parse().unwrap();
            assert_eq!(b.read(&e.path).unwrap(), noise(3000 + n as usize, n), "{name}: {}", e.path);
        }
    });
}
