#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca watch --backend fanotify` as a real process (we run as root here, and so does CI):
//! the same round of real changes as the inotify watch, each restored equal to the live tree;
//! the file system's other changes (it is marked whole) start no backup; an overflowing queue
//! falls back to a full walk; without the privilege, `fanotify` is refused by name and `auto`
//! takes inotify.

use crate::common::{write, Env};
use crate::watch::{every_change_round, matches_live, overflow_round, Watch};

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::Duration;

/// Is this process root with the capabilities fanotify needs? Other users skip with a note.
fn root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: fanotify's filesystem marks need root");
    }
    root
}

#[test]
fn fanotify_backs_up_every_change_and_restores_to_the_live_tree() {
    if root() {
        every_change_round("fanotify");
    }
}

#[test]
fn a_change_elsewhere_on_the_marked_file_system_starts_no_backup() {
    if !root() {
        return;
    }
    let env = Env::new();
    env.init();
    let src = env.path("src");
    let outside = env.path("outside");
    write(&src.join("kept"), b"kept");
    write(&outside.join("d/old"), b"old");
    let w = Watch::start(&env, &src, "fanotify");
    w.wait_backup(1);
    // the same file system as src (one temporary directory): every kind of change beside it
    write(&outside.join("d/new"), b"new");
    write(&outside.join("d/old"), b"changed");
    std::fs::rename(outside.join("d"), outside.join("e")).unwrap();
    std::fs::create_dir(outside.join("f")).unwrap();
    std::fs::remove_file(outside.join("e/new")).unwrap();
    std::fs::set_permissions(outside.join("e"), std::fs::Permissions::from_mode(0o700)).unwrap();
    // a name that only shares src's prefix
    write(&env.path("src-sibling/x"), b"x");
    std::thread::sleep(Duration::from_secs(2));
    let log = w.lines.lock().unwrap().join("\n");
    assert_eq!(w.backups().len(), 1, "a change outside the watched path started a backup:\n{log}");
    // while the watch is alive: one change inside among more outside is a list of one path
    write(&outside.join("e/more"), b"more");
    write(&src.join("inside"), b"inside");
    write(&outside.join("f/more"), b"more");
    let line = w.wait_backup(2);
    assert!(line.contains("change list of 1 path: exit 0"), "{line}");
    std::thread::sleep(Duration::from_millis(600));
    matches_live(&env, &src, "after-inside");
}

#[test]
fn an_overflowing_fanotify_queue_falls_back_to_a_full_walk() {
    if !root() {
        return;
    }
    overflow_round("/proc/sys/fs/fanotify/max_queued_events", "fanotify");
}

/// `arca watch --backend BACKEND src` as `nobody`, its cache directory nobody's, for at most
/// `secs` seconds (then killed); what it printed.
fn watch_as_nobody(env: &Env, src: &std::path::Path, backend: &str, secs: u64) -> Output {
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(env.path("cache")).unwrap();
    let chown = Command::new("chown").args(["-R", "65534:65534"]).arg(env.path("cache")).status().unwrap();
    assert!(chown.success());
    let c = env.cmd();
    let mut w = Command::new("timeout");
    w.args(["-s", "TERM", &secs.to_string(), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_arca"));
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            w.env(k, v);
        }
    }
    w.args(["watch", "--debounce", "300ms", "--backend", backend]).arg(src).output().unwrap()
}

#[test]
fn fanotify_without_the_privilege_is_refused_by_name_and_auto_takes_inotify() {
    if !root() {
        return;
    }
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"f");
    // as root, auto takes fanotify
    let w = Watch::start(&env, &src, "auto");
    let start = w.wait_line("the start line", |l| l.contains("watch: watching"));
    assert!(start.contains("with fanotify (auto: CAP_SYS_ADMIN held"), "{start}");
    drop(w);
    let o = watch_as_nobody(&env, &src, "fanotify", 20);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stdout: {}\nstderr: {err}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains("--backend fanotify") && err.contains("CAP_SYS_ADMIN"), "{err}");
    assert!(err.contains("--backend inotify or auto"), "no hint: {err}");
    assert!(o.stdout.is_empty(), "it watched anyway: {}", String::from_utf8_lossy(&o.stdout));
    // auto as nobody watches with inotify and says why (the backup child then fails on the
    // root-owned repository, which is not what this test looks at)
    let o = watch_as_nobody(&env, &src, "auto", 3);
    let out = String::from_utf8_lossy(&o.stdout);
    let start = out
        .lines()
        .find(|l| l.contains("watch: watching"))
        .unwrap_or_else(|| panic!("no start line; stdout: {out}\nstderr: {}", String::from_utf8_lossy(&o.stderr)));
    assert!(start.contains("with inotify (auto: fanotify unavailable: the process lacks CAP_SYS_ADMIN"), "{start}");
}

/// Events inside a directory that is removed before they are read name a handle that no
/// longer opens: they are dropped (the removal names the directory in its parent), not
/// taken for a watcher failure, and the change-list backup still restores to the live tree.
#[test]
fn events_in_a_removed_directory_tree_need_no_full_walk() {
    if !root() {
        return;
    }
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a/b/c/old"), b"old");
    write(&src.join("a/kept"), b"kept");
    let w = Watch::start(&env, &src, "fanotify");
    w.wait_backup(1);
    // stopped, the watcher reads the events only after the directories are gone
    w.signal(nix::sys::signal::Signal::SIGSTOP);
    write(&src.join("a/b/c/new"), b"new");
    write(&src.join("a/b/other"), b"other");
    std::fs::remove_dir_all(src.join("a/b")).unwrap();
    write(&src.join("a/after"), b"after");
    w.signal(nix::sys::signal::Signal::SIGCONT);
    let line = w.wait_backup(2);
    let log = w.lines.lock().unwrap().join("\n");
    assert!(line.contains("change list of") && line.contains("exit 0"), "{line}\n{log}");
    assert!(!log.contains("watcher error"), "a removed directory was taken for a failure:\n{log}");
    std::thread::sleep(Duration::from_millis(600));
    matches_live(&env, &src, "after-removal");
}
