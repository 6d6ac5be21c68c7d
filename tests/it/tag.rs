#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca tag`: restic's --set/--add/--remove, by id or by filter; the changed snapshot is a new
//! file naming its original, and the old one is gone.

use crate::common;

use common::*;

fn snapshots(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(&env.ok(&["snapshots", "--json"])).unwrap().as_array().unwrap().clone()
}

fn tags(s: &serde_json::Value) -> Vec<&str> {
    s["tags"].as_array().map(|a| a.iter().map(|t| t.as_str().unwrap()).collect()).unwrap_or_default()
}

#[test]
fn tags_are_added_removed_and_set() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"tagged");
    env.init();
    let first =
        env.backup_json(&["--tag", "draft,keep", src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    env.backup_json(&["--host", "other", src.to_str().unwrap()]);

    env.ok(&["tag", "--add", "reviewed", "--remove", "draft", &first[..8]]);
    let all = snapshots(&env);
    assert_eq!(all.len(), 2);
    let changed = all.iter().find(|s| s["original"] == first.as_str()).expect("the new snapshot names its original");
    assert_eq!(tags(changed), ["keep", "reviewed"]);
    assert!(!all.iter().any(|s| s["id"] == first.as_str()), "the old snapshot file is removed");
    // the content is untouched: same tree
    assert_same_tree(
        &describe(&src),
        &env.restored(&format!("{}:{}", &changed["id"].as_str().unwrap()[..8], src.display()), "out"),
    );

    // by filter: every snapshot of host "other"
    let out = env.ok(&["tag", "--json", "--set", "weekly", "--host", "other"]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["changed"].as_array().unwrap().len(), 1, "{report}");
    let other = snapshots(&env).into_iter().find(|s| s["hostname"] == "other").unwrap();
    assert_eq!(tags(&other), ["weekly"]);

    // already as asked: nothing is rewritten
    let out = env.ok(&["tag", "--json", "--add", "weekly", "--host", "other"]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["unchanged"], 1);
    assert!(report["changed"].as_array().unwrap().is_empty());

    // --set '' removes every tag; a second tag change keeps the first original
    env.ok(&["tag", "--set", "", "latest", "--host", "other"]);
    let other2 = snapshots(&env).into_iter().find(|s| s["hostname"] == "other").unwrap();
    assert!(tags(&other2).is_empty());
    assert_eq!(other2["original"], other["original"]);
    env.check();
}

#[test]
fn contradictory_or_empty_tag_changes_are_usage_errors() {
    let env = Env::new();
    env.init();
    assert_eq!(code(&env.run(&["tag", "latest"])), 1);
    let o = env.run(&["tag", "--set", "a", "--add", "b"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--set"), "{}", stderr(&o));
}

/// Found by `crash_points.rs` (for `repair snapshots`, which replaces snapshots the same way):
/// stopped after storing the new snapshot and before deleting the old, a re-run stored the
/// same new snapshot a second time.
#[test]
fn a_tag_stopped_between_store_and_delete_does_not_duplicate_on_rerun() {
    use arca::backend::fault::FaultBackend;
    use arca::commands::{select::Filter, tag};
    use arca::repo::{LockMode, Repository};
    use std::sync::Arc;

    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    // writes: the lock, the new snapshot, then the old one's deletion fails
    let repo =
        Repository::open(Arc::new(FaultBackend::new(raw_backend(&env.repo)).crash_at(3)), PASSWORD.as_bytes()).unwrap();
    let lock = repo.lock("tag", LockMode::Shared).unwrap();
    let change = tag::TagChange { set: None, add: vec!["x".into()], remove: vec![] };
    let err = tag::run(&repo, &["latest".to_string()], &Filter::default(), &change, &lock).unwrap_err();
    assert!(err.message.contains("injected crash"), "{err}");
    drop((lock, repo));
    let _ = std::fs::remove_dir_all(env.repo.join("locks"));
    assert_eq!(snapshots(&env).len(), 2, "the stop left old and new");

    env.ok(&["tag", "--add", "x"]);
    let all = snapshots(&env);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(tags(&all[0]), vec!["x"]);
}
