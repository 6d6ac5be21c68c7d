#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca rewrite`: snapshots without excluded files (or with only included ones), everything
//! else bit-identical, untouched subtrees shared, originals kept or forgotten.

use crate::common;

use common::*;

fn snapshots(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(&env.ok(&["snapshots", "--json"])).unwrap().as_array().unwrap().clone()
}

/// The subtree id of `name` in the tree at `snap:dir`.
fn subtree(env: &Env, snap: &str, dir: &std::path::Path, name: &str) -> String {
    let t: serde_json::Value =
        serde_json::from_str(&env.ok(&["cat", "tree", &format!("{snap}:{}", dir.display())])).unwrap();
    t["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap()["subtree"].as_str().unwrap().to_string()
}

fn source(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    write(&src.join("untouched/a.txt"), &noise(50_000, 1));
    write(&src.join("untouched/deep/b.bin"), &noise(70_000, 2));
    write(&src.join("media/film.iso"), &noise(300_000, 3));
    write(&src.join("media/notes.txt"), b"notes");
    write(&src.join("top.iso"), &noise(10_000, 4));
    src
}

#[test]
fn excluded_files_are_gone_and_everything_else_is_identical() {
    let env = Env::new();
    let src = source(&env);
    env.init();
    let orig = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    let out = env.ok(&["rewrite", "--json", "--exclude", "*.iso", &orig[..8]]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["rewritten"][0]["removed_count"], 2, "{r}");
    let new = r["rewritten"][0]["rewritten"].as_str().unwrap().to_string();

    let all = snapshots(&env);
    assert_eq!(all.len(), 2, "the original stays without --forget");
    let rewritten = all.iter().find(|s| s["id"] == new.as_str()).unwrap();
    assert_eq!(rewritten["original"], orig.as_str());
    assert!(rewritten["tags"].as_array().unwrap().iter().any(|t| t == "rewrite"));
    assert!(rewritten["summary"].is_null(), "the old figures would be wrong");

    let mut want = describe(&src);
    want.retain(|p, _| p.extension().is_none_or(|e| e != "iso"));
    let got = env.restored(&format!("{}:{}", &new[..8], src.display()), "out");
    assert_same_tree(&want, &got);
    assert_eq!(
        subtree(&env, &orig[..8], &src, "untouched"),
        subtree(&env, &new[..8], &src, "untouched"),
        "an untouched subtree keeps its id"
    );
    assert_ne!(subtree(&env, &orig[..8], &src, "media"), subtree(&env, &new[..8], &src, "media"));

    // nothing left to remove: no new snapshot
    let again: serde_json::Value =
        serde_json::from_str(env.ok(&["rewrite", "--json", "--exclude", "*.iso", &new[..8]]).trim()).unwrap();
    assert!(again["rewritten"].as_array().unwrap().is_empty(), "{again}");
    env.check();

    // --forget removes the original; prune then frees the excluded data
    env.ok(&["rewrite", "--exclude", "*.iso", "--forget", &orig[..8]]);
    assert!(!snapshots(&env).iter().any(|s| s["id"] == orig.as_str()));
    env.ok(&["forget", &new[..8]]);
    let pruned = env.prune(&["--instant-delete", "--max-unused", "0"]);
    // the ~310 kB of the two .iso files were used by nothing else
    assert!(pruned["bytes_unused"].as_u64().unwrap() >= 300_000, "{pruned}");
    assert_eq!(pruned["bytes_unused_after"], 0, "{pruned}");
    env.check();
}

#[test]
fn include_keeps_only_matches_and_their_directories_and_metadata_can_change() {
    let env = Env::new();
    let src = source(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let out = env.ok(&["rewrite", "--json", "--include", "*.txt", "--new-host", "elsewhere", "--dry-run", "latest"]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(r["rewritten"][0]["rewritten"].is_null(), "a dry run writes nothing");
    assert_eq!(snapshots(&env).len(), 1);
    let out = env.ok(&[
        "rewrite",
        "--json",
        "--include",
        "*.txt",
        "--new-host",
        "elsewhere",
        "--new-time",
        "2026-01-02 03:04:05",
        "latest",
    ]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let new = r["rewritten"][0]["rewritten"].as_str().unwrap().to_string();
    let s = snapshots(&env).into_iter().find(|s| s["id"] == new.as_str()).unwrap();
    assert_eq!(s["hostname"], "elsewhere");
    assert!(s["time"].as_str().unwrap().starts_with("2026-01-02T03:04:05"), "{}", s["time"]);
    let got = env.restored(&format!("{}:{}", &new[..8], src.display()), "out");
    let files: Vec<_> =
        got.iter().filter(|(_, m)| m.kind == "file").map(|(p, _)| p.to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["media/notes.txt", "untouched/a.txt"], "{got:?}");
    assert!(!got.keys().any(|p| p.ends_with("deep")), "a directory with nothing included goes");
    let o = env.run(&["rewrite", "latest"]);
    assert_eq!(code(&o), 1, "nothing to do is a usage error");
}
