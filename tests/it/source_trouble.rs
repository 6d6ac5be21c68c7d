#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Trouble on the user's side of a backup or restore: files that change, grow, shrink or
//! vanish while being read; a full disk under the repository or the restore target; a
//! broken password command; files swapped by another process between the walk and the read.
//! Each ends in a clear error or warning with its exit code, and nothing already saved is lost.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arca::test_repo::TestRepo;
use common::*;

/// Keep changing the files of `dir`: append, truncate, delete and recreate, rewrite.
fn churn(dir: &Path, stop: &AtomicBool) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let p = dir.join(format!("f{}", n % 16));
        match n % 4 {
            0 => {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&p) {
                    let _ = f.write_all(&noise(300_000, n));
                }
            }
            1 => {
                if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) {
                    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                    let _ = f.set_len(len / 2);
                }
            }
            2 => {
                let _ = std::fs::remove_file(&p);
                std::thread::sleep(std::time::Duration::from_millis(2));
                let _ = std::fs::write(&p, noise(1_000_000, n));
            }
            _ => {
                let _ = std::fs::write(&p, noise(1_500_000, n));
            }
        }
        n += 1;
    }
}

#[test]
fn files_changing_growing_shrinking_or_vanishing_are_saved_as_read() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..16 {
        write(&src.join(format!("f{i}")), &noise(1_200_000, i));
    }
    write(&src.join("still/quiet"), &noise(400_000, 99));
    env.init();
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let (src, stop) = (src.clone(), stop.clone());
        std::thread::spawn(move || churn(&src, &stop))
    };
    let mut ids = vec![];
    for round in 0..4 {
        let o = env.run(&["backup", "--json", src.to_str().unwrap()]);
        // 0, or 3 when a file vanished between listing and reading
        assert!(matches!(code(&o), 0 | 3), "round {round}: exit {}: {}", code(&o), stderr(&o));
        let s = summary(&String::from_utf8_lossy(&o.stdout));
        ids.push(s["snapshot_id"].as_str().unwrap().to_string());
        for l in stderr(&o).lines().filter(|l| l.contains("warning")) {
            assert!(l.contains(&src.display().to_string()), "a warning names its path: {l}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    churner.join().unwrap();
    env.check();
    // each snapshot restores, verified against its content ids, with the sizes it recorded
    for (i, id) in ids.iter().enumerate() {
        let out = env.path(&format!("out{i}"));
        env.ok(&["restore", id, "--target", out.to_str().unwrap(), "--verify"]);
        let listed = env.ok(&["ls", "--json", id]);
        for l in listed.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
            if l["type"] == "file" {
                let p = out.join(l["path"].as_str().unwrap().trim_start_matches('/'));
                assert_eq!(std::fs::metadata(&p).unwrap().len(), l["size"].as_u64().unwrap(), "{}", p.display());
            }
        }
        let quiet = out.join(src.strip_prefix("/").unwrap()).join("still/quiet");
        assert_eq!(std::fs::read(quiet).unwrap(), noise(400_000, 99));
    }
}

#[test]
fn a_failing_password_command_is_a_clear_error() {
    let env = Env::new();
    env.init();
    let o = env.cmd().env_remove("ARCA_PASSWORD").args(["--password-command", "exit 7", "snapshots"]).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("password command") && stderr(&o).contains("exit 7"), "{}", stderr(&o));
    let o =
        env.cmd().env_remove("ARCA_PASSWORD").args(["--password-command", "echo wrong", "snapshots"]).output().unwrap();
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    let o = env.cmd().env_remove("ARCA_PASSWORD").args(["--password-command", "true", "snapshots"]).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("empty password"), "{}", stderr(&o));
}

/// A tmpfs of `size` at `dir`, unmounted on drop; `None` where mounting is not permitted.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn new(dir: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = is_root()
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk(dir.to_path_buf()))
    }
}

impl SmallDisk {
    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {}", self.0.display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_under_the_repository_fails_the_backup_cleanly_and_keeps_what_was_saved() {
    let mut env = Env::new();
    env.repo = env.path("disk/repo");
    let Some(disk) = SmallDisk::new(&env.path("disk"), "6m") else { return };
    let src = env.path("src");
    write(&src.join("small"), &noise(1_000_000, 1));
    env.init();
    let first = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    let want = describe(&src);
    write(&src.join("huge"), &noise(12_000_000, 2));
    let o = env.run(&["backup", src.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left on device"), "{}", stderr(&o));
    assert!(stderr(&o).contains("the storage is full"), "{}", stderr(&o));
    assert_eq!(env.snapshot_ids(), std::slice::from_ref(&first), "no snapshot of the failed backup");
    // no half-written file is left to fill the disk
    let temps: Vec<_> =
        std::fs::read_dir(env.repo.join(".arca-tmp")).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(temps.is_empty(), "temporary files left: {:?}", temps.iter().map(|e| e.path()).collect::<Vec<_>>());
    // nothing the first backup saved is lost
    env.ok(&["unlock"]);
    env.ok(&["check", "--read-data"]);
    let out = env.path("out");
    env.ok(&["restore", &format!("{first}:{}", src.display()), "--target", out.to_str().unwrap()]);
    assert_same_tree(&want, &describe(&out));
    // once there is room, the backup completes
    disk.grow("64m");
    env.backup_json(&[src.to_str().unwrap()]);
    env.check();
    assert_eq!(env.snapshot_ids().len(), 2);
}

#[test]
fn a_full_disk_under_the_restore_target_names_the_file_and_fails() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(1_000_000, 1));
    write(&src.join("b"), &noise(6_000_000, 2));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let Some(_disk) = SmallDisk::new(&env.path("small"), "3m") else { return };
    let o = env.run(&["restore", "latest", "--target", env.path("small").to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("No space left on device") && err.contains("small"), "{err}");
    env.check();
}

/// Back up `src` into an in-memory repository through the library, with `swap` run by the
/// reader just before it opens each file (the seam where another process could swap it).
/// Returns the repository, the report and the warnings; fails if the backup hangs.
fn backup_with_swap(
    src: &Path,
    swap: impl Fn(&Path) + Send + Sync + 'static,
) -> (TestRepo, arca::commands::backup::BackupReport, Vec<String>) {
    use arca::commands::backup::BackupCommand;
    let t = TestRepo::new();
    let cmd = BackupCommand {
        host: Some("swap".into()),
        engine: arca::archiver::BackupOptions { before_open: Some(Arc::new(swap)), ..Default::default() },
        ..t.command(src)
    };
    // a reader blocked in open(2) on a FIFO never comes back: fail instead of hanging the suite
    let (t, (report, warnings)) =
        arca::testing::within(arca::testing::HANG, "the backup (blocked opening a FIFO?)", move || {
            let r = t.backup_with(cmd);
            (t, r)
        });
    (t, report, warnings)
}

fn assert_replaced(warnings: &[String], name: &str, now: &str) {
    assert!(
        warnings.iter().any(|w| w.contains(name) && w.contains("replaced during backup") && w.contains(now)),
        "want a warning that {name} was replaced ({now}): {warnings:?}"
    );
}

#[test]
fn a_file_swapped_for_a_symlink_to_a_secret_is_not_stored_with_the_secret() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("victim"), b"public");
    write(&src.join("other"), b"kept");
    let secret = env.path("secret");
    write(&secret, b"SECRET: the root password");
    let victim = src.join("victim");
    let (v, s2) = (victim.clone(), secret.clone());
    let (t, report, warnings) = backup_with_swap(&src, move |p| {
        if p == v {
            std::fs::remove_file(p).unwrap();
            std::os::unix::fs::symlink(&s2, p).unwrap();
        }
    });
    assert_eq!(t.stored(&victim), None, "the symlink was followed to the secret");
    assert_replaced(&warnings, "victim", "now a symlink");
    assert_eq!(report.errors, 1, "counted like an unreadable file (exit code 3)");
    assert_eq!(t.stored(&src.join("other")).as_deref(), Some(&b"kept"[..]));
}

#[test]
fn a_fifo_swapped_in_for_a_file_does_not_hang_the_backup() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("victim"), b"a file that becomes a pipe");
    write(&src.join("other"), b"kept");
    let victim = src.join("victim");
    let v = victim.clone();
    let (t, report, warnings) = backup_with_swap(&src, move |p| {
        if p == v {
            std::fs::remove_file(p).unwrap();
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        }
    });
    assert_replaced(&warnings, "victim", "now a FIFO");
    assert_eq!(report.errors, 1);
    assert_eq!(t.stored(&victim), None);
    assert_eq!(t.stored(&src.join("other")).as_deref(), Some(&b"kept"[..]));
}

#[test]
fn a_file_replaced_by_another_inode_is_reported_not_stored_under_its_name() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("victim"), b"what the walk saw");
    let victim = src.join("victim");
    let v = victim.clone();
    let (t, report, warnings) = backup_with_swap(&src, move |p| {
        if p == v {
            let tmp = p.with_file_name("planted");
            std::fs::write(&tmp, b"someone else's content").unwrap();
            std::fs::rename(&tmp, p).unwrap();
        }
    });
    assert_replaced(&warnings, "victim", "now another file");
    assert_eq!(report.errors, 1);
    assert_eq!(t.stored(&victim), None);
}

#[test]
fn unswapped_files_are_read_as_before_with_the_hook_in_place() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(2_000_000, 1));
    write(&src.join("deep/er/b"), b"b");
    std::os::unix::fs::symlink("a", src.join("link")).unwrap();
    let (t, report, warnings) = backup_with_swap(&src, |_| {});
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((report.files_new, report.errors), (2, 0));
    assert_eq!(t.stored(&src.join("a")).unwrap(), noise(2_000_000, 1));
    assert_eq!(t.stored(&src.join("deep/er/b")).unwrap(), b"b");
}

#[test]
fn a_fifo_named_like_an_exclusion_marker_does_not_hang_the_backup() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    std::fs::create_dir_all(src.join("cache")).unwrap();
    nix::unistd::mkfifo(&src.join("cache/CACHEDIR.TAG"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    env.init();
    let mut child =
        env.cmd().args(["backup", "--exclude-caches", src.to_str().unwrap()]).stdout(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("backup hung opening the FIFO CACHEDIR.TAG");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    env.check();
}

#[test]
fn a_tree_deeper_than_the_soft_descriptor_limit_is_backed_up_whole() {
    // the walk holds a descriptor per directory level; arca raises the soft limit to the hard one
    let env = Env::new();
    let src = env.path("src");
    let mut deep = src.clone();
    for _ in 0..1100 {
        deep.push("d");
    }
    write(&deep.join("bottom"), b"reached");
    env.init();
    let script = format!("ulimit -Sn 1024 && exec \"$0\" backup --json {}", src.display());
    let o = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_arca")])
        .env("ARCA_TEST_INSECURE_KDF", "1")
        .env("ARCA_PASSWORD", PASSWORD)
        .env("ARCA_REPOSITORY", &env.repo)
        .env("XDG_CACHE_HOME", env.path("cache"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bottom = deep.join("bottom");
    let listed = env.ok(&["ls", "latest", deep.to_str().unwrap()]);
    assert!(listed.lines().any(|l| l == bottom.to_str().unwrap()), "{listed}");
}
