//! Never lose a repository by following a hint (issue 21): a repository without `config` is
//! damaged, not absent, and `init` refuses it; `repair config` rebuilds a config it can prove
//! and refuses one it cannot; a damaged config, a path that is a file, a read-only file system
//! and a full restore target each get a clear message naming the path, with a hint; the
//! default repository is named on every use.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn src_with_data(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    // several chunks at the default bounds, so repair config can prove the chunker
    write(&src.join("big"), &noise(6_000_000, 1));
    write(&src.join("small"), &noise(10_000, 2));
    src
}

fn keys_in(repo: &Path) -> usize {
    std::fs::read_dir(repo.join("keys")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_repository_without_config_is_damaged_init_refuses_it_and_repair_config_rebuilds_it() {
    let env = Env::new();
    let src = src_with_data(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let want = describe(&src);
    std::fs::remove_file(env.repo.join("config")).unwrap();

    let o = env.run(&["snapshots"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 13, "{err}");
    assert!(err.contains("damaged") && err.contains(&format!("{}/config", env.repo.display())), "{err}");
    assert!(err.contains("repair config"), "{err}");
    assert!(!err.contains("init"), "a damaged repository must never be answered with init: {err}");
    let o = env.run(&["--json", "snapshots"]);
    assert!(stderr(&o).contains("\"kind\":\"repository_damaged\""), "{}", stderr(&o));

    // init over it is refused, naming what it found, and writes nothing
    let o = env.run(&["init"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("refusing") && err.contains("keys/") && err.contains("data/"), "{err}");
    assert_eq!(keys_in(&env.repo), 1, "init added a key file");
    assert!(!env.repo.join("config").exists(), "init wrote a config over the damaged repository");

    // any one repository file is enough: a location holding only a snapshot is not empty
    let lone = env.path("lone");
    write(&lone.join("snapshots").join("ab".repeat(32)), b"a snapshot file");
    for (args, want) in [(&["snapshots"][..], 13), (&["init"][..], 1)] {
        let o = env.cmd().env("ARCA_REPOSITORY", &lone).args(args).output().unwrap();
        assert_eq!(code(&o), want, "{args:?}: {}", stderr(&o));
    }
    assert!(!lone.join("config").exists() && !lone.join("keys").exists(), "init wrote beside a snapshot file");

    // a dry run proves and writes nothing
    let out = env.ok(&["repair", "config", "--dry-run"]);
    assert!(out.contains("would rebuild"), "{out}");
    assert!(!env.repo.join("config").exists());

    let out = env.ok(&["repair", "config"]);
    assert!(out.contains("rebuilt the missing config") && out.contains("cut again"), "{out}");
    env.check();
    assert_same_tree(&want, &env.restored(&format!("latest:{}", src.display()), "out"));
    // the next backup deduplicates against the stored data
    let copy = env.path("copy");
    copy_dir(&src, &copy);
    let v = env.backup_json(&[copy.to_str().unwrap()]);
    assert!(v["data_added"].as_u64().unwrap() < 100_000, "the rebuilt config does not deduplicate: {v}");
    env.check();
    // an intact config is left alone: an answer (exit 0), not an error
    let config = std::fs::read(env.repo.join("config")).unwrap();
    let o = env.run(&["repair", "config"]);
    assert!(code(&o) == 0 && String::from_utf8_lossy(&o.stdout).contains("nothing to repair"), "{}", stderr(&o));
    assert_eq!(std::fs::read(env.repo.join("config")).unwrap(), config);
}

#[test]
fn a_garbage_config_is_named_with_its_path_and_repair_config_replaces_it() {
    let env = Env::new();
    let src = src_with_data(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let config = env.repo.join("config");
    std::fs::write(&config, b"this is not a config").unwrap();
    let o = env.run(&["snapshots"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&config.display().to_string()), "the error does not name the path: {err}");
    assert!(err.contains("repair config") && err.contains("copy"), "{err}");

    // a config that authenticates under no key (its sealed bytes flipped) is damage too
    env.ok(&["repair", "config"]);
    let mut bytes = std::fs::read(&config).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&config, &bytes).unwrap();
    let err = stderr(&env.run(&["snapshots"]));
    assert!(err.contains(&config.display().to_string()) && err.contains("repair config"), "{err}");
    env.ok(&["repair", "config"]);
    env.check();
}

#[test]
fn repair_config_refuses_chunker_bounds_it_cannot_prove_and_takes_the_right_ones() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), &noise(2_000_000, 3));
    env.ok(&["init", "--chunker-params", "64K,128K,512K"]);
    env.backup_json(&[src.to_str().unwrap()]);
    std::fs::remove_file(env.repo.join("config")).unwrap();

    let o = env.run(&["repair", "config"]);
    let err = stderr(&o);
    assert_ne!(code(&o), 0, "{err}");
    assert!(err.contains("cannot rebuild config faithfully") && err.contains("--chunker-params"), "{err}");
    assert!(!env.repo.join("config").exists(), "a config it could not prove was written");
    // wrong bounds given are refused as well
    let o = env.run(&["repair", "config", "--chunker-params", "128K,256K,1M"]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert!(!env.repo.join("config").exists());

    env.ok(&["repair", "config", "--chunker-params", "64K,128K,512K"]);
    env.check();
    let copy = env.path("copy");
    copy_dir(&src, &copy);
    let v = env.backup_json(&[copy.to_str().unwrap()]);
    assert!(v["data_added"].as_u64().unwrap() < 100_000, "{v}");
}

#[test]
fn a_repository_path_that_is_a_regular_file_is_named_as_such() {
    let env = Env::new();
    let file = env.path("file");
    write(&file, b"not a repository");
    for args in [&["snapshots"][..], &["init"][..], &["backup", "/etc/hostname"][..]] {
        let o = env.cmd().env("ARCA_REPOSITORY", &file).args(args).output().unwrap();
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!("{} is a file, not a repository", file.display())) && err.contains("hint:"),
            "{args:?}: {err}"
        );
    }
    // a file on the way to a new repository
    let o = env.cmd().env("ARCA_REPOSITORY", file.join("repo")).args(["init"]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&format!("{} is a file, not a directory", file.display())) && err.contains("hint:"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a repository");
}

/// A read-only bind mount of `from` at `at`, unmounted on drop.
struct ReadOnlyMount(std::path::PathBuf);

impl ReadOnlyMount {
    fn new(from: &Path, at: &Path) -> Option<ReadOnlyMount> {
        std::fs::create_dir_all(at).unwrap();
        let run = |args: &[&str]| Command::new("mount").args(args).status().is_ok_and(|s| s.success());
        if !is_root() || !run(&["--bind", from.to_str().unwrap(), at.to_str().unwrap()]) {
            eprintln!("SKIPPED: cannot bind-mount (needs root)");
            return None;
        }
        let m = ReadOnlyMount(at.to_path_buf());
        if !run(&["-o", "remount,ro,bind", at.to_str().unwrap()]) {
            eprintln!("SKIPPED: cannot remount read-only");
            return None;
        }
        Some(m)
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_repository_on_a_read_only_file_system_says_so_with_a_hint() {
    let env = Env::new();
    let src = src_with_data(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let ro = env.path("ro");
    let Some(_mount) = ReadOnlyMount::new(&env.repo, &ro) else { return };
    let o = env.cmd().env("ARCA_REPOSITORY", &ro).args(["backup", src.to_str().unwrap()]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&ro.display().to_string()), "the path is not named: {err}");
    assert!(err.contains("the file system is read-only") && err.contains("remount it read-write"), "{err}");
    // what only reads still works there
    let o = env.cmd().env("ARCA_REPOSITORY", &ro).args(["snapshots"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // a new repository on it: the directory cannot be made
    let o = env.cmd().env("ARCA_REPOSITORY", ro.join("new")).args(["init"]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&ro.join("new").display().to_string()) && err.contains("read-only"), "{err}");
}

/// A tmpfs of `size` at `dir`, unmounted on drop.
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
            eprintln!("SKIPPED: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_repository_disk_names_the_repository_with_a_hint() {
    let mut env = Env::new();
    let Some(_disk) = SmallDisk::new(&env.path("disk"), "3m") else { return };
    env.repo = env.path("disk/repo");
    let src = env.path("src");
    // many files: the error reaches the backup through the pipeline's copy of it, which
    // used to keep only its message
    for i in 0..400 {
        write(&src.join(format!("f{i:03}")), &noise(100_000, i));
    }
    env.init();
    let o = env.run(&["backup", src.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&env.repo.display().to_string()) && err.contains("No space left on device"), "{err}");
    assert!(err.contains("hint: the storage is full: free space there"), "{err}");
    env.ok(&["unlock"]);
    env.check();
}

#[test]
fn a_full_restore_target_stops_at_the_first_error_with_a_summary() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..300 {
        write(&src.join(format!("f{i:03}")), &noise(60_000, i));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let small = env.path("small");
    let Some(_disk) = SmallDisk::new(&small, "2m") else { return };
    let o = env.run(&["restore", "latest", "--target", small.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&format!("the restore target {} is full", small.display())), "{err}");
    assert!(err.contains("No space left on device") && err.contains("not restored"), "{err}");
    assert!(err.contains("hint: free space"), "{err}");
    let warnings = err.lines().filter(|l| l.starts_with("warning:")).count();
    assert!(warnings <= 1, "{warnings} warnings instead of one summary:\n{err}");
    assert!(err.len() < 4096, "a flood of messages:\n{err}");
    env.check();
}

#[test]
fn a_read_only_restore_target_stops_at_the_first_error_with_a_summary() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..200 {
        write(&src.join(format!("f{i:03}")), &noise(5_000, i));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let empty = env.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let ro = env.path("ro-target");
    let Some(_mount) = ReadOnlyMount::new(&empty, &ro) else { return };
    let o = env.run(&["restore", &format!("latest:{}", src.display()), "--target", ro.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&format!("the restore target {} is on a read-only file system", ro.display())), "{err}");
    assert!(err.contains("hint:") && err.contains("remount it read-write"), "{err}");
    let warnings = err.lines().filter(|l| l.starts_with("warning:")).count();
    assert!(warnings <= 1, "{warnings} warnings instead of one summary:\n{err}");
    // a target that cannot even be made there
    let o = env.run(&["restore", "latest", "--target", ro.join("new").to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&ro.join("new").display().to_string()) && err.contains("remount it read-write"), "{err}");
}

#[test]
fn an_interrupted_restore_speaks_of_restore_and_a_rerun_completes_it() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..400 {
        write(&src.join(format!("f{i:03}")), &noise(100_000, i));
    }
    let want = describe(&src);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let target = env.path("out");
    let child = env
        .cmd()
        .args(["restore", &format!("latest:{}", src.display()), "--target", target.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // interrupt it once it creates its first files (each at its full size, before its data
    // is read): stopped there, the files of that group are cut short
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(&target).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "the restore never started writing");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    use nix::sys::signal::{kill, Signal};
    kill(pid, Signal::SIGSTOP).unwrap();
    kill(pid, Signal::SIGINT).unwrap();
    kill(pid, Signal::SIGCONT).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 130, "{err}");
    assert!(err.contains("restore interrupted") && err.contains(&target.display().to_string()), "{err}");
    assert!(err.contains("run the same restore again"), "{err}");
    assert!(!err.contains("what was stored is reused"), "a backup's words for a restore: {err}");
    let warnings = err.lines().filter(|l| l.starts_with("warning:")).count();
    assert_eq!(warnings, 0, "files not written after the interrupt are counted, not listed:\n{err}");
    // files cut short are never taken for whole ones: a rerun keeping unchanged files completes
    env.ok(&[
        "restore",
        &format!("latest:{}", src.display()),
        "--target",
        target.to_str().unwrap(),
        "--overwrite",
        "if-changed",
    ]);
    assert_same_tree(&want, &describe(&target));
}

#[test]
fn the_default_repository_is_named_on_every_use_and_a_non_interactive_creation_warns() {
    let env = Env::new();
    let src = src_with_data(&env);
    // HOME and XDG_DATA_HOME point into the test directory (Env::cmd)
    let default = env.dir.path().join("data/arca/repository");
    let cmd = || {
        let mut c = env.cmd();
        c.env_remove("ARCA_REPOSITORY");
        c
    };
    let o = cmd().args(["backup", src.to_str().unwrap()]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("warning: no repository given")
            && err.contains(&format!("creating the default repository at {} (a NEW", default.display())),
        "{err}"
    );
    assert!(default.join("config").exists());
    for args in [&["snapshots"][..], &["-q", "snapshots"][..], &["check"][..]] {
        let o = cmd().args(args).output().unwrap();
        let err = stderr(&o);
        assert_eq!(code(&o), 0, "{args:?}: {err}");
        assert!(err.contains(&format!("using the default repository at {}", default.display())), "{args:?}: {err}");
    }
    let o = cmd().args(["backup", "--json", src.to_str().unwrap()]).output().unwrap();
    let v = summary(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(v["default_repository"].as_str(), Some(default.to_str().unwrap()), "{v}");
    // a default repository whose config is lost is damaged: backup never creates one over it
    std::fs::remove_file(default.join("config")).unwrap();
    let keys = keys_in(&default);
    let o = cmd().args(["backup", src.to_str().unwrap()]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 13, "{err}");
    assert!(err.contains("damaged") && !err.contains("creating"), "{err}");
    assert_eq!(keys_in(&default), keys, "a key file was added to the damaged default repository");
    assert!(!default.join("config").exists(), "a new config was written over the damaged default repository");
    // a named repository is not announced
    env.init();
    let err = stderr(&env.run(&["snapshots"]));
    assert!(!err.contains("default repository"), "{err}");
}
