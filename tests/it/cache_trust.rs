#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Nothing from the local cache can change what is stored, pruned or copied (issue 19,
//! point 3): a tampered or bit-rotted blob index table or copy map is rebuilt or ignored, never
//! trusted, and a cache directory that others could write to is not used.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{code, noise, stderr, write, Env};

/// Every regular file under `root`, relative path → content.
fn contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = p.symlink_metadata().unwrap();
            if m.is_dir() {
                walk(root, &p, out);
            } else if m.is_file() {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Files with distinct, incompressible content, so that each blob is its own.
fn write_files(dir: &Path, seed: u8, n: usize, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let mut x = (seed as u64) << 32 | i as u64 | 1;
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(dir.join(format!("file{i}")), bytes).unwrap();
    }
}

/// The cached blob index table of the one repository cached under `env`.
fn table_path(env: &Env) -> PathBuf {
    let root = env.path("cache/arca");
    let repo_dir = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().is_some_and(|n| n.len() == 64))
        .expect("a repository cache directory");
    repo_dir.join("blob-index-table")
}

/// `ARCAIT04` (format-spec §18.5): magic, file count, superseded count, pack count, entry count.
const HEADER: usize = 28;
const PACK: usize = 40;
const ENTRY: usize = 52;
const TREE_BIT: u32 = 1 << 31;

/// Where the table's packs start, how many there are, how many entries follow them.
fn layout(table: &[u8]) -> (usize, usize, usize) {
    let u32_at = |i: usize| u32::from_le_bytes(table[i..i + 4].try_into().unwrap()) as usize;
    let ids = u32_at(8) + u32_at(12);
    (HEADER + 32 * ids, u32_at(16), u64::from_le_bytes(table[20..28].try_into().unwrap()) as usize)
}

/// Rewrite the table consistently: every data blob of one data pack is said to live in another
/// data pack. The structure stays valid (sorted, pack numbers in range); only a MAC shows it.
fn move_blobs_to_another_pack(table: &mut [u8]) -> usize {
    let (packs_at, packs, count) = layout(table);
    let start = packs_at + packs * PACK;
    let pack_of = |t: &[u8], i: usize| {
        let o = start + i * ENTRY + 32;
        u32::from_le_bytes(t[o..o + 4].try_into().unwrap())
    };
    let mut data_packs: Vec<u32> = (0..count).map(|i| pack_of(table, i)).filter(|p| p & TREE_BIT == 0).collect();
    data_packs.sort();
    data_packs.dedup();
    assert!(data_packs.len() >= 2, "the test needs two data packs, found {data_packs:?}");
    let (from, to) = (data_packs[0], data_packs[1]);
    let mut moved = 0;
    for i in 0..count {
        if pack_of(table, i) == from {
            let o = start + i * ENTRY + 32;
            table[o..o + 4].copy_from_slice(&to.to_le_bytes());
            moved += 1;
        }
    }
    moved
}

fn two_backups(env: &Env) -> (PathBuf, PathBuf) {
    env.init();
    let (a, b) = (env.path("a"), env.path("b"));
    write_files(&a, 1, 4, 300_000);
    write_files(&b, 2, 4, 300_000);
    env.backup_json(&[a.to_str().unwrap()]);
    env.backup_json(&[b.to_str().unwrap()]);
    // a command that loads the index writes the cached table
    env.ok(&["stats", "--mode", "raw-data"]);
    assert!(table_path(env).exists(), "the index table is cached");
    (a, b)
}

fn assert_everything_restores(env: &Env, sources: &[&Path]) {
    env.ok(&["--no-cache", "check", "--read-data"]);
    for (i, src) in sources.iter().enumerate() {
        let out = env.path(&format!("restored-{i}"));
        let sel = format!("latest:{}", src.display());
        env.ok(&["--no-cache", "restore", &sel, "--path", src.to_str().unwrap(), "--target", out.to_str().unwrap()]);
        assert!(contents(src) == contents(&out), "{} does not restore bit-identically", src.display());
    }
}

#[test]
fn a_consistently_rewritten_index_table_cannot_make_prune_delete_a_live_pack() {
    let env = Env::new();
    let (a, b) = two_backups(&env);
    let path = table_path(&env);
    let mut table = std::fs::read(&path).unwrap();
    assert!(move_blobs_to_another_pack(&mut table) > 0);
    std::fs::write(&path, &table).unwrap();

    let o = env.run(&["prune", "--instant-delete"]);
    assert!(o.status.success(), "prune: {}", stderr(&o));
    assert_everything_restores(&env, &[&a, &b]);
    assert!(stderr(&o).contains("fails its authentication"), "the tampered table is reported: {}", stderr(&o));
}

#[test]
fn flipped_bytes_in_the_index_table_are_rebuilt_not_used() {
    let env = Env::new();
    let (a, b) = two_backups(&env);
    let path = table_path(&env);
    let mut table = std::fs::read(&path).unwrap();
    let (packs_at, packs, count) = layout(&table);
    // the offset field of every entry: reads would go to the wrong place
    for i in 0..count {
        table[packs_at + packs * PACK + i * ENTRY + 36] ^= 0x40;
    }
    std::fs::write(&path, &table).unwrap();
    // a restore through the cache, then a backup that dedups against it
    let out = env.path("through-cache");
    let sel = format!("latest:{}", b.display());
    let o = env.run(&["restore", &sel, "--path", b.to_str().unwrap(), "--target", out.to_str().unwrap()]);
    assert!(o.status.success(), "restore through a tampered cache: {}", stderr(&o));
    assert!(contents(&b) == contents(&out));
    env.backup_json(&[a.to_str().unwrap(), "--force"]);
    assert_everything_restores(&env, &[&a, &b]);
}

#[test]
fn a_tampered_copy_map_cannot_make_copy_write_another_files_content() {
    let src_env = Env::new();
    src_env.init();
    let data = src_env.path("data");
    write_files(&data, 3, 6, 20_000);
    src_env.backup_json(&[data.to_str().unwrap()]);

    let dst_env = Env::new();
    let pass = dst_env.path("from-pass");
    std::fs::write(&pass, common::PASSWORD).unwrap();
    let src_repo = src_env.location();
    // chunked alike, so copy maps blob ids instead of cutting files again
    dst_env.ok(&[
        "init",
        "--from-repo",
        src_repo.to_str().unwrap(),
        "--from-password-file",
        pass.to_str().unwrap(),
        "--copy-chunker-params",
    ]);
    let copy = |env: &Env| {
        env.ok(&["copy", "--from-repo", src_repo.to_str().unwrap(), "--from-password-file", pass.to_str().unwrap()])
    };
    copy(&dst_env);

    // swap the targets of the remembered rows around, keeping every row well formed
    // the target's cache (the source is cached beside it): the one whose copy map has rows
    let caches: Vec<PathBuf> = std::fs::read_dir(dst_env.path("cache/arca"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("catalog.sqlite").exists())
        .collect();
    let mut found = None;
    for dir in caches {
        let conn = rusqlite::Connection::open(dir.join("catalog.sqlite")).unwrap();
        let table: String = conn
            .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'copy_map%'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = conn
            .prepare(&format!("SELECT src, dst FROM {table} ORDER BY src"))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        if !rows.is_empty() {
            found = Some((conn, table, rows));
        }
    }
    let (conn, table, rows) = found.expect("the target's cache remembers the copied blobs");
    assert!(rows.len() >= 6, "copy remembered its blobs: {}", rows.len());
    for (i, (src, _)) in rows.iter().enumerate() {
        let dst = &rows[(i + 1) % rows.len()].1;
        conn.execute(&format!("UPDATE {table} SET dst = ?1 WHERE src = ?2"), rusqlite::params![dst, src]).unwrap();
    }
    drop(conn);

    // the same content under new metadata: new trees, so copy looks every data blob up
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        filetime::set_file_mtime(&p, filetime::FileTime::from_unix_time(1_700_000_000, 0)).unwrap();
    }
    src_env.backup_json(&[data.to_str().unwrap()]);
    copy(&dst_env);

    dst_env.ok(&["--no-cache", "check", "--read-data"]);
    let out = dst_env.path("restored");
    let sel = format!("latest:{}", data.display());
    dst_env.ok(&["--no-cache", "restore", &sel, "--target", out.to_str().unwrap()]);
    assert!(contents(&data) == contents(&out), "the copied snapshot holds each file's own content");
}

#[test]
fn a_cache_directory_others_can_write_to_is_not_used() {
    let env = Env::new();
    let cache = env.path("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    env.init();
    let src = env.path("src");
    write_files(&src, 4, 2, 1000);
    let o = env.cmd().args(["backup", src.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not using the local cache"), "a warning says why: {}", stderr(&o));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0, "nothing was written into it");

    // a symlinked cache directory is refused too, and nothing is made through it
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, cache.join("arca")).unwrap();
    let o = env.cmd().args(["snapshots"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("symlink"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// `key rotate` changes the master secret and with it the cache's MAC key: the table made
/// before is rebuilt quietly, not reported as failing its authentication (which reads like an
/// attack), while a table damaged under the current key still is.
#[test]
fn a_table_from_before_key_rotate_is_rebuilt_without_a_tampering_warning() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(300_000, 3));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    env.ok(&["ls", "latest"]);
    env.ok(&["key", "rotate"]);
    let o = env.run(&["ls", "latest"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("fails its authentication"), "{}", stderr(&o));
    // the table rebuilt under the new key is used and checked
    let table = table_path(&env);
    let mut bytes = std::fs::read(&table).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&table, &bytes).unwrap();
    let o = env.run(&["ls", "latest"]);
    assert!(stderr(&o).contains("fails its authentication"), "{}", stderr(&o));
}

/// The index files of the repository under `env`.
fn index_files(env: &Env) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(env.repo.join("index")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// How many index files the cached table says it was built from.
fn covered_files(env: &Env) -> usize {
    let t = std::fs::read(table_path(env)).unwrap();
    assert_eq!(&t[..8], b"ARCAIT04");
    u32::from_le_bytes(t[8..12].try_into().unwrap()) as usize
}

fn blobs(env: &Env, cache: bool) -> Vec<String> {
    let args: &[&str] = if cache { &["list", "blobs"] } else { &["--no-cache", "list", "blobs"] };
    let mut v: Vec<String> = env.ok(args).lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn the_cached_table_takes_in_new_index_files_and_never_keeps_removed_ones() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    for seed in 1..=3 {
        write_files(&src.join(format!("d{seed}")), seed, 3, 40_000);
        env.backup_json(&[src.to_str().unwrap()]);
    }
    // a walk over the table's positions folds what is laid over it and writes the table
    env.ok(&["stats", "--mode", "raw-data"]);
    assert_eq!(covered_files(&env), 3);
    let covered = index_files(&env);
    write_files(&src.join("d4"), 4, 3, 40_000);
    env.backup_json(&[src.to_str().unwrap()]);
    // the last backup's index file is laid over the table, not merged into it, and the
    // answers are a full build's
    assert_eq!((covered_files(&env), index_files(&env).len()), (3, 4));
    assert_eq!(blobs(&env, true), blobs(&env, false));
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    env.ok(&["restore", &sel, "--target", out.to_str().unwrap(), "--verify"]);
    assert_eq!(contents(&src), contents(&out));
    assert_eq!(covered_files(&env), 3, "a lookup-only command does not rewrite the table");
    // an index file the table covers disappears from storage: its blobs leave the index at
    // once (a table that kept them would let a backup deduplicate against unindexed data)
    let before = blobs(&env, true);
    std::fs::remove_file(&covered[1]).unwrap();
    let after = blobs(&env, true);
    assert_eq!(after, blobs(&env, false));
    assert!(after.len() < before.len(), "the removed file's blobs are still listed");
    assert_eq!(covered_files(&env), 3, "rebuilt from the listing");
    // prune supersedes and marks: the next load builds from every file again
    env.ok(&["repair", "index"]);
    env.ok(&["forget", "--keep-last", "1", "--prune"]);
    assert_eq!(blobs(&env, true), blobs(&env, false));
    env.check();
}
