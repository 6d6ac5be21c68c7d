#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 19, point 8: every time a file system holds survives. Times past 2262 and before 1678
//! do not fit nanoseconds since 1970 in an `i64` (formats 1 and 2); format 3 stores seconds and
//! nanoseconds apart (format-spec/v3.md §13.1). Each test sets such times with `utimensat` on
//! files in a temporary directory on tmpfs (`/dev/shm`: ext4 and XFS stop at 1901 and 2446, tmpfs
//! holds any `i64` of seconds), after checking that it keeps them, and requires backup,
//! restore, `ls`, `dump` (tar PAX records), `diff` and the mount's virtual tree to give them
//! back exactly.

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use arca::backend::{self, Location};
use arca::format::tree::Time;
use arca::mount::vfs::{Vfs, VfsOptions, ROOT};
use arca::repo::Repository;
use common::*;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// 12,000,000,000 s + 123456789 ns: in 2350, past what nanoseconds in an i64 hold (2262).
const FUTURE: (i64, i64) = (12_000_000_000, 123_456_789);
/// Before 1678 (-2^34 s is in 1425), with nanoseconds, so the PAX record counts back.
const PAST: (i64, i64) = (-(1 << 34), 250_000_000);

/// Set `path`'s atime and mtime; false if the file system does not keep them exactly.
fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) -> bool {
    let ts = |t: (i64, i64)| TimeSpec::new(t.0, t.1);
    if utimensat(nix::fcntl::AT_FDCWD, path, &ts(atime), &ts(mtime), UtimensatFlags::NoFollowSymlink).is_err() {
        return false;
    }
    let m = path.symlink_metadata().unwrap();
    (m.mtime(), m.mtime_nsec()) == mtime && (m.atime(), m.atime_nsec()) == atime
}

/// A source with a file in 2514, a file in 1425 and a directory in 2514; `None` when the
/// file system of the temporary directory cannot hold such times.
fn source(env: &ShmEnv) -> Option<std::path::PathBuf> {
    let src = env.shm.as_ref()?.path().join("src");
    write(&src.join("future.txt"), b"from the future");
    write(&src.join("past.txt"), b"from the past");
    write(&src.join("dir/inside"), b"x");
    let ok = set_times(&src.join("future.txt"), PAST, FUTURE)
        && set_times(&src.join("past.txt"), FUTURE, PAST)
        && set_times(&src.join("dir"), FUTURE, FUTURE);
    if !ok {
        eprintln!("skipped: the file system of {} does not keep times past 2262 or before 1678", src.display());
        return None;
    }
    Some(src)
}

/// A test environment with a tmpfs directory beside it, for the files with far times.
struct ShmEnv {
    env: Env,
    shm: Option<tempfile::TempDir>,
}

impl ShmEnv {
    fn new() -> ShmEnv {
        ShmEnv { env: Env::new(), shm: tempfile::tempdir_in("/dev/shm").ok() }
    }

    /// A path on tmpfs.
    fn far(&self, name: &str) -> std::path::PathBuf {
        self.shm.as_ref().unwrap().path().join(name)
    }
}

impl std::ops::Deref for ShmEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

fn mtime(p: &Path) -> (i64, i64) {
    let m = p.symlink_metadata().unwrap();
    (m.mtime(), m.mtime_nsec())
}

#[test]
fn times_past_2262_and_before_1678_round_trip_through_backup_and_restore() {
    let env = ShmEnv::new();
    let Some(src) = source(&env) else { return };
    env.init();
    env.backup_json(&["--with-atime", src.to_str().unwrap()]);
    let out = env.far("out");
    env.ok(&["restore", &format!("latest:{}", src.display()), "--target", out.to_str().unwrap()]);
    assert_eq!(mtime(&out.join("future.txt")), FUTURE, "the 2514 mtime came back different");
    assert_eq!(mtime(&out.join("past.txt")), PAST, "the 1425 mtime came back different");
    assert_eq!(mtime(&out.join("dir")), FUTURE, "the directory's 2514 mtime came back different");
    let m = out.join("future.txt").symlink_metadata().unwrap();
    assert_eq!((m.atime(), m.atime_nsec()), PAST, "the 1425 atime came back different");
    assert_same_tree(&describe(&src), &describe(&out));

    // ls shows the exact times
    let ls = env.ok(&["ls", "latest", "--json"]);
    let node = |name: &str| -> serde_json::Value {
        let line = ls.lines().find(|l| l.contains(&format!("\"name\":\"{name}\""))).unwrap();
        serde_json::from_str(line).unwrap()
    };
    let t = chrono::DateTime::parse_from_rfc3339(node("future.txt")["mtime"].as_str().unwrap()).unwrap();
    assert_eq!((t.timestamp(), i64::from(t.timestamp_subsec_nanos())), FUTURE);
    let t = chrono::DateTime::parse_from_rfc3339(node("past.txt")["mtime"].as_str().unwrap()).unwrap();
    assert_eq!((t.timestamp(), i64::from(t.timestamp_subsec_nanos())), PAST);

    // find answers from the cache's catalog, with the exact times too
    fn mtimes(v: &serde_json::Value, out: &mut Vec<(i64, i64)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("mtime", Some(t)) => {
                            let t = chrono::DateTime::parse_from_rfc3339(t).unwrap();
                            out.push((t.timestamp(), i64::from(t.timestamp_subsec_nanos())));
                        }
                        _ => mtimes(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| mtimes(v, out)),
            _ => {}
        }
    }
    for (name, want) in [("future.txt", FUTURE), ("past.txt", PAST)] {
        let found: serde_json::Value = serde_json::from_str(&env.ok(&["find", name, "--json"])).unwrap();
        let mut got = vec![];
        mtimes(&found, &mut got);
        assert!(!got.is_empty() && got.iter().all(|t| *t == want), "find {name}: {got:?}, want {want:?}");
    }

    // an unchanged second backup reads nothing again and diff finds nothing changed
    let second = env.backup_json(&["--with-atime", src.to_str().unwrap()]);
    assert_eq!(second["files_unmodified"], 3, "unchanged far-time files were read again: {second}");
    let ids = env.snapshot_ids();
    // (the directories above src change as other tests come and go in /dev/shm: compare src)
    let (old, new) = (format!("{}:{}", ids[0], src.display()), format!("{}:{}", ids[1], src.display()));
    for (old, new) in [(old.as_str(), new.as_str()), (ids[0].as_str(), src.to_str().unwrap())] {
        let diff = env.ok(&["diff", old, new, "--metadata", "--json"]);
        assert!(
            !diff.lines().any(|l| l.contains("\"message_type\":\"change\"")),
            "diff against {new} (the same files, times and all) reports changes:\n{diff}"
        );
    }
    env.check();
}

/// The PAX `mtime` record of each member of a tar archive.
fn pax_mtimes(tar_bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut ar = tar::Archive::new(tar_bytes);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let exts = e.pax_extensions().unwrap().expect("every member has PAX records");
        for x in exts {
            let x = x.unwrap();
            if x.key().unwrap() == "mtime" {
                out.push((name.clone(), x.value().unwrap().to_string()));
            }
        }
    }
    out
}

#[test]
fn dump_writes_far_times_exactly_in_pax_records() {
    let env = ShmEnv::new();
    let Some(src) = source(&env) else { return };
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let tar_path = env.path("out.tar");
    env.ok(&["dump", "latest", src.to_str().unwrap(), "--archive", "tar", "--target", tar_path.to_str().unwrap()]);
    let times = pax_mtimes(&std::fs::read(&tar_path).unwrap());
    let of = |suffix: &str| times.iter().find(|(n, _)| n.ends_with(suffix)).map(|(_, t)| t.clone()).unwrap();
    assert_eq!(of("future.txt"), "12000000000.123456789");
    // -2^34 s + 0.25 s = -17179869183.75 s
    assert_eq!(of("past.txt"), "-17179869183.750000000");
    // and GNU tar reads them back to the same times, when it is installed
    if std::process::Command::new("tar").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let out = env.far("untar");
        std::fs::create_dir_all(&out).unwrap();
        let o = std::process::Command::new("tar")
            .args(["-xf", tar_path.to_str().unwrap(), "-C", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let found = walk_find(&out, "future.txt").unwrap();
        assert_eq!(mtime(&found), FUTURE, "tar read a different time from the PAX record");
        assert_eq!(mtime(&walk_find(&out, "past.txt").unwrap()), PAST);
    }
}

/// The first path named `name` below `root`.
fn walk_find(root: &Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
        if p.symlink_metadata().unwrap().is_dir() {
            if let Some(f) = walk_find(&p, name) {
                return Some(f);
            }
        }
    }
    None
}

#[test]
fn the_mounted_tree_shows_far_times_exactly() {
    let env = ShmEnv::new();
    let Some(src) = source(&env) else { return };
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(raw, PASSWORD.as_bytes()).unwrap());
    let v = Vfs::new(repo, VfsOptions::default()).unwrap();
    let mut ino = v.lookup(ROOT, b"snapshots").unwrap().ino;
    let latest = v.readlink(v.lookup(ino, b"latest").unwrap().ino).unwrap();
    let path = format!("{}{}", String::from_utf8_lossy(&latest), src.display());
    for c in path.split('/').filter(|c| !c.is_empty()) {
        ino = v.lookup(ino, c.as_bytes()).unwrap_or_else(|e| panic!("{c}: {e:?}")).ino;
    }
    let future = v.lookup(ino, b"future.txt").unwrap();
    assert_eq!(future.mtime, Time::new(FUTURE.0, FUTURE.1));
    let past = v.lookup(ino, b"past.txt").unwrap();
    assert_eq!(past.mtime, Time::new(PAST.0, PAST.1));
    let back = std::time::Duration::new((1 << 34) - 1, 750_000_000);
    assert_eq!(past.mtime.to_system_time(), std::time::UNIX_EPOCH - back);
}
