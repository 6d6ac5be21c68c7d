#![allow(clippy::unwrap_used)]
//! Backups running while forget and prune run (two-phase, with no grace period so deletion is
//! attempted at every chance): afterwards the repository checks and every surviving snapshot
//! restores bit-identically. Backups run as threads of this process and as separate
//! processes; forget and prune run as separate processes.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arca::archiver::{BackupOptions, Progress};
use arca::backend::{self, Location};
use arca::commands::backup::{self, BackupCommand, Input};
use arca::repo::Repository;
use common::*;

const ROUNDS: u64 = 8;

/// Write round `round` of client `t`'s files: one of its own, one shared by all clients.
fn fill(dir: &std::path::Path, t: u64, round: u64) {
    write(&dir.join("own"), &noise(250_000 + round as usize * 1000, t * 100 + round));
    write(&dir.join("common"), &noise(300_000, 7 + round));
}

fn library_backup(env: &Env, dir: &std::path::Path, host: &str) -> String {
    let b = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(b, PASSWORD.as_bytes()).unwrap());
    let cmd = BackupCommand {
        input: Input::Paths(vec![dir.to_path_buf()]),
        tags: vec![],
        host: Some(host.into()),
        time: None,
        parent: None,
        force: false,
        excludes_used: vec![],
        engine: BackupOptions { uploaders: 2, ..Default::default() },
    };
    backup::run(repo, cmd, &Progress::default(), &|_| {}).unwrap().snapshot_id.unwrap()
}

fn process_backup(env: &Env, dir: &std::path::Path, host: &str) -> String {
    let s = env.backup_json(&["--host", host, dir.to_str().unwrap()]);
    s["snapshot_id"].as_str().unwrap().to_string()
}

/// Run `clients` backup loops (with `backup`) while forget + prune loop in processes; then
/// verify everything that survived.
fn backups_during_maintenance(backup: fn(&Env, &std::path::Path, &str) -> String) {
    let env = Arc::new(Env::new());
    env.init();
    let made: Arc<Mutex<HashMap<String, (u64, u64)>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut clients = vec![];
    for t in 0..3u64 {
        let (env, made) = (env.clone(), made.clone());
        clients.push(std::thread::spawn(move || {
            let dir = env.path(&format!("src{t}"));
            for round in 0..ROUNDS {
                fill(&dir, t, round);
                let id = backup(&env, &dir, &format!("h{t}"));
                made.lock().unwrap().insert(id, (t, round));
            }
        }));
    }
    let maint = {
        let (env, running) = (env.clone(), running.clone());
        std::thread::spawn(move || {
            let mut runs = 0;
            while running.load(Ordering::SeqCst) || runs < 2 {
                let o = env.run(&["forget", "--keep-last", "1", "--prune", "--keep-delete", "0s", "--max-unused", "0"]);
                // another prune may hold the maintenance lock; anything else is a failure
                assert!(o.status.success() || code(&o) == 11, "forget --prune failed: {}", stderr(&o));
                runs += 1;
            }
            runs
        })
    };
    for c in clients {
        c.join().unwrap();
    }
    running.store(false, Ordering::SeqCst);
    assert!(maint.join().unwrap() >= 2);
    env.ok(&["forget", "--keep-last", "1", "--prune", "--keep-delete", "0s"]);
    env.ok(&["prune", "--keep-delete", "0s"]);
    env.check();
    let made = made.lock().unwrap();
    let survivors = env.snapshot_ids();
    assert_eq!(survivors.len(), 3, "one snapshot per client is kept: {survivors:?}");
    for id in survivors {
        let (t, round) = made[&id];
        let expect = env.path(&format!("expect-{id}"));
        fill(&expect, t, round);
        let dir = env.path(&format!("src{t}"));
        let got = env.restored(&format!("{}:{}", &id[..8], dir.display()), &format!("got-{id}"));
        let want = describe(&expect);
        for (p, m) in &want {
            assert_eq!(got[p].content, m.content, "snapshot {id} (client {t}, round {round}): {p:?} differs");
        }
    }
}

#[test]
fn backups_in_threads_while_forget_and_prune_run() {
    backups_during_maintenance(library_backup);
}

#[test]
fn backups_in_processes_while_forget_and_prune_run() {
    backups_during_maintenance(process_backup);
}

/// A prune killed (SIGKILL) at any moment leaves a repository that checks, and the next prune
/// finishes the job.
#[test]
fn a_killed_prune_leaves_a_valid_repository() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..30 {
        write(&src.join(format!("f{i:02}")), &noise(120_000, i));
    }
    env.init();
    let mut ids = vec![];
    for round in 0..4u64 {
        for i in (round as usize..30).step_by(4) {
            write(&src.join(format!("f{i:02}")), &noise(120_000, 1000 * (round + 1) + i as u64));
        }
        ids.push(env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string());
    }
    let want = describe(&src);
    env.ok(&["forget", "--keep-last", "1"]);
    env.prune(&[]);
    for delay_ms in [5u64, 20, 40, 80, 160] {
        let mut child = env.cmd().args(["prune", "--keep-delete", "0s", "--max-unused", "0", "-q"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        env.ok(&["unlock"]); // the killed process is gone: its lock is stale
        env.check();
    }
    env.prune(&["--keep-delete", "0s", "--max-unused", "0"]);
    env.check();
    let idle = env.prune(&["--keep-delete", "0s", "--max-unused", "0"]);
    assert_eq!(idle["packs_deleted"], 0, "{idle}");
    assert_eq!(idle["bytes_unused"], 0, "{idle}");
    assert_same_tree(&want, &env.restored(&format!("latest:{}", src.display()), "out"));
}
