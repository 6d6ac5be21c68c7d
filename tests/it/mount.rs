#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca mount`: the virtual tree walked without FUSE, a real FUSE mount compared path by
//! path and byte by byte with the source, and the command's start and clean stop.

use crate::common;

use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca::backend::{self, Location};
use arca::format::tree::NodeKind;
use arca::mount::fuse::Fuse;
use arca::mount::vfs::{Fail, Vfs, VfsOptions, ROOT};
use arca::repo::Repository;
use common::*;

fn source(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(5_000_000, 11));
    write(&src.join("dir/small.txt"), b"small");
    write(&src.join("dir/empty"), b"");
    write(&src.join(os(b"caf\xe9-latin1")), b"not utf-8");
    std::fs::hard_link(src.join("big.bin"), src.join("dir/hard.bin")).unwrap();
    std::os::unix::fs::symlink("../big.bin", src.join("dir/link")).unwrap();
    nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    if xattrs_supported(&src) {
        xattr::set(src.join("dir/small.txt"), "user.tag", b"value").unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("dir/small.txt"), std::fs::Permissions::from_mode(0o604)).unwrap();
    src
}

fn vfs(env: &Env) -> Arc<Vfs> {
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(raw, PASSWORD.as_bytes()).unwrap());
    // a tree cache that keeps one tree: held entries are found again after eviction
    let opts = VfsOptions { cache_bytes: 2 << 20, tree_cache_bytes: 1, ..Default::default() };
    Arc::new(Vfs::new(repo, opts).unwrap())
}

/// Look a path up component by component from the root.
fn walk(v: &Vfs, path: &[u8]) -> u64 {
    let mut ino = ROOT;
    for c in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
        ino = v.lookup(ino, c).unwrap_or_else(|e| panic!("{}: {e:?}", String::from_utf8_lossy(c))).ino;
    }
    ino
}

#[test]
fn the_virtual_tree_serves_names_attributes_links_xattrs_and_any_byte_range() {
    let env = Env::new();
    let src = source(&env);
    env.init();
    let id = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    let v = vfs(&env);

    let names: Vec<_> = v.readdir(ROOT).unwrap().into_iter().map(|e| e.2).collect();
    assert_eq!(names, [&b"hosts"[..], b"ids", b"snapshots", b"tags"]);
    let latest = walk(&v, b"snapshots/latest");
    let target = v.readlink(latest).unwrap();
    assert!(v.readdir(walk(&v, b"snapshots")).unwrap().iter().any(|e| e.2 == target));
    let ids = v.readdir(walk(&v, b"ids")).unwrap();
    assert!(ids.iter().any(|e| e.2 == id.as_bytes()[..8]), "{ids:?}");

    let base = format!("snapshots/{}/{}", String::from_utf8_lossy(&target), src.display());
    let dir = walk(&v, base.as_bytes());
    let mut entries: Vec<_> = v.readdir(dir).unwrap().into_iter().map(|e| (e.2, e.1)).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        entries,
        vec![
            (b"big.bin".to_vec(), NodeKind::File),
            (b"caf\xe9-latin1".to_vec(), NodeKind::File),
            (b"dir".to_vec(), NodeKind::Dir),
            (b"fifo".to_vec(), NodeKind::Fifo)
        ]
    );
    let small = walk(&v, format!("{base}/dir/small.txt").as_bytes());
    let a = v.getattr(small).unwrap();
    assert_eq!((a.size, a.perm), (5, 0o604));
    if xattrs_supported(&src) {
        assert_eq!(v.getxattr(small, b"user.tag").unwrap(), b"value");
        assert_eq!(v.listxattr(small).unwrap(), b"user.tag\0");
        assert_eq!(v.getxattr(small, b"user.none"), Err(Fail::NoData));
    }
    let link = walk(&v, format!("{base}/dir/link").as_bytes());
    assert_eq!(v.readlink(link).unwrap(), b"../big.bin");
    let big = walk(&v, format!("{base}/big.bin").as_bytes());
    let hard = walk(&v, format!("{base}/dir/hard.bin").as_bytes());
    assert_eq!(big, hard, "hard links share an inode");
    assert_eq!(v.getattr(big).unwrap().nlink, 2);
    assert_eq!(v.lookup(dir, b"missing"), Err(Fail::NotFound));

    // random reads, across blob boundaries and past the end, through a 2 MiB cache
    let want = std::fs::read(src.join("big.bin")).unwrap();
    let fh = v.open(big).unwrap();
    let mut x = 7u64;
    for _ in 0..200 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let off = (x >> 33) % (want.len() as u64 + 1000);
        let len = ((x >> 13) % 300_000) as u32;
        let got = v.read(fh, off, len).unwrap();
        let end = (off as usize + len as usize).min(want.len());
        let expect = if (off as usize) < want.len() { &want[off as usize..end] } else { &[][..] };
        assert!(got == expect, "read({off}, {len}) differs");
    }
    // sequential reads with readahead give the whole file
    let mut all = vec![];
    let mut off = 0u64;
    loop {
        let chunk = v.read(fh, off, 131_072).unwrap();
        if chunk.is_empty() {
            break;
        }
        off += chunk.len() as u64;
        all.extend(chunk);
    }
    assert!(all == want);
    v.release(fh);

    // inodes are held only while the kernel holds them
    assert!(v.held_inodes() > 0);
    for ino in [small, link, big, hard, dir] {
        v.forget(ino, 1000);
    }
    assert!(v.held_inodes() < 20, "{}", v.held_inodes());
}

#[test]
fn new_snapshots_appear_after_the_refresh_interval() {
    let env = Env::new();
    let src = source(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(raw, PASSWORD.as_bytes()).unwrap());
    let v = Vfs::new(repo, VfsOptions { refresh: Duration::from_millis(300), ..Default::default() }).unwrap();
    let ids = |v: &Vfs| v.readdir(walk(v, b"ids")).unwrap().len();
    assert_eq!(ids(&v), 2);
    env.backup_json(&["--tag", "later", src.to_str().unwrap()]);
    assert_eq!(ids(&v), 2, "not before the interval: listing storage on every readdir would be slow");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(ids(&v), 3);
    assert!(v.lookup(walk(&v, b"tags"), b"later").is_ok());
}

/// FUSE usable here? Tests that need it are skipped without it, unless CI requires it.
pub(crate) fn fuse_ready() -> bool {
    let ok = std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").is_ok();
    if !ok && std::env::var_os("ARCA_TEST_REQUIRE_FUSE").is_some() {
        panic!("ARCA_TEST_REQUIRE_FUSE is set but /dev/fuse is not usable");
    }
    if !ok {
        eprintln!("skipping: /dev/fuse is not usable here");
    }
    ok
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_real_mount_shows_every_path_type_mode_time_link_xattr_and_byte_of_the_source() {
    if !fuse_ready() {
        return;
    }
    let env = Env::new();
    let src = source(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let mnt = env.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut config = fuser::Config::default();
    config.mount_options = vec![fuser::MountOption::RO, fuser::MountOption::FSName("arca-test".into())];
    config.n_threads = Some(4);
    let session = fuser::spawn_mount(Fuse(vfs(&env)), &mnt, &config).unwrap();
    let inside = mnt.join("snapshots/latest").join(src.strip_prefix("/").unwrap());
    wait_for("the mount", || inside.exists());
    assert_same_tree(&describe(&src), &describe(&inside));
    let by_id = std::fs::read_dir(mnt.join("ids")).unwrap().count();
    assert_eq!(by_id, 2, "one snapshot and latest");
    assert!(std::fs::write(inside.join("new"), b"x").is_err(), "read-only");
    drop(session);
    wait_for("the unmount", || !inside.exists());
}

#[test]
fn arca_mount_serves_until_sigterm_and_unmounts_cleanly() {
    if !fuse_ready() {
        return;
    }
    let env = Env::new();
    let src = source(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let missing = env.run(&["mount", env.path("nowhere").to_str().unwrap()]);
    assert_eq!(code(&missing), 1);
    assert!(stderr(&missing).contains("not a directory"), "{}", stderr(&missing));

    let mnt = env.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut child =
        env.cmd().args(["mount", mnt.to_str().unwrap()]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let file = mnt.join("snapshots/latest").join(src.strip_prefix("/").unwrap()).join("dir/small.txt");
    wait_for("the mount", || file.exists());
    assert_eq!(std::fs::read(&file).unwrap(), b"small");
    let names: Vec<_> = std::fs::read_dir(mnt.join("hosts")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(!names[0].as_bytes().is_empty());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait_within(&mut child, Duration::from_secs(60), "arca mount after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(!file.exists(), "unmounted");
    let locks = std::fs::read_dir(env.repo.join("locks")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(locks, 0, "the lock is released");
}

#[test]
fn arca_mount_background_returns_once_mounted_and_stops_on_umount() {
    if !fuse_ready() {
        return;
    }
    let env = Env::new();
    let src = source(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let mnt = env.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let o = env
        .cmd()
        .env("ARCA_FROM_PASSWORD", "another secret")
        .args(["mount", "--background", mnt.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let file = mnt.join("snapshots/latest").join(src.strip_prefix("/").unwrap()).join("dir/small.txt");
    assert_eq!(std::fs::read(&file).unwrap(), b"small", "mounted when the command returned");
    // the server got its password through a pipe: its environment (readable in
    // /proc/PID/environ for as long as it lives) holds no password
    let err = stderr(&o);
    let pid: u32 = err
        .split("by process ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the server's pid: {err}"));
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("ARCA_MOUNT_BACKGROUND_CHILD"), "that is the server: {environ}");
    assert!(!environ.contains(PASSWORD) && !environ.contains("another secret"), "{environ}");
    assert!(!environ.split('\0').any(|v| v.starts_with("ARCA_PASSWORD=") || v.starts_with("ARCA_FROM_PASSWORD=")));
    let u = Command::new("umount").arg(&mnt).output().unwrap();
    assert!(u.status.success(), "{}", String::from_utf8_lossy(&u.stderr));
    // the server notices the unmount, releases its lock and exits
    wait_for("the lock's release", || {
        std::fs::read_dir(env.repo.join("locks")).map(|d| d.count() == 0).unwrap_or(true)
    });
    let bad = env
        .cmd()
        .env("ARCA_PASSWORD", "wrong")
        .args(["mount", "--background", mnt.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&bad), 12, "a wrong password fails before anything starts: {}", stderr(&bad));
}

#[test]
fn a_process_that_does_not_stop_is_killed_and_fails_the_test_instead_of_hanging_it() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    let started = Instant::now();
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_within(&mut child, Duration::from_millis(200), "a sleeper")
    }));
    let message = failed.expect_err("a sleeper outlived its deadline").downcast::<String>().unwrap();
    assert!(message.contains("a sleeper did not exit within 200ms"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the sleeper was killed and reaped");
}

/// `commands::mount` without the command line: a mount point that is not a directory is
/// refused before the repository is locked; a mount holds a read lock while it serves, and an
/// unmount from outside ends the serving, which reports it and releases the lock.
#[test]
fn the_mount_verb_serves_under_its_lock_until_unmounted_from_outside() {
    use arca::commands::mount::{self, MountCommand};
    if !fuse_ready() {
        return;
    }
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("dir/small.txt"), b"small");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(raw, PASSWORD.as_bytes()).unwrap());
    let cmd = |target: std::path::PathBuf| MountCommand {
        target,
        vfs: VfsOptions::default(),
        allow_other: false,
        threads: 2,
    };
    let err = mount::mount(repo.clone(), cmd(env.path("nowhere"))).err().expect("not a directory");
    assert!(err.message.contains("not a directory"), "{err}");
    assert!(repo.locks().unwrap().is_empty(), "refused before locking");

    let mnt = env.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let serving = mount::mount(repo.clone(), cmd(mnt.clone())).unwrap();
    assert_eq!(serving.target(), mnt.as_path());
    let locks = repo.locks().unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].1.command, "mount");
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(serving.serve()));
    let file = mnt.join("snapshots/latest").join(src.strip_prefix("/").unwrap()).join("dir/small.txt");
    wait_for("the mount", || file.exists());
    assert_eq!(std::fs::read(&file).unwrap(), b"small");
    let u = Command::new("umount").arg(&mnt).output().unwrap();
    assert!(u.status.success(), "{}", String::from_utf8_lossy(&u.stderr));
    let report = finished.recv_timeout(Duration::from_secs(60)).expect("serve returns after the unmount").unwrap();
    assert!(report.unmounted_outside, "{report:?}");
    assert_eq!(report.mountpoint, mnt.display().to_string());
    assert!(repo.locks().unwrap().is_empty(), "the lock is released");
    assert!(!file.exists());
}
