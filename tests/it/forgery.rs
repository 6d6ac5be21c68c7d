#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 19, point 4: someone who can only *add* files to the storage (an append-only or
//! object-locked bucket, a shared NAS) plants forgeries: a copy of a real pack's sealed header
//! on random bytes under a new valid name, and an old, superseded index file (replayed) that
//! names packs prune has deleted. Every snapshot must still restore bit for bit, a new backup
//! and a prune must keep everything restorable, and `check` must name the planted files
//! (format-spec/v3.md §11.1, §12, §18.3, §21.10).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Each path's kind, content hash and link target.
type Contents = BTreeMap<PathBuf, (&'static str, Option<[u8; 32]>, Option<Vec<u8>>)>;

/// What a restore must give back: each path's kind, content and link target.
fn contents(root: &Path) -> Contents {
    describe(root).into_iter().map(|(p, m)| (p, (m.kind, m.content, m.link))).collect()
}

/// Restore snapshot `id` below `src` and compare it with `expected`.
fn restores_exactly(env: &Env, id: &str, src: &Path, expected: &Path, name: &str) {
    let out = env.path(name);
    let o = env.run(&["restore", &format!("{id}:{}", src.display()), "--target", out.to_str().unwrap(), "--verify"]);
    assert!(o.status.success(), "snapshot {id} did not restore: {}", stderr(&o));
    assert_eq!(contents(expected), contents(&out), "snapshot {id} restored different content");
}

fn check_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["check", "--json"];
    a.extend_from_slice(args);
    let o = env.run(&a);
    let line = String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("").to_string();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("check json: {}\n{}", line, stderr(&o)))
}

fn errors(v: &serde_json::Value) -> Vec<String> {
    v["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect()
}

fn invalid_unreferenced(v: &serde_json::Value) -> Vec<String> {
    v["invalid_unreferenced_packs"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect()
}

/// The index files stored now, by name, with their bytes.
fn index_files(env: &Env) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(env.repo.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// A copy of `pack`'s sealed header and trailer after random bytes as long as its blob area,
/// stored under the name its bytes hash to. Returns the planted file's path below the
/// repository.
fn plant_header_copy(env: &Env, pack: &str) -> String {
    let real = std::fs::read(env.repo.join("data").join(pack)).unwrap();
    let header_len = u32::from_le_bytes(real[real.len() - 4..].try_into().unwrap()) as usize;
    let area = real.len() - header_len - 4;
    let mut forged = noise(area, 0xF0);
    forged.extend_from_slice(&real[area..]);
    let id = arca::id::PackId(arca::id::storage_hash(&forged));
    let path = arca::repo::pack_path(&id);
    write(&env.repo.join(&path), &forged);
    path
}

#[test]
fn planted_header_copies_and_a_replayed_index_lose_nothing_and_check_names_them() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("kept.bin"), &noise(3_000_000, 1));
    write(&src.join("small/a.txt"), b"a small file");
    write(&src.join("small/b.txt"), b"another small file");
    write(&src.join("gone.bin"), &noise(2_000_000, 2));
    env.backup_json(&[src.to_str().unwrap()]);
    // the second snapshot: gone.bin deleted, new.bin added
    std::fs::remove_file(src.join("gone.bin")).unwrap();
    write(&src.join("new.bin"), &noise(1_500_000, 3));
    env.backup_json(&[src.to_str().unwrap()]);
    let expected2 = env.path("expected2");
    copy_dir(&src, &expected2);
    let before_prune = index_files(&env);
    let packs_before = env.packs();

    // the first snapshot is forgotten and prune deletes (or repacks) its packs at once
    let first = env.snapshot_ids()[0].clone();
    env.ok(&["forget", &first]);
    env.prune(&["--instant-delete", "--max-unused", "0"]);
    let deleted: Vec<&String> = packs_before.iter().filter(|p| !env.packs().contains(p)).collect();
    assert!(!deleted.is_empty(), "prune deleted no pack; the test needs one");
    // a later backup and prune replace prune's index file in turn: then nothing current names
    // the files the first prune superseded any more
    write(&src.join("later.txt"), b"written after the first prune");
    env.backup_json(&[src.to_str().unwrap()]);
    let expected3 = env.path("expected3");
    copy_dir(&src, &expected3);
    env.prune(&[]);

    // the attacker replays the superseded index files naming the deleted packs ...
    let now = index_files(&env);
    let mut replayed = vec![];
    for (name, bytes) in &before_prune {
        if !now.contains_key(name) {
            write(&env.repo.join("index").join(name), bytes);
            replayed.push(name.clone());
        }
    }
    assert!(!replayed.is_empty(), "prune kept the old index files; nothing to replay");
    // ... and copies the sealed header of every stored pack onto random bytes
    let mut planted = vec![];
    for pack in env.packs() {
        planted.push((format!("data/{pack}"), plant_header_copy(&env, &pack)));
    }

    // check (without --read-data) names every pair of identical headers and the replayed files
    let v = check_json(&env, &[]);
    let errs = errors(&v);
    for (real, forged) in &planted {
        assert!(
            errs.iter().any(|e| e.contains("byte-identical sealed headers") && e.contains(real) && e.contains(forged)),
            "check did not report {forged} as a copy of {real}'s header: {errs:#?}"
        );
    }
    // the replayed files that name deleted packs are named with them
    let named: Vec<&String> =
        replayed.iter().filter(|n| errs.iter().any(|e| e.contains(&format!("index/{n}")))).collect();
    assert!(!named.is_empty(), "check named none of the replayed index files {replayed:?}: {errs:#?}");
    for e in errs.iter().filter(|e| e.contains("but missing")) {
        assert!(
            replayed.iter().any(|n| e.contains(&format!("index/{n}"))),
            "a missing pack not blamed on a replayed file: {e}"
        );
    }
    // check --read-data names every planted pack as not matching its header
    let invalid = invalid_unreferenced(&check_json(&env, &["--read-data"]));
    for (_, forged) in &planted {
        assert!(
            invalid.iter().any(|e| e.contains(forged.as_str()) && e.contains("not the one its header commits to")),
            "check --read-data did not name {forged}: {invalid:#?}"
        );
    }

    // the remaining snapshots restore exactly
    let ids = env.snapshot_ids();
    restores_exactly(&env, &ids[0], &src, &expected2, "restored-2");
    restores_exactly(&env, &ids[1], &src, &expected3, "restored-3");

    // a new backup adopts no planted pack and dedups against nothing that is gone: gone.bin
    // comes back, and its blobs are indexed only in packs prune deleted (by the replayed files)
    write(&src.join("fourth.bin"), &noise(700_000, 4));
    write(&src.join("gone.bin"), &noise(2_000_000, 2));
    let expected4 = env.path("expected4");
    copy_dir(&src, &expected4);
    let b = env.run(&["backup", src.to_str().unwrap()]);
    assert!(b.status.success(), "{}", stderr(&b));
    for (_, forged) in &planted {
        assert!(stderr(&b).contains(forged.as_str()), "backup did not warn about {forged}: {}", stderr(&b));
    }
    let ids = env.snapshot_ids();
    let expected = [&expected2, &expected3, &expected4];
    for (i, id) in ids.iter().enumerate() {
        restores_exactly(&env, id, &src, expected[i], &format!("after-backup-{i}"));
    }

    // prune (two-phase, then at once) keeps everything restorable
    env.prune(&[]);
    env.prune(&["--instant-delete", "--max-unused", "0"]);
    for (i, id) in ids.iter().enumerate() {
        restores_exactly(&env, id, &src, expected[i], &format!("after-prune-{i}"));
    }
    // and check now finds only the planted packs, no damage
    let v = check_json(&env, &["--read-data"]);
    assert_eq!(v["damaged"].as_array().unwrap().len(), 0, "{v}");
    for e in errors(&v).iter().chain(&invalid_unreferenced(&v)) {
        assert!(planted.iter().any(|(_, f)| e.contains(f.as_str())), "check reports more than the planted packs: {e}");
    }
    for (_, forged) in &planted {
        assert!(invalid_unreferenced(&v).iter().any(|e| e.contains(forged.as_str())), "{forged} not named: {v}");
    }
}

/// In a version 2 repository, whose headers commit to nothing, adoption still refuses a
/// planted header copy: it opens every unit before indexing a pack (format-spec/v3.md §12).
#[test]
fn adoption_verifies_a_pack_before_indexing_it() {
    let env = Env::new();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v2"), &env.repo);
    let pw = "golden v2";
    let run = |args: &[&str]| env.cmd().env("ARCA_PASSWORD", pw).args(args).output().unwrap();
    let pack = env.packs()[0].clone();
    let forged = plant_header_copy(&env, &pack);
    let src = env.path("src");
    write(&src.join("f"), b"new file");
    let o = run(&["backup", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&forged), "backup did not say it refused {forged}: {}", stderr(&o));
    let o = run(&["check", "--json"]);
    let line = String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("").to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(
        v["unreferenced_packs"].as_array().unwrap().iter().any(|p| p.as_str() == Some(forged.as_str())),
        "the planted pack was indexed: {v}"
    );
    assert!(errors(&v).iter().any(|e| e.contains("byte-identical sealed headers") && e.contains(&forged)), "{v}");
    let o = run(&["check", "--read-data", "--json"]);
    let line = String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("").to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(invalid_unreferenced(&v).iter().any(|e| e.starts_with(&forged)), "{v}");
    // repair index verifies the packs the old index did not name, as adoption does: the
    // planted one is not indexed (it is reported damaged and removed)
    let o = run(&["repair", "index"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["check", "--json"]);
    let line = String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("").to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(v["damaged"].as_array().unwrap().is_empty(), "{v}");
    assert!(!env.repo.join(&forged).exists(), "repair index kept the planted pack: {v}");
    let out = env.path("restored");
    let o = run(&["restore", "latest", "--target", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join(src.strip_prefix("/").unwrap()).join("f")).unwrap(), b"new file");
}

/// Before version 3 adoption trusted a pack's header alone, so an older arca may have written
/// an index file naming a planted header copy. Readers must fall back to the genuine pack,
/// and prune must not mark or repack the genuine pack because the planted one seems to hold
/// its blobs (format-spec/v3.md §11.4, §21.2).
#[test]
fn an_index_naming_a_planted_pack_neither_breaks_restore_nor_lets_prune_drop_the_real_one() {
    use arca::format::index::{IndexFile, IndexPack};
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(2_500_000, 7));
    write(&src.join("small.txt"), b"small");
    env.backup_json(&[src.to_str().unwrap()]);
    let expected = env.path("expected");
    copy_dir(&src, &expected);
    let id = env.snapshot_ids()[0].clone();

    let raw = arca::backend::open_raw(&arca::backend::Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = arca::repo::Repository::open(raw, PASSWORD.as_bytes()).unwrap();
    let keys = keys_of(&env.repo);
    let mut planted = vec![];
    for pack in env.packs() {
        let real = arca::id::PackId::from_hex(pack.split('/').nth(1).unwrap()).unwrap();
        let size = std::fs::metadata(env.repo.join("data").join(&pack)).unwrap().len();
        let blobs = repo.read_pack_header(&real, size).unwrap();
        let forged_path = plant_header_copy(&env, &pack);
        let forged = arca::id::PackId::from_hex(forged_path.rsplit('/').next().unwrap()).unwrap();
        planted.push(forged_path);
        // an index file, as an older arca's adoption wrote it, whose name sorts first, so the
        // planted pack is every blob's preferred location
        let first = index_files(&env).into_keys().min().unwrap();
        let file = IndexFile { supersedes: vec![], packs: vec![IndexPack { id: forged, blobs }], marked: vec![] };
        let (name, bytes) = std::iter::repeat_with(|| {
            let bytes = file.encode(&keys);
            (hex::encode(arca::id::storage_hash(&bytes)), bytes)
        })
        .find(|(name, _)| *name < first)
        .unwrap();
        write(&env.repo.join("index").join(name), &bytes);
    }
    drop(repo);

    restores_exactly(&env, &id, &src, &expected, "before-prune");
    let st = env.prune(&["--instant-delete", "--max-unused", "0"]);
    assert_eq!(st["packs_deleted"], 0, "prune deleted a pack because a planted copy seemed to hold its blobs: {st}");
    restores_exactly(&env, &id, &src, &expected, "after-prune");
    let v = check_json(&env, &["--read-data"]);
    let named: Vec<String> = errors(&v).into_iter().chain(invalid_unreferenced(&v)).collect();
    for p in &planted {
        assert!(named.iter().any(|e| e.contains(p.as_str())), "check --read-data did not name {p}: {v}");
    }
}
