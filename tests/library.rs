#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The library on the in-memory backend: init, back up, list, restore and check without a
//! file system repository or the binary.

mod common;

use std::sync::Arc;

use arca::archiver::{BackupOptions, Progress};
use arca::commands::backup::{self, BackupCommand, Input};
use arca::crypto::KdfParams;
use arca::patterns::Excludes;
use arca::repo::{InitOptions, Repository};
use arca::restorer::{self, Overwrite, RestoreOptions, RestoreProgress};
use common::*;

#[test]
fn memory_backend_round_trip() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(3_000_000, 5));
    write(&src.join("sub/b"), b"small");
    let backend = arca::backend::memory().unwrap();
    let opts = InitOptions { kdf: KdfParams { m_kib: 64, t: 1, p: 1 }, ..Default::default() };
    let repo = Arc::new(Repository::init(backend, b"pw", &opts).unwrap());
    let cmd = BackupCommand {
        input: Input::Paths(vec![src.clone()]),
        tags: vec!["lib".into()],
        host: Some("mem".into()),
        time: None,
        parent: None,
        force: false,
        excludes_used: vec![],
        engine: BackupOptions::default(),
    };
    let report = backup::run(repo.clone(), cmd, &Progress::default(), &|w| panic!("warning: {w}")).unwrap();
    assert_eq!(report.files_new, 2);
    let snaps = repo.snapshots().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].1.tags, vec!["lib".to_string()]);
    let node = repo.find_path(&snaps[0].1.tree, src.to_str().unwrap()).unwrap().unwrap();
    let out = env.path("out");
    let ropts = RestoreOptions {
        target: out.clone(),
        includes: None,
        excludes: Excludes::default(),
        overwrite: Overwrite::Always,
        delete: false,
        verify: true,
        dry_run: false,
        sparse: false,
        concurrency: 4,
        no_owner: false,
        no_special: false,
        no_setuid: false,
    };
    let s = restorer::restore(&repo, &node.subtree.unwrap(), &src, &ropts, &RestoreProgress::default(), &|w| {
        panic!("warning: {w}")
    })
    .unwrap();
    assert_eq!(s.files_verified, 2);
    assert_same_tree(&describe(&src), &describe(&out));
    let report = arca::maintenance::check::check(&repo, arca::maintenance::check::ReadData::All).unwrap();
    assert!(report.ok(), "{:?}", report.errors);
    assert!(report.unreferenced_packs.is_empty());
}
