#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Back up trees with every file kind and metadata, restore them, compare field by field.

use crate::common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use common::*;

fn build_everything(src: &Path) {
    write(&src.join("empty"), b"");
    write(&src.join("small.txt"), b"hello arca\n");
    write(&src.join("big.bin"), &noise(3 * 1024 * 1024 + 17, 1));
    write(&src.join("dir/nested/file"), &noise(70_000, 2));
    std::fs::create_dir_all(src.join("empty-dir")).unwrap();
    // hardlinks
    write(&src.join("links/a"), b"linked content");
    std::fs::hard_link(src.join("links/a"), src.join("links/b")).unwrap();
    std::fs::hard_link(src.join("links/a"), src.join("dir/c")).unwrap();
    // symlinks, including dangling and absolute
    symlink("small.txt", src.join("rel-link")).unwrap();
    symlink("/nonexistent/target", src.join("dangling")).unwrap();
    symlink("../../small.txt", src.join("dir/nested/up-link")).unwrap();
    // non-UTF-8 and long names
    write(&src.join(os(b"caf\xe9-\xff\xfe")), b"latin-1 name");
    let long = "n".repeat(255);
    write(&src.join(&long), b"long name");
    // deep nesting
    let mut deep = src.join("deep");
    for i in 0..40 {
        deep = deep.join(format!("d{i}"));
    }
    write(&deep.join("leaf"), b"deep leaf");
    // modes
    write(&src.join("exec.sh"), b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(src.join("exec.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&src.join("private"), b"secret");
    std::fs::set_permissions(src.join("private"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir_all(src.join("sticky")).unwrap();
    std::fs::set_permissions(src.join("sticky"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    // fifo
    nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o640)).unwrap();
    // devices, when root
    if is_root() {
        nix::sys::stat::mknod(
            &src.join("null-dev"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        nix::unistd::chown(
            &src.join("private"),
            Some(nix::unistd::Uid::from_raw(12345)),
            Some(nix::unistd::Gid::from_raw(54321)),
        )
        .unwrap();
    }
    // xattrs, where the file system has them
    if xattrs_supported(src) {
        xattr::set(src.join("small.txt"), "user.comment", b"a comment").unwrap();
        xattr::set(src.join("dir"), "user.dir-attr", &[0u8, 1, 2, 255]).unwrap();
    }
    // timestamps with nanoseconds, set last (after creating children)
    let t = nix::sys::time::TimeSpec::new(1_600_000_000, 123_456_789);
    for p in ["small.txt", "big.bin", "dir/nested", "empty-dir"] {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &src.join(p),
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &src.join("rel-link"),
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

#[test]
fn every_file_kind_round_trips() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    build_everything(&src);
    // a socket, which restore skips (as restic does)
    let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    env.init();
    let s = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(s["errors"], 0, "{s}");
    assert!(s["snapshot_id"].is_string());

    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify"]);
    let mut want = describe(&src);
    want.remove(Path::new("sock"));
    let got = describe(&out);
    assert_same_tree(&want, &got);
    env.check();
}

#[test]
fn restore_of_whole_snapshot_mirrors_absolute_paths_and_includes_filter() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("keep/a.txt"), b"a");
    write(&src.join("keep/sub/b.txt"), b"b");
    write(&src.join("drop/c.txt"), b"c");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let out = env.path("out");
    let inc = format!("{}/keep", src.display());
    env.ok(&["restore", "latest", "--target", out.to_str().unwrap(), "--include", &inc]);
    let root = out.join(src.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(root.join("keep/sub/b.txt")).unwrap(), b"b");
    assert!(!root.join("drop").exists(), "--include restored an excluded directory");
    let out2 = env.path("out2");
    env.ok(&["restore", "latest", "--target", out2.to_str().unwrap(), "--exclude", "*.txt"]);
    let root2 = out2.join(src.strip_prefix("/").unwrap());
    assert!(root2.join("keep/sub").is_dir());
    assert!(!root2.join("keep/a.txt").exists());
}

#[test]
fn sparse_restore_makes_holes_and_keeps_content() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let f = std::fs::File::create(src.join("sparse")).unwrap();
    f.set_len(40 * 1024 * 1024).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_at(b"tail data", 40 * 1024 * 1024 - 9).unwrap();
    drop(f);
    env.init();
    let s = env.backup_json(&[src.to_str().unwrap()]);
    // 40 MiB of zeros dedup to very little
    assert!(s["data_added_packed"].as_u64().unwrap() < 2 * 1024 * 1024, "{s}");
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--sparse", "--verify"]);
    let restored = out.join("sparse");
    assert_eq!(std::fs::read(&restored).unwrap(), std::fs::read(src.join("sparse")).unwrap());
    use std::os::unix::fs::MetadataExt;
    let blocks = std::fs::metadata(&restored).unwrap().blocks();
    assert!(blocks * 512 < 20 * 1024 * 1024, "restored file is not sparse: {blocks} blocks");
    env.check();
}

#[test]
fn overwrite_policies_and_delete() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"snapshot a");
    write(&src.join("b"), b"snapshot b");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let out = env.path("out");
    let t = out.to_str().unwrap();
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", t]);
    write(&out.join("a"), b"local change");
    write(&out.join("extra"), b"not in snapshot");
    env.ok(&["restore", &sel, "--target", t, "--overwrite", "never"]);
    assert_eq!(std::fs::read(out.join("a")).unwrap(), b"local change");
    env.ok(&["restore", &sel, "--target", t, "--overwrite", "if-changed", "--delete"]);
    assert_eq!(std::fs::read(out.join("a")).unwrap(), b"snapshot a");
    assert!(!out.join("extra").exists(), "--delete kept a file not in the snapshot");
}

/// A file whose bytes equal an encoded tree (here the empty tree) must not be confused with
/// that tree: data and tree blobs have separate id keys (found in review of format v1).
#[test]
fn file_with_the_bytes_of_an_empty_tree_and_an_empty_dir() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a-file"), &arca::format::tree::Tree::default().encode());
    std::fs::create_dir_all(src.join("b-empty-dir")).unwrap();
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    env.check();
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify"]);
    assert_same_tree(&describe(&src), &describe(&out));
}

/// More entries than one restore batch (4096), with hardlinks whose copies fall in different
/// batches and empty directories between them.
#[test]
fn restore_across_batches() {
    let env = Env::new();
    let src = env.path("src");
    for d in 0..50 {
        for f in 0..100 {
            write(&src.join(format!("d{d:02}/f{f:03}")), format!("{d}/{f}").as_bytes());
        }
        std::fs::create_dir_all(src.join(format!("d{d:02}/empty"))).unwrap();
    }
    std::fs::hard_link(src.join("d00/f000"), src.join("d49/link-to-first")).unwrap();
    std::os::unix::fs::symlink("f001", src.join("d45/sym")).unwrap();
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    let o = env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify", "--json"]);
    let s = summary(&o);
    assert_eq!(s["files_restored"], 5001, "{s}");
    assert_same_tree(&describe(&src), &describe(&out));
}

/// An unchanged file's attributes come from the parent snapshot (same inode and ctime); setting
/// or removing one moves ctime, so the next backup reads them again. Each backup's restore must
/// show exactly the attributes the source had then.
#[test]
fn xattrs_follow_their_files_through_unchanged_and_changed_backups() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    if !xattrs_supported(&src) {
        eprintln!("skipped: no user xattrs on this file system");
        return;
    }
    write(&src.join("a.txt"), b"changes its attributes");
    write(&src.join("b.txt"), b"keeps its attributes");
    xattr::set(src.join("a.txt"), "user.k", b"v1").unwrap();
    xattr::set(src.join("b.txt"), "user.k", b"kept").unwrap();
    xattr::set(src.join("d"), "user.d", b"on the directory").unwrap();
    env.init();
    let restore_matches = |n: usize| {
        let out = env.path(&format!("out{n}"));
        let sel = format!("latest:{}", src.display());
        env.ok(&["restore", &sel, "--target", out.to_str().unwrap()]);
        assert_same_tree(&describe(&src), &describe(&out));
    };

    env.backup_json(&[src.to_str().unwrap()]);
    let s = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(s["files_unmodified"], 2, "{s}");
    restore_matches(1);

    xattr::set(src.join("a.txt"), "user.k", b"v2").unwrap();
    xattr::set(src.join("a.txt"), "user.added", b"new").unwrap();
    xattr::remove(src.join("d"), "user.d").unwrap();
    env.backup_json(&[src.to_str().unwrap()]);
    restore_matches(2);

    xattr::remove(src.join("a.txt"), "user.k").unwrap();
    env.backup_json(&[src.to_str().unwrap()]);
    restore_matches(3);
    env.check();
}
