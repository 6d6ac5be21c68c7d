#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Backups running while forget and prune run (two-phase, with no grace period so deletion is
//! attempted at every chance): afterwards the repository checks and every surviving snapshot
//! restores bit-identically. Backups run as threads of this process and as separate
//! processes; forget and prune run as separate processes.

use crate::common;

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
        skip_if_unchanged: false,
        engine: BackupOptions { uploaders: 2, ..Default::default() },
    };
    backup::run(repo, cmd, &Progress::default(), &|_| {}).unwrap().snapshot_id.unwrap().to_hex()
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

/// A tiny seeded generator for kill moments (a failing run can be repeated with its seed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Run `arca args`; with `kill_after`, SIGKILL it then unless it finished. Returns the output
/// when it ran to its end.
fn run_or_kill(env: &Env, args: &[&str], kill_after: Option<std::time::Duration>) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = env.cmd().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if let Some(after) = kill_after {
        let deadline = std::time::Instant::now() + after;
        while std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return Some(child.wait_with_output().unwrap());
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(child.wait_with_output().unwrap())
}

/// Backups, forgets and prunes as separate processes, about half of them SIGKILLed at a random
/// moment, while the others run: a killed client's lock is stale at once (its process is
/// gone), every backup that reported success and survived forget restores bit-identically, and
/// the repository checks with `--read-data` throughout.
#[test]
fn clients_killed_at_random_moments_while_others_run() {
    let env = Arc::new(Env::new());
    env.init();
    let seed = std::env::var("ARCA_TORTURE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_u64);
    let rounds = std::env::var("ARCA_TORTURE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(6u64);
    // kill moments are drawn from 0 to 1.2 times an uninterrupted run's duration
    let timed = |args: &[&str]| {
        let t = std::time::Instant::now();
        env.ok(args);
        (t.elapsed().as_millis() as u64 * 6 / 5).max(5)
    };
    let warm = env.path("warm");
    fill(&warm, 9, 0);
    let backup_ms = timed(&["backup", "-q", "--host", "warm", warm.to_str().unwrap()]);
    let maint_ms = timed(&["forget", "-q", "--keep-last", "2", "--prune", "--keep-delete", "0s", "--max-unused", "0"]);
    let killed_backups = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let made: Arc<Mutex<HashMap<String, (u64, u64)>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut clients = vec![];
    for t in 0..3u64 {
        let (env, made, killed_backups) = (env.clone(), made.clone(), killed_backups.clone());
        clients.push(std::thread::spawn(move || {
            let mut rng = Lcg(seed ^ (t + 1));
            let dir = env.path(&format!("src{t}"));
            for round in 0..rounds {
                fill(&dir, t, round);
                let kill = (rng.below(2) == 0).then(|| std::time::Duration::from_millis(rng.below(backup_ms)));
                let args = ["backup", "--json", "-q", "--host", &format!("h{t}"), dir.to_str().unwrap()];
                match run_or_kill(&env, &args, kill) {
                    Some(o) => {
                        assert!(o.status.success(), "client {t} round {round}: {}", stderr(&o));
                        let s = summary(&String::from_utf8_lossy(&o.stdout));
                        made.lock().unwrap().insert(s["snapshot_id"].as_str().unwrap().to_string(), (t, round));
                    }
                    None => _ = killed_backups.fetch_add(1, Ordering::SeqCst),
                }
            }
        }));
    }
    let maint = {
        let (env, running) = (env.clone(), running.clone());
        std::thread::spawn(move || {
            let mut rng = Lcg(seed ^ 99);
            let (mut runs, mut killed) = (0, 0);
            while running.load(Ordering::SeqCst) {
                let kill = (rng.below(2) == 0).then(|| std::time::Duration::from_millis(rng.below(maint_ms)));
                let args = ["forget", "-q", "--keep-last", "2", "--prune", "--keep-delete", "0s", "--max-unused", "0"];
                match run_or_kill(&env, &args, kill) {
                    Some(o) => assert!(o.status.success() || code(&o) == 11, "forget --prune: {}", stderr(&o)),
                    None => killed += 1,
                }
                runs += 1;
            }
            (runs, killed)
        })
    };
    for c in clients {
        c.join().unwrap();
    }
    running.store(false, Ordering::SeqCst);
    let (runs, killed) = maint.join().unwrap();
    let killed_backups = killed_backups.load(Ordering::SeqCst);
    eprintln!("{} backups, {killed_backups} killed; {runs} forget --prune runs, {killed} killed", 3 * rounds);
    assert!(runs >= 2, "maintenance ran {runs} times ({killed} killed)");
    assert!(killed_backups > 0 && killed_backups < 3 * rounds, "{killed_backups} of {} backups killed", 3 * rounds);
    let o = env.run(&["check", "--read-data"]);
    assert!(o.status.success(), "after the run: {}", stderr(&o));
    env.ok(&["forget", "--keep-last", "2", "--prune", "--keep-delete", "0s", "--max-unused", "0"]);
    env.check();
    let made = made.lock().unwrap();
    for id in env.snapshot_ids() {
        let Some(&(t, round)) = made.get(&id) else {
            // a killed backup that stored its snapshot before dying: whole, but not in `made`
            let out = env.path(&format!("unknown-{id}"));
            env.ok(&["restore", &id[..8], "--target", out.to_str().unwrap(), "--verify"]);
            continue;
        };
        let expect = env.path(&format!("expect-{id}"));
        fill(&expect, t, round);
        let dir = env.path(&format!("src{t}"));
        let got = env.restored(&format!("{}:{}", &id[..8], dir.display()), &format!("got-{id}"));
        for (p, m) in &describe(&expect) {
            assert_eq!(got[p].content, m.content, "snapshot {id} (client {t}, round {round}): {p:?} differs");
        }
    }
}
