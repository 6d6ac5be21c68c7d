#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `backup --changed-paths`: a walk that lists only the directories leading to a changed path
//! and reuses every other subtree of the parent snapshot by id. Each kind of change must give
//! exactly the tree a full walk of the same state gives (same root tree id, an empty `diff`,
//! a restore equal to the live tree), and an unchanged directory must not even be listed.

use crate::common::{self, assert_same_tree, code, describe, stderr, summary, write, Env};

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The list is written into `lists/`, made before the first backup: a new file in the
/// directory above the source would change that directory's node between two backups.
fn list_file(env: &Env, name: &str, paths: &[PathBuf]) -> PathBuf {
    std::fs::create_dir_all(env.path("lists")).unwrap();
    let f = env.path("lists").join(name);
    let mut text = vec![];
    for p in paths {
        text.extend_from_slice(p.as_os_str().as_bytes());
        text.push(b'\n');
    }
    std::fs::write(&f, text).unwrap();
    f
}

/// The tree of the directory above `src` in snapshot `id`: `src`'s node and subtree id, and
/// nothing else (the snapshot's root tree also holds the nodes of `/tmp` and the like, which
/// other tests change meanwhile).
fn src_tree(env: &Env, id: &str, src: &Path) -> String {
    env.ok(&["cat", "tree", &format!("{id}:{}", src.parent().unwrap().display())])
}

fn snapshot(env: &Env, id: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["snapshots", "--json", id])).unwrap();
    v[0].clone()
}

/// A change-list backup of `src` naming `changed`, then a full walk of the same state: both
/// trees must be the same, and the change list's snapshot must restore to the live tree.
fn round(env: &Env, src: &Path, what: &str, changed: &[PathBuf]) {
    let list = list_file(env, &format!("{what}.list"), changed);
    let s = env.backup_json(&["--changed-paths", list.to_str().unwrap(), src.to_str().unwrap()]);
    assert!(s.get("full_walk").is_none(), "{what}: the change list was not used: {s}");
    let by_list = s["snapshot_id"].as_str().unwrap().to_string();
    let full = env.backup_json(&[src.to_str().unwrap()]);
    let by_walk = full["snapshot_id"].as_str().unwrap().to_string();
    let (a, b) = (snapshot(env, &by_list), snapshot(env, &by_walk));
    assert!(a["change_list"].as_u64().is_some(), "{what}: the snapshot does not say it came from a change list");
    assert!(b.get("change_list").is_none(), "{what}: a full walk's snapshot claims a change list");
    if src_tree(env, &by_list, src) != src_tree(env, &by_walk, src) {
        let meta = env.ok(&["diff", "--metadata", &by_walk[..8], &by_list[..8]]);
        panic!("{what}: the change list's tree differs from a full walk's:\n{meta}");
    }
    let diff = env.ok(&["diff", &by_walk[..8], &by_list[..8]]);
    let changes: Vec<&str> =
        diff.lines().filter(|l| l.len() > 5 && "+-MTU".contains(&l[..1]) && &l[1..5] == "    ").collect();
    assert!(changes.is_empty(), "{what}: diff against the full walk: {diff}");
    let got = env.restored(&format!("{}:{}", &by_list[..8], src.display()), &format!("restored-{what}"));
    assert_same_tree(&describe(src), &got);
}

#[test]
fn every_kind_of_change_gives_the_full_walks_tree() {
    let env = Env::new();
    env.init();
    list_file(&env, "first", &[]);
    let src = env.path("src");
    let outside = env.path("outside");
    write(&src.join("a/b/deep.txt"), b"deep");
    write(&src.join("a/keep.txt"), b"keep");
    write(&src.join("c/file"), &common::noise(200_000, 1));
    write(&src.join("gone/inner/x"), b"x");
    write(&src.join("top"), b"top");
    write(&src.join(common::os(b"raw-\xff/name")), b"not utf-8");
    write(&outside.join("incoming/sub/y"), b"y");
    write(&outside.join("incoming/z"), b"z");
    env.backup_json(&[src.to_str().unwrap()]);

    write(&src.join("a/b/new.txt"), b"created");
    round(&env, &src, "create", &[src.join("a/b/new.txt")]);

    write(&src.join("c/file"), &common::noise(200_001, 2));
    round(&env, &src, "modify", &[src.join("c/file")]);

    std::fs::rename(src.join("a/keep.txt"), src.join("a/b/kept.txt")).unwrap();
    round(&env, &src, "rename-file", &[src.join("a/keep.txt"), src.join("a/b/kept.txt")]);

    std::fs::rename(src.join("a/b"), src.join("bee")).unwrap();
    round(&env, &src, "rename-dir", &[src.join("a/b"), src.join("bee")]);

    std::fs::remove_file(src.join("top")).unwrap();
    round(&env, &src, "delete-file", &[src.join("top")]);

    std::fs::remove_dir_all(src.join("gone")).unwrap();
    round(&env, &src, "delete-dir", &[src.join("gone")]);

    std::fs::rename(outside.join("incoming"), src.join("c/incoming")).unwrap();
    round(&env, &src, "move-in", &[src.join("c/incoming")]);

    std::fs::rename(src.join("bee"), outside.join("bee")).unwrap();
    round(&env, &src, "move-out", &[src.join("bee")]);

    // a name that is not UTF-8 is compared as bytes
    write(&src.join(common::os(b"raw-\xff/name")), b"changed, not utf-8");
    round(&env, &src, "raw-name", &[src.join(common::os(b"raw-\xff/name"))]);

    // a file created in a directory the list does not name, beside a change that makes the
    // walk list its parent: the directory's mtime moved, so it is listed, not reused
    write(&src.join("c/unannounced"), b"surprise");
    write(&src.join("announced"), b"here");
    round(&env, &src, "unnamed-create", &[src.join("announced")]);
    env.check();
}

#[test]
fn empty_outside_and_root_lists_give_the_parents_tree() {
    let env = Env::new();
    env.init();
    list_file(&env, "first", &[]);
    let src = env.path("src");
    write(&src.join("d1/f"), b"1");
    write(&src.join("d2/e/g"), b"2");
    let first = env.backup_json(&[src.to_str().unwrap()]);
    let parent_tree = src_tree(&env, first["snapshot_id"].as_str().unwrap(), &src);
    for (name, paths) in [
        ("empty", vec![]),
        ("outside", vec![PathBuf::from("/nowhere/else"), env.path("src-sibling")]),
        ("root", vec![src.clone()]),
    ] {
        let list = list_file(&env, name, &paths);
        let s = env.backup_json(&["--changed-paths", list.to_str().unwrap(), src.to_str().unwrap()]);
        assert_eq!(s["changed_paths"].as_u64(), Some(paths.len() as u64), "{name}: {s}");
        let id = s["snapshot_id"].as_str().unwrap();
        assert_eq!(src_tree(&env, id, &src), parent_tree, "{name}: the tree differs from the parent's");
        let snap = snapshot(&env, id);
        assert_eq!(snap["change_list"].as_u64(), Some(paths.len() as u64), "{name}");
        if name != "root" {
            // nothing named inside the source: the source's own subtree is reused, no file read
            assert_eq!(s["total_files_processed"], 0, "{name}: files were looked at: {s}");
        } else {
            assert_eq!(s["files_unmodified"], 2, "the named root is walked whole: {s}");
        }
    }
    // `-` reads the list from standard input
    let o = env.cmd().args(["backup", "--json", "--changed-paths", "-", src.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(summary(&String::from_utf8_lossy(&o.stdout))["changed_paths"], 0);
}

#[test]
fn no_parent_or_a_parent_of_other_paths_means_a_full_walk_that_says_so() {
    let env = Env::new();
    env.init();
    list_file(&env, "first", &[]);
    let src = env.path("src");
    write(&src.join("d/f"), b"1");
    write(&env.path("other/g"), b"2");
    let list = list_file(&env, "l", &[src.join("d/f")]);
    let l = list.to_str().unwrap();
    let s = env.backup_json(&["--changed-paths", l, src.to_str().unwrap()]);
    assert!(s["full_walk"].as_str().unwrap().contains("no parent"), "{s}");
    assert!(s.get("changed_paths").is_none(), "{s}");
    assert_eq!(s["files_new"], 1);
    let snap = snapshot(&env, s["snapshot_id"].as_str().unwrap());
    assert!(snap.get("change_list").is_none(), "a full walk is recorded as a change list: {snap}");
    // a parent chosen by --parent that backed up other paths: its subtrees are not the source's
    let other = env.backup_json(&[env.path("other").to_str().unwrap()]);
    let o = env.run(&[
        "backup",
        "--changed-paths",
        l,
        "--parent",
        other["snapshot_id"].as_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("full walk: the parent snapshot has other paths"), "{}", stderr(&o));
    let s = env.backup_json(&["--changed-paths", l, "--force", src.to_str().unwrap()]);
    assert!(s["full_walk"].as_str().unwrap().contains("--force"), "{s}");
    let s = env.backup_json(&["--changed-paths", l, "-e", "*.tmp", src.to_str().unwrap()]);
    assert!(s["full_walk"].as_str().unwrap().contains("exclude"), "{s}");
}

#[test]
fn hostile_change_lists_are_refused_naming_file_and_entry() {
    let env = Env::new();
    env.init();
    list_file(&env, "first", &[]);
    let src = env.path("src");
    write(&src.join("f"), b"1");
    env.backup_json(&[src.to_str().unwrap()]);
    let bad = env.path("bad.list");
    for (text, want) in [
        (b"/abs/ok\nrelative/path\n".to_vec(), "entry 2: relative path"),
        (b"/a/../../etc/passwd\n".to_vec(), "entry 1: a `..` component"),
        ([b"/".to_vec(), vec![b'x'; 5000]].concat(), "longer than 4095 bytes"),
    ] {
        std::fs::write(&bad, &text).unwrap();
        let o = env.run(&["backup", "--changed-paths", bad.to_str().unwrap(), src.to_str().unwrap()]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(want) && err.contains("bad.list"), "{want:?} not in: {err}");
    }
    let o = env.run(&["backup", "--changed-paths", env.path("missing").to_str().unwrap(), src.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
    assert_eq!(env.snapshot_ids().len(), 1, "a refused list stored a snapshot");
    // NUL-separated: a newline is part of a name
    let nl = src.join("new\nline");
    write(&nl, b"n");
    let f = env.path("nul.list");
    std::fs::write(&f, [nl.as_os_str().as_bytes(), b"\0"].concat()).unwrap();
    let s = env.backup_json(&["--changed-paths-0", f.to_str().unwrap(), src.to_str().unwrap()]);
    assert_eq!((s["changed_paths"].as_u64(), s["files_new"].as_u64()), (Some(1), Some(1)), "{s}");
}

#[test]
fn the_count_reaches_hooks_as_arca_changed_paths() {
    let env = Env::new();
    env.init();
    list_file(&env, "first", &[]);
    let src = env.path("src");
    write(&src.join("f"), b"1");
    let log = env.path("hook.log");
    let p = env.dir.path().join(".config/arca/w.toml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let text = format!(
        "[backup]\nsources = [\"{}\"]\nrun-after = [\"echo changed=$${{ARCA_CHANGED_PATHS-unset}} >> {}\"]\n",
        src.display(),
        log.display()
    );
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.ok(&["-P", "w", "backup", "-q"]);
    let list = list_file(&env, "l", &[src.join("f"), src.join("g")]);
    env.ok(&["-P", "w", "backup", "-q", "--changed-paths", list.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "changed=unset\nchanged=2\n");
    let cat = env.ok(&["cat", "snapshot", "latest"]);
    assert!(cat.contains("\"change_list\": 2"), "{cat}");
}

/// The claim itself: an unchanged directory is not listed. `locked` is mode 000; root backs
/// it up (root reads it), then `nobody` (who cannot list it) backs up again. With a change
/// list naming something else the backup succeeds and keeps `locked`'s subtree; a full walk
/// as `nobody` reports `locked` unreadable, so only listing it could have failed.
#[test]
fn an_unchanged_directory_is_not_listed() {
    use std::os::unix::fs::PermissionsExt;
    if !common::is_root() {
        eprintln!("skipped: needs root to back up a mode-000 directory and then drop privileges");
        return;
    }
    let env = Env::new();
    env.init();
    list_file(&env, "first", &[]);
    let src = env.path("src");
    write(&src.join("locked/secret"), b"root's");
    write(&src.join("work/f"), b"v1");
    std::fs::set_permissions(src.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let first = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(first["errors"], 0, "{first}");
    // hand the repository, its cache and the source's writable parts to nobody
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .args([env.repo.as_os_str(), env.path("cache").as_os_str(), src.join("work").as_os_str()])
        .status()
        .unwrap();
    assert!(chown.success());
    let as_nobody = |args: &[&str]| {
        let c = env.cmd();
        let mut w = std::process::Command::new("setpriv");
        w.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_arca"));
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                w.env(k, v);
            }
        }
        w.args(args).output().unwrap()
    };
    write(&src.join("work/f"), b"v2");
    let list = list_file(&env, "l", &[src.join("work/f")]);
    std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = as_nobody(&["backup", "--json", "--changed-paths", list.to_str().unwrap(), src.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "the change-list backup touched the unchanged directory: {}", stderr(&o));
    let s = summary(&String::from_utf8_lossy(&o.stdout));
    assert_eq!((s["errors"].as_u64(), s["files_changed"].as_u64()), (Some(0), Some(1)), "{s}");
    // the repository is nobody's now (root would refuse its temporary directory)
    let o = as_nobody(&["dump", "latest", src.join("work/f").to_str().unwrap()]);
    assert_eq!(o.stdout, b"v2", "the change was not saved: {}", stderr(&o));
    let o = as_nobody(&["ls", "--json", "latest", src.join("locked").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("secret"), "locked's subtree was not kept");
    // and a full walk as nobody does try to list it
    let o = as_nobody(&["backup", "--json", src.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("locked"), "{}", stderr(&o));
}
