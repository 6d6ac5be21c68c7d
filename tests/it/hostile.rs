#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Hostile and damaged repositories: restore never writes outside its target, refuses
//! malformed trees with a clear error, and restores everything that is intact.

use crate::common;

use std::sync::Arc;

use arca::backend::{self, Location};
use arca::codec::Compression;
use arca::format::snapshot::Snapshot;
use arca::format::tree::{Node, NodeKind, Tree};
use arca::format::BlobType;
use arca::id::TreeId;
use arca::repo::{BlobSaver, LockMode, Repository};
use common::*;

fn open(env: &Env) -> Arc<Repository> {
    let b = backend::open(&Location::Local(env.repo.clone()), &[]).unwrap();
    Arc::new(Repository::open(b, PASSWORD.as_bytes()).unwrap())
}

fn file(name: &[u8], saver: &BlobSaver, data: &[u8]) -> Node {
    let mut n = Node::new(name.to_vec(), NodeKind::File);
    n.mode = 0o644;
    n.size = data.len() as u64;
    n.content = vec![saver.save(BlobType::Data, data.to_vec()).unwrap().0];
    n
}

fn dir(name: &[u8], saver: &BlobSaver, nodes: Vec<Node>) -> Node {
    let mut n = Node::new(name.to_vec(), NodeKind::Dir);
    n.mode = 0o755;
    n.subtree = Some(TreeId::from_blob(saver.save(BlobType::Tree, Tree { nodes }.encode()).unwrap().0));
    n
}

/// Write a snapshot whose root tree has exactly these nodes (no validation on the way).
fn snapshot_of(repo: &Arc<Repository>, build: impl FnOnce(&BlobSaver) -> Vec<Node>) {
    let saver = BlobSaver::new(repo.clone(), Compression::AUTO, 2, 1, false).unwrap();
    let nodes = build(&saver);
    let tree = TreeId::from_blob(saver.save(BlobType::Tree, Tree { nodes }.encode()).unwrap().0);
    let (_, flushed) = saver.finish().unwrap();
    let snap = Snapshot {
        time: "2026-11-22T00:00:00+00:00".into(),
        tree,
        paths: vec!["/x".into()],
        hostname: "evil".into(),
        username: "evil".into(),
        uid: 0,
        gid: 0,
        tags: vec![],
        parent: None,
        excludes: vec![],
        program_version: "test".into(),
        summary: None,
        original: None,
        change_list: None,
    };
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    repo.save_snapshot(&snap, &flushed, &lock).unwrap();
}

fn restore_into(env: &Env, target: &std::path::Path) -> std::process::Output {
    env.run(&["restore", "latest", "--target", target.to_str().unwrap()])
}

#[test]
fn trees_with_dangerous_names_are_refused() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dot-dot", b"..".to_vec()),
        ("dot", b".".to_vec()),
        ("slash", b"../../escaped".to_vec()),
        ("absolute", b"/etc/passwd".to_vec()),
        ("nul", b"a\0b".to_vec()),
        ("empty", b"".to_vec()),
    ];
    for (label, name) in cases {
        let env = Env::new();
        env.init();
        let repo = open(&env);
        snapshot_of(&repo, |s| vec![file(&name, s, b"payload")]);
        let target = env.path("target/inner");
        let o = restore_into(&env, &target);
        assert_eq!(code(&o), 1, "{label}: {}", stderr(&o));
        assert!(stderr(&o).contains("invalid name"), "{label}: {}", stderr(&o));
        assert!(
            !env.path("escaped").exists() && !env.path("target/escaped").exists(),
            "{label}: wrote outside the target"
        );
    }
}

#[test]
fn duplicate_and_unsorted_names_are_refused() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    // a symlink and a directory of the same name: the classic escape through a symlink
    snapshot_of(&repo, |s| {
        let mut link = Node::new(b"d".to_vec(), NodeKind::Symlink);
        link.link_target = Some(serde_bytes::ByteBuf::from(b"/tmp".to_vec()));
        vec![link, dir(b"d", s, vec![file(b"owned", s, b"x")])]
    });
    let o = restore_into(&env, &env.path("t"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("unsorted or duplicated"), "{}", stderr(&o));
    assert!(!std::path::Path::new("/tmp/owned").exists());
}

#[test]
fn symlink_in_the_target_is_not_followed() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    snapshot_of(&repo, |s| vec![dir(b"sub", s, vec![file(b"f", s, b"data")])]);
    let target = env.path("t");
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, target.join("sub")).unwrap();
    let o = restore_into(&env, &target);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("symlink"), "{}", stderr(&o));
    assert!(!elsewhere.join("f").exists(), "restore followed a symlink out of the target");
}

#[test]
fn damaged_blob_is_reported_and_the_rest_restored() {
    let env = Env::new();
    let src = env.path("src");
    // the smallest chunk: each file one blob, sealed alone (small files share a group, and a
    // damaged group fails all its members)
    write(&src.join("a"), &noise(524_288, 1));
    write(&src.join("b"), &noise(524_288, 2));
    env.init();
    env.backup_json(&["--compression", "off", src.to_str().unwrap()]);
    // flip one byte inside the sealed blob of `b`: find it through the index
    let repo = open(&env);
    let sel = format!("latest:{}", src.display());
    let tree: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "tree", &sel])).unwrap();
    let b_id = tree["nodes"][1]["content"][0].as_str().unwrap();
    let loc = repo.index().unwrap().get(&arca::id::BlobId::from_hex(b_id).unwrap()).unwrap();
    let pack = env.repo.join(arca::repo::pack_path(&loc.pack));
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[loc.entry.offset as usize + 100] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();

    let check = env.run(&["check", "--read-data"]);
    assert_eq!(code(&check), 1);
    assert!(stderr(&check).contains(b_id), "check does not name the damaged blob: {}", stderr(&check));
    let out = env.path("out");
    let o = env.run(&["restore", &sel, "--target", out.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("/b"), "the error does not name the file: {}", stderr(&o));
    assert!(std::fs::read(out.join("a")).unwrap() == noise(524_288, 1), "the intact file was not restored");
}

#[test]
fn missing_pack_is_reported_by_check() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(10_000, 1));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let repo = open(&env);
    let data_pack = repo.index().unwrap().iter().find(|l| l.entry.blob_type == BlobType::Data).unwrap().pack;
    std::fs::remove_file(env.repo.join(arca::repo::pack_path(&data_pack))).unwrap();
    let o = env.run(&["check"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains(&data_pack.to_hex()), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
}

#[test]
fn unsupported_format_version_is_refused_clearly() {
    let env = Env::new();
    env.init();
    let cfg = env.repo.join("config");
    let mut bytes = std::fs::read(&cfg).unwrap();
    bytes[4] = 9;
    std::fs::write(&cfg, &bytes).unwrap();
    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("format version 9"), "{}", stderr(&o));
    assert!(stderr(&o).contains("upgrade arca"), "{}", stderr(&o));
}

#[test]
fn an_unreadable_lock_blocks_until_removed() {
    let env = Env::new();
    env.init();
    let garbage = b"not a lock";
    let name = hex::encode(blake3::hash(garbage).as_bytes());
    std::fs::create_dir_all(env.repo.join("locks")).unwrap();
    std::fs::write(env.repo.join("locks").join(&name), garbage).unwrap();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    let o = env.run(&["backup", src.to_str().unwrap()]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(stderr(&o).contains("unreadable lock"), "{}", stderr(&o));
    env.ok(&["unlock"]);
    assert_eq!(code(&env.run(&["backup", src.to_str().unwrap()])), 11, "a plain unlock removed an unreadable lock");
    env.ok(&["unlock", "--remove-all"]);
    env.ok(&["backup", src.to_str().unwrap()]);
}

#[test]
fn tampered_config_is_reported_as_corrupt_not_wrong_password() {
    let env = Env::new();
    env.init();
    let cfg = env.repo.join("config");
    let mut bytes = std::fs::read(&cfg).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 1;
    std::fs::write(&cfg, &bytes).unwrap();
    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("config"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("wrong password"), "{}", stderr(&o));
}

/// Deeper than any reader accepts (format-spec: 2048), far shallower than what would
/// exhaust a recursive walker's stack.
const DEEP: usize = 3000;

#[test]
fn an_absurdly_deep_tree_is_refused_by_every_command_without_a_crash() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    snapshot_of(&repo, |s| {
        let mut node = file(b"leaf", s, b"x");
        for _ in 0..DEEP {
            node = dir(b"d", s, vec![node]);
        }
        vec![node]
    });
    let target = env.path("t");
    let runs: Vec<Vec<&str>> = vec![
        vec!["restore", "latest", "--target", target.to_str().unwrap()],
        vec!["ls", "latest", "--recursive"],
        vec!["check"],
        vec!["find", "leaf"],
        vec!["stats", "latest"],
        vec!["stats", "--mode", "raw-data"],
        vec!["dump", "latest", "/", "--archive", "tar"],
    ];
    for args in runs {
        let o = env.run(&args);
        assert!(o.status.code().is_some(), "{args:?} was killed by a signal: {}", stderr(&o));
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("deeper than"), "{args:?}: {}", stderr(&o));
    }
    // prune walks with a heap stack and only needs the blob ids: it keeps the data
    let o = env.run(&["prune", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// At the limit, every walking command works (no stack runs out, in the main thread or a
/// worker's).
#[test]
fn a_tree_just_within_the_depth_limit_is_walked_by_every_command() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    snapshot_of(&repo, |s| {
        let mut node = file(b"leaf", s, b"x");
        for _ in 0..2000 {
            node = dir(b"d", s, vec![node]);
        }
        vec![node]
    });
    for args in [
        vec!["ls", "latest", "--recursive"],
        vec!["check", "--read-data"],
        vec!["stats", "latest"],
        vec!["stats", "--mode", "files-by-contents"],
        vec!["dump", "latest", "/", "--archive", "tar", "--target", "/dev/null"],
        vec!["diff", "latest", "latest"],
        vec!["prune", "--dry-run"],
    ] {
        let o = env.run(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    let to = Env::new();
    to.init();
    let pass = env.path("pass");
    std::fs::write(&pass, PASSWORD).unwrap();
    to.ok(&["copy", "--from-repo", env.repo.to_str().unwrap(), "--from-password-file", pass.to_str().unwrap()]);
    to.check();
}

/// No command may panic (exit 101) on a hostile repository; it refuses or reports instead.
fn assert_no_panic(env: &Env, args: &[&str]) -> std::process::Output {
    let o = env.run(args);
    let err = stderr(&o);
    assert!(code(&o) != 101 && !err.contains("panicked"), "{args:?} panicked: {err}");
    o
}

#[test]
fn absurd_file_sizes_are_named_by_check_refused_by_restore_and_crash_nothing() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    snapshot_of(&repo, |s| {
        let mut big = file(b"big", s, b"four");
        big.size = u64::MAX - 3;
        let mut huge = file(b"huge", s, b"tiny");
        huge.size = u64::MAX;
        vec![big, file(b"fine", s, b"a fine payload"), huge]
    });

    let o = assert_no_panic(&env, &["check"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("/huge") && stderr(&o).contains("adds up to 4 bytes"), "{}", stderr(&o));
    let target = env.path("target");
    let o = assert_no_panic(&env, &["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("huge"), "{}", stderr(&o));
    assert_eq!(std::fs::read(target.join("fine")).unwrap(), b"a fine payload");
    for name in ["big", "huge"] {
        assert!(std::fs::metadata(target.join(name)).map_or(true, |m| m.len() < 1 << 20), "{name} was created huge");
    }
    let walks: [&[&str]; 12] = [
        &["ls", "-l", "latest"],
        &["ls", "--json", "latest"],
        &["stats", "latest"],
        &["stats", "--mode", "raw-data", "latest"],
        &["stats", "--mode", "files-by-contents", "latest"],
        &["stats", "--mode", "blobs-per-file", "--json", "latest"],
        &["find", "huge"],
        &["find", "--json", "*"],
        &["diff", "latest", "latest"],
        &["dump", "latest", "/huge"],
        &["dump", "--archive", "tar", "latest", "/"],
        &["dump", "--archive", "zip", "latest", "/"],
    ];
    for args in walks {
        assert_no_panic(&env, args);
    }
    let o = assert_no_panic(&env, &["dump", "latest", "/huge"]);
    assert_ne!(code(&o), 0, "dump wrote a file whose content does not match its size");
}

/// A pack whose sealed header (written with the repository's key) lists overlapping blobs.
fn overlapping_pack(env: &Env) -> String {
    use arca::format::pack::{encode_header, max_sealed_len, PackEntry};
    let e = |offset, id| PackEntry {
        blob_type: BlobType::Data,
        id: arca::id::BlobId([id; 32]),
        offset,
        length: 100,
        raw_length: 1000,
        group_offset: None,
    };
    let entries = [e(0, 1), e(50, 2)];
    assert!(100 <= max_sealed_len(1000));
    let mut pack = vec![0u8; 200];
    pack.extend_from_slice(&encode_header(&keys_of(&env.repo), &entries, &pack));
    let id = arca::id::PackId(arca::id::storage_hash(&pack));
    write(&env.repo.join(arca::repo::pack_path(&id)), &pack);
    id.to_hex()
}

#[test]
fn a_pack_header_with_overlapping_entries_is_refused_and_harms_nothing() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(200_000, 9));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let bad = overlapping_pack(&env);

    // backup and prune adopt unindexed packs: this one is left alone, with a warning
    let o = assert_no_panic(&env, &["backup", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = assert_no_panic(&env, &["check", "--read-data"]);
    assert!(o.status.success(), "an unindexed pack is harmless: {}", stderr(&o));
    let o = assert_no_panic(&env, &["repair", "index", "--read-data"]);
    assert!(stderr(&o).contains(&bad[..8]), "repair names the pack: {}", stderr(&o));
    assert_no_panic(&env, &["prune"]);
    env.check();
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
}

// ---- issue 19, point 5: hostile files stay cheap ----

/// A file of `len` bytes that occupies no disk space (reads as zeros).
fn sparse(path: &std::path::Path, len: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

fn fake_name(tag: &str) -> String {
    hex::encode(blake3::hash(tag.as_bytes()).as_bytes())
}

fn all_output(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o))
}

const TOO_LARGE: &str = "more than any arca object of its kind";

#[test]
fn oversized_planted_objects_are_refused_by_their_size_before_being_read() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a"), b"some data");
    env.ok(&["backup", src.to_str().unwrap()]);
    // one oversized file of each kind, each larger than its cap (none is ever read)
    sparse(&env.repo.join("keys").join(fake_name("key")), 64 * 1024 + 1);
    sparse(&env.repo.join("locks").join(fake_name("lock")), 64 * 1024 + 1);
    sparse(&env.repo.join("snapshots").join(fake_name("snapshot")), 64 * 1024 * 1024 + 1);
    sparse(&env.repo.join("index").join(fake_name("index")), 256 * 1024 * 1024 + 1);

    // the key is skipped with a warning naming it; the damaged snapshot is reported
    let o = env.run(&["snapshots"]);
    assert_ne!(code(&o), 101, "{}", stderr(&o));
    let out = all_output(&o);
    assert!(out.contains(&format!("keys/{}", fake_name("key"))) && out.contains(TOO_LARGE), "{out}");
    assert!(out.contains(&fake_name("snapshot")[..8]), "the oversized snapshot was not named: {out}");

    // `key list` lists the real key and names the oversized file
    let o = env.run(&["key", "list"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(TOO_LARGE), "{}", stderr(&o));

    // a reader passes the oversized lock, naming it; a writer counts it as held by somebody
    let o = env.run(&["check"]);
    let out = all_output(&o);
    assert!(out.contains(&format!("locks/{}", fake_name("lock"))) && out.contains(TOO_LARGE), "{out}");
    assert!(out.contains(&format!("index/{}", fake_name("index"))), "check did not name the oversized index: {out}");
    let o = env.run(&["backup", src.to_str().unwrap()]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(stderr(&o).contains(TOO_LARGE), "{}", stderr(&o));

    // an oversized config: the repository does not open, and says why
    let config = env.repo.join("config");
    std::fs::remove_file(&config).unwrap();
    sparse(&config, 64 * 1024 + 1);
    let o = env.run(&["snapshots"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("config") && stderr(&o).contains(TOO_LARGE), "{}", stderr(&o));
}

#[test]
fn a_pack_trailer_claiming_a_gigantic_header_is_refused_before_reading_it() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    // a pack of 5 GiB (sparse) whose trailer claims a 4 GiB header: inside the pack, so only
    // the bound on the largest possible header stops a 4 GiB read
    let name = fake_name("pack");
    let path = env.repo.join("data").join(&name[..2]).join(&name);
    sparse(&path, 5 << 30);
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(std::io::SeekFrom::End(-4)).unwrap();
        f.write_all(&0xFFFF_FFF0u32.to_le_bytes()).unwrap();
    }
    let (id, size) = repo.stored_packs().unwrap().into_iter().find(|(id, _)| id.to_hex() == name).unwrap();
    let started = std::time::Instant::now();
    let e = repo.read_pack_header(&id, size).expect_err("a gigantic header was accepted");
    assert!(e.message.contains("largest possible header"), "{}", e.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the header was read");
}

#[test]
fn a_planted_pack_larger_than_any_pack_is_refused_before_reading_it() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    // 20 GiB, sparse: more than a 16 MiB pack plus the largest unit and header
    let name = fake_name("huge pack");
    let path = env.repo.join("data").join(&name[..2]).join(&name);
    sparse(&path, 20 << 30);
    let id = arca::id::PackId::from_hex(&name).unwrap();
    let started = std::time::Instant::now();
    let e = repo.read_pack(&id).expect_err("a 20 GiB pack was read");
    assert!(e.message.contains("more than any arca object"), "{}", e.message);
    // check --read-data and cat pack name it and go on, without reading it
    let o = env.run(&["check", "--read-data"]);
    assert!(stderr(&o).contains(&name[..16]) || String::from_utf8_lossy(&o.stdout).contains(&name[..16]));
    let o = env.run(&["cat", "pack", &name]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("more than any arca object"), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the planted pack was read");
}

/// A key file that looks well formed but whose wrap opens with no password, with `params`.
fn planted_key(env: &Env, params: arca::crypto::KdfParams, tag: &str) -> String {
    use arca::crypto::MasterSecret;
    use arca::format::key::KeyFile;
    let mut kf = KeyFile::create(
        &MasterSecret([1; 32]),
        b"attacker",
        arca::crypto::KdfParams::INSECURE_TEST,
        tag.into(),
        "h".into(),
        "u".into(),
    )
    .unwrap();
    kf.params = params;
    let bytes = kf.encode();
    let name = hex::encode(blake3::hash(&bytes).as_bytes());
    std::fs::write(env.repo.join("keys").join(&name), bytes).unwrap();
    name
}

fn real_key(env: &Env) -> String {
    std::fs::read_dir(env.repo.join("keys")).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap()
}

/// The keys `--log-level debug` says it tries, in order.
fn tried_keys(env: &Env, pw: Option<&str>) -> Vec<String> {
    let mut c = env.cmd();
    if let Some(pw) = pw {
        c.env("ARCA_PASSWORD", pw);
    }
    let o = c.args(["--log-level", "debug", "snapshots"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stderr(&o)
        .lines()
        .filter_map(|l| l.split("trying keys/").nth(1))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn key_files_above_the_cost_ceiling_are_refused_before_argon2_runs() {
    let env = Env::new();
    env.init();
    // 4 GiB and 64 passes: what the old ceiling admitted (minutes and 4 GiB per attempt)
    let name = planted_key(&env, arca::crypto::KdfParams { m_kib: 4 << 20, t: 64, p: 4 }, "expensive");
    let started = std::time::Instant::now();
    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(stderr(&o).contains(&format!("keys/{name}")) && stderr(&o).contains("above the ceiling"), "{}", stderr(&o));
    // a wrong password still fails as one, after trying only the affordable keys
    let o = env.cmd().env("ARCA_PASSWORD", "wrong").arg("snapshots").output().unwrap();
    assert_eq!(code(&o), 12, "{}", stderr(&o));
}

#[test]
fn key_files_are_tried_cheapest_first_then_the_one_that_opened_last_time_first() {
    let env = Env::new();
    env.init();
    let real = real_key(&env);
    // affordable but costly keys (1 GiB, 4 passes) that open with no password; before the
    // real key, whatever their names
    let costly = arca::crypto::KdfParams { m_kib: 1 << 20, t: 4, p: 1 };
    planted_key(&env, costly, "costly 1");
    planted_key(&env, costly, "costly 2");
    assert_eq!(tried_keys(&env, None).first(), Some(&real[..8].to_string()), "a costly key was tried first");

    // a second password of the same cost: once it opened, its key goes first
    std::fs::write(env.path("pw2"), "second password").unwrap();
    env.ok(&["key", "add", "--new-password-file", env.path("pw2").to_str().unwrap()]);
    let hinted_real = tried_keys(&env, Some("second password"));
    assert_eq!(hinted_real.len(), 2, "{hinted_real:?}");
    assert_eq!(hinted_real[0], real[..8], "the key that opened last time was not tried first: {hinted_real:?}");
    let second = hinted_real[1].clone();
    assert_eq!(tried_keys(&env, Some("second password")), vec![second.clone()]);
    // a hint is only an order: the first password still opens, after the hinted key
    assert_eq!(tried_keys(&env, None), vec![second, real[..8].to_string()]);
}

#[test]
fn a_planted_rotation_key_does_not_lock_any_password_out() {
    use arca::crypto::{KdfParams, MasterSecret};
    use arca::format::key::KeyFile;
    let env = Env::new();
    env.init();
    // a well-formed rotation key of the attacker's own secrets and password, with a message
    let meta = ("PAY 1 BTC TO GET YOUR BACKUPS BACK".to_string(), "evil".to_string(), "mallory".to_string());
    let kf = KeyFile::create_rotation(
        &MasterSecret([1; 32]),
        (&MasterSecret([2; 32]), &[3; 32]),
        b"no config".to_vec(),
        b"attacker",
        KdfParams::INSECURE_TEST,
        meta,
    )
    .unwrap();
    let bytes = kf.encode();
    let name = hex::encode(blake3::hash(&bytes).as_bytes());
    std::fs::write(env.repo.join("keys").join(&name), bytes).unwrap();
    // the same file without its marker, as an older writer or a forger leaves it
    let mut unmarked = kf.clone();
    unmarked.marker = None;
    let bytes = unmarked.encode();
    std::fs::write(env.repo.join("keys").join(hex::encode(blake3::hash(&bytes).as_bytes())), bytes).unwrap();

    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 0, "a planted rotation key locked the password out: {}", stderr(&o));
    assert!(stderr(&o).contains(&format!("keys/{name}")) && stderr(&o).contains("ignoring it"), "{}", stderr(&o));
    let src = env.path("src");
    write(&src.join("a"), b"a");
    env.ok(&["backup", src.to_str().unwrap()]);
    env.check();
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn repository_files_are_created_private_whatever_the_umask() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a"), &noise(100_000, 1));
    env.ok(&["backup", src.to_str().unwrap()]);
    let mut seen = 0;
    let mut stack = vec![env.repo.clone()];
    while let Some(dir) = stack.pop() {
        assert_eq!(mode_of(&dir), 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(mode_of(&p), 0o600, "{}", p.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "only {seen} files");
}

/// An outside directory with files a stale-temporary-file sweep would take: a day old,
/// one named like arca's temporary files.
fn bait(env: &Env) -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    let outside = env.path("outside");
    let files = vec![outside.join(format!("{}.AbCd1234", "ab".repeat(32))), outside.join("precious.txt")];
    for f in &files {
        write(f, b"not arca's");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 24 * 3600);
        std::fs::File::options().write(true).open(f).unwrap().set_modified(old).unwrap();
    }
    (outside, files)
}

#[test]
fn a_symlinked_temporary_directory_is_refused_and_nothing_outside_is_deleted() {
    let env = Env::new();
    env.init();
    let (outside, files) = bait(&env);
    let tmp = env.repo.join(".arca-tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::os::unix::fs::symlink(&outside, &tmp).unwrap();
    let o = env.run(&["snapshots"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains(".arca-tmp") && stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    let src = env.path("src");
    write(&src.join("a"), b"a");
    assert_ne!(code(&env.run(&["backup", src.to_str().unwrap()])), 0);
    for f in &files {
        assert!(f.exists(), "{} was deleted", f.display());
    }
    // a real directory that is not ours is refused too; our own old temporary files go
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    let ours = tmp.join(format!("{}.XyZ98765", "cd".repeat(32)));
    let theirs = tmp.join("notes.txt");
    for f in [&ours, &theirs] {
        write(f, b"x");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 24 * 3600);
        std::fs::File::options().write(true).open(f).unwrap().set_modified(old).unwrap();
    }
    env.ok(&["snapshots"]);
    assert!(!ours.exists(), "a stale temporary file was kept");
    assert!(theirs.exists(), "a file not named like arca's temporary files was deleted");
    if is_root() {
        nix::unistd::chown(&tmp, Some(nix::unistd::Uid::from_raw(4321)), None).unwrap();
        let o = env.run(&["snapshots"]);
        assert_ne!(code(&o), 0);
        assert!(stderr(&o).contains("uid 4321"), "{}", stderr(&o));
    }
}

#[test]
fn a_symlinked_data_directory_is_refused_and_nothing_is_written_through_it() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a"), &noise(50_000, 2));
    env.ok(&["backup", src.to_str().unwrap()]);
    let outside = env.path("outside-data");
    std::fs::rename(env.repo.join("data"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, env.repo.join("data")).unwrap();
    let before = describe(&outside);
    write(&src.join("b"), &noise(50_000, 3));
    let o = env.run(&["backup", src.to_str().unwrap()]);
    assert_ne!(code(&o), 0, "a backup wrote through a symlinked data/");
    assert!(stderr(&o).contains("data") && stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_same_tree(&before, &describe(&outside));
}

#[test]
fn a_symlinked_pack_subdirectory_is_not_written_through() {
    let env = Env::new();
    env.init();
    // data/ab links to a directory outside; a write of a pack there must not follow it
    let outside = env.path("outside-packs");
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir_all(env.repo.join("data")).unwrap();
    std::os::unix::fs::symlink(&outside, env.repo.join("data/ab")).unwrap();
    let b = raw_backend(&env.repo);
    let e = b.write(&format!("data/ab/{}", "ab".repeat(32)), vec![1u8; 100].into()).unwrap_err();
    assert!(e.message.contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "a pack was written through the link");
}

/// Restore creates a file before it looks at what is at its name (one call per file into an
/// empty target): a file whose content cannot be located must still be refused without
/// leaving an empty file behind, and a file that the overwrite policy keeps stays kept
/// (skipped, not an error), as when restore looked first.
#[test]
fn content_that_does_not_add_up_leaves_no_file_and_a_kept_file_stays_kept() {
    let env = Env::new();
    env.init();
    let repo = open(&env);
    snapshot_of(&repo, |s| {
        let mut bad = file(b"bad", s, b"four");
        bad.size = 10;
        vec![bad, file(b"fine", s, b"a fine payload")]
    });
    let target = env.path("target");
    let t = target.to_str().unwrap();
    let o = assert_no_panic(&env, &["restore", "latest", "--target", t]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("bad") && stderr(&o).contains("adds up to 4 bytes"), "{}", stderr(&o));
    assert_eq!(std::fs::read(target.join("fine")).unwrap(), b"a fine payload");
    assert!(std::fs::symlink_metadata(target.join("bad")).is_err(), "an unrestorable file was left behind");

    write(&target.join("bad"), b"local");
    let o = assert_no_panic(&env, &["restore", "latest", "--target", t, "--overwrite", "never", "--json"]);
    assert_eq!(code(&o), 0, "a file the policy keeps is no error: {}", stderr(&o));
    assert_eq!(std::fs::read(target.join("bad")).unwrap(), b"local");
    let s = summary(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(s["files_skipped"], 2, "{s}");
    let o = assert_no_panic(&env, &["restore", "latest", "--target", t, "--overwrite", "always"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("adds up to 4 bytes"), "{}", stderr(&o));
}
