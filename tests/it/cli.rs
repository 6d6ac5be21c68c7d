#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The command line as a user drives it: incremental backups, stdin, excludes, selectors,
//! JSON shapes, keys, and the exit codes scripts depend on.

use crate::common;

use common::*;

#[test]
fn unchanged_files_are_not_read_again_and_changes_are_found() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..20 {
        write(&src.join(format!("f{i:02}")), &noise(10_000 + i * 1000, i as u64));
    }
    env.init();
    let first = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(first["files_new"], 20);
    let second = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(second["files_unmodified"], 20, "{second}");
    assert_eq!(second["files_new"], 0);
    assert_eq!(second["files_changed"], 0);
    assert_eq!(second["data_blobs"], 0, "unchanged files produced new data: {second}");
    assert_eq!(second["parent"], first["snapshot_id"]);
    write(&src.join("f03"), b"changed");
    write(&src.join("new"), b"new file");
    let third = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(third["files_changed"], 1, "{third}");
    assert_eq!(third["files_new"], 1);
    assert_eq!(third["files_unmodified"], 19);
    // --force reads everything again but stores nothing new
    let forced = env.backup_json(&["--force", src.to_str().unwrap()]);
    assert_eq!(forced["files_new"], 21);
    assert_eq!(forced["data_blobs"], 0);
    env.check();
}

#[test]
fn stdin_and_stdin_from_command() {
    let env = Env::new();
    env.init();
    let mut child = env
        .cmd()
        .args(["backup", "--stdin", "--stdin-filename", "dump.sql", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let data = noise(2_000_000, 9);
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dumped = env.ok(&["ls", "latest", "--json"]);
    assert!(dumped.contains("\"path\":\"/dump.sql\""), "{dumped}");
    let restored = env.path("r");
    env.ok(&["restore", "latest", "--target", restored.to_str().unwrap()]);
    assert_eq!(std::fs::read(restored.join("dump.sql")).unwrap(), data);

    let s = env.backup_json(&["--stdin-from-command", "--stdin-filename", "echo.txt", "--", "echo", "from a command"]);
    assert_eq!(s["files_new"], 1);
    let cat = env.path("r2");
    env.ok(&["restore", "latest", "--target", cat.to_str().unwrap()]);
    assert_eq!(std::fs::read(cat.join("echo.txt")).unwrap(), b"from a command\n");
    // a failing command writes no snapshot
    let before = env.ok(&["snapshots", "--json"]);
    let o = env.run(&["backup", "--stdin-from-command", "--", "sh", "-c", "echo partial; exit 3"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(env.ok(&["snapshots", "--json"]), before);
    env.check();
}

#[test]
fn excludes_of_every_kind() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("keep.c"), b"c");
    write(&src.join("drop.o"), b"o");
    write(&src.join("sub/deep.o"), b"o");
    write(&src.join("IMAGE.ISO"), b"iso");
    write(&src.join("cache/CACHEDIR.TAG"), b"Signature: 8a477f597d28d172789f06886806bc55\n");
    write(&src.join("cache/blob"), b"cached");
    write(&src.join("marked/.nobackup"), b"");
    write(&src.join("marked/x"), b"x");
    write(&src.join("huge"), &vec![7u8; 200_000]);
    write(&src.join("listed/y"), b"y");
    write(&env.path("excludes.txt"), b"# comment\n\nlisted\n");
    env.init();
    env.backup_json(&[
        "--exclude",
        "*.o",
        "--iexclude",
        "*.iso",
        "--exclude-caches",
        "--exclude-if-present",
        ".nobackup",
        "--exclude-larger-than",
        "100K",
        "--exclude-file",
        env.path("excludes.txt").to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let listing = env.ok(&["ls", "latest"]);
    let names: Vec<&str> = listing.lines().filter_map(|l| l.strip_prefix(src.to_str().unwrap())).collect();
    assert_eq!(names, vec!["", "/keep.c", "/sub"], "{listing}");
    let snap: serde_json::Value = serde_json::from_str(env.ok(&["snapshots", "--json"]).trim()).unwrap();
    assert_eq!(snap[0]["excludes"].as_array().unwrap().len(), 3);
}

#[test]
fn selectors_tags_hosts_and_point_in_time() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("v"), b"1");
    env.init();
    let s = src.to_str().unwrap();
    env.backup_json(&["--time", "2026-11-01 10:00:00", "--tag", "daily", "--host", "alpha", s]);
    write(&src.join("v"), b"22");
    env.backup_json(&["--time", "2026-11-02 10:00:00", "--host", "beta", s]);
    write(&src.join("v"), b"333");
    env.backup_json(&["--time", "2026-11-03 10:00:00", "--tag", "daily,weekly", "--host", "alpha", s]);
    let snaps: serde_json::Value = serde_json::from_str(env.ok(&["snapshots", "--json"]).trim()).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 3);
    for field in
        ["time", "tree", "paths", "hostname", "username", "uid", "gid", "tags", "id", "short_id", "program_version"]
    {
        assert!(snaps[0].get(field).is_some(), "snapshot JSON lacks {field}: {}", snaps[0]);
    }
    let restore = |sel: &str, extra: &[&str]| -> Vec<u8> {
        let out = env.path(&format!(
            "r-{}",
            noise(4, sel.len() as u64 + extra.len() as u64).iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let sel = format!("{sel}:{s}");
        let mut args = vec!["restore", sel.as_str(), "--target", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        env.ok(&args);
        std::fs::read(out.join("v")).unwrap()
    };
    assert_eq!(restore("latest", &[]), b"333");
    assert_eq!(restore("latest@2026-11-02 12:00", &[]), b"22");
    assert_eq!(restore("latest@2026-11-02", &["--host", "alpha"]), b"1");
    assert_eq!(restore("latest", &["--tag", "daily"]), b"333");
    assert_eq!(restore("latest", &["--host", "beta"]), b"22");
    let id = snaps[1]["short_id"].as_str().unwrap();
    assert_eq!(restore(&id[..6], &[]), b"22");
    let none = env.run(&["restore", "latest@2026-10-01", "--target", env.path("x").to_str().unwrap()]);
    assert_eq!(code(&none), 1);
    assert!(stderr(&none).contains("no snapshot matches"), "{}", stderr(&none));
    let daily = env.ok(&["snapshots", "--tag", "daily", "--json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(daily.trim()).unwrap().as_array().unwrap().len(), 2);
}

#[test]
fn exit_codes_for_missing_repository_wrong_password_and_unreadable_files() {
    let env = Env::new();
    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 10, "{}", stderr(&o));
    assert!(stderr(&o).contains("no repository"), "{}", stderr(&o));
    env.init();
    let o = env.cmd().args(["snapshots"]).env("ARCA_PASSWORD", "wrong").output().unwrap();
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong password"));
    // no password at all, no terminal
    let o = env.cmd().args(["snapshots"]).env_remove("ARCA_PASSWORD").output().unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("ARCA_PASSWORD"), "{}", stderr(&o));
    // password file and command
    write(&env.path("pw"), format!("{PASSWORD}\n").as_bytes());
    let pwfile = env.path("pw");
    let o = env
        .cmd()
        .args(["snapshots", "--password-file", pwfile.to_str().unwrap()])
        .env_remove("ARCA_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env
        .cmd()
        .args(["snapshots"])
        .env_remove("ARCA_PASSWORD")
        .env("ARCA_PASSWORD_COMMAND", format!("echo '{PASSWORD}'"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // a missing source: warning, snapshot written, exit 3
    let src = env.path("src");
    write(&src.join("ok"), b"fine");
    let missing = env.path("does-not-exist");
    let o = env.run(&["backup", src.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("does-not-exist"));
    assert!(env.ok(&["snapshots"]).contains("1 snapshot\n"));
    env.check();
}

/// The last stderr line of a `--json` run that failed: the `exit_error` message.
fn exit_error(o: &std::process::Output) -> serde_json::Value {
    let err = stderr(o);
    let line = err.lines().rev().find(|l| l.contains("exit_error")).unwrap_or_else(|| panic!("no exit_error in {err}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn json_error_lines_carry_the_kind_and_the_object() {
    let env = Env::new();
    let repo = env.repo.to_str().unwrap().to_string();
    let o = env.run(&["snapshots", "--json"]);
    let v = exit_error(&o);
    assert_eq!((v["code"].as_i64(), v["kind"].as_str()), (Some(10), Some("no_repository")), "{v}");
    assert_eq!(v["object"].as_str(), Some(repo.as_str()), "{v}");
    assert_eq!(v["operation"].as_str(), Some("opening"), "{v}");
    env.init();
    let o = env.cmd().args(["snapshots", "--json"]).env("ARCA_PASSWORD", "wrong").output().unwrap();
    let v = exit_error(&o);
    assert_eq!((v["code"].as_i64(), v["kind"].as_str()), (Some(12), Some("wrong_password")), "{v}");
    assert_eq!(v["object"].as_str(), Some(repo.as_str()), "{v}");
    // a flipped byte in an index file: the error names the file it read
    let src = env.path("src");
    write(&src.join("f"), b"some data");
    env.ok(&["backup", src.to_str().unwrap()]);
    let index = std::fs::read_dir(env.repo.join("index")).unwrap().next().unwrap().unwrap();
    let id = index.file_name().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(index.path()).unwrap();
    bytes[40] ^= 1;
    std::fs::write(index.path(), &bytes).unwrap();
    let o = env.run(&["cat", "index", &id, "--json", "--no-cache"]);
    let v = exit_error(&o);
    assert_eq!((v["code"].as_i64(), v["kind"].as_str()), (Some(1), Some("corrupt")), "{v}");
    assert_eq!(v["object"].as_str(), Some(format!("index/{id}").as_str()), "{v}");
    assert!(v["message"].as_str().unwrap().contains("does not match its name"), "{v}");
    // an error that names no object leaves the field out
    let o = env.run(&["cat", "snapshot", "abcdef12", "--json"]);
    let v = exit_error(&o);
    assert_eq!(v["kind"].as_str(), Some("not_found"), "{v}");
    assert!(v.get("object").is_none(), "{v}");
}

#[test]
fn unreadable_file_is_counted_and_the_snapshot_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("ok"), b"ok");
    write(&src.join("locked"), b"no");
    std::fs::set_permissions(src.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads everything, so as root run arca as `nobody` (setpriv, util-linux).
    let as_user = |args: &[&str]| {
        let mut c = env.cmd();
        if is_root() {
            for p in [env.dir.path(), src.as_path()] {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            std::fs::set_permissions(src.join("ok"), std::fs::Permissions::from_mode(0o644)).unwrap();
            let mut w = std::process::Command::new("setpriv");
            w.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_arca"));
            for (k, v) in c.get_envs() {
                match v {
                    Some(v) => w.env(k, v),
                    None => w.env_remove(k),
                };
            }
            c = w;
        }
        c.args(args).output().unwrap()
    };
    assert_eq!(code(&as_user(&["init"])), 0);
    let o = as_user(&["backup", "--json", src.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("locked"), "the warning does not name the file: {}", stderr(&o));
    let s = summary(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(s["errors"], 1);
    assert_eq!(s["files_new"], 1);
    let snaps = as_user(&["snapshots", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&snaps.stdout).unwrap();
    assert_eq!(v[0]["summary"]["errors"], 1, "the snapshot does not record the error");
}

#[test]
fn locked_repository_exits_11_naming_the_holder() {
    let env = Env::new();
    env.init();
    let backend = arca::backend::open(&arca::backend::Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = arca::repo::Repository::open(backend, PASSWORD.as_bytes()).unwrap();
    let guard = repo.lock("prune", arca::repo::LockMode::Exclusive).unwrap();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    let o = env.run(&["backup", src.to_str().unwrap()]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(stderr(&o).contains("locked exclusively by prune"), "{}", stderr(&o));
    drop(guard);
    env.ok(&["backup", src.to_str().unwrap()]);
    env.check();
}

#[test]
fn keys_add_list_remove_passwd() {
    let env = Env::new();
    env.init();
    write(&env.path("new"), b"second password\n");
    env.ok(&["key", "add", "--new-password-file", env.path("new").to_str().unwrap()]);
    let keys: serde_json::Value = serde_json::from_str(env.ok(&["key", "list", "--json"]).trim()).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let second = env.cmd().args(["snapshots"]).env("ARCA_PASSWORD", "second password").output().unwrap();
    assert_eq!(code(&second), 0);
    let current =
        keys.as_array().unwrap().iter().find(|k| k["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
    let o = env.run(&["key", "remove", &current]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("in use"));
    let other =
        keys.as_array().unwrap().iter().find(|k| k["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    // (key list --json gives restic's short ids, a prefix key remove takes)
    assert_eq!(other.len(), 8, "{keys}");
    env.ok(&["key", "remove", &other]);
    let o = env.cmd().args(["snapshots"]).env("ARCA_PASSWORD", "second password").output().unwrap();
    assert_eq!(code(&o), 12);
    write(&env.path("third"), b"third");
    env.ok(&["key", "passwd", "--new-password-file", env.path("third").to_str().unwrap()]);
    assert_eq!(code(&env.run(&["snapshots"])), 12);
    let o = env.cmd().args(["snapshots"]).env("ARCA_PASSWORD", "third").output().unwrap();
    assert_eq!(code(&o), 0);
}

#[test]
fn cat_and_ls_show_every_object() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"alpha");
    // over 128 bytes, so that it is stored in a blob and not inline (format-spec/v4.md §13.5)
    write(&src.join("d/b.txt"), &b"beta".repeat(50));
    env.init();
    let s = env.backup_json(&[src.to_str().unwrap()]);
    let sid = s["snapshot_id"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "config"])).unwrap();
    assert_eq!(config["version"], 4);
    let snap: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "snapshot", &sid[..8]])).unwrap();
    assert_eq!(snap["id"], sid);
    let tree_sel = format!("latest:{}/d", src.display());
    let tree: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "tree", &tree_sel])).unwrap();
    let node = &tree["nodes"][0];
    assert_eq!(node["name"], "b.txt");
    let blob = node["content"][0].as_str().unwrap();
    let o = env.cmd().args(["cat", "blob", blob]).output().unwrap();
    assert_eq!(o.stdout, b"beta".repeat(50));
    let index_dir = env.repo.join("index");
    let index_id = std::fs::read_dir(&index_dir).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    let index: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "index", &index_id])).unwrap();
    let pack = index["packs"][0]["id"].as_str().unwrap();
    let packj: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "pack", pack])).unwrap();
    assert!(!packj["blobs"].as_array().unwrap().is_empty());
    let long = env.ok(&["ls", "latest", "-l", &format!("{}/d", src.display())]);
    assert!(long.contains("-rw-r--r--") && long.contains("b.txt"), "{long}");
    let lines = env.ok(&["ls", "latest", "--json"]);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["struct_type"], "snapshot");
    let o = env.run(&["cat", "bogus"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("unknown object type"));
}

#[test]
fn default_repository_is_created_on_first_backup() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("doc"), b"document");
    let o = env.cmd().env_remove("ARCA_REPOSITORY").args(["backup", src.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("creating the default repository"), "{}", stderr(&o));
    let default = env.path("data/arca/repository");
    assert!(default.join("config").is_file());
    let o = env.cmd().env_remove("ARCA_REPOSITORY").args(["snapshots"]).output().unwrap();
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 snapshot\n"));
}

#[test]
fn dry_run_writes_nothing() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(100_000, 4));
    env.init();
    let s = env.backup_json(&["--dry-run", src.to_str().unwrap()]);
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["files_new"], 1);
    assert!(s["snapshot_id"].is_null());
    assert!(std::fs::read_dir(env.repo.join("snapshots")).map(|d| d.count()).unwrap_or(0) == 0);
    assert!(std::fs::read_dir(env.repo.join("data")).map(|d| d.count()).unwrap_or(0) == 0);
}

#[test]
fn opening_a_missing_repository_creates_nothing() {
    let env = Env::new();
    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 10);
    assert!(!env.repo.exists(), "looking for a repository created its directory");
}

#[test]
fn interrupt_exits_130_and_releases_the_lock() {
    let env = Env::new();
    env.init();
    // a stream that produces data slowly, so the backup is still running when interrupted
    let child = env
        .cmd()
        .args(["backup", "--stdin-from-command", "--", "sh", "-c", "head -c 3000000 /dev/zero; sleep 30"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait until the backup holds its lock, i.e. is running with its handler installed
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(env.repo.join("locks")).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "the backup never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let started = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(25), "interrupt was not handled promptly");
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(env.repo.join("locks")).unwrap().count(), 0, "the lock was left behind");
    assert_eq!(std::fs::read_dir(env.repo.join("snapshots")).map(|d| d.count()).unwrap_or(0), 0);
    env.check();
}

#[test]
fn cached_index_table_is_used_validated_and_rebuilt() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(200_000, 1));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let cache = env.path("cache/arca");
    let table = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("blob-index-table"))
        .find(|p| p.is_file())
        .expect("no index table in the cache");
    // a second backup adds an index file: laid over the table (cache_trust.rs has the details)
    write(&src.join("b"), &noise(200_000, 2));
    env.backup_json(&[src.to_str().unwrap()]);
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify"]);
    // a damaged table is ignored, not trusted
    let bytes = std::fs::read(&table).unwrap();
    std::fs::write(&table, &bytes[..bytes.len() - 7]).unwrap();
    let out2 = env.path("out2");
    env.ok(&["restore", &sel, "--target", out2.to_str().unwrap(), "--verify"]);
    assert_same_tree(&describe(&src), &describe(&out2));
    // and it works without any cache
    let out3 = env.path("out3");
    env.ok(&["--no-cache", "restore", &sel, "--target", out3.to_str().unwrap(), "--verify"]);
    env.check();
}

#[test]
fn files_from_and_restore_dry_run() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("one"), b"1");
    write(&src.join("two/three"), b"3");
    write(&src.join("skipped"), b"s");
    let list = env.path("list.txt");
    write(&list, format!("# sources\n{}\n\n{}\n", src.join("one").display(), src.join("two").display()).as_bytes());
    env.init();
    let s = env.backup_json(&["--files-from", list.to_str().unwrap()]);
    assert_eq!(s["files_new"], 2, "{s}");
    let out = env.path("out");
    let o = env.ok(&["restore", "latest", "--target", out.to_str().unwrap(), "--dry-run", "--json"]);
    let v = summary(&o);
    assert_eq!(v["files_restored"], 2, "{v}");
    assert!(!out.exists(), "--dry-run wrote to the target");
}

#[test]
fn check_reads_storage_not_the_cache() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("d/f"), b"tree pack content");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    env.ok(&["ls", "latest"]); // fills the cache with index, snapshot and tree packs
                               // damage every index file in storage; the cached copies are still good
    for e in std::fs::read_dir(env.repo.join("index")).unwrap() {
        let p = e.unwrap().path();
        let mut b = std::fs::read(&p).unwrap();
        let n = b.len();
        b[n / 2] ^= 1;
        std::fs::write(&p, b).unwrap();
    }
    let o = env.run(&["check"]);
    assert_ne!(code(&o), 0, "check trusted the cache: {}", stderr(&o));
}

#[test]
fn completions_and_man_pages_come_from_the_command_definitions() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = env.ok(&["completion", shell]);
        assert!(out.contains("backup") && out.contains("keep-daily"), "{shell} completion lacks commands or flags");
    }
    assert_eq!(code(&env.run(&["completion", "tcsh"])), 1, "an unknown shell is a usage error");
    let man = env.path("man");
    env.ok(&["generate", "--man", man.to_str().unwrap()]);
    for page in ["arca.1", "arca-backup.1", "arca-forget.1", "arca-key-add.1", "arca-tag.1"] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let backup = std::fs::read_to_string(man.join("arca-backup.1")).unwrap();
    assert!(backup.contains("exclude\\-caches") || backup.contains("exclude-caches"), "flags are documented");
}

#[test]
fn backup_verbose_says_where_the_time_went_per_stage() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(3_000_000, 1));
    env.init();
    let o = env.run(&["backup", "-v", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for stage in ["read", "chunk", "hash", "compress", "encrypt", "pack", "upload", "busiest per thread"] {
        assert!(err.contains(stage), "no {stage:?} in the stage table: {err}");
    }
    let s = env.backup_json(&[src.to_str().unwrap()]);
    let stages = s["pipeline"]["stages"].as_array().unwrap();
    assert!(stages.iter().any(|st| st["stage"] == "walk" && st["threads"] == 1), "{s}");
    assert!(s["pipeline"]["wall_seconds"].as_f64().unwrap() > 0.0, "{s}");
}

#[test]
fn a_point_in_time_snapshot_path_is_read_alike_by_cat_tree_and_restore() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("sub/file"), b"content");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let spec = format!("latest@2100-01-01 00:00:00:{}/sub", src.display());
    let tree: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "tree", &spec])).unwrap();
    assert!(tree.to_string().contains("\"file\""), "cat tree shows the subdirectory: {tree}");
    let out = env.path("out");
    env.ok(&["restore", &spec, "--target", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(out.join("file")).unwrap(), b"content");
    // a path that is not there, or not a directory, is the same error for both
    for bad in [format!("latest:{}/nope", src.display()), format!("latest:{}/sub/file", src.display())] {
        let c = env.run(&["cat", "tree", &bad]);
        let r = env.run(&["restore", &bad, "--target", out.to_str().unwrap()]);
        assert_eq!(code(&c), code(&r), "{bad}");
        assert_ne!(code(&c), 0);
        assert!(stderr(&c).contains("snapshot"), "{}", stderr(&c));
    }
}
