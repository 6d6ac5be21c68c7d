#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca copy` between repositories: everything restores identically from the copy, a later
//! copy reads only what is new, nothing is copied twice, and it works across backends.

use crate::common;

use common::servers;
use common::*;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

#[test]
fn copies_are_complete_incremental_and_not_repeated() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(3_000_000, 1));
    // over 128 bytes, so that it has a blob (not inline content, format-spec/v4.md §13.5)
    write(&src.join("dir/small.txt"), &b"first ".repeat(30));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let target = env.path("target-repo");
    let t = target.to_str().unwrap();
    let to = |args: &[&str]| {
        let o = env.cmd().env("ARCA_FROM_PASSWORD", PASSWORD).env("ARCA_REPOSITORY", t).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let from = env.repo.to_str().unwrap().to_string();
    to(&["init", "--from-repo", &from, "--copy-chunker-params"]);
    let r = json(&to(&["copy", "--json", "--from-repo", &from]));
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["rechunked"], false, "same chunker: blobs carried over as they are");
    // at least one blob per file (how many the big one has depends on the random chunker key)
    assert!(r["blobs_read"].as_u64().unwrap() >= 2, "{r}");

    write(&src.join("dir/small.txt"), &b"second ".repeat(30));
    env.backup_json(&[src.to_str().unwrap()]);
    let r = json(&to(&["copy", "--json", "--from-repo", &from]));
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "only the new snapshot: {r}");
    assert_eq!(r["already_copied"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["blobs_read"], 1, "only the changed file's blob is read again: {r}");
    let r = json(&to(&["copy", "--json", "--from-repo", &from]));
    assert!(r["copied"].as_array().unwrap().is_empty(), "nothing twice: {r}");

    let out = env.path("out");
    to(&["restore", "latest", "--target", out.to_str().unwrap()]);
    assert_same_tree(&describe(&src), &describe(&out.join(src.strip_prefix("/").unwrap())));
    let check = to(&["check", "--read-data", "--json"]);
    assert!(check.contains("\"errors\":[]"), "{check}");
    // the copies name their originals
    let snaps: serde_json::Value = serde_json::from_str(&to(&["snapshots", "--json"])).unwrap();
    let originals: Vec<_> =
        snaps.as_array().unwrap().iter().map(|s| s["original"].as_str().unwrap().to_string()).collect();
    assert_eq!(originals, env.snapshot_ids());
}

#[test]
fn between_repositories_that_chunk_differently_files_are_cut_again() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(4_000_000, 5));
    write(&src.join("small.txt"), b"small");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let target = Env::new();
    target.ok(&["init", "--chunker-params", "262144,524288,2097152"]);
    let o = target
        .cmd()
        .env("ARCA_FROM_PASSWORD", PASSWORD)
        .args(["copy", "--json", "--from-repo", env.repo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(r["rechunked"], true, "{r}");
    assert_same_tree(&describe(&src), &target.restored(&format!("latest:{}", src.display()), "out"));
    // the copy is chunked like the target's own backups: backing up the same data adds nothing
    let direct = target.backup_json(&["--force", src.to_str().unwrap()]);
    assert_eq!(direct["data_blobs"], 0, "{direct}");
    target.check();
}

#[test]
fn copy_to_s3_and_back() {
    let Some(server) = servers::s3("copy") else { return };
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f.bin"), &noise(1_500_000, 9));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let remote = Env::on(server.clone());
    remote.init();
    // from the local repository (-r) to S3 (--to-repo), credentials from the environment
    let mut c = env.cmd();
    for (k, v) in &server.env {
        c.env(k, v);
    }
    let o =
        c.env("ARCA_TO_PASSWORD", PASSWORD).args(["copy", "--to-repo", &server.location, "latest"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_tree(&describe(&src), &remote.restored(&format!("latest:{}", src.display()), "out"));
    remote.check();
}

#[test]
fn copy_needs_exactly_one_other_repository() {
    let env = Env::new();
    env.init();
    assert_eq!(code(&env.run(&["copy"])), 1);
    let o = env.run(&["copy", "--from-repo", "/x", "--to-repo", "/y"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = env
        .cmd()
        .env("ARCA_FROM_PASSWORD", PASSWORD)
        .args(["copy", "--from-repo", env.repo.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("to itself"), "{}", stderr(&o));
}

#[test]
fn a_copy_stopped_half_way_resumes_and_uploads_only_what_is_missing() {
    use arca::backend::{self, fault::FaultBackend, DynBackend, Location};
    use arca::repo::{LockMode, Repository};
    use std::sync::Arc;

    let env = Env::new();
    let src = env.path("src");
    for i in 0..6 {
        write(&src.join(format!("f{i}.bin")), &noise(9_000_000, 40 + i));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let target = Env::new();
    let o = target
        .cmd()
        .env("ARCA_FROM_PASSWORD", PASSWORD)
        .args(["init", "--from-repo", env.repo.to_str().unwrap(), "--copy-chunker-params"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let open = |b: DynBackend| Repository::open(b, PASSWORD.as_bytes()).unwrap();
    let raw = |p: &std::path::Path| backend::open_raw(&Location::Local(p.to_path_buf()), &[]).unwrap();

    // the lock, then packs: stop after two packs are stored (their index is written last)
    let source = open(raw(&env.repo));
    let dst = Arc::new(open(Arc::new(FaultBackend::new(raw(&target.repo)).crash_at(4))));
    let lock = dst.lock("copy", LockMode::Shared).unwrap();
    let snaps = source.snapshots().unwrap();
    let err = arca::commands::copy::run(&source, &dst, snaps, &lock, &|_| {}).unwrap_err();
    assert!(err.message.contains("injected crash"), "{err}");
    drop((lock, dst));
    let _ = std::fs::remove_dir_all(target.repo.join("locks")); // a killed process's lock is stale
    let stored_before = target.packs().len();
    assert!(stored_before >= 2, "packs stored before the stop: {stored_before}");

    let o = target
        .cmd()
        .env("ARCA_FROM_PASSWORD", PASSWORD)
        .args(["copy", "--json", "--from-repo", env.repo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    let total: u64 = 6 * 9_000_000;
    let added = r["data_added"].as_u64().unwrap();
    assert!(added < total - 2 * 8_000_000, "the packs stored before the stop are reused: {added} of {total}");
    assert_same_tree(&describe(&src), &target.restored(&format!("latest:{}", src.display()), "out"));
    target.check();
}

/// Found by `crash_points.rs`: the cache remembered that a source tree had been copied, and
/// a later copy took the target's tree without its content, which the target had lost.
#[test]
fn a_target_that_lost_data_since_an_earlier_copy_gets_it_copied_again() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("dir/file.bin"), &noise(400_000, 3));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let target = Env::new();
    let from = env.repo.to_str().unwrap().to_string();
    let to = |args: &[&str]| {
        let o = target.cmd().env("ARCA_FROM_PASSWORD", PASSWORD).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    to(&["init", "--from-repo", &from, "--copy-chunker-params"]);
    to(&["copy", "--from-repo", &from]);
    // the target loses its data packs (its tree pack stays), and the snapshot is forgotten
    let raw = raw_backend(&target.repo);
    let repo = arca::repo::Repository::open(raw, PASSWORD.as_bytes()).unwrap();
    let data_packs: std::collections::BTreeSet<_> = repo
        .index()
        .unwrap()
        .iter()
        .filter(|l| l.entry.blob_type == arca::format::BlobType::Data)
        .map(|l| l.pack)
        .collect();
    for p in data_packs {
        std::fs::remove_file(target.repo.join(arca::repo::pack_path(&p))).unwrap();
    }
    to(&["repair", "index"]);
    to(&["forget", "latest"]);
    to(&["check"]);

    to(&["copy", "--from-repo", &from]);
    target.check();
    assert_same_tree(&describe(&src), &target.restored(&format!("latest:{}", src.display()), "out"));
}
