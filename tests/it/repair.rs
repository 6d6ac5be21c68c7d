#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Damage and recovery: a flipped byte in a pack, a truncated pack, a missing pack, a missing
//! index file. `check` names what is damaged (snapshot and path); `repair index` and
//! `repair snapshots` recover everything that can be recovered.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca::backend::{self, Location};
use arca::repo::{pack_path, Repository};
use common::*;

/// Files a..e of 600 kB each, backed up; returns the source and the snapshot id.
fn setup(env: &Env) -> (PathBuf, String) {
    let src = env.path("src");
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        write(&src.join(name), &noise(600_000, i as u64));
    }
    env.init();
    let s = env.backup_json(&[src.to_str().unwrap()]);
    (src, s["snapshot_id"].as_str().unwrap().to_string())
}

/// The stored path of the pack holding the first chunk of `file`.
fn pack_of(env: &Env, src: &Path, file: &str) -> PathBuf {
    blob_of(env, src, file).0
}

/// The pack and offset of the first chunk of `file`.
fn blob_of(env: &Env, src: &Path, file: &str) -> (PathBuf, usize) {
    let b = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(b, PASSWORD.as_bytes()).unwrap());
    let (_, snap) = repo.snapshots().unwrap().into_iter().last().unwrap();
    let node = repo.find_path(&snap.tree, &format!("{}/{file}", src.display())).unwrap().unwrap();
    let loc = repo.index().unwrap().get(&node.content[0]).unwrap();
    (env.repo.join(pack_path(&loc.pack)), loc.entry.offset as usize)
}

fn check_json(env: &Env, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["check", "--json"];
    a.extend_from_slice(args);
    let o = env.run(&a);
    (code(&o), serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap())
}

fn damaged_paths(v: &serde_json::Value) -> Vec<String> {
    let mut p: Vec<String> =
        v["damaged"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap().to_string()).collect();
    p.sort();
    p.dedup();
    p
}

/// After repair: check passes, and the repaired snapshot restores every undamaged file
/// exactly; damaged files are marked and shorter.
fn assert_recovered(env: &Env, src: &Path, damaged: &[String]) {
    env.check();
    let got = env.restored(&format!("latest:{}", src.display()), "restored");
    let want = describe(src);
    for (p, m) in &want {
        let full = format!("{}/{}", src.display(), p.display());
        if damaged.contains(&full) {
            let g = &got[p];
            assert!(g.size < m.size, "{full} should have lost data");
            if xattrs_supported(&env.path("restored")) {
                assert!(g.xattrs.iter().any(|(k, _)| k == b"user.arca.repaired"), "{full} not marked");
            }
        } else {
            assert_eq!(got.get(p).map(|g| g.content), Some(m.content), "{full} differs after repair");
        }
    }
}

#[test]
fn a_missing_pack_is_named_by_check_and_repaired() {
    let env = Env::new();
    let (src, sid) = setup(&env);
    let pack = pack_of(&env, &src, "c");
    std::fs::remove_file(&pack).unwrap();
    let (c, v) = check_json(&env, &[]);
    assert_eq!(c, 1);
    assert!(v["errors"].to_string().contains("indexed but missing"), "{v}");
    let damaged = damaged_paths(&v);
    assert!(damaged.contains(&format!("{}/c", src.display())), "{damaged:?}");
    assert!(v["damaged"].as_array().unwrap().iter().all(|d| d["snapshot"] == sid[..8]), "{v}");
    env.ok(&["repair", "index"]);
    let out = env.ok(&["repair", "snapshots", "--forget"]);
    assert!(out.contains("repaired as"), "{out}");
    assert_recovered(&env, &src, &damaged);
    let snaps = env.snapshot_ids();
    assert_eq!(snaps.len(), 1, "original removed");
    assert_ne!(snaps[0], sid);
}

#[test]
fn a_flipped_byte_is_found_by_read_data_and_salvaged() {
    let env = Env::new();
    let (src, _) = setup(&env);
    let (pack, offset) = blob_of(&env, &src, "b");
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[offset + 1000] ^= 0x04;
    std::fs::write(&pack, &bytes).unwrap();
    // the structure is intact: only reading the data finds it
    assert_eq!(check_json(&env, &[]).0, 0);
    let (c, v) = check_json(&env, &["--read-data"]);
    assert_eq!(c, 1);
    let damaged = damaged_paths(&v);
    assert_eq!(damaged, vec![format!("{}/b", src.display())], "{v}");
    // a subset that covers every pack finds it too
    let (c, _) = check_json(&env, &["--read-data-subset", "100%"]);
    assert_eq!(c, 1);
    let out = env.ok(&["repair", "index", "--read-data", "--json"]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["damaged_packs"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["blobs_lost"], 1, "{r}");
    assert!(!pack.exists(), "the damaged pack is deleted once salvaged");
    env.ok(&["repair", "snapshots", "--forget"]);
    assert_recovered(&env, &src, &damaged);
}

/// Every data blob of each file under `src`: the file's name, and where the blob lies.
fn file_blobs(env: &Env, src: &Path, names: &[String]) -> Vec<(String, arca::repo::BlobLocation)> {
    let b = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(b, PASSWORD.as_bytes()).unwrap());
    let (_, snap) = repo.snapshots().unwrap().into_iter().last().unwrap();
    let index = repo.index().unwrap();
    let mut out = Vec::new();
    for name in names {
        let node = repo.find_path(&snap.tree, &format!("{}/{name}", src.display())).unwrap().unwrap();
        out.extend(node.content.iter().map(|id| (name.clone(), index.get(id).unwrap())));
    }
    out
}

/// Back up `files` (name, size), cut their pack in the middle of its last sealed unit (a
/// chunk alone or a group of small blobs, wherever the writer's threads put it), and repair:
/// every unit before the cut is salvaged, exactly the last unit's blobs are lost, and exactly
/// the files with no blob in it restore intact.
fn truncate_and_salvage(files: &[(String, usize)]) {
    let env = Env::new();
    let src = env.path("src");
    for (i, (name, size)) in files.iter().enumerate() {
        write(&src.join(name), &noise(*size, i as u64));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let blobs = file_blobs(&env, &src, &names);
    let pack_id = blobs[0].1.pack;
    let in_pack: Vec<_> = blobs.iter().filter(|(_, l)| l.pack == pack_id).collect();
    let last = in_pack.iter().map(|(_, l)| l.entry).max_by_key(|e| e.offset).unwrap();
    let lost: Vec<_> = in_pack.iter().filter(|(_, l)| l.entry.same_unit(&last)).collect();
    let mut hit: Vec<String> = lost.iter().map(|(n, _)| n.clone()).collect();
    hit.sort();
    hit.dedup();
    let pack = env.repo.join(pack_path(&pack_id));
    let f = std::fs::OpenOptions::new().write(true).open(&pack).unwrap();
    f.set_len(u64::from(last.offset) + u64::from(last.length) / 2).unwrap();
    drop(f);

    let (c, v) = check_json(&env, &[]);
    assert_eq!(c, 1, "{v}");
    let want_damaged: Vec<String> = hit.iter().map(|n| format!("{}/{n}", src.display())).collect();
    assert_eq!(damaged_paths(&v), want_damaged, "{v}");
    let out = env.ok(&["repair", "index", "--json"]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["blobs_lost"].as_u64().unwrap(), lost.len() as u64, "{r}");
    assert_eq!(r["blobs_salvaged"].as_u64().unwrap(), (in_pack.len() - lost.len()) as u64, "{r}");
    env.ok(&["repair", "snapshots", "--forget"]);
    let (c, v) = check_json(&env, &["--read-data"]);
    assert_eq!(c, 0, "{v}");
    let got = env.restored(&format!("latest:{}", src.display()), "restored");
    let mut intact: Vec<String> = describe(&src)
        .iter()
        .filter(|(p, m)| m.content.is_some() && got.get(*p).map(|g| g.content) == Some(m.content))
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    intact.sort();
    let mut want: Vec<String> = names.into_iter().filter(|n| !hit.contains(n)).collect();
    want.sort();
    assert_eq!(intact, want);
}

#[test]
fn a_truncated_pack_is_salvaged_from_the_old_index() {
    let files: Vec<(String, usize)> = ["a", "b", "c", "d", "e"].iter().map(|n| (n.to_string(), 600_000)).collect();
    truncate_and_salvage(&files);
}

#[test]
fn a_truncated_pack_loses_a_cut_group_whole_and_keeps_the_rest() {
    // five chunks sealed alone, then twenty small files gathered in one group
    let mut files: Vec<(String, usize)> = ["a", "b", "c", "d", "e"].iter().map(|n| (n.to_string(), 600_000)).collect();
    files.extend((0..20).map(|i| (format!("small{i:02}"), 20_000)));
    truncate_and_salvage(&files);
}

#[test]
fn a_missing_index_file_is_rebuilt_from_the_packs() {
    let env = Env::new();
    let (src, _) = setup(&env);
    for e in std::fs::read_dir(env.repo.join("index")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let (c, v) = check_json(&env, &[]);
    assert_eq!(c, 1, "{v}");
    assert!(!v["unreferenced_packs"].as_array().unwrap().is_empty(), "{v}");
    let out = env.ok(&["repair", "index", "--dry-run"]);
    assert!(out.contains("would index"), "{out}");
    assert_eq!(check_json(&env, &[]).0, 1, "dry run changed nothing");
    env.ok(&["repair", "index"]);
    env.check();
    // nothing was lost: the snapshot is unchanged and restores exactly
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "restored"));
    let out = env.ok(&["repair", "snapshots"]);
    assert!(out.contains("0 damaged"), "{out}");
}

#[test]
fn read_data_subsets_partition_the_packs() {
    let env = Env::new();
    setup(&env);
    let total = check_json(&env, &["--read-data"]).1["packs_read"].as_u64().unwrap();
    let mut sum = 0;
    for part in 1..=3 {
        let (c, v) = check_json(&env, &["--read-data-subset", &format!("{part}/3")]);
        assert_eq!(c, 0);
        sum += v["packs_read"].as_u64().unwrap();
    }
    assert_eq!(sum, total, "n/t subsets must cover every pack exactly once");
    let (_, v) = check_json(&env, &["--read-data-subset", "1"]);
    assert_eq!(v["packs_read"], 1, "a 1-byte budget reads one pack: {v}");
    let o = env.run(&["check", "--read-data-subset", "4/3"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("n/t"), "{}", stderr(&o));
}
