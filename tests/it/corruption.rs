#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Damage to every kind of object that is not a pack (packs: `tests/repair.rs`): config, key
//! files, index files, snapshots and tree blobs, each flipped, truncated and deleted. Every
//! case is detected and named (which object, which snapshots, which files), exits non-zero
//! with the documented code, and what is undamaged still restores; `repair` recovers what
//! can be recovered.

use crate::common;

use std::path::{Path, PathBuf};

use arca::backend::{self, Location};
use arca::repo::{pack_path, Repository};
use common::*;

#[derive(Clone, Copy, Debug)]
enum Damage {
    Flip,
    Truncate,
    Delete,
}

const ALL: [Damage; 3] = [Damage::Flip, Damage::Truncate, Damage::Delete];

fn damage(path: &Path, how: Damage) {
    match how {
        Damage::Flip => {
            let mut b = std::fs::read(path).unwrap();
            let i = b.len() / 2;
            b[i] ^= 0x20;
            std::fs::write(path, b).unwrap();
        }
        Damage::Truncate => {
            let b = std::fs::read(path).unwrap();
            std::fs::write(path, &b[..b.len() / 3]).unwrap();
        }
        Damage::Delete => std::fs::remove_file(path).unwrap(),
    }
}

/// The files of a repository directory (`keys`, `index`, `snapshots`), sorted.
fn objects(env: &Env, dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(env.repo.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Two snapshots, `one` of `src/a` and `two` of `src/b`; returns (src, id one, id two).
fn setup(env: &Env) -> (PathBuf, String, String) {
    let src = env.path("src");
    write(&src.join("a/file"), &noise(300_000, 1));
    write(&src.join("b/file"), &noise(300_000, 2));
    env.init();
    let one = env.backup_json(&["--tag", "one", src.join("a").to_str().unwrap()]);
    let two = env.backup_json(&["--tag", "two", src.join("b").to_str().unwrap()]);
    (src, one["snapshot_id"].as_str().unwrap().into(), two["snapshot_id"].as_str().unwrap().into())
}

fn fresh() -> (Env, PathBuf, String, String) {
    let env = Env::new();
    let (src, one, two) = setup(&env);
    (env, src, one, two)
}

#[test]
fn a_damaged_or_missing_config_is_named_and_never_taken_for_a_wrong_password() {
    for how in ALL {
        let (env, ..) = fresh();
        damage(&env.repo.join("config"), how);
        let o = env.run(&["snapshots"]);
        let err = stderr(&o);
        match how {
            // keys, packs and snapshots are still there: damaged, not absent (issue 21)
            Damage::Delete => assert_eq!(code(&o), 13, "{how:?}: {err}"),
            _ => {
                assert_eq!(code(&o), 1, "{how:?}: {err}");
                assert!(err.contains("config"), "{how:?}: {err}");
            }
        }
        assert!(!err.to_lowercase().contains("wrong password"), "{how:?}: {err}");
    }
}

#[test]
fn a_damaged_key_file_is_named_and_another_key_still_opens() {
    for how in ALL {
        let (env, src, one, _) = fresh();
        let pass2 = env.path("pass2");
        std::fs::write(&pass2, "second password").unwrap();
        env.ok(&["key", "add", "--new-password-file", pass2.to_str().unwrap()]);
        assert_eq!(objects(&env, "keys").len(), 2);
        // damage the key file of the first password
        let list: serde_json::Value = serde_json::from_str(env.ok(&["key", "list", "--json"]).trim()).unwrap();
        let mine =
            list.as_array().unwrap().iter().find(|k| k["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
        // (key list --json gives restic's short ids: the file is the one whose name starts so)
        let target = &objects(&env, "keys")
            .into_iter()
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&mine))
            .unwrap();
        damage(target, how);
        let o = env.run(&["snapshots"]);
        let err = stderr(&o);
        match how {
            // nothing left that this password opens
            Damage::Delete => assert_eq!(code(&o), 12, "{how:?}: {err}"),
            _ => {
                assert_ne!(code(&o), 0, "{how:?}: {err}");
                assert!(err.contains("keys/"), "{how:?}: the damaged key file is named: {err}");
            }
        }
        // the other password opens everything, and restores
        let out = env.path("out");
        let o = env
            .cmd()
            .env_remove("ARCA_PASSWORD")
            .args(["--password-file", pass2.to_str().unwrap(), "restore", &one, "--target", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{how:?}: {}", stderr(&o));
        assert_same_tree(&describe(&src.join("a")), &describe(&out.join(src.join("a").strip_prefix("/").unwrap())));
    }
}

#[test]
fn a_damaged_index_is_named_by_check_and_rebuilt_by_repair() {
    for how in ALL {
        let (env, src, one, two) = fresh();
        for f in objects(&env, "index") {
            damage(&f, how);
        }
        let o = env.run(&["check"]);
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "{how:?}: {err}");
        match how {
            // every tree is missing from the (empty) index: the hint names the cure
            Damage::Delete => assert!(err.contains("missing") && err.contains("repair index"), "{how:?}: {err}"),
            _ => assert!(err.contains("index/"), "{how:?}: {err}"),
        }
        env.ok(&["repair", "index"]);
        env.check();
        for (id, dir) in [(one.as_str(), "a"), (two.as_str(), "b")] {
            let out = env.path(&format!("out-{dir}"));
            env.ok(&["restore", id, "--target", out.to_str().unwrap()]);
            let path = src.join(dir);
            assert_same_tree(&describe(&path), &describe(&out.join(path.strip_prefix("/").unwrap())));
        }
    }
}

#[test]
fn a_damaged_snapshot_is_named_and_the_others_restore() {
    for how in ALL {
        let (env, src, one, two) = fresh();
        let victim = env.repo.join("snapshots").join(&one);
        damage(&victim, how);
        // from storage alone: the others are listed, the damaged one named
        let o = env.run(&["--no-cache", "snapshots", "--json"]);
        assert_eq!(code(&o), 0, "{how:?}: {}", stderr(&o));
        let listed = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(listed.contains(&two) && !listed.contains(&one), "{how:?}: {listed}");
        if !matches!(how, Damage::Delete) {
            assert!(stderr(&o).contains(&one[..8]), "{how:?}: {}", stderr(&o));
            // prune cannot know what the damaged snapshot references: it refuses
            let p = env.run(&["--no-cache", "prune"]);
            assert_eq!(code(&p), 1, "{how:?}: {}", stderr(&p));
            assert!(stderr(&p).contains(&format!("arca forget {}", &one[..8])), "{how:?}: {}", stderr(&p));
        }
        let c = env.run(&["check"]);
        match how {
            Damage::Delete => assert_eq!(code(&c), 0, "{how:?}: {}", stderr(&c)),
            _ => {
                assert_eq!(code(&c), 1, "{how:?}: {}", stderr(&c));
                assert!(stderr(&c).contains(&one), "{how:?}: {}", stderr(&c));
            }
        }
        let out = env.path("out");
        env.ok(&["--no-cache", "restore", &two, "--target", out.to_str().unwrap()]);
        let path = src.join("b");
        assert_same_tree(&describe(&path), &describe(&out.join(path.strip_prefix("/").unwrap())));
        let o = env.run(&["--no-cache", "restore", &one, "--target", env.path("out1").to_str().unwrap()]);
        assert_ne!(code(&o), 0);
        assert!(stderr(&o).contains(&one[..8]), "{how:?}: {}", stderr(&o));
        if !matches!(how, Damage::Delete) {
            // forgotten by its id, though unreadable; then all is well
            env.ok(&["--no-cache", "forget", &one[..8]]);
            env.check();
        }
    }
}

#[test]
fn a_damaged_tree_names_the_snapshots_holding_it_and_repair_snapshots_recovers_the_rest() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("keep/file"), &noise(100_000, 1));
    write(&src.join("lost/file"), &noise(100_000, 2));
    env.init();
    let id =
        env.backup_json(&["--compression", "off", src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    // the tree listing `lost/`: find its pack through the index, and flip a byte of it
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Repository::open(raw, PASSWORD.as_bytes()).unwrap();
    let (_, snap) = repo.snapshots().unwrap().into_iter().last().unwrap();
    let lost = repo.find_path(&snap.tree, &format!("{}/lost", src.display())).unwrap().unwrap();
    let lost_tree = lost.subtree.unwrap().to_hex();
    let loc = repo.index().unwrap().get(&lost.subtree.unwrap().as_blob()).unwrap();
    let (path, offset) = (env.repo.join(pack_path(&loc.pack)), loc.entry.offset as usize);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset + 30] ^= 1;
    std::fs::write(&path, bytes).unwrap();

    let c = env.run(&["check", "--json"]);
    assert_eq!(code(&c), 1, "{}", stderr(&c));
    let out = String::from_utf8_lossy(&c.stdout);
    assert!(out.contains(&lost_tree) || stderr(&c).contains(&lost_tree[..8]), "{out}\n{}", stderr(&c));
    assert!(out.contains(&id[..8]) || stderr(&c).contains(&id[..8]), "the snapshot is named: {out}\n{}", stderr(&c));
    // restore gives everything else, and fails naming the directory
    let target = env.path("out");
    let o = env.run(&["restore", &id, "--target", target.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("lost"), "{}", stderr(&o));
    let kept = target.join(src.strip_prefix("/").unwrap()).join("keep/file");
    assert_eq!(std::fs::read(kept).unwrap(), noise(100_000, 1));
    // salvage the pack's intact blobs, then drop the unreadable directory from the snapshot;
    // the rest checks and restores
    env.ok(&["repair", "index", "--read-data"]);
    env.ok(&["repair", "snapshots", "--forget"]);
    env.check();
    let got = env.restored(&format!("latest:{}", src.display()), "repaired");
    assert_eq!(got.get(Path::new("keep/file")).map(|m| m.size), Some(100_000));
}
