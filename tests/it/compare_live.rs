#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `check --compare-live`: a snapshot compared with a full walk of the live tree, each
//! difference either missed (already on disk when the snapshot was taken: the change list was
//! incomplete) or changed since. Real files, real change-list backups; a change list that
//! leaves something out is exactly the failure this check is for.

use crate::common::{code, describe, os, stderr, write, Env};

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A source tree of a few directories, backed up in full once; returns the source. A change
/// list naming `keep.txt` lists `src` and stats `d`, whose subtree is then reused unseen as
/// long as `d` itself did not change: changes in `d/a` and `d/b` are missed.
fn backed_up(env: &Env) -> PathBuf {
    env.init();
    std::fs::create_dir_all(env.path("lists")).unwrap();
    let src = env.path("src");
    write(&src.join("a/one.txt"), b"one");
    write(&src.join("a/two.txt"), b"two");
    write(&src.join("b/three.txt"), b"three");
    write(&src.join("keep.txt"), b"keep");
    write(&src.join("d/a/four.txt"), b"four");
    write(&src.join("d/b/five.txt"), b"five");
    env.backup_json(&[src.to_str().unwrap()]);
    src
}

/// A change-list backup of `src` naming `changed` (and nothing else).
fn change_list_backup(env: &Env, src: &Path, changed: &[PathBuf]) {
    let list = env.path("lists").join(format!("list-{}", env.snapshot_ids().len()));
    let mut text = vec![];
    for p in changed {
        text.extend_from_slice(p.as_os_str().as_bytes());
        text.push(b'\n');
    }
    std::fs::write(&list, text).unwrap();
    let s = env.backup_json(&["--changed-paths", list.to_str().unwrap(), src.to_str().unwrap()]);
    assert!(s.get("full_walk").is_none(), "the change list was not used: {s}");
}

/// `check --compare-live --json`: (exit code, missed, changed since) as `modifier path`,
/// the paths relative to the source's directory.
fn compare(env: &Env, src: &Path) -> (i32, Vec<String>, Vec<String>) {
    let o = env.run(&["check", "--compare-live", "--json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("no report: {out}\n{}", stderr(&o)));
    let base = src.parent().unwrap().to_str().unwrap().to_string();
    let list = |k: &str| -> Vec<String> {
        let mut l: Vec<String> = v[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let p = d["path"].as_str().unwrap();
                format!("{} {}", d["modifier"].as_str().unwrap(), p.strip_prefix(&base).unwrap_or(p))
            })
            .collect();
        l.sort();
        l
    };
    (code(&o), list("missed"), list("changed_since"))
}

/// Far enough past the snapshot's start that a change's ctime (kept by a coarse clock) is
/// after it.
fn after_the_snapshot() {
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn a_change_list_that_left_out_a_file_changed_before_the_backup_is_reported_missed() {
    let env = Env::new();
    let src = backed_up(&env);
    write(&src.join("a/one.txt"), b"one, changed before the backup");
    write(&src.join("b/three.txt"), b"three, changed and listed");
    change_list_backup(&env, &src, &[src.join("b/three.txt")]);
    let (c, missed, since) = compare(&env, &src);
    assert_eq!(c, 1, "a missed change must fail the check");
    assert_eq!(missed, ["M /src/a/one.txt"]);
    assert!(since.is_empty(), "{since:?}");
    // the human report names it and says what to do
    let o = env.run(&["check", "--compare-live"]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("missed         M    /") && out.contains("/src/a/one.txt"), "{out}");
    assert!(out.contains("1 difference missed, 0 changed since the snapshot"), "{out}");
    assert!(stderr(&o).contains("a full backup"), "{}", stderr(&o));
    // a full backup records it: nothing missed any more
    env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(compare(&env, &src), (0, vec![], vec![]));
}

#[test]
fn a_correct_change_list_is_clean_and_later_changes_are_changed_since() {
    let env = Env::new();
    let src = backed_up(&env);
    write(&src.join("a/one.txt"), b"one, changed and listed");
    change_list_backup(&env, &src, &[src.join("a/one.txt")]);
    assert_eq!(compare(&env, &src), (0, vec![], vec![]), "a correct change list must compare clean");
    after_the_snapshot();
    write(&src.join("a/two.txt"), b"two, changed after the snapshot");
    write(&src.join("new.txt"), b"made after the snapshot");
    let before = describe(&src);
    let (c, missed, since) = compare(&env, &src);
    assert_eq!(c, 0, "changes since the snapshot are expected");
    assert!(missed.is_empty(), "{missed:?}");
    // the source directory's own mtime moved with the new file
    assert_eq!(since, ["+ /src/new.txt", "M /src/a/two.txt", "U /src/"]);
    // -v lists them, without it only the counts
    let quiet = env.ok(&["check", "--compare-live"]);
    assert!(!quiet.contains("changed since  M") && quiet.contains("0 differences missed, 3 changed since"), "{quiet}");
    let verbose = env.ok(&["-v", "check", "--compare-live"]);
    assert!(verbose.contains("changed since  M    /") && verbose.contains("/src/a/two.txt"), "{verbose}");
    assert_eq!(describe(&src), before, "the check changed the live tree");
}

#[test]
fn a_rename_and_a_deletion_are_classified_by_when_they_happened() {
    let env = Env::new();
    let src = backed_up(&env);
    std::fs::rename(src.join("d/a/four.txt"), src.join("d/a/cuatro.txt")).unwrap();
    std::fs::remove_file(src.join("d/b/five.txt")).unwrap();
    write(&src.join("keep.txt"), b"keep, changed and listed");
    change_list_backup(&env, &src, &[src.join("keep.txt")]);
    let (c, missed, since) = compare(&env, &src);
    assert_eq!(c, 1);
    // a removal is dated by its live parent directory, which it changed
    assert_eq!(
        missed,
        ["+ /src/d/a/cuatro.txt", "- /src/d/a/four.txt", "- /src/d/b/five.txt", "U /src/d/a/", "U /src/d/b/"]
    );
    assert!(since.is_empty(), "{since:?}");
    // the same changes after a snapshot that has everything
    env.backup_json(&[src.to_str().unwrap()]);
    after_the_snapshot();
    std::fs::rename(src.join("a/two.txt"), src.join("a/dos.txt")).unwrap();
    std::fs::remove_file(src.join("keep.txt")).unwrap();
    let (c, missed, since) = compare(&env, &src);
    assert_eq!((c, missed), (0, vec![]));
    assert_eq!(since, ["+ /src/a/dos.txt", "- /src/a/two.txt", "- /src/keep.txt", "U /src/", "U /src/a/"]);
}

#[test]
fn a_missed_name_that_is_not_utf8_is_printed_escaped() {
    let env = Env::new();
    let src = backed_up(&env);
    write(&src.join(os(b"d/a/raw-\xff\x1b[31m")), b"made before the backup, not listed");
    write(&src.join("keep.txt"), b"keep, changed and listed");
    change_list_backup(&env, &src, &[src.join("keep.txt")]);
    let o = env.run(&["check", "--compare-live"]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains('\x1b'), "a name reached the terminal unescaped: {out:?}");
    assert!(out.contains("missed         +    ") && out.contains("/src/d/a/raw-\u{fffd}\\x1b[31m"), "{out}");
    let (_, missed, _) = compare(&env, &src);
    assert_eq!(missed, ["+ /src/d/a/raw-\u{fffd}\u{1b}[31m", "U /src/d/a/"]);
}

#[test]
fn excludes_the_snapshot_records_are_left_out_of_the_walk() {
    let env = Env::new();
    env.init();
    std::fs::create_dir_all(env.path("lists")).unwrap();
    let src = env.path("src");
    write(&src.join("a/one.txt"), b"one");
    write(&src.join("a/skip.tmp"), b"excluded");
    let args = ["--exclude", "*.tmp", src.to_str().unwrap()];
    env.backup_json(&args);
    // an excluded file changed and one made since: not differences, the walk leaves them out
    write(&src.join("a/skip.tmp"), b"excluded, changed");
    write(&src.join("a/other.tmp"), b"excluded, new");
    let (c, missed, since) = compare(&env, &src);
    assert_eq!(c, 0, "{missed:?}");
    assert!(missed.is_empty() && since.iter().all(|d| !d.contains(".tmp")), "{missed:?} {since:?}");
    // a snapshot that names a path no longer here is not the default; named, it is refused
    // with the path
    std::fs::rename(&src, env.path("moved")).unwrap();
    let o = env.run(&["check", "--compare-live"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no snapshot of host"), "{}", stderr(&o));
}
