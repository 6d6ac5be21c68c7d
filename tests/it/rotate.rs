#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `key rotate`: a new master secret under which every stored file is sealed again, old keys
//! revoked, ids and deduplication kept; and a rotation stopped at every write or delete
//! leaves a repository that opens, checks and restores, and a re-run finishes it.

use crate::common;

use std::sync::Arc;

use arca::backend::{self, fault::FaultBackend, DynBackend, Location};
use arca::crypto::Keys;
use arca::format::config::Config;
use arca::maintenance::check::{self, ReadData};
use arca::maintenance::rotate;
use arca::repo::{ObjectKind, Repository};
use common::*;

fn raw(env: &Env) -> DynBackend {
    backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap()
}

fn open(backend: DynBackend) -> Repository {
    Repository::open(backend, PASSWORD.as_bytes()).unwrap()
}

/// Two snapshots, one forgotten and pruned so that a pack is marked for deletion, and a
/// second password.
fn repository(env: &Env) -> std::collections::BTreeMap<std::path::PathBuf, Meta> {
    let src = env.path("src");
    for i in 0..8 {
        write(&src.join(format!("f{i}")), &noise(150_000, i));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let gone = env.path("gone");
    write(&gone.join("g"), &noise(300_000, 77));
    let g = env.backup_json(&[gone.to_str().unwrap()]);
    env.ok(&["forget", &g["snapshot_id"].as_str().unwrap()[..8]]);
    assert!(env.prune(&[])["packs_marked"].as_u64().unwrap() > 0);
    std::fs::write(env.path("other-pw"), "another password").unwrap();
    env.ok(&["key", "add", "--new-password-file", env.path("other-pw").to_str().unwrap()]);
    describe(&src)
}

/// No pack header, index file, snapshot or config opens under `old`.
fn nothing_opens_under(env: &Env, old: &Keys) {
    let repo = open(raw(env));
    for (id, size) in repo.stored_packs().unwrap() {
        assert!(repo.read_pack_header_with(old, &id, size).is_err(), "pack {id} still sealed under the old key");
    }
    for kind in [ObjectKind::Index, ObjectKind::Snapshot] {
        let dir = kind.dir();
        for id in repo.list(kind).unwrap() {
            let bytes = std::fs::read(env.repo.join(dir).join(id.to_hex())).unwrap();
            assert!(
                arca::format::object::decode(old, arca::crypto::SealKind::Index, &bytes).is_err()
                    && arca::format::object::decode(old, arca::crypto::SealKind::Snapshot, &bytes).is_err(),
                "{dir}/{id} still sealed under the old key"
            );
        }
    }
    assert!(Config::decode(old, &std::fs::read(env.repo.join("config")).unwrap()).is_err());
}

#[test]
fn key_rotate_seals_everything_again_and_revokes_every_other_key() {
    let env = Env::new();
    let want = repository(&env);
    let old_keys = keys_of(&env.repo);
    let old_packs = env.packs();
    let old_key_files: Vec<_> = std::fs::read_dir(env.repo.join("keys"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap()))
        .collect();
    let before = env.snapshot_ids();

    let st: serde_json::Value = serde_json::from_str(env.ok(&["key", "rotate", "--json"]).trim()).unwrap();
    assert_eq!(st["resumed"], false);
    assert_eq!(st["packs_resealed"].as_u64().unwrap() as usize, old_packs.len(), "{st}");
    assert_eq!(st["snapshots_resealed"], 1);
    assert_eq!(st["keys_removed"].as_array().unwrap().len(), 3, "two old keys and the rotation's: {st}");

    let after = env.packs();
    assert_eq!(after.len(), old_packs.len());
    assert!(after.iter().all(|p| !old_packs.contains(p)), "every pack is a new file");
    assert_eq!(env.snapshot_ids().len(), before.len());
    assert_ne!(env.snapshot_ids(), before, "snapshot files are sealed again, so renamed");
    nothing_opens_under(&env, &old_keys);
    env.check();
    assert_same_tree(&want, &env.restored(&format!("latest:{}", env.path("src").display()), "out"));

    // the other password is revoked, and an old key file put back does not open anything
    let other = env.cmd().env("ARCA_PASSWORD", "another password").args(["snapshots"]).output().unwrap();
    assert_eq!(code(&other), 12, "{}", stderr(&other));
    for (name, bytes) in &old_key_files {
        std::fs::write(env.repo.join("keys").join(name), bytes).unwrap();
    }
    let other = env.cmd().env("ARCA_PASSWORD", "another password").args(["snapshots"]).output().unwrap();
    assert_ne!(code(&other), 0, "an old key opens only the old master secret");

    // ids stay: the same data backs up as unchanged, and prune still knows the marked pack
    let again = env.backup_json(&[env.path("src").to_str().unwrap()]);
    assert_eq!(again["files_new"], 0);
    assert_eq!(again["files_changed"], 0);
    assert!(again["data_added"].as_u64().unwrap() < 10_000, "{again}");
    let p = env.prune(&["--keep-delete", "0s"]);
    assert!(p["packs_deleted"].as_u64().unwrap() > 0, "the pack marked before the rotation: {p}");
    env.check();
}

#[test]
fn key_rotate_can_change_the_password() {
    let env = Env::new();
    let want = repository(&env);
    std::fs::write(env.path("new-pw"), "brand new\n").unwrap();
    env.ok(&["key", "rotate", "--new-password-file", env.path("new-pw").to_str().unwrap()]);
    let old = env.run(&["snapshots"]);
    assert_eq!(code(&old), 12, "{}", stderr(&old));
    let out = env.path("out");
    env.cmd()
        .env("ARCA_PASSWORD", "brand new")
        .args(["restore", &format!("latest:{}", env.path("src").display()), "--target", out.to_str().unwrap()])
        .status()
        .unwrap()
        .success()
        .then_some(())
        .unwrap();
    assert_same_tree(&want, &describe(&out));
}

#[test]
fn a_rotation_stopped_at_any_write_or_delete_stays_readable_and_finishes_on_rerun() {
    let env = Env::new();
    let want = repository(&env);
    let template = env.path("template");
    copy_dir(&env.repo, &template);
    let mut finished = false;
    for crash_at in 1..200 {
        std::fs::remove_dir_all(&env.repo).unwrap();
        copy_dir(&template, &env.repo);
        let old_keys = keys_of(&env.repo);
        let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(crash_at));
        match rotate::rotate(&mut open(fault), PASSWORD.as_bytes(), None, &|_| {}) {
            Ok(_) => {
                // lock, rotation key, lock again, packs, index, deletions, snapshot, config, key...
                assert!(crash_at > 15, "the rotation got through after {crash_at} writes");
                finished = true;
                break;
            }
            Err(e) => assert!(e.message.contains("injected crash"), "crash {crash_at}: {e}"),
        }
        // the dead run's lock (a killed process's lock is stale; this one's pid lives on)
        let _ = std::fs::remove_dir_all(env.repo.join("locks"));
        let report = check::check(&Arc::new(open(raw(&env))), ReadData::All).unwrap();
        assert!(report.ok(), "crash at {crash_at}: {report:?}");
        let got = env.restored(&format!("latest:{}", env.path("src").display()), &format!("mid-{crash_at}"));
        assert_same_tree(&want, &got);

        let st = rotate::rotate(&mut open(raw(&env)), PASSWORD.as_bytes(), None, &|_| {}).unwrap();
        let report = check::check(&Arc::new(open(raw(&env))), ReadData::All).unwrap();
        assert!(report.ok(), "after the re-run (crash {crash_at}): {report:?} {st:?}");
        assert!(report.unreferenced_packs.is_empty(), "crash {crash_at}: {report:?}");
        nothing_opens_under(&env, &old_keys);
        assert_eq!(std::fs::read_dir(env.repo.join("keys")).unwrap().count(), 1);
        assert_eq!(env.snapshot_ids().len(), 1, "crash {crash_at}: a snapshot stored twice");
        let got = env.restored(&format!("latest:{}", env.path("src").display()), &format!("out-{crash_at}"));
        assert_same_tree(&want, &got);
    }
    assert!(finished, "the rotation never got through");
}

#[test]
fn while_a_rotation_runs_a_password_it_revokes_is_refused_by_name() {
    let env = Env::new();
    repository(&env);
    // lock, rotation key: the third write (the lock under the new secret) never happens
    let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(3));
    assert!(rotate::rotate(&mut open(fault), PASSWORD.as_bytes(), None, &|_| {}).is_err());
    let _ = std::fs::remove_dir_all(env.repo.join("locks"));
    let o = env.cmd().env("ARCA_PASSWORD", "another password").args(["snapshots"]).output().unwrap();
    assert_eq!(code(&o), 12);
    assert!(stderr(&o).contains("key rotation is in progress"), "{}", stderr(&o));
    env.ok(&["snapshots"]);
    let st: serde_json::Value = serde_json::from_str(env.ok(&["key", "rotate", "--json"]).trim()).unwrap();
    assert_eq!(st["resumed"], true, "{st}");
    env.check();
}

#[test]
fn a_config_torn_while_a_rotation_replaces_it_is_read_from_the_rotation_key() {
    let env = Env::new();
    let want = repository(&env);
    let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(3));
    assert!(rotate::rotate(&mut open(fault), PASSWORD.as_bytes(), None, &|_| {}).is_err());
    let _ = std::fs::remove_dir_all(env.repo.join("locks"));
    // what a non-atomic upload (SFTP, WebDAV) leaves when it stops half-way
    let config = std::fs::read(env.repo.join("config")).unwrap();
    std::fs::write(env.repo.join("config"), &config[..config.len() / 2]).unwrap();
    env.ok(&["key", "rotate"]);
    env.check();
    assert_same_tree(&want, &env.restored(&format!("latest:{}", env.path("src").display()), "out"));
    // without a rotation key a torn config is an error, not a guess
    let config = std::fs::read(env.repo.join("config")).unwrap();
    std::fs::write(env.repo.join("config"), &config[..config.len() / 2]).unwrap();
    let o = env.run(&["snapshots"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("config"), "{}", stderr(&o));
}

#[test]
fn copies_made_before_a_rotation_of_the_source_are_not_made_again() {
    let env = Env::new();
    repository(&env);
    let target = env.path("target-repo");
    let to = |args: &[&str]| {
        let o =
            env.cmd().env("ARCA_FROM_PASSWORD", PASSWORD).env("ARCA_REPOSITORY", &target).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let from = env.repo.to_str().unwrap().to_string();
    to(&["init"]);
    to(&["copy", "--from-repo", &from]);
    env.ok(&["key", "rotate"]);
    let r: serde_json::Value =
        serde_json::from_str(to(&["copy", "--json", "--from-repo", &from]).lines().last().unwrap()).unwrap();
    assert!(r["copied"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["already_copied"].as_array().unwrap().len(), 1, "{r}");
}
