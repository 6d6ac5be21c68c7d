#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Storage that stops at the Nth write or delete, for every N, during copy, `repair index` and
//! `repair snapshots` (backup: `faults.rs`, prune: `prune.rs`, key rotate: `rotate.rs`). After
//! each stop the repository checks and everything that restored before still restores; the
//! command run again finishes the job.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use arca::backend::{fault::FaultBackend, DynBackend};
use arca::maintenance::check::{self, ReadData};
use arca::maintenance::repair;
use arca::repo::{pack_path, LockMode, Repository};
use common::*;

/// More crash points than any of these commands has writes: the loop must end by success.
const MAX_POINTS: u64 = 400;

fn open(backend: DynBackend) -> Arc<Repository> {
    Arc::new(Repository::open(backend, PASSWORD.as_bytes()).unwrap())
}

/// Run `command` against `env`'s repository reset to `template`, through storage that stops at
/// the 1st, 2nd, ... write or delete, until a run gets through; after each stopped run the
/// dead run's lock is removed and `after(n)` checks what the stop at `n` left.
fn each_stop<T>(
    env: &Env,
    template: &Path,
    command: impl Fn(&Arc<Repository>) -> arca::error::Result<T>,
    mut after: impl FnMut(u64),
) {
    for n in 1..MAX_POINTS {
        copy_dir(template, &env.repo);
        let repo = open(Arc::new(FaultBackend::new(raw_backend(&env.repo)).crash_at(n)));
        match command(&repo) {
            Ok(_) => return,
            Err(e) => assert!(e.message.contains("injected crash"), "stop at {n}: unexpected error {e}"),
        }
        drop(repo);
        drop_dead_locks(env);
        after(n);
    }
    panic!("the command never got through {MAX_POINTS} writes");
}

/// What a killed run leaves: its lock. Ours lives on in this process, so it is removed by hand.
fn drop_dead_locks(env: &Env) {
    let _ = std::fs::remove_dir_all(env.repo.join("locks"));
}

fn assert_checks(env: &Env, when: &str) {
    let report = check::check(&open(raw_backend(&env.repo)), ReadData::All).unwrap();
    assert!(report.ok(), "{when}: {:?} {:?}", report.errors, report.damaged);
}

/// Three snapshots of a changing tree, each a separate index file.
fn three_snapshots(env: &Env) -> Vec<(String, std::collections::BTreeMap<std::path::PathBuf, Meta>)> {
    let src = env.path("src");
    env.init();
    let mut states = vec![];
    for round in 0..3u64 {
        for i in 0..3 {
            write(&src.join(format!("r{round}/f{i}")), &noise(200_000, round * 10 + i));
        }
        let id = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
        states.push((id, describe(&src)));
    }
    states
}

fn assert_restores(env: &Env, states: &[(String, std::collections::BTreeMap<std::path::PathBuf, Meta>)], tag: &str) {
    let src = env.path("src");
    for (id, want) in states {
        let out = format!("{tag}-{}", &id[..8]);
        assert_same_tree(want, &env.restored(&format!("{}:{}", &id[..8], src.display()), &out));
        std::fs::remove_dir_all(env.path(&out)).unwrap();
    }
}

#[test]
fn a_copy_stopped_at_any_write_leaves_both_repositories_valid_and_resumes() {
    let source = Env::new();
    let states = three_snapshots(&source);
    let target = Env::new();
    let o = target
        .cmd()
        .env("ARCA_FROM_PASSWORD", PASSWORD)
        .args(["init", "--from-repo", source.repo.to_str().unwrap(), "--copy-chunker-params"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let template = target.path("template");
    copy_dir(&target.repo, &template);
    let from = open(raw_backend(&source.repo));

    let copy = |dst: &Arc<Repository>| {
        let lock = dst.lock("copy", LockMode::Shared)?;
        arca::commands::copy::run(&from, dst, from.snapshots()?, &lock, &|_| {})
    };
    each_stop(&target, &template, copy, |n| {
        assert_checks(&target, &format!("stop at {n}"));
        // the run again copies what is missing, once
        let o = target
            .cmd()
            .env("ARCA_FROM_PASSWORD", PASSWORD)
            .args(["copy", "--from-repo", source.repo.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "re-run after stop at {n}: {}", stderr(&o));
        assert_eq!(target.snapshot_ids().len(), 3, "stop at {n}: a snapshot copied twice or not at all");
        assert_checks(&target, &format!("re-run after stop at {n}"));
    });
    // the target restores every snapshot exactly as the source recorded it (last full run)
    let src = source.path("src");
    let copied: Vec<serde_json::Value> = serde_json::from_str(&target.ok(&["snapshots", "--json"])).unwrap();
    for (id, want) in &states {
        let copy = copied.iter().find(|s| s["original"].as_str() == Some(id.as_str()));
        let copy = copy.unwrap_or_else(|| panic!("no copy of {id} in {copied:?}"))["id"].as_str().unwrap();
        let out = format!("from-{}", &id[..8]);
        assert_same_tree(want, &target.restored(&format!("{}:{}", &copy[..8], src.display()), &out));
    }
}

fn repair_index(repo: &Arc<Repository>) -> arca::error::Result<repair::RepairIndexReport> {
    let lock = repo.lock("repair index", LockMode::Exclusive)?;
    repair::repair_index(repo, false, false, Some(&lock), &|_| {})
}

#[test]
fn a_repair_index_stopped_at_any_write_or_delete_loses_nothing() {
    let env = Env::new();
    let states = three_snapshots(&env);
    let template = env.path("template");
    copy_dir(&env.repo, &template);

    each_stop(&env, &template, repair_index, |n| {
        // the index it was replacing is never removed before its replacement is stored
        assert_checks(&env, &format!("stop at {n}"));
        assert_restores(&env, &states, &format!("stop{n}"));
    });
    assert_checks(&env, "after the full run");
}

#[test]
fn a_repair_index_of_a_lost_index_stopped_at_any_write_finishes_on_rerun() {
    let env = Env::new();
    let states = three_snapshots(&env);
    let first = std::fs::read_dir(env.repo.join("index")).unwrap().next().unwrap().unwrap().path();
    std::fs::remove_file(first).unwrap();
    let template = env.path("template");
    copy_dir(&env.repo, &template);

    each_stop(&env, &template, repair_index, |n| {
        env.ok(&["repair", "index"]);
        assert_checks(&env, &format!("re-run after stop at {n}"));
        assert_restores(&env, &states, &format!("stop{n}"));
    });
}

#[test]
fn a_repair_snapshots_stopped_at_any_write_keeps_the_intact_snapshots_and_finishes_on_rerun() {
    let env = Env::new();
    let src = env.path("src");
    env.init();
    write(&src.join("keep/file"), &noise(150_000, 1));
    let intact = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    let intact_tree = describe(&src);
    write(&src.join("lost/file"), &noise(150_000, 2));
    env.backup_json(&["--compression", "off", src.to_str().unwrap()]);
    // lose the pack holding `lost/file`'s content
    let repo = open(raw_backend(&env.repo));
    let (_, snap) = repo.snapshots().unwrap().into_iter().max_by_key(|(_, s)| s.time.clone()).unwrap();
    let node = repo.find_path(&snap.tree, &format!("{}/lost/file", src.display())).unwrap().unwrap();
    let loc = repo.index().unwrap().get(&node.content[0]).unwrap();
    std::fs::remove_file(env.repo.join(pack_path(&loc.pack))).unwrap();
    drop(repo);
    env.ok(&["repair", "index"]);
    let template = env.path("template");
    copy_dir(&env.repo, &template);

    let repair_snapshots = |repo: &Arc<Repository>| {
        let lock = repo.lock("repair snapshots", LockMode::Shared)?;
        repair::repair_snapshots(repo, repo.snapshots()?, true, false, Some(&lock))
    };
    each_stop(&env, &template, repair_snapshots, |n| {
        let sel = format!("{}:{}", &intact[..8], src.display());
        assert_same_tree(&intact_tree, &env.restored(&sel, &format!("intact{n}")));
        env.ok(&["repair", "snapshots", "--forget"]);
        assert_checks(&env, &format!("re-run after stop at {n}"));
        let all = env.snapshot_ids();
        assert_eq!(all.len(), 2, "stop at {n}: the repaired snapshot is stored once: {all:?}");
    });
    assert_checks(&env, "after the full run");
}
