#![allow(clippy::unwrap_used)]
//! Trouble on the user's side of a backup or restore: files that change, grow, shrink or
//! vanish while being read; a full disk under the repository or the restore target; a
//! broken password command. Each ends in a clear error or warning with its exit code, and
//! nothing already saved is lost.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
