#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Format 4: tiny files stored inline in their tree nodes (format-spec/v4.md §13.5). Every
//! reader gives their bytes exactly (restore, `--verify`, dump, mount, the server's ranged
//! reads, diff, stats, check); a file that grows before it is read is stored whole; `copy` into
//! a version 3 repository stores the bytes as blobs there; a version 3 repository keeps writing
//! version 3 trees until `migrate upgrade_repo_v4`.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca::format::tree::NodeKind;
use common::*;
use serde_json::Value;

/// The files of one test tree: (name, bytes). 128 bytes is the largest inline file; 129 is
/// stored in a blob.
fn tiny_tree(src: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let files = vec![
        ("empty", vec![]),
        ("one", b"x".to_vec()),
        ("at-max", noise(128, 1)),
        ("over-max", noise(129, 2)),
        ("big.bin", noise(300_000, 3)),
        ("dir/same-as-one", b"x".to_vec()),
    ];
    for (name, bytes) in &files {
        write(&src.join(name), bytes);
    }
    files
}

/// The node named `name` in the tree of directory `dir` of the latest snapshot (`cat tree`).
fn node(env: &Env, dir: &Path, name: &str) -> Value {
    let tree: Value = serde_json::from_str(&env.ok(&["cat", "tree", &format!("latest:{}", dir.display())])).unwrap();
    tree["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).cloned().expect("the node is listed")
}

fn is_inline(n: &Value) -> bool {
    n.get("inline").is_some()
}

#[test]
fn tiny_files_are_inline_and_restore_dump_ls_stats_and_check_give_their_bytes() {
    let env = Env::new();
    let src = env.path("src");
    let files = tiny_tree(&src);
    env.init();
    let s = env.backup_json(&[src.to_str().unwrap()]);
    // big.bin and over-max alone need data blobs
    assert!(s["data_blobs"].as_u64().unwrap() >= 2, "{s}");
    for (name, inline) in [("one", true), ("at-max", true), ("over-max", false), ("empty", false)] {
        let n = node(&env, &src, name);
        assert_eq!(is_inline(&n), inline, "{name}: {n}");
    }
    let n = node(&env, &src, "at-max");
    assert_eq!(n["inline"], hex::encode(noise(128, 1)));
    assert_eq!(n["content"], serde_json::json!([]));
    assert_eq!(n["size"], 128);
    assert!(node(&env, &src, "over-max")["content"].as_array().unwrap().len() == 1);

    // restore, with --verify, byte for byte
    let out = env.path("out");
    env.ok(&["restore", "latest", "--target", out.to_str().unwrap(), "--verify"]);
    assert_same_tree(&describe(&src), &describe(&out.join(src.strip_prefix("/").unwrap())));
    // dump, file by file
    for (name, bytes) in &files {
        let o = env.run(&["dump", "latest", src.join(name).to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(&o.stdout, bytes, "dump of {name}");
    }
    // ls -l and --json sizes
    let long = env.ok(&["ls", "-l", "latest", src.to_str().unwrap()]);
    let line = long.lines().find(|l| l.ends_with("/at-max")).unwrap_or_else(|| panic!("{long}"));
    assert!(line.contains(" 128 "), "{line}");
    // stats: the two inline "x" files are one content, the other inline file another
    let stats: Value =
        serde_json::from_str(env.ok(&["stats", "--mode", "files-by-contents", "--json"]).trim()).unwrap();
    assert_eq!(stats["total_file_count"], 5, "empty, x, at-max, over-max, big.bin: {stats}");
    assert_eq!(stats["total_size"], 1 + 128 + 129 + 300_000, "{stats}");
    let per_file: Value =
        serde_json::from_str(env.ok(&["stats", "--mode", "blobs-per-file", "--json"]).trim()).unwrap();
    assert_eq!(per_file["total_size"], 1 + 128 + 129 + 300_000, "{per_file}");
    let restore_size: Value = serde_json::from_str(env.ok(&["stats", "--json"]).trim()).unwrap();
    assert_eq!(restore_size["total_size"], 2 + 128 + 129 + 300_000, "{restore_size}");
    env.check();
}

#[test]
fn diff_sees_a_changed_inline_file_and_not_an_unchanged_one() {
    let env = Env::new();
    let src = env.path("src");
    tiny_tree(&src);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    // same size, other bytes: only the content tells
    write(&src.join("one"), b"y");
    std::fs::write(src.join("at-max"), noise(128, 1)).unwrap(); // rewritten, same bytes
    let s = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(s["data_blobs"], 0, "no blob for a tiny file: {s}");
    let ids = env.snapshot_ids();
    let diff = env.ok(&["diff", &ids[0], &ids[1]]);
    let changed: Vec<&str> = diff.lines().filter(|l| l.starts_with("M ")).collect();
    assert_eq!(changed.len(), 1, "{diff}");
    assert!(changed[0].ends_with("/one"), "{diff}");
    assert_eq!(env.ok(&["dump", "latest", src.join("one").to_str().unwrap()]), "y");
}

#[test]
fn the_mount_and_the_servers_ranged_reads_give_inline_bytes() {
    use arca::backend::{self, Location};
    use arca::mount::vfs::{Vfs, VfsOptions, ROOT};
    use arca::repo::Repository;
    let env = Env::new();
    let src = env.path("src");
    tiny_tree(&src);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(raw, PASSWORD.as_bytes()).unwrap());
    let want = noise(128, 1);

    // the virtual tree FUSE serves
    let v = Arc::new(Vfs::new(repo.clone(), VfsOptions::default()).unwrap());
    let snapshots = v.lookup(ROOT, b"snapshots").unwrap().ino;
    let latest = v.lookup(snapshots, b"latest").unwrap();
    assert_eq!(latest.kind, NodeKind::Symlink);
    // snapshots/latest links to the snapshot's directory beside it
    let mut ino = v.lookup(snapshots, &v.readlink(latest.ino).unwrap()).unwrap().ino;
    let path = format!("{}/at-max", src.display());
    for c in path.split('/').filter(|c| !c.is_empty()) {
        ino = v.lookup(ino, c.as_bytes()).unwrap_or_else(|e| panic!("{c}: {e:?}")).ino;
    }
    let fh = v.open(ino).unwrap();
    assert_eq!(v.read(fh, 0, 4096).unwrap(), want);
    assert_eq!(v.read(fh, 100, 10).unwrap(), want[100..110]);
    assert_eq!(v.read(fh, 120, 100).unwrap(), want[120..]);
    assert!(v.read(fh, 500, 10).unwrap().is_empty());
    v.release(fh);

    // the web UI's downloads (HTTP ranges)
    let (_, snap) = arca::commands::select::select(&repo, "latest", &Default::default()).unwrap();
    let node = arca::commands::file_range::file_at(&repo, &snap, &format!("{}/at-max", src.display())).unwrap();
    assert!(node.inline.is_some());
    let layout = arca::commands::file_range::FileLayout::new(&repo, &node).unwrap();
    assert_eq!(layout.size(), 128);
    let mut got = vec![];
    layout
        .read(&repo, 10, 20, &mut |piece| {
            got.extend(piece);
            true
        })
        .unwrap();
    assert_eq!(got, want[10..20]);
}

#[test]
fn a_tiny_file_that_grows_after_it_was_listed_is_stored_whole() {
    use arca::commands::backup::BackupCommand;
    use arca::test_repo::TestRepo;
    let t = TestRepo::new();
    let src = t.write_tree("src", &[("grows", &b"small at first"[..]), ("stays", &b"small"[..])]);
    let grows = src.join("grows");
    let g = grows.clone();
    let more = noise(5_000, 4);
    let appended = more.clone();
    let cmd = BackupCommand {
        engine: arca::archiver::BackupOptions {
            before_open: Some(Arc::new(move |p: &Path| {
                if p == g {
                    use std::io::Write;
                    std::fs::OpenOptions::new().append(true).open(p).unwrap().write_all(&appended).unwrap();
                }
            })),
            ..Default::default()
        },
        ..t.command(&src)
    };
    let (_, warnings) = t.backup_with(cmd);
    let mut whole = b"small at first".to_vec();
    whole.extend_from_slice(&more);
    assert_eq!(t.stored(&grows), Some(whole.clone()), "the grown file was not stored whole: {warnings:?}");
    assert_eq!(t.stored(&src.join("stays")), Some(b"small".to_vec()));
    let (_, snap) = t.latest();
    let n = t.repo.find_path(&snap.tree, grows.to_str().unwrap()).unwrap().unwrap();
    assert!(n.inline.is_none() && !n.content.is_empty(), "a grown file kept inline: {n:?}");
    assert_eq!(n.size, whole.len() as u64);
    let target = t.path("restored");
    t.restore("latest", &target);
    assert_eq!(std::fs::read(target.join(grows.strip_prefix("/").unwrap())).unwrap(), whole);
    assert!(t.check().ok());
}

/// A copy of the golden repository `name` in a fresh environment.
fn golden(name: &str) -> Env {
    let env = Env::new();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name), &env.repo);
    env
}

fn version(repo: &Path) -> u8 {
    std::fs::read(repo.join("config")).unwrap()[4]
}

#[test]
fn copy_into_a_version_3_repository_stores_inline_files_as_blobs_there() {
    let env = Env::new();
    let src = env.path("src");
    tiny_tree(&src);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let dest = golden("golden-v3");
    let to = |args: &[&str]| {
        let o = dest
            .cmd()
            .env("ARCA_PASSWORD", "golden v3")
            .env("ARCA_FROM_PASSWORD", PASSWORD)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    to(&["copy", "--from-repo", env.repo.to_str().unwrap()]);
    assert_eq!(version(&dest.repo), 3, "copy changed the destination's version");
    let tree: Value = serde_json::from_str(&to(&["cat", "tree", &format!("latest:{}", src.display())])).unwrap();
    for n in tree["nodes"].as_array().unwrap() {
        assert!(n.get("inline").is_none(), "inline content in a version 3 repository: {n}");
    }
    let out = dest.path("out");
    to(&["restore", &format!("latest:{}", src.display()), "--target", out.to_str().unwrap(), "--verify"]);
    assert_same_tree(&describe(&src), &describe(&out));
    let check: Value = serde_json::from_str(to(&["check", "--read-data", "--json"]).trim()).unwrap();
    assert_eq!(check["errors"].as_array().map(Vec::len), Some(0), "{check}");
}

#[test]
fn a_version_3_repository_keeps_writing_version_3_trees_until_migrate_upgrade_repo_v4() {
    let g = golden("golden-v3");
    let arca = |args: &[&str]| {
        let o = g.cmd().env("ARCA_PASSWORD", "golden v3").args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let src = g.path("src");
    write(&src.join("tiny"), b"tiny in v3");
    arca(&["backup", src.to_str().unwrap()]);
    let tree = |arca: &dyn Fn(&[&str]) -> String| -> Value {
        serde_json::from_str(&arca(&["cat", "tree", &format!("latest:{}", src.display())])).unwrap()
    };
    assert!(tree(&arca)["nodes"][0].get("inline").is_none(), "a version 3 repository got inline content");
    assert_eq!(version(&g.repo), 3);
    let before = g.path("before");
    arca(&["restore", "latest", "--target", before.to_str().unwrap()]);

    let listing = arca(&["migrate"]);
    assert!(listing.contains("  upgrade_repo_v4: "), "{listing}");
    assert!(listing.contains("upgrade_repo_v3 (does not apply"), "{listing}");
    let snapshots = arca(&["list", "snapshots"]);
    let packs = g.packs();
    let dry: Value = serde_json::from_str(arca(&["migrate", "upgrade_repo_v4", "--dry-run", "--json"]).trim()).unwrap();
    assert_eq!((dry["from_version"].as_u64(), dry["to_version"].as_u64()), (Some(3), Some(4)), "{dry}");
    assert_eq!(version(&g.repo), 3, "a dry run wrote config");
    let done: Value = serde_json::from_str(arca(&["migrate", "upgrade_repo_v4", "--json"]).trim()).unwrap();
    assert_eq!(done["config_written"], true, "{done}");
    assert_eq!(done["check"]["errors"].as_array().map(Vec::len), Some(0), "{done}");
    assert_eq!(version(&g.repo), 4);
    assert_eq!(g.packs(), packs, "a version 3 to 4 upgrade rewrote packs");
    assert_eq!(arca(&["list", "snapshots"]), snapshots, "snapshot ids changed");
    let after = g.path("after");
    arca(&["restore", "latest", "--target", after.to_str().unwrap()]);
    assert_same_tree(&describe(&before), &describe(&after));
    let again = g.cmd().env("ARCA_PASSWORD", "golden v3").args(["migrate", "upgrade_repo_v4"]).output().unwrap();
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert!(stderr(&again).contains("does not apply"), "{}", stderr(&again));

    // the unchanged file keeps its blob; a new tiny file is inline
    write(&src.join("tinier"), b"now inline");
    arca(&["backup", src.to_str().unwrap()]);
    let t = tree(&arca);
    let nodes = t["nodes"].as_array().unwrap();
    let by = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap().clone();
    assert!(by("tiny").get("inline").is_none(), "an unchanged file was read again: {t}");
    assert_eq!(by("tinier")["inline"], hex::encode(b"now inline"), "{t}");
    let out = g.path("out");
    arca(&["restore", &format!("latest:{}", src.display()), "--target", out.to_str().unwrap(), "--verify"]);
    assert_same_tree(&describe(&src), &describe(&out));
    let check: Value = serde_json::from_str(arca(&["check", "--read-data", "--json"]).trim()).unwrap();
    assert_eq!(check["errors"].as_array().map(Vec::len), Some(0), "{check}");
}

#[test]
fn migrate_upgrade_repo_v4_takes_golden_v1_to_version_4_in_one_command() {
    let g = golden("golden-v1");
    let arca = |args: &[&str]| {
        let o = g.cmd().env("ARCA_PASSWORD", "golden v1").args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let before = g.path("before");
    arca(&["restore", "latest", "--target", before.to_str().unwrap()]);
    let done: Value = serde_json::from_str(arca(&["migrate", "upgrade_repo_v4", "--json"]).trim()).unwrap();
    assert_eq!((done["from_version"].as_u64(), done["to_version"].as_u64()), (Some(1), Some(4)), "{done}");
    assert!(done["packs_written"].as_u64().unwrap() >= 1, "the version 3 pack layout was not written: {done}");
    assert_eq!(version(&g.repo), 4);
    for f in std::fs::read_dir(g.repo.join("index")).unwrap() {
        assert!(std::fs::read(f.unwrap().path()).unwrap()[4] >= 3, "an index file of the old layout is left");
    }
    let after: PathBuf = g.path("after");
    arca(&["restore", "latest", "--target", after.to_str().unwrap()]);
    assert_same_tree(&describe(&before), &describe(&after));
    let check: Value = serde_json::from_str(arca(&["check", "--read-data", "--json"]).trim()).unwrap();
    assert_eq!(check["errors"].as_array().map(Vec::len), Some(0), "{check}");
}
