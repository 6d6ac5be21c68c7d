#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Restore never touches anything outside its target, even while another local user who owns
//! part of the target swaps each restored directory for a symlink to a directory elsewhere
//! (issue 19, point 1). And the options for restoring snapshots one does not trust.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{is_root, Env};

const FILES_PER_DIR: usize = 2000;
/// The directories of the snapshot (below the restored `src`), with their stored modes.
const DIRS: [(&str, u32); 4] = [("open", 0o777), ("private", 0o700), ("open/deeper", 0o777), ("private/deeper", 0o755)];

/// Everything an attack could change about the sentinel: its mode and owner, and every entry
/// with its mode, owner and content.
type State = (u32, u32, u32, BTreeMap<String, (u32, u32, Vec<u8>)>);

fn sentinel_state(dir: &Path) -> State {
    let m = std::fs::symlink_metadata(dir).expect("sentinel");
    let mut entries = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("sentinel listing") {
        let e = e.expect("entry");
        let em = e.path().symlink_metadata().expect("entry metadata");
        let content = if em.is_file() { std::fs::read(e.path()).expect("read") } else { vec![] };
        entries.insert(e.file_name().to_string_lossy().into_owned(), (em.mode(), em.uid(), content));
    }
    (m.mode(), m.uid(), m.gid(), entries)
}

fn make_source(env: &Env) -> PathBuf {
    let src = env.path("src");
    for (d, _) in DIRS {
        std::fs::create_dir_all(src.join(d)).expect("mkdir");
    }
    for (d, _) in DIRS {
        for i in 0..FILES_PER_DIR / 2 {
            std::fs::write(src.join(d).join(format!("f{i:05}")), format!("{d} file {i}\n")).expect("write");
        }
    }
    for (d, mode) in DIRS.iter().rev() {
        std::fs::set_permissions(src.join(d), std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    src
}

/// The sentinel: a directory outside the target that nobody may touch, holding files with
/// the snapshot's names (so an overwrite through a symlink would show).
fn make_sentinel(at: &Path) {
    std::fs::create_dir(at).expect("sentinel");
    for name in ["f00000", "f00001", "keep-me"] {
        std::fs::write(at.join(name), b"sentinel content").expect("write");
        std::fs::set_permissions(at.join(name), std::fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o751)).expect("chmod");
    if is_root() {
        nix::unistd::chown(at, Some(nix::unistd::Uid::from_raw(4321)), Some(nix::unistd::Gid::from_raw(4321)))
            .expect("chown");
    }
}

/// Swap every directory of `DIRS` for a symlink to `sentinel` (moving the real one aside,
/// inside the target) as soon as restore has written a file into it, so that restore has
/// already checked it, until `stop`.
fn swapper(target: PathBuf, sentinel: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut swaps = 0;
        while !stop.load(Ordering::Relaxed) {
            for (d, _) in DIRS {
                let p = target.join(d);
                let restored_in = |p: &Path| std::fs::read(p.join("f00000")).is_ok_and(|c| c != b"old");
                if p.symlink_metadata().is_ok_and(|m| m.is_dir()) && restored_in(&p) {
                    let aside = target.join(format!("moved-{swaps}"));
                    if std::fs::rename(&p, &aside).is_ok() && std::os::unix::fs::symlink(&sentinel, &p).is_ok() {
                        swaps += 1;
                    }
                }
            }
        }
        swaps
    })
}

/// What changed between two sentinel states, briefly.
fn changes(before: &State, after: &State) -> Vec<String> {
    let mut out = vec![];
    if (before.0, before.1, before.2) != (after.0, after.1, after.2) {
        out.push(format!(
            "mode/owner {:o} {}:{} -> {:o} {}:{}",
            before.0, before.1, before.2, after.0, after.1, after.2
        ));
    }
    for (name, v) in &before.3 {
        match after.3.get(name) {
            None => out.push(format!("{name} deleted")),
            Some(w) if w != v => out.push(format!("{name} changed")),
            _ => {}
        }
    }
    let added = after.3.keys().filter(|k| !before.3.contains_key(*k)).count();
    if added > 0 {
        out.push(format!("{added} entries added"));
    }
    out
}

fn race(extra_args: &[&str], prefill: bool, trials: usize) {
    let env = Env::new();
    env.init();
    let src = make_source(&env);
    env.backup_json(&[src.to_str().expect("utf-8")]);
    let selector = format!("latest:{}", src.display());
    for trial in 0..trials {
        let target = env.path(&format!("target-{trial}"));
        let sentinel = env.path(&format!("sentinel-{trial}"));
        make_sentinel(&sentinel);
        if prefill {
            // a target that already holds the snapshot's directories, files and extras
            for (d, _) in DIRS {
                std::fs::create_dir_all(target.join(d)).expect("mkdir");
                std::fs::write(target.join(d).join("f00000"), b"old").expect("write");
                std::fs::write(target.join(d).join("extra"), b"not in the snapshot").expect("write");
            }
        } else {
            std::fs::create_dir(&target).expect("target");
        }
        let before = sentinel_state(&sentinel);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = swapper(target.clone(), sentinel.clone(), stop.clone());
        let mut args = vec!["restore", &selector, "--target", target.to_str().expect("utf-8")];
        args.extend_from_slice(extra_args);
        let out = env.run(&args);
        stop.store(true, Ordering::Relaxed);
        let swaps = thread.join().expect("swapper");
        assert!(swaps > 0, "trial {trial}: the swapper never got to swap a directory");
        let after = sentinel_state(&sentinel);
        let changed = changes(&before, &after);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            changed.is_empty(),
            "trial {trial} ({extra_args:?}): the sentinel outside the target changed ({swaps} swaps): {changed:?}; \
             restore said:\n{}",
            stderr.lines().take(10).collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn a_racing_swap_of_restored_directories_for_symlinks_never_reaches_outside() {
    race(&[], false, 3);
}

#[test]
fn delete_under_a_racing_swap_removes_nothing_outside() {
    race(&["--delete"], true, 3);
}

#[test]
fn overwrite_always_under_a_racing_swap_replaces_nothing_outside() {
    race(&["--overwrite", "always"], true, 3);
}

#[test]
fn restored_directories_end_with_their_stored_modes() {
    let env = Env::new();
    env.init();
    let src = make_source(&env);
    env.backup_json(&[src.to_str().expect("utf-8")]);
    let target = env.path("target");
    env.ok(&["restore", &format!("latest:{}", src.display()), "--target", target.to_str().expect("utf-8")]);
    for (d, mode) in DIRS {
        let m = std::fs::metadata(target.join(d)).expect("restored dir");
        assert_eq!(m.mode() & 0o7777, mode, "{d}");
        let subdirs = usize::from(!d.contains('/'));
        assert_eq!(std::fs::read_dir(target.join(d)).expect("list").count(), FILES_PER_DIR / 2 + subdirs);
    }
}

#[test]
fn untrusted_snapshot_options_drop_owners_devices_fifos_and_setuid() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("tool"), b"#!/bin/sh\n").expect("write");
    nix::unistd::mkfifo(&src.join("pipe"), nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    if is_root() {
        // before the chmod: a chown clears setuid and setgid
        nix::unistd::chown(
            &src.join("tool"),
            Some(nix::unistd::Uid::from_raw(4242)),
            Some(nix::unistd::Gid::from_raw(4243)),
        )
        .expect("chown");
        nix::sys::stat::mknod(
            &src.join("null"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .expect("mknod");
    }
    std::fs::set_permissions(src.join("tool"), std::fs::Permissions::from_mode(0o6755)).expect("chmod");
    env.backup_json(&[src.to_str().expect("utf-8")]);
    let sel = format!("latest:{}", src.display());

    let plain = env.path("plain");
    env.ok(&["restore", &sel, "--target", plain.to_str().expect("utf-8")]);
    let tool = std::fs::symlink_metadata(plain.join("tool")).expect("tool");
    assert_eq!(tool.mode() & 0o7777, 0o6755);
    assert!(plain.join("pipe").symlink_metadata().is_ok());
    if is_root() {
        assert_eq!((tool.uid(), tool.gid()), (4242, 4243));
        assert!(plain.join("null").symlink_metadata().is_ok());
    }

    let careful = env.path("careful");
    let out = env.ok(&[
        "restore",
        &sel,
        "--target",
        careful.to_str().expect("utf-8"),
        "--no-owner",
        "--no-special",
        "--no-setuid",
    ]);
    let tool = std::fs::symlink_metadata(careful.join("tool")).expect("tool");
    assert_eq!(tool.mode() & 0o7777, 0o755, "setuid and setgid dropped");
    let me = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    assert_eq!((tool.uid(), tool.gid()), me, "owned by the restoring user");
    assert!(careful.join("pipe").symlink_metadata().is_err(), "no fifo: {out}");
    assert!(careful.join("null").symlink_metadata().is_err(), "no device node");
}
