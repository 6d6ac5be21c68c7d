#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Prune: two-phase deletion (mark, wait, re-check, delete), un-marking, older locks,
//! repacking, instant deletion, and a crash at every write or delete of a prune.

use crate::common;

use std::sync::Arc;

use arca::backend::{self, fault::FaultBackend, DynBackend, Location};
use arca::maintenance::check::{self, ReadData};
use arca::maintenance::prune::{self, MaxUnused, PruneOptions};
use arca::repo::{LockMode, Repository};
use common::*;

fn raw(env: &Env) -> DynBackend {
    backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap()
}

fn open(backend: DynBackend) -> Arc<Repository> {
    Arc::new(Repository::open(backend, PASSWORD.as_bytes()).unwrap())
}

/// Two sources backed up separately: `keep/` (stays) and `gone/` (its snapshot is forgotten).
fn two_sources(env: &Env) -> (std::path::PathBuf, String) {
    let keep = env.path("keep");
    let gone = env.path("gone");
    for i in 0..5 {
        write(&keep.join(format!("k{i}")), &noise(300_000, i));
        write(&gone.join(format!("g{i}")), &noise(300_000, 100 + i));
    }
    env.init();
    env.backup_json(&[keep.to_str().unwrap()]);
    let g = env.backup_json(&[gone.to_str().unwrap()]);
    (keep, g["snapshot_id"].as_str().unwrap().to_string())
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn unused_packs_are_marked_first_and_deleted_after_the_grace_period() {
    let env = Env::new();
    let (keep, gone) = two_sources(&env);
    let want = describe(&keep);
    env.ok(&["forget", &gone[..8]]);
    let before = env.packs();

    let first = env.prune(&[]);
    assert!(n(&first, "packs_marked") >= 2, "the forgotten snapshot's data and tree packs: {first}");
    assert_eq!(n(&first, "packs_deleted"), 0);
    assert_eq!(env.packs(), before, "marking deletes nothing");
    env.check();

    let again = env.prune(&[]);
    assert_eq!(n(&again, "packs_pending"), n(&first, "packs_marked"), "still within 23h: {again}");
    assert_eq!(n(&again, "packs_deleted"), 0);
    assert_eq!(env.packs(), before);

    let done = env.prune(&["--keep-delete", "0s"]);
    assert_eq!(n(&done, "packs_deleted"), n(&first, "packs_marked"), "{done}");
    assert_eq!(env.packs().len(), before.len() - n(&first, "packs_marked") as usize);
    env.check();
    let sel = format!("latest:{}", keep.display());
    assert_same_tree(&want, &env.restored(&sel, "out"));
    // nothing left to do, and one consolidated index
    let idle = env.prune(&["--keep-delete", "0s"]);
    assert_eq!(n(&idle, "packs_marked") + n(&idle, "packs_deleted") + n(&idle, "packs_repack"), 0, "{idle}");
    assert_eq!(std::fs::read_dir(env.repo.join("index")).unwrap().count(), 1);
}

#[test]
fn dry_run_changes_nothing() {
    let env = Env::new();
    let (_, gone) = two_sources(&env);
    env.ok(&["forget", &gone[..8]]);
    let before = env.packs();
    let index_before: Vec<_> = std::fs::read_dir(env.repo.join("index")).unwrap().map(|e| e.unwrap().path()).collect();
    let plan = env.prune(&["--dry-run", "--instant-delete", "--max-unused", "0"]);
    assert!(n(&plan, "packs_deleted") >= 2, "{plan}");
    assert_eq!(env.packs(), before);
    let index_after: Vec<_> = std::fs::read_dir(env.repo.join("index")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(index_before, index_after);
}

#[test]
fn a_backup_does_not_reuse_blobs_of_marked_packs() {
    let env = Env::new();
    let (_, gone) = two_sources(&env);
    let gone_dir = env.path("gone");
    let want = describe(&gone_dir);
    env.ok(&["forget", &gone[..8]]);
    let marked = env.prune(&[]);
    assert!(n(&marked, "packs_marked") >= 2);
    // the same data again: its blobs are only in marked packs, so they are stored anew
    let s = env.backup_json(&[gone_dir.to_str().unwrap()]);
    assert!(s["data_added"].as_u64().unwrap() >= 1_500_000, "blobs of marked packs reused: {s}");
    let done = env.prune(&["--keep-delete", "0s"]);
    assert_eq!(n(&done, "packs_deleted"), n(&marked, "packs_marked"));
    env.check();
    assert_same_tree(&want, &env.restored(&format!("latest:{}", gone_dir.display()), "out"));
}

#[test]
fn a_marked_pack_that_is_used_again_is_unmarked() {
    let env = Env::new();
    let (_, gone) = two_sources(&env);
    let want = describe(&env.path("gone"));
    // a writer that started before the mark: it read the snapshot (its tree) earlier and
    // commits a snapshot naming the same tree after prune marked its packs
    let repo = open(raw(&env));
    let old = repo.load_snapshot(&arca::id::SnapshotId::from_hex(&gone).unwrap()).unwrap();
    env.ok(&["forget", &gone[..8]]);
    let marked = env.prune(&[]);
    assert!(n(&marked, "packs_marked") >= 2);
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    repo.save_snapshot(&old, &repo.nothing_pending().unwrap(), &lock).unwrap();
    drop(lock);
    let next = env.prune(&["--keep-delete", "0s"]);
    assert_eq!(n(&next, "packs_deleted"), 0, "{next}");
    assert_eq!(n(&next, "packs_unmarked"), n(&marked, "packs_marked"), "{next}");
    env.check();
    assert_same_tree(&want, &env.restored(&format!("latest:{}", env.path("gone").display()), "out"));
    // live again: a backup of the same data deduplicates against them
    let s = env.backup_json(&[env.path("gone").to_str().unwrap()]);
    assert_eq!(s["data_blobs"].as_u64(), Some(0), "{s}");
}

#[test]
fn a_lock_older_than_the_mark_postpones_deletion() {
    let env = Env::new();
    let (keep, gone) = two_sources(&env);
    let repo = open(raw(&env));
    // a long backup on another host could hold this; here the test process holds it
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    env.ok(&["forget", &gone[..8]]);
    let marked = env.prune(&[]);
    assert!(n(&marked, "packs_marked") >= 2);
    let blocked = env.prune(&["--keep-delete", "0s"]);
    assert_eq!(n(&blocked, "packs_deleted"), 0, "{blocked}");
    assert_eq!(n(&blocked, "packs_pending"), n(&marked, "packs_marked"));
    assert!(blocked["deletion_blocked_by"].as_str().unwrap().contains("backup"), "{blocked}");
    drop(lock);
    let done = env.prune(&["--keep-delete", "0s"]);
    assert_eq!(n(&done, "packs_deleted"), n(&marked, "packs_marked"), "{done}");
    env.check();
    let want = describe(&keep);
    assert_same_tree(&want, &env.restored(&format!("latest:{}", keep.display()), "out"));
}

#[test]
fn two_prunes_exclude_each_other_but_not_backups() {
    let env = Env::new();
    let (keep, _) = two_sources(&env);
    let repo = open(raw(&env));
    let lock = repo.lock("prune", LockMode::Maintenance).unwrap();
    let o = env.run(&["prune"]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(stderr(&o).contains("for maintenance by prune"), "{}", stderr(&o));
    env.backup_json(&[keep.to_str().unwrap()]);
    env.ok(&["check"]);
    let o = env.run(&["prune", "--instant-delete"]);
    assert_eq!(code(&o), 11);
    // --retry-lock waits for the holder
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(lock);
    });
    env.ok(&["prune", "--retry-lock", "30s"]);
    releaser.join().unwrap();
}

#[test]
fn partly_used_packs_are_repacked_within_max_unused() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..40 {
        write(&src.join(format!("f{i:02}")), &noise(150_000, i));
    }
    env.init();
    let first = env.backup_json(&[src.to_str().unwrap()]);
    for i in 0..40 {
        if i % 3 == 0 {
            std::fs::remove_file(src.join(format!("f{i:02}"))).unwrap();
        }
    }
    env.backup_json(&[src.to_str().unwrap()]);
    env.ok(&["forget", &first["snapshot_id"].as_str().unwrap()[..8]]);
    let want = describe(&src);
    // about half as much unused as used: tolerated with a generous limit
    let lenient = env.prune(&["--max-unused", "80%", "--dry-run"]);
    assert_eq!(n(&lenient, "packs_repack"), 0, "{lenient}");
    let size_before: u64 =
        env.packs().iter().map(|p| std::fs::metadata(env.repo.join("data").join(p)).unwrap().len()).sum();
    let strict = env.prune(&["--max-unused", "0", "--instant-delete"]);
    assert!(n(&strict, "packs_repack") >= 1, "{strict}");
    assert!(n(&strict, "blobs_repacked") >= 1 && n(&strict, "blobs_repacked") <= n(&strict, "blobs_used"), "{strict}");
    let size_after: u64 =
        env.packs().iter().map(|p| std::fs::metadata(env.repo.join("data").join(p)).unwrap().len()).sum();
    assert!(size_after * 10 < size_before * 8, "{size_before} -> {size_after}");
    env.check();
    assert_same_tree(&want, &env.restored(&format!("latest:{}", src.display()), "out"));
    let idle = env.prune(&["--max-unused", "0"]);
    assert_eq!(n(&idle, "bytes_unused"), 0, "{idle}");
}

#[test]
fn repack_uncompressed_compresses_what_was_stored_raw() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..5 {
        let text: String = (0..20_000).map(|j| format!("line {j} of file {i}\n")).collect();
        write(&src.join(format!("t{i}.txt")), text.as_bytes());
    }
    env.init();
    env.backup_json(&["--compression", "off", src.to_str().unwrap()]);
    let size = |env: &Env| -> u64 {
        env.packs().iter().map(|p| std::fs::metadata(env.repo.join("data").join(p)).unwrap().len()).sum()
    };
    let before = size(&env);
    assert_eq!(n(&env.prune(&["--dry-run"]), "packs_repack"), 0, "nothing to do without the flag");
    let st = env.prune(&["--repack-uncompressed", "--instant-delete"]);
    assert!(n(&st, "packs_repack") >= 1, "{st}");
    let after = size(&env);
    assert!(after * 3 < before, "not compressed: {before} -> {after}");
    env.check();
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
    let again = env.prune(&["--repack-uncompressed", "--dry-run"]);
    assert_eq!(n(&again, "packs_repack"), 0, "compressed blobs are not repacked again: {again}");
}

#[test]
fn prune_refuses_when_used_data_is_missing() {
    let env = Env::new();
    let (keep, _) = two_sources(&env);
    // the pack holding the first chunk of keep/k0
    let repo = open(raw(&env));
    let (_, snap) = repo.snapshots().unwrap().into_iter().next().unwrap();
    let node = repo.find_path(&snap.tree, &format!("{}/k0", keep.display())).unwrap().unwrap();
    let pack = repo.index().unwrap().get(&node.content[0]).unwrap().pack;
    let packs = env.packs();
    std::fs::remove_file(env.repo.join(arca::repo::pack_path(&pack))).unwrap();
    let index_before = std::fs::read_dir(env.repo.join("index")).unwrap().count();
    let o = env.run(&["prune", "--keep-delete", "0s"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("missing from storage"), "{}", stderr(&o));
    assert!(stderr(&o).contains("repair index"), "{}", stderr(&o));
    assert_eq!(env.packs().len(), packs.len() - 1, "prune changed something");
    assert_eq!(std::fs::read_dir(env.repo.join("index")).unwrap().count(), index_before);
}

/// A repository with every kind of prune work: packs marked by an earlier run (to delete),
/// unused packs (to mark) and partly used packs (to repack).
fn busy_repository(env: &Env) -> std::collections::BTreeMap<std::path::PathBuf, Meta> {
    let src = env.path("src");
    for i in 0..12 {
        write(&src.join(format!("f{i:02}")), &noise(200_000, i));
    }
    env.init();
    let a = env.backup_json(&[src.to_str().unwrap()]);
    let gone = env.path("gone");
    write(&gone.join("g"), &noise(400_000, 99));
    let g = env.backup_json(&[gone.to_str().unwrap()]);
    env.ok(&["forget", &g["snapshot_id"].as_str().unwrap()[..8]]);
    env.prune(&[]); // marks gone/'s packs
    for i in (0..12).step_by(2) {
        std::fs::remove_file(src.join(format!("f{i:02}"))).unwrap();
    }
    write(&src.join("new"), &noise(100_000, 1000));
    env.backup_json(&[src.to_str().unwrap()]);
    env.ok(&["forget", &a["snapshot_id"].as_str().unwrap()[..8]]);
    describe(&src)
}

#[test]
fn a_prune_that_dies_at_any_write_or_delete_leaves_a_valid_repository() {
    for instant in [false, true] {
        let env = Env::new();
        let want = busy_repository(&env);
        let template = env.path("template");
        copy_dir(&env.repo, &template);
        let opts = PruneOptions {
            max_unused: MaxUnused::Bytes(0),
            keep_delete: std::time::Duration::ZERO,
            instant_delete: instant,
            ..Default::default()
        };
        let mut finished = false;
        for crash_at in 1..60 {
            std::fs::remove_dir_all(&env.repo).unwrap();
            copy_dir(&template, &env.repo);
            let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(crash_at));
            match prune::prune(&open(fault), &opts, None, &|_| {}) {
                Ok(st) => {
                    assert!(st.packs_deleted > 0 && st.packs_repack > 0, "nothing to do? {st:?}");
                    finished = true;
                    break;
                }
                Err(e) => assert!(e.message.contains("injected crash"), "crash {crash_at}: {}", e.message),
            }
            let report = check::check(&open(raw(&env)), ReadData::All).unwrap();
            assert!(report.ok(), "instant={instant}, crash at {crash_at}: {report:?}");
            // the next prune finishes the job
            let st = prune::prune(&open(raw(&env)), &opts, None, &|_| {}).unwrap();
            let report = check::check(&open(raw(&env)), ReadData::All).unwrap();
            assert!(report.ok(), "after re-run (crash {crash_at}): {report:?} {st:?}");
            assert!(report.unreferenced_packs.is_empty() || !instant, "{report:?}");
            let got =
                env.restored(&format!("latest:{}", env.path("src").display()), &format!("out-{instant}-{crash_at}"));
            assert_same_tree(&want, &got);
        }
        assert!(finished, "prune never got through (instant={instant})");
    }
}
