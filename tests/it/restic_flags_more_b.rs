//! More of restic's flags (issue 21), driven through the real binary: `key add/passwd --user
//! --host`, `mount --host/--tag/--path`, `restore --include-xattr/--exclude-xattr`,
//! `copy`/`init --from-repository-file` (and `ARCA_FROM_REPOSITORY_FILE`) and the global
//! `--cleanup-cache`. Each test fails on a build without its flag, and attacks what the flag
//! promises: the names recorded (and a name that would write escapes onto a terminal), the
//! snapshots a mount shows, the attributes written, the repository read from a file, the
//! caches removed and those kept.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::*;

fn json(out: &str) -> Value {
    serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("json ({e}): {out}"))
}

fn key_count(env: &Env) -> usize {
    std::fs::read_dir(env.repo.join("keys")).unwrap().count()
}

#[test]
fn key_add_and_passwd_record_the_user_and_host_given_and_refuse_names_with_control_characters() {
    let env = Env::new();
    env.init();
    let second = env.path("second");
    std::fs::write(&second, "a second password\n").unwrap();
    let out =
        env.ok(&["key", "add", "--new-password-file", second.to_str().unwrap(), "--user", "backup", "--host", "nas"]);
    let added = out.split("saved new key ").nth(1).map(str::trim).unwrap_or_else(|| panic!("{out}")).to_string();
    let keys = json(&env.ok(&["key", "list", "--json"]));
    let new = keys.as_array().unwrap().iter().find(|k| k["id"] == added.as_str()).unwrap_or_else(|| panic!("{keys}"));
    assert_eq!((new["userName"].as_str(), new["hostName"].as_str()), (Some("backup"), Some("nas")), "{keys}");
    assert_eq!(new["current"], false);
    // the other key keeps the names of whoever ran init
    let first = keys.as_array().unwrap().iter().find(|k| k["id"] != added.as_str()).unwrap();
    assert_ne!(first["hostName"], "nas", "{keys}");
    let text = env.ok(&["key", "list"]);
    assert!(text.lines().any(|l| l.contains(&added) && l.contains("backup") && l.contains("nas")), "{text}");

    // passwd: the new key (which replaces the one in use) records the names given
    let third = env.path("third");
    std::fs::write(&third, "a third password\n").unwrap();
    env.ok(&["key", "passwd", "--new-password-file", third.to_str().unwrap(), "--user", "alice", "--host", "laptop"]);
    let o = env.cmd().env("ARCA_PASSWORD", "a third password").args(["key", "list", "--json"]).output().unwrap();
    assert!(o.status.success(), "the new password opens: {}", stderr(&o));
    let keys = json(&String::from_utf8_lossy(&o.stdout));
    let current = keys.as_array().unwrap().iter().find(|k| k["current"] == true).unwrap_or_else(|| panic!("{keys}"));
    assert_eq!((current["userName"].as_str(), current["hostName"].as_str()), (Some("alice"), Some("laptop")));
    assert_eq!(keys.as_array().unwrap().len(), 2, "passwd replaced the key in use: {keys}");

    // a name that would clear the terminal of whoever lists the keys, or an empty one: refused
    // before anything is written
    let before = key_count(&env);
    let long = "h".repeat(300);
    for (flag, bad) in [("--host", "evil\u{1b}[2J"), ("--user", ""), ("--host", long.as_str())] {
        let o = env
            .cmd()
            .env("ARCA_PASSWORD", "a third password")
            .args(["key", "add", "--new-password-file"])
            .arg(&second)
            .args([flag, bad])
            .output()
            .unwrap();
        assert_eq!(code(&o), 1, "{flag} {bad:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
        assert_eq!(key_count(&env), before, "{flag} {bad:?}: a key was written");
    }
}

#[test]
fn mount_shows_only_the_snapshots_its_host_tag_and_path_filters_select() {
    if !crate::mount::fuse_ready() {
        return;
    }
    let env = Env::new();
    env.init();
    let one = env.path("one");
    let two = env.path("two");
    write(&one.join("f"), b"one");
    write(&two.join("f"), b"two");
    let (one_s, two_s) = (one.to_str().unwrap(), two.to_str().unwrap());
    let want = env.backup_json(&["--host", "a", "--tag", "t", one_s])["snapshot_id"].as_str().unwrap().to_string();
    env.backup_json(&["--host", "b", "--tag", "t", one_s]); // other host
    env.backup_json(&["--host", "a", one_s]); // no tag
    env.backup_json(&["--host", "a", "--tag", "t", two_s]); // other path
    let mnt = env.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut child = env
        .cmd()
        .args(["mount", "--host", "a", "--tag", "t", "--path", one_s, mnt.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !mnt.join("ids").exists() {
        assert!(std::time::Instant::now() < deadline, "the mount did not appear");
        std::thread::sleep(Duration::from_millis(50));
    }
    let names = |d: &str| {
        let mut v: Vec<String> = std::fs::read_dir(mnt.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let ids = names("ids");
    let hosts = names("hosts");
    let latest = std::fs::read(mnt.join("snapshots/latest").join(one.strip_prefix("/").unwrap()).join("f"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait_within(&mut child, Duration::from_secs(60), "arca mount after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert_eq!(ids, vec![want[..8].to_string(), "latest".to_string()], "only the one snapshot selected");
    assert_eq!(hosts, vec!["a"], "host b's snapshot is not in the mount");
    assert_eq!(latest.unwrap(), b"one", "latest is the newest selected, not the newest of all (two/)");
}

#[test]
fn restore_writes_only_the_xattrs_include_xattr_names_and_none_exclude_xattr_names() {
    let env = Env::new();
    if !xattrs_supported(env.dir.path()) {
        eprintln!("skipping: no user xattrs on {}", env.dir.path().display());
        return;
    }
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"content");
    for (name, value) in [("user.keep", "1"), ("user.drop", "2"), ("user.other", "3")] {
        xattr::set(src.join("f"), name, value.as_bytes()).unwrap();
        xattr::set(&src, name, value.as_bytes()).unwrap();
    }
    env.backup_json(&[src.to_str().unwrap()]);
    let restored = |args: &[&str], name: &str| -> Vec<String> {
        let target = env.path(name);
        let mut a = vec!["restore", "latest", "--target", target.to_str().unwrap()];
        a.extend_from_slice(args);
        env.ok(&a);
        let inside = target.join(src.strip_prefix("/").unwrap());
        let mut names = vec![];
        for p in [inside.join("f"), inside.clone()] {
            let mut v: Vec<String> = xattr::list(&p).unwrap().map(|n| n.to_string_lossy().into_owned()).collect();
            v.sort();
            names.push(v.join(","));
        }
        assert_eq!(names[0], names[1], "the directory gets what the file gets");
        vec![names[0].clone()]
    };
    assert_eq!(restored(&[], "all"), ["user.drop,user.keep,user.other"], "default: every attribute");
    assert_eq!(
        restored(&["--exclude-xattr", "user.drop"], "excluded"),
        ["user.keep,user.other"],
        "--exclude-xattr leaves out only the named one"
    );
    assert_eq!(
        restored(&["--exclude-xattr", "user.d*", "--exclude-xattr", "user.o?her"], "excluded2"),
        ["user.keep"],
        "globs, repeatable"
    );
    assert_eq!(restored(&["--include-xattr", "user.k*"], "included"), ["user.keep"], "--include-xattr: only these");
    assert_eq!(restored(&["--include-xattr", "trusted.*"], "none"), [""], "nothing matches: no attribute");
    let o = env.run(&[
        "restore",
        "latest",
        "--target",
        env.path("both").to_str().unwrap(),
        "--include-xattr",
        "user.*",
        "--exclude-xattr",
        "user.drop",
    ]);
    assert_ne!(code(&o), 0, "include and exclude don't mix (restic refuses them together)");
    assert!(stderr(&o).contains("--exclude-xattr"), "{}", stderr(&o));
    assert!(!env.path("both").exists(), "nothing restored");
}

#[test]
fn copy_and_init_read_the_other_repository_from_a_file_or_arca_from_repository_file() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(2_000_000, 7));
    env.backup_json(&[src.to_str().unwrap()]);
    let file = env.path("from-repo");
    // restic reads the first line, trimmed
    std::fs::write(&file, format!("  {}  \nignored second line\n", env.repo.display())).unwrap();
    let f = file.to_str().unwrap();
    let target = env.path("target-repo");
    let to = || {
        let mut c = env.cmd();
        c.env("ARCA_FROM_PASSWORD", PASSWORD).env("ARCA_REPOSITORY", &target);
        c
    };
    let run = |c: &mut std::process::Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(to().args(["init", "--from-repository-file", f, "--copy-chunker-params"]));
    let r = json(&run(to().args(["copy", "--json", "--from-repository-file", f])));
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["rechunked"], false, "init took the chunker of the repository the file names: {r}");
    // the environment variable, as restic's RESTIC_FROM_REPOSITORY_FILE
    env.backup_json(&[src.to_str().unwrap()]);
    let r = json(&run(to().env("ARCA_FROM_REPOSITORY_FILE", f).args(["copy", "--json"])));
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "only the new snapshot: {r}");
    assert_eq!(r["already_copied"].as_array().unwrap().len(), 1, "{r}");

    // two names for the other repository: which one was meant? refused, for copy and init
    let repo = env.repo.to_str().unwrap();
    let o = to().args(["copy", "--from-repository-file", f, "--from-repo", repo]).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("--from-repository-file"), "{}", stderr(&o));
    let o = to().env("ARCA_FROM_REPOSITORY_FILE", f).args(["copy", "--to-repo", repo]).output().unwrap();
    assert_eq!(code(&o), 1, "a file naming the source and --to-repo: {}", stderr(&o));
    let fresh = env.path("fresh");
    let o = env
        .cmd()
        .env("ARCA_REPOSITORY", &fresh)
        .args(["init", "--from-repository-file", f, "--from-repo", repo, "--copy-chunker-params"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!fresh.exists(), "no repository created");
    // an empty file names no repository
    let empty = env.path("empty");
    std::fs::write(&empty, "\n").unwrap();
    let o = to().args(["copy", "--from-repository-file", empty.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is empty"), "{}", stderr(&o));
}

#[test]
fn cleanup_cache_removes_only_other_repositories_old_caches_after_the_command() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), &noise(50_000, 1));
    env.backup_json(&[src.to_str().unwrap()]);
    let root = env.dir.path().join("cache/arca");
    let v = json(&env.ok(&["cache", "--json"]));
    let mine = root.join(v["caches"][0]["repo_id"].as_str().unwrap());
    let ninety_days_ago = SystemTime::now() - Duration::from_secs(90 * 86_400);
    let old = root.join("ab".repeat(32));
    let recent = root.join("ef".repeat(32));
    for d in [&old, &recent] {
        write(&d.join("index/x"), b"cached");
    }
    std::fs::File::open(&old).unwrap().set_modified(ninety_days_ago).unwrap();
    // something that is not a cache, behind a symlink named like one
    let elsewhere = env.path("precious");
    write(&elsewhere.join("keep"), b"not a cache");
    std::os::unix::fs::symlink(&elsewhere, root.join("cd".repeat(32))).unwrap();
    std::fs::File::open(&elsewhere).unwrap().set_modified(ninety_days_ago).unwrap();
    // this repository's own cache, unused for long too: the command uses it, so it stays
    std::fs::File::open(&mine).unwrap().set_modified(ninety_days_ago).unwrap();

    env.ok(&["snapshots"]);
    assert!(old.exists(), "without --cleanup-cache nothing is removed");
    std::fs::File::open(&mine).unwrap().set_modified(ninety_days_ago).unwrap();
    let o = env.run(&["--cleanup-cache", "snapshots"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!old.exists(), "the old cache of another repository is still there");
    assert!(stderr(&o).contains("removed 1 old cache"), "{}", stderr(&o));
    assert!(mine.is_dir(), "the cache of the repository just used was removed");
    assert!(recent.join("index/x").exists(), "a recently used cache was removed");
    assert!(elsewhere.join("keep").exists(), "a symlink was followed");
    // after a failing command too (restic cleans at open); --no-cache has no cache to clean
    std::fs::create_dir_all(old.join("index")).unwrap();
    std::fs::File::open(&old).unwrap().set_modified(ninety_days_ago).unwrap();
    let o = env.run(&["--cleanup-cache", "restore", "nosuchsnapshot", "--target", env.path("t").to_str().unwrap()]);
    assert_ne!(code(&o), 0);
    assert!(!old.exists(), "{}", stderr(&o));
    let o = env.run(&["--cleanup-cache", "--no-cache", "snapshots"]);
    assert_ne!(code(&o), 0, "the two contradict each other");
}
