#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Blob groups (format-spec/v2.md §11.5): small files are sealed together and read back one by
//! one or all at once, prune groups again what is left of a group, and a version 1 repository
//! is still written as version 1.

use crate::common;

use std::path::Path;

use common::{assert_same_tree, describe, noise, write, Env};
use serde_json::Value;

/// Text-like content: small files that compress far better together than alone.
fn text(n: usize, seed: usize) -> Vec<u8> {
    let words = ["backup", "pack", "group", "chunk", "index", "snapshot", "tree", "blob", "seal", "prune"];
    let mut out = Vec::with_capacity(n + 16);
    let mut i = seed;
    while out.len() < n {
        out.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
        out.push(if i.is_multiple_of(11) { b'\n' } else { b' ' });
        i += 1;
    }
    out.truncate(n);
    out
}

/// Every entry of every pack, from `cat pack`.
fn entries(env: &Env) -> Vec<Value> {
    let mut all = vec![];
    for p in env.packs() {
        let id = p.rsplit('/').next().unwrap();
        let v: Value = serde_json::from_str(&env.ok(&["cat", "pack", id])).unwrap();
        all.extend(v["blobs"].as_array().unwrap().iter().cloned());
    }
    all
}

fn data_entries(env: &Env) -> Vec<Value> {
    entries(env).into_iter().filter(|e| e["type"] == "data").collect()
}

fn small_files(dir: &Path, n: usize) {
    for i in 0..n {
        write(&dir.join(format!("f{i:02}.txt")), &text(1000 + 37 * i, i));
    }
}

/// Back up `n` small files and one of exactly the smallest chunk (one blob, too large for a
/// group) from `src`; returns the data entries of the grouped blobs and of those sealed alone.
fn backup_small_and_large(env: &Env, src: &Path, n: usize) -> (Vec<Value>, Vec<Value>) {
    small_files(src, n);
    write(&src.join("large.bin"), &noise(524_288, n as u64));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    data_entries(env).into_iter().partition(|e| e.get("group_offset").is_some())
}

#[test]
fn small_files_are_sealed_together_and_read_back() {
    let env = Env::new();
    let src = env.path("src");
    let (grouped, alone) = backup_small_and_large(&env, &src, 30);
    assert_eq!(grouped.len(), 30, "every small file is in a group: {grouped:?}");
    assert_eq!(alone.len(), 1, "the 512 KiB file is sealed alone");
    let unit = |e: &Value| (e["offset"].as_u64().unwrap(), e["length"].as_u64().unwrap());
    assert!(grouped.iter().all(|e| unit(e) == unit(&grouped[0])), "30 small files make one group");
    let raw: u64 = grouped.iter().map(|e| e["uncompressed_length"].as_u64().unwrap()).sum();
    assert!(unit(&grouped[0]).1 * 10 < raw, "the group compresses across files: {} of {raw}", unit(&grouped[0]).1);

    // all at once (restore), one at a time (dump), and every blob (check)
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
    for i in [0, 17, 29] {
        let path = src.join(format!("f{i:02}.txt"));
        let o = env.cmd().args(["dump", "latest", path.to_str().unwrap()]).output().unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        assert_eq!(o.stdout, std::fs::read(&path).unwrap());
    }
    env.check();
}

#[test]
fn a_damaged_group_fails_its_members_only() {
    let env = Env::new();
    let src = env.path("src");
    let (members, alone) = backup_small_and_large(&env, &src, 10);
    assert_eq!((members.len(), alone.len()), (10, 1));
    let member = &members[0];
    let pack = env.packs().into_iter().find(|p| {
        let id = p.rsplit('/').next().unwrap();
        env.ok(&["cat", "pack", id]).contains(member["id"].as_str().unwrap())
    });
    let path = env.repo.join("data").join(pack.unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[member["offset"].as_u64().unwrap() as usize + 30] ^= 1;
    std::fs::write(&path, bytes).unwrap();

    let o = env.run(&["check", "--read-data", "--json"]);
    assert_ne!(common::code(&o), 0, "a damaged group passed check");
    let report = String::from_utf8_lossy(&o.stdout);
    for m in &members {
        assert!(report.contains(m["id"].as_str().unwrap()), "member {} not reported: {report}", m["id"]);
    }
    assert!(!report.contains(alone[0]["id"].as_str().unwrap()), "the blob sealed alone reported: {report}");
    let out = env.path("out");
    let o = env.run(&["restore", "latest", "--target", out.to_str().unwrap()]);
    assert_ne!(common::code(&o), 0, "restore hid the damage");
    let restored = describe(&out);
    let large = restored.iter().find(|(p, _)| p.ends_with("large.bin")).unwrap().1;
    assert_eq!(large.content, describe(&src)[Path::new("large.bin")].content, "the blob sealed alone is intact");
}

#[test]
fn prune_groups_again_what_is_left_of_a_group() {
    let env = Env::new();
    let src = env.path("src");
    small_files(&src, 20);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    for i in 0..10 {
        std::fs::remove_file(src.join(format!("f{i:02}.txt"))).unwrap();
    }
    env.backup_json(&[src.to_str().unwrap()]);
    let first = env.snapshot_ids()[0].clone();
    env.ok(&["forget", &first]);
    env.prune(&["--max-unused", "0", "--instant-delete"]);

    let data = data_entries(&env);
    assert_eq!(data.len(), 10, "only the files still used are kept: {data:?}");
    assert!(data.iter().all(|e| e.get("group_offset").is_some() && e["offset"] == data[0]["offset"]), "{data:?}");
    let mut offsets: Vec<u64> = data.iter().map(|e| e["group_offset"].as_u64().unwrap()).collect();
    offsets.sort_unstable();
    assert_eq!(offsets[0], 0, "the new group starts at 0");
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
    env.check();
}

#[test]
fn a_version_1_repository_is_still_written_as_version_1() {
    let env = Env::new();
    common::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v1"), &env.repo);
    let src = env.path("src");
    small_files(&src, 12);
    let v1 = |args: &[&str]| {
        let o = env.cmd().env("ARCA_PASSWORD", "golden v1").args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    v1(&["backup", src.to_str().unwrap()]);
    v1(&["prune", "--max-unused", "0"]);
    v1(&["check", "--read-data"]);
    let version = |p: &Path| std::fs::read(p).unwrap()[4];
    assert_eq!(version(&env.repo.join("config")), 1);
    for dir in ["index", "snapshots"] {
        for f in std::fs::read_dir(env.repo.join(dir)).unwrap() {
            assert_eq!(version(&f.unwrap().path()), 1, "a {dir} file of format 2 in a version 1 repository");
        }
    }
    for p in env.packs() {
        let id = p.rsplit('/').next().unwrap();
        let v: Value = serde_json::from_str(&v1(&["cat", "pack", id])).unwrap();
        assert!(v["blobs"].as_array().unwrap().iter().all(|e| e.get("group_offset").is_none()), "a group in {p}");
    }
    let out = env.path("out");
    v1(&["restore", "latest", "--target", out.to_str().unwrap()]);
    let restored = describe(&out.join(src.strip_prefix("/").unwrap()));
    assert_same_tree(&describe(&src), &restored);
}
