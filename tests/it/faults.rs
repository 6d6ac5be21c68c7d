#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Storage that fails: a backup that dies at any write leaves a valid repository whose
//! earlier snapshots restore bit-identically; transient failures are retried.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use arca::archiver::{BackupOptions, Progress};
use arca::backend::{self, fault::FaultBackend, DynBackend, Location, RetryBackend, RetryPolicy};
use arca::commands::backup::{self, BackupCommand, Input};
use arca::repo::Repository;
use common::*;

fn backup_with(backend: DynBackend, src: &std::path::Path) -> arca::error::Result<backup::BackupReport> {
    let repo = Arc::new(Repository::open(backend, PASSWORD.as_bytes())?);
    let cmd = BackupCommand {
        input: Input::Paths(vec![src.to_path_buf()]),
        tags: vec![],
        host: Some("test".into()),
        time: None,
        parent: None,
        force: false,
        excludes_used: vec![],
        skip_if_unchanged: false,
        engine: BackupOptions { uploaders: 2, ..Default::default() },
    };
    backup::run(repo, cmd, &Progress::default(), &|_| {})
}

fn raw(env: &Env) -> DynBackend {
    backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap()
}

#[test]
fn a_backup_that_dies_at_any_write_leaves_a_valid_repository() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..6 {
        write(&src.join(format!("f{i}")), &noise(900_000, i));
    }
    env.init();
    let first = env.backup_json(&[src.to_str().unwrap()]);
    let first_id = first["snapshot_id"].as_str().unwrap().to_string();
    let want = describe(&src);
    for i in 0..6 {
        write(&src.join(format!("g{i}")), &noise(900_000, 100 + i));
    }
    // Writes of the second backup: lock, packs, index, snapshot, unlock. Crash at each.
    for crash_at in 1..12 {
        let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(crash_at));
        let r = backup_with(fault, &src);
        if r.is_ok() {
            // the crash point was after every write of a whole backup (lock removal)
            continue;
        }
        let err = r.err().unwrap();
        assert!(err.message.contains("injected crash"), "unexpected error: {}", err.message);
        env.check();
        let out = env.path(&format!("out{crash_at}"));
        let sel = format!("{}:{}", &first_id[..8], src.display());
        env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify"]);
        let mut got = describe(&out);
        got.retain(|p, _| want.contains_key(p));
        assert_same_tree(&want, &got);
        std::fs::remove_dir_all(&out).unwrap();
    }
    // remove stale locks of the crashed runs (same pid, so not detectable as dead)
    env.ok(&["unlock", "--remove-all"]);
    let s = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(s["errors"], 0);
    env.check();
}

#[test]
fn transient_failures_are_retried() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..4 {
        write(&src.join(format!("f{i}")), &noise(300_000, i));
    }
    env.init();
    let flaky: DynBackend = Arc::new(FaultBackend::new(raw(&env)).transient_every(3));
    let retrying: DynBackend = Arc::new(RetryBackend::new(
        flaky,
        RetryPolicy { attempts: 5, base: Duration::from_millis(1), max: Duration::from_millis(5) },
    ));
    let r = backup_with(retrying, &src).unwrap();
    assert_eq!(r.files_new, 4);
    env.check();
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify"]);
    assert_same_tree(&describe(&src), &describe(&out));
}

#[test]
fn a_permanent_failure_is_reported_not_retried_forever() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), &noise(10_000, 1));
    env.init();
    let flaky: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(1));
    let started = std::time::Instant::now();
    let err = backup_with(flaky, &src).expect_err("a backup on failing storage must fail");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.message.contains("locks/"), "the error does not name the object: {}", err.message);
}

#[test]
fn the_next_backup_reuses_packs_of_an_interrupted_one() {
    // Crash at the Nth write of a first backup, for every N up to the snapshot write.
    let mut hit_snapshot = false;
    for n in 1..50 {
        let env = Env::new();
        let src = env.path("src");
        for i in 0..5 {
            write(&src.join(format!("f{i}")), &noise(700_000, i));
        }
        env.init();
        let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(n));
        let err = match backup_with(fault, &src) {
            Err(e) => e,
            Ok(_) => break, // past the last write: every crash point was tried
        };
        env.ok(&["unlock", "--remove-all"]);
        env.check();
        let s = env.backup_json(&[src.to_str().unwrap()]);
        if err.message.contains("snapshots/") {
            hit_snapshot = true;
            // packs and index were stored: nothing needs uploading again
            assert_eq!(s["data_blobs"], 0, "crash at write {n}: data uploaded again: {s}");
        }
        env.check();
    }
    assert!(hit_snapshot, "no crash point hit the snapshot write");
}

#[test]
fn packs_without_an_index_are_adopted() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..3 {
        write(&src.join(format!("f{i}")), &noise(500_000, i));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    // lose every index file and the snapshot: only packs remain, as after a crash
    for dir in ["index", "snapshots"] {
        std::fs::remove_dir_all(env.repo.join(dir)).unwrap();
        std::fs::create_dir_all(env.repo.join(dir)).unwrap();
    }
    let s = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(s["data_blobs"], 0, "{s}");
    env.check();
}

#[test]
fn stale_temporary_files_are_removed() {
    let env = Env::new();
    env.init();
    let tmp = env.repo.join(".arca-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // named as OpenDAL names arca's writes in progress: `<object name>.<8 letters or digits>`
    // (files of other names are never removed: tests/hostile.rs)
    let stale = tmp.join(format!("{}.LeftByCr", "ab".repeat(32)));
    let fresh = tmp.join(format!("{}.Writing0", "cd".repeat(32)));
    write(&stale, b"partial");
    write(&fresh, b"partial");
    let two_days_ago = nix::sys::time::TimeSpec::new(
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 2 * 86400) as i64,
        0,
    );
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &stale,
        &two_days_ago,
        &two_days_ago,
        nix::sys::stat::UtimensatFlags::FollowSymlink,
    )
    .unwrap();
    env.ok(&["snapshots"]);
    assert!(!stale.exists(), "a day-old temporary file was kept");
    assert!(fresh.exists(), "a fresh temporary file (a write in progress) was removed");
}

/// The production wrapper stack around a fault injector, with quick retries.
fn stacked(fault: FaultBackend) -> DynBackend {
    let opts = backend::StackOptions {
        retry: RetryPolicy { attempts: 6, base: Duration::from_millis(1), max: Duration::from_millis(5) },
        ..Default::default()
    };
    backend::stack(Arc::new(fault), 4, &opts)
}

fn source_of(env: &Env, files: u64) -> std::path::PathBuf {
    let src = env.path("src");
    for i in 0..files {
        write(&src.join(format!("f{i}")), &noise(400_000, i));
    }
    src
}

#[test]
fn a_random_share_of_transient_failures_is_survived() {
    for seed in 0..3 {
        let env = Env::new();
        let src = source_of(&env, 5);
        env.init();
        let r = backup_with(stacked(FaultBackend::new(raw(&env)).transient_share(200, seed)), &src).unwrap();
        assert_eq!(r.files_new, 5, "seed {seed}");
        env.check();
        assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
    }
}

#[test]
fn a_write_the_storage_dropped_or_truncated_is_noticed_and_written_again() {
    for how in ["drop", "truncate"] {
        let env = Env::new();
        let src = source_of(&env, 4);
        env.init();
        let fault = FaultBackend::new(raw(&env));
        let fault = match how {
            "drop" => fault.drop_writes("data/", 2),
            _ => fault.truncate_writes("data/", 2),
        };
        backup_with(stacked(fault), &src).unwrap_or_else(|e| panic!("{how}: {e}"));
        env.check();
        assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
    }
}

#[test]
fn storage_that_never_keeps_a_pack_ends_the_backup_cleanly() {
    let env = Env::new();
    let src = source_of(&env, 3);
    env.init();
    let err = backup_with(stacked(FaultBackend::new(raw(&env)).drop_writes("data/", u64::MAX)), &src)
        .expect_err("a backup whose packs never land must fail");
    assert!(err.message.contains("data/"), "the error names the pack: {}", err.message);
    assert!(err.message.contains("does not have it"), "{}", err.message);
    assert!(env.snapshot_ids().is_empty(), "no snapshot may reference packs that are not stored");
    env.check();
}

#[test]
fn a_slow_storage_gives_the_same_backup() {
    let env = Env::new();
    let src = source_of(&env, 3);
    env.init();
    backup_with(stacked(FaultBackend::new(raw(&env)).delay(Duration::from_millis(30))), &src).unwrap();
    env.check();
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
}

/// Listings that miss recent writes for a while (eventually consistent storage): a backup
/// that cannot see the previous one stores its data again (duplicates, legal), and a prune
/// that cannot see the newest snapshot only marks what it thinks unused; the next prune,
/// after the lag and before the grace period ends, sees the snapshot and keeps its data.
#[test]
fn listings_that_lag_behind_writes_lose_nothing() {
    use arca::maintenance::prune::{self, MaxUnused, PruneOptions};
    use arca::repo::LockMode;
    let env = Env::new();
    env.init();
    let lag = Duration::from_millis(1500);
    let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).list_lag(lag));
    let src = source_of(&env, 4);
    let first = backup_with(fault.clone(), &src).unwrap().snapshot_id.unwrap();
    std::thread::sleep(lag); // the first backup is listed from now on
    write(&src.join("f0"), &noise(400_000, 1000));
    let second = backup_with(fault.clone(), &src).unwrap().snapshot_id.unwrap().to_hex();
    let want = describe(&src);
    // forget the first; prune at once, while the second is not listed yet: the first's packs,
    // which hold most of the second's data, look unused
    let repo = Arc::new(Repository::open(fault.clone(), PASSWORD.as_bytes()).unwrap());
    repo.delete_snapshot(&first).unwrap();
    let opts = PruneOptions { max_unused: MaxUnused::Bytes(0), keep_delete: lag * 2, ..Default::default() };
    let lock = repo.lock("prune", LockMode::Maintenance).unwrap();
    let early = prune::prune(&repo, &opts, Some(&lock), &|_| {}).unwrap();
    drop(lock);
    assert_eq!(early.snapshots, 0, "the second snapshot is not listed yet: {early:?}");
    assert!(early.packs_marked > 0, "its packs look unused and are marked: {early:?}");
    assert_eq!(early.packs_deleted, 0, "nothing is deleted before its grace period: {early:?}");
    // the lag passes, the grace period has not: the second snapshot's data is kept
    std::thread::sleep(lag + Duration::from_millis(200));
    let repo = Arc::new(Repository::open(fault.clone(), PASSWORD.as_bytes()).unwrap());
    let lock = repo.lock("prune", LockMode::Maintenance).unwrap();
    let seen = prune::prune(&repo, &opts, Some(&lock), &|_| {}).unwrap();
    drop(lock);
    assert_eq!(seen.snapshots, 1, "{seen:?}");
    assert!(seen.packs_unmarked > 0, "the second snapshot's packs are live again: {seen:?}");
    std::thread::sleep(lag * 2);
    let repo = Arc::new(Repository::open(fault, PASSWORD.as_bytes()).unwrap());
    let lock = repo.lock("prune", LockMode::Maintenance).unwrap();
    prune::prune(&repo, &opts, Some(&lock), &|_| {}).unwrap();
    drop(lock);
    env.check();
    assert_eq!(env.snapshot_ids(), std::slice::from_ref(&second));
    assert_same_tree(&want, &env.restored(&format!("{second}:{}", src.display()), "out"));
}
