#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The library on the in-memory backend: init, back up, list, restore and check without a
//! file system repository or the binary.

use crate::common;

use arca::commands::backup::BackupCommand;
use arca::test_repo::TestRepo;
use common::*;

#[test]
fn memory_backend_round_trip() {
    let t = TestRepo::new();
    let big = noise(3_000_000, 5);
    let src = t.write_tree("src", &[("a", &big[..]), ("sub/b", &b"small"[..])]);
    let (report, warnings) =
        t.backup_with(BackupCommand { tags: vec!["lib".into()], host: Some("mem".into()), ..t.command(&src) });
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(report.files_new, 2);
    let snaps = t.snapshots();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].1.tags, vec!["lib".to_string()]);
    assert_eq!(snaps[0].1.hostname, "mem");
    let out = t.path("out");
    let s = t.restore(&format!("latest:{}", src.display()), &out);
    assert_eq!(s.files_verified, 2);
    assert_same_tree(&describe(&src), &describe(&out));
    assert_eq!(t.stored(&src.join("sub/b")).as_deref(), Some(&b"small"[..]));
    t.check();
}

#[test]
fn another_client_sees_what_one_backed_up() {
    let t = TestRepo::new();
    let src = t.write("one/file", b"seen by the next client");
    t.backup(&src);
    let other = t.reopen();
    let snaps = other.snapshots().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].1.paths, vec![src.to_string_lossy().into_owned()]);
    assert_eq!(t.latest().0, snaps[0].0);
}

/// The verbs a library caller (or a web server) runs without the command line: tag, find and
/// copy each take their own lock, select, and return their report; the locks are released when
/// they return, and a repository another process holds exclusively refuses each of them.
#[test]
fn tag_find_and_copy_run_through_commands_and_take_their_own_locks() {
    use arca::commands::find::{self, FindOptions, Found};
    use arca::commands::{copy, select::Filter, tag};
    use arca::error::Kind;
    use arca::repo::{LockMode, Repository};

    let t = TestRepo::new();
    let data = noise(300_000, 9);
    let src = t.write_tree("src", &[("docs/report.txt", &b"first draft"[..]), ("data.bin", &data[..])]);
    let repo = t.repo.clone();
    let backup = |time: &str| {
        let cmd = BackupCommand { host: Some("mem".into()), time: Some(time.into()), ..t.command(&src) };
        let (_, warnings) = t.backup_with(cmd);
        assert!(warnings.is_empty(), "{warnings:?}");
    };
    backup("2026-01-01 10:00:00");
    t.write("src/docs/report.txt", b"second draft, longer");
    backup("2026-02-01 10:00:00");
    let no_locks = |r: &Repository, when: &str| assert!(r.locks().unwrap().is_empty(), "a lock left after {when}");

    let change = tag::TagChange::new(&[], &["reviewed".into()], &[]).unwrap();
    let tagged = tag::tag(&repo, &["latest".into()], &Filter::default(), &change).unwrap();
    assert_eq!(tagged.changed.len(), 1, "{tagged:?}");
    assert_eq!(tagged.changed[0].tags, vec!["reviewed".to_string()]);
    no_locks(&repo, "tag");
    let again = tag::tag(&repo, &["latest".into()], &Filter::default(), &change).unwrap();
    assert_eq!((again.changed.len(), again.unchanged), (0, 1), "{again:?}");

    let by_name = FindOptions { patterns: vec!["report.txt".into()], ..Default::default() };
    match find::run(&repo, &by_name, &|_| {}).unwrap() {
        Found::Matches(m) => {
            assert_eq!(m.len(), 2, "{m:?}");
            assert!(m.iter().all(|s| s.hits == 1 && s.matches[0].path.ends_with("/docs/report.txt")), "{m:?}");
        }
        other => panic!("asked for names, got {other:?}"),
    }
    let path = format!("{}/docs/report.txt", src.display());
    let history = FindOptions { path: Some(path.clone()), ..Default::default() };
    match find::run(&repo, &history, &|_| {}).unwrap() {
        Found::History(h) => {
            assert_eq!((h.path.as_str(), h.snapshots_searched, h.versions.len()), (path.as_str(), 2, 2), "{h:?}");
            assert_eq!(h.versions[0].size, 20, "newest first: {h:?}");
        }
        other => panic!("asked for a history, got {other:?}"),
    }
    no_locks(&repo, "find");

    let target = TestRepo::new();
    let dst = target.repo.clone();
    let reviewed = Filter { tags: vec!["reviewed".into()], ..Default::default() };
    let first = copy::copy(&repo, &dst, &[], &reviewed, &|_| {}).unwrap();
    assert_eq!((first.copied.len(), first.already_copied.len()), (1, 0), "{first:?}");
    assert_eq!(dst.snapshots().unwrap()[0].1.tags, vec!["reviewed".to_string()]);
    let all = copy::copy(&repo, &dst, &[], &Filter::default(), &|_| {}).unwrap();
    assert_eq!((all.copied.len(), all.already_copied.len()), (1, 1), "{all:?}");
    assert_eq!(dst.snapshots().unwrap().len(), 2);
    no_locks(&repo, "copy (source)");
    no_locks(&dst, "copy (target)");

    // another process holds the source exclusively (a prune with --instant-delete): every
    // verb that reads or writes it stops with Locked instead of running beside it
    let other = t.reopen();
    let held = other.lock("prune", LockMode::Exclusive).unwrap();
    let locked = |r: arca::error::Result<()>, verb: &str| {
        let e = r.expect_err(verb);
        assert_eq!(e.kind, Kind::Locked, "{verb}: {e}");
    };
    let snapshots_before = repo.snapshots().unwrap();
    locked(tag::tag(&repo, &[], &Filter::default(), &change).map(drop), "tag");
    locked(find::run(&repo, &by_name, &|_| {}).map(drop), "find");
    locked(copy::copy(&repo, &dst, &[], &Filter::default(), &|_| {}).map(drop), "copy from it");
    locked(copy::copy(&dst, &repo, &[], &Filter::default(), &|_| {}).map(drop), "copy into it");
    drop(held);
    assert_eq!(repo.snapshots().unwrap().len(), snapshots_before.len(), "nothing changed under the lock");
    t.check();
    target.check();
}
