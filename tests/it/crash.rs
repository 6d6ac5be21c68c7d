#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash consistency: the real binary killed (SIGKILL) at random moments of backup, prune,
//! copy, key rotate and repair. After every kill the repository passes `check --read-data`,
//! every snapshot that existed before restores bit-identically, and the same command run
//! again succeeds; a backup run again uploads little more than what the killed run had not
//! stored yet. Each trial starts from a copy of the same repository, and the kill lands at a
//! uniformly random moment of an uninterrupted run's duration.
//!
//! Trials per command: `ARCA_TORTURE_TRIALS` (`cargo xtask torture` sets hundreds), else 4;
//! `ARCA_TORTURE_SEED` picks the moments (printed with every trial, to replay one).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use arca::backend::{self, Location};
use arca::chunker::ChunkerParams;
use arca::repo::{InitOptions, Repository};
use common::*;

/// Small chunks and 1 MiB packs, so a run makes many writes for a kill to fall between.
fn small_repo(env: &Env) {
    let opts = InitOptions {
        chunker: ChunkerParams { min: 64 * 1024, avg: 128 * 1024, max: 512 * 1024 },
        pack_size: 1 << 20,
        ..arca::test_repo::init_options()
    };
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    Repository::init(raw, PASSWORD.as_bytes(), &opts).unwrap();
}

fn trials() -> u64 {
    std::env::var("ARCA_TORTURE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(4)
}

struct Moments(u64);

impl Moments {
    fn new(salt: u64) -> Moments {
        let seed = std::env::var("ARCA_TORTURE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
        Moments(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// A moment in [0, 1.1 × `full`).
    fn next(&mut self, full: Duration) -> Duration {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        full.mul_f64((self.0 >> 11) as f64 / (1u64 << 53) as f64 * 1.1)
    }
}

/// Run arca with `args`; kill it after `after` unless it finished first. Returns whether it
/// ran to its end.
fn run_killed(env: &Env, args: &[&str], after: Duration) -> bool {
    let mut child = env.cmd().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// How long `args` takes without interruption, on a copy of `env`'s repository.
fn duration_of(env: &Env, args: &[&str]) -> Duration {
    let saved = env.path("repo-saved");
    copy_dir(&env.repo, &saved);
    let start = Instant::now();
    env.ok(args);
    let d = start.elapsed();
    copy_dir(&saved, &env.repo);
    d
}

/// Bytes of the pack files under `repo/data`, by path relative to `repo`.
fn pack_bytes(repo: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    for d in std::fs::read_dir(repo.join("data")).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.insert(f.path().strip_prefix(repo).unwrap().to_path_buf(), f.metadata().unwrap().len());
            }
        }
    }
    out
}

/// After a kill: stale locks go (the process is dead), then everything must check.
fn after_kill(env: &Env) {
    env.ok(&["unlock"]);
    env.check();
}

/// One trial: the repository reset to `base`, `args` run and killed at the next moment,
/// stale locks removed and everything checked.
fn kill_trial(env: &Env, base: &Path, args: &[&str], full: Duration, moments: &mut Moments, trial: u64) {
    copy_dir(base, &env.repo);
    let at = moments.next(full);
    let finished = run_killed(env, args, at);
    eprintln!("{args:?} trial {trial}: killed at {at:?} of {full:?} (finished: {finished})");
    after_kill(env);
}

/// Every snapshot restores as the state its tag names (`a` or `b`).
fn each_restores_as_tagged(env: &Env, src: &Path, a: &BTreeMap<PathBuf, Meta>, b: &BTreeMap<PathBuf, Meta>) {
    for (id, tag) in snapshots_by_tag(env) {
        restore_is(env, &id, src, if tag == "a" { a } else { b }, "out");
    }
}

fn sorted_tags(env: &Env) -> Vec<String> {
    let mut tags: Vec<_> = snapshots_by_tag(env).into_iter().map(|s| s.1).collect();
    tags.sort();
    tags
}

fn snapshots_by_tag(env: &Env) -> Vec<(String, String)> {
    let out = env.ok(&["snapshots", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s["tags"][0].as_str().unwrap_or("").to_string()))
        .collect()
}

fn restore_is(env: &Env, snapshot: &str, src: &Path, want: &BTreeMap<PathBuf, Meta>, name: &str) {
    let out = env.path(name);
    let _ = std::fs::remove_dir_all(&out);
    env.ok(&["restore", &format!("{snapshot}:{}", src.display()), "--target", out.to_str().unwrap()]);
    assert_same_tree(want, &describe(&out));
    std::fs::remove_dir_all(&out).unwrap();
}

/// Two states of a source tree, `a` and `b`; `b` changes, adds and removes files.
fn source(env: &Env, state: u64) -> PathBuf {
    let src = env.path("src");
    let _ = std::fs::remove_dir_all(&src);
    for i in 0..12u64 {
        if state == 1 && i % 4 == 0 {
            continue;
        }
        let seed = if state == 1 && i % 3 == 0 { 1000 + i } else { i };
        write(&src.join(format!("d{}/f{i:02}", i % 3)), &noise(700_000, seed));
    }
    if state == 1 {
        write(&src.join("new/big"), &noise(3_000_000, 77));
    }
    src
}

#[test]
fn a_killed_backup_leaves_earlier_snapshots_whole_and_the_rerun_uploads_little() {
    let env = Env::new();
    small_repo(&env);
    let src = source(&env, 0);
    let a = describe(&src);
    env.backup_json(&["--tag", "a", src.to_str().unwrap()]);
    let src = source(&env, 1);
    let b = describe(&src);
    let base = env.path("base");
    copy_dir(&env.repo, &base);
    let args = ["backup", "--tag", "b", "-q", src.to_str().unwrap()];
    let full = duration_of(&env, &args);
    let whole = {
        let s = env.backup_json(&["--tag", "b", src.to_str().unwrap()]);
        copy_dir(&base, &env.repo);
        s["data_added_packed"].as_u64().unwrap()
    };
    let mut moments = Moments::new(1);
    for trial in 0..trials() {
        let before = pack_bytes(&base);
        kill_trial(&env, &base, &args, full, &mut moments, trial);
        let snaps = snapshots_by_tag(&env);
        let a_id = &snaps.iter().find(|s| s.1 == "a").unwrap().0;
        restore_is(&env, a_id, &src, &a, "out-a");
        // what the killed run stored and the rerun may reuse
        let kept: u64 = pack_bytes(&env.repo).iter().filter(|(p, _)| !before.contains_key(*p)).map(|(_, n)| n).sum();
        let rerun = env.backup_json(&["--tag", "b", src.to_str().unwrap()]);
        let again = rerun["data_added_packed"].as_u64().unwrap();
        // at most: what was not stored yet, plus the packs open at the kill (2 uploaders of
        // 1 MiB packs, and the trees)
        let bound = whole.saturating_sub(kept) + (3 << 20);
        assert!(
            again <= bound,
            "trial {trial}: the rerun stored {again} bytes, bound {bound} (whole {whole}, kept {kept})"
        );
        env.check();
        each_restores_as_tagged(&env, &src, &a, &b);
    }
}

#[test]
fn a_killed_prune_or_repair_leaves_the_kept_snapshots_whole() {
    let env = Env::new();
    small_repo(&env);
    for round in 0..3u64 {
        let src = source(&env, round % 2);
        write(&src.join("round"), &noise(900_000, 500 + round));
        env.backup_json(&["--tag", "old", src.to_str().unwrap()]);
    }
    let src = source(&env, 1);
    let want = describe(&src);
    env.backup_json(&["--tag", "kept", src.to_str().unwrap()]);
    env.ok(&["forget", "--tag", "old", "--keep-last", "1"]);
    let kept: Vec<_> = snapshots_by_tag(&env);
    let base = env.path("base");
    copy_dir(&env.repo, &base);
    let commands: [&[&str]; 2] =
        [&["prune", "--keep-delete", "0s", "--max-unused", "0", "-q"], &["repair", "index", "-q"]];
    for (c, args) in commands.iter().enumerate() {
        let full = duration_of(&env, args);
        let mut moments = Moments::new(2 + c as u64);
        for trial in 0..trials() {
            kill_trial(&env, &base, args, full, &mut moments, trial);
            assert_eq!(snapshots_by_tag(&env), kept);
            env.ok(args);
            env.check();
            let id = &kept.iter().find(|s| s.1 == "kept").unwrap().0;
            restore_is(&env, id, &src, &want, "out");
        }
    }
    // the last prune left nothing to do
    let idle = env.prune(&["--keep-delete", "0s", "--max-unused", "0"]);
    assert_eq!(idle["packs_deleted"], 0, "{idle}");
}

#[test]
fn a_killed_copy_resumes_without_copying_a_snapshot_twice() {
    let from = Env::new();
    small_repo(&from);
    let src = source(&from, 0);
    let a = describe(&src);
    from.backup_json(&["--tag", "a", src.to_str().unwrap()]);
    let src = source(&from, 1);
    let b = describe(&src);
    from.backup_json(&["--tag", "b", src.to_str().unwrap()]);
    let to = Env::new();
    small_repo(&to);
    let base = to.path("base");
    copy_dir(&to.repo, &base);
    let pass = from.path("pass");
    std::fs::write(&pass, PASSWORD).unwrap();
    let args =
        ["copy", "--from-repo", from.repo.to_str().unwrap(), "--from-password-file", pass.to_str().unwrap(), "-q"];
    let full = duration_of(&to, &args);
    let mut moments = Moments::new(4);
    for trial in 0..trials() {
        kill_trial(&to, &base, &args, full, &mut moments, trial);
        // whatever arrived is whole
        each_restores_as_tagged(&to, &src, &a, &b);
        to.ok(&args);
        to.check();
        assert_eq!(sorted_tags(&to), ["a", "b"], "trial {trial}: each snapshot copied once");
    }
}

#[test]
fn a_killed_key_rotation_leaves_a_readable_repository_and_finishes_on_rerun() {
    let env = Env::new();
    small_repo(&env);
    let src = source(&env, 0);
    let a = describe(&src);
    env.backup_json(&["--tag", "a", src.to_str().unwrap()]);
    let src = source(&env, 1);
    let b = describe(&src);
    env.backup_json(&["--tag", "b", src.to_str().unwrap()]);
    let base = env.path("base");
    copy_dir(&env.repo, &base);
    let args = ["key", "rotate", "-q"];
    let full = duration_of(&env, &args);
    let mut moments = Moments::new(5);
    for trial in 0..trials() {
        kill_trial(&env, &base, &args, full, &mut moments, trial);
        each_restores_as_tagged(&env, &src, &a, &b);
        env.ok(&args);
        env.check();
        assert_eq!(sorted_tags(&env), ["a", "b"], "trial {trial}");
        assert_eq!(env.ok(&["key", "list", "--json"]).matches("\"id\"").count(), 1, "trial {trial}: one key left");
    }
}
