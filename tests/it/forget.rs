#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca forget` as a user runs it: retention policies over snapshots recorded at chosen times,
//! grouping and filters, explicit ids, the remove-everything refusal, and forget followed by
//! prune. Every time carries an offset (`Z`), so the buckets don't depend on the machine's zone.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// Snapshots made by a test, by id, with the short names the assertions use.
#[derive(Default)]
struct Named(BTreeMap<String, &'static str>);

impl Named {
    /// Back up `src` as it is now, recorded at `time` with `extra` options; returns the id.
    fn backup(&mut self, env: &Env, name: &'static str, src: &Path, time: &str, extra: &[&str]) -> String {
        let mut args = vec!["--time", time];
        args.extend_from_slice(extra);
        args.push(src.to_str().unwrap());
        let summary = env.backup_json(&args);
        let id = summary["snapshot_id"].as_str().unwrap_or_else(|| panic!("no snapshot id: {summary}")).to_string();
        assert!(self.0.insert(id.clone(), name).is_none(), "two backups gave the same id");
        id
    }

    fn name(&self, id: &str) -> &'static str {
        self.0.get(id).unwrap_or_else(|| panic!("unknown snapshot {id}"))
    }

    fn id(&self, name: &str) -> &str {
        self.0.iter().find(|(_, n)| **n == name).map(|(id, _)| id.as_str()).unwrap()
    }

    /// Names of a JSON list of snapshot objects, in its order.
    fn names(&self, list: &Value) -> Vec<&'static str> {
        list.as_array().unwrap().iter().map(|s| self.name(s["id"].as_str().unwrap())).collect()
    }

    /// Names of the snapshots the repository holds, sorted.
    fn remaining(&self, env: &Env) -> Vec<&'static str> {
        let mut v: Vec<_> = env.snapshot_ids().iter().map(|id| self.name(id)).collect();
        v.sort();
        v
    }
}

/// `forget --json ARGS`: the groups it prints (the first line; `--prune` adds its own).
fn forget_json(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["forget", "--json"];
    a.extend_from_slice(args);
    let out = env.ok(&a);
    let first = out.lines().next().unwrap_or("");
    let v: Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("forget json ({e}): {out}"));
    v.as_array().unwrap_or_else(|| panic!("forget json is not an array: {v}")).clone()
}

/// One group in a line: `host paths tags: keep [..] remove [..]`, with paths by file name.
fn group_line(named: &Named, g: &Value) -> String {
    let paths = match &g["paths"] {
        Value::Null => "null".to_string(),
        p => {
            let names: Vec<&str> =
                p.as_array().unwrap().iter().map(|p| p.as_str().unwrap().rsplit('/').next().unwrap()).collect();
            format!("[{}]", names.join(","))
        }
    };
    format!(
        "{} {} {}: keep {:?} remove {:?}",
        g["host"],
        paths,
        g["tags"],
        named.names(&g["keep"]),
        named.names(&g["remove"])
    )
}

fn group_lines(named: &Named, groups: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = groups.iter().map(|g| group_line(named, g)).collect();
    v.sort();
    v
}

/// The keep reasons of a group as (name, matches, counters), in its order.
fn reasons(named: &Named, g: &Value) -> Vec<(&'static str, Value, Value)> {
    g["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (named.name(r["snapshot"]["id"].as_str().unwrap()), r["matches"].clone(), r["counters"].clone()))
        .collect()
}

#[test]
fn keep_last_and_daily_dry_run_reports_then_real_run_removes_exactly_that() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let mut named = Named::default();
    let times = [
        ("a", "2026-11-01T10:00:00Z"),
        ("b", "2026-11-02T10:00:00Z"),
        ("c", "2026-11-03T10:00:00Z"),
        ("d", "2026-11-04T10:00:00Z"),
        ("e", "2026-11-04T15:00:00Z"),
        ("f", "2026-11-05T10:00:00Z"),
        ("g", "2026-11-06T10:00:00Z"),
        ("h", "2026-11-06T20:00:00Z"),
    ];
    // Recorded out of order: the policy goes by recorded time, not by creation order.
    for i in [3, 0, 7, 1, 5, 2, 6, 4] {
        let (name, time) = times[i];
        write(&src.join("f"), name.as_bytes());
        named.backup(&env, name, &src, time, &["--host", "h"]);
    }
    let all = named.remaining(&env);
    assert_eq!(all, ["a", "b", "c", "d", "e", "f", "g", "h"]);

    let groups = forget_json(&env, &["--dry-run", "--keep-last", "2", "--keep-daily", "3"]);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!(g["host"], "h");
    assert_eq!(g["paths"], json!([src.to_str().unwrap()]));
    assert_eq!(g["tags"], Value::Null, "not grouped by tags");
    // Newest first: h and g take the two `last` counts; h, f and e the three days (g shares
    // h's day); d shares e's day and the rest are past every count, the oldest included.
    assert_eq!(named.names(&g["keep"]), ["h", "g", "f", "e"]);
    assert_eq!(named.names(&g["remove"]), ["d", "c", "b", "a"]);
    assert_eq!(
        reasons(&named, g),
        [
            ("h", json!(["last snapshot", "daily snapshot"]), json!({"last": 1, "daily": 2})),
            ("g", json!(["last snapshot"]), json!({"daily": 2})),
            ("f", json!(["daily snapshot"]), json!({"daily": 1})),
            ("e", json!(["daily snapshot"]), json!({})),
        ]
    );
    let first = &g["keep"][0];
    assert_eq!(first["id"].as_str().unwrap().len(), 64);
    assert!(first["id"].as_str().unwrap().starts_with(first["short_id"].as_str().unwrap()));
    assert_eq!(first["hostname"], "h");
    assert!(first["time"].as_str().unwrap().starts_with("2026-11-06T20:00:00"), "{first}");
    assert_eq!(named.remaining(&env), all, "a dry run removes nothing");

    let out = env.ok(&["forget", "--keep-last", "2", "--keep-daily", "3"]);
    assert!(out.contains("Applying policy: keep 2 latest, 3 daily snapshots"), "{out}");
    assert!(out.contains("removed 4 snapshots"), "{out}");
    assert_eq!(named.remaining(&env), ["e", "f", "g", "h"]);
    // The same policy again finds nothing more to remove.
    let again = forget_json(&env, &["--keep-last", "2", "--keep-daily", "3"]);
    assert_eq!(named.names(&again[0]["remove"]), Vec::<&str>::new());
    assert_eq!(named.remaining(&env), ["e", "f", "g", "h"]);
    env.check();
}

/// Hosts a and b, paths p1 and p2, one day apart:
/// a1 a2 (a, p1), a3 (a, p2), b1 (b, p1), b2 b3 (b, p2).
fn two_hosts_two_paths(env: &Env) -> Named {
    env.init();
    let (p1, p2) = (env.path("p1"), env.path("p2"));
    write(&p1.join("f"), b"one");
    write(&p2.join("f"), b"two");
    let mut named = Named::default();
    for (name, host, src, day) in [
        ("a1", "a", &p1, 1),
        ("a2", "a", &p1, 2),
        ("a3", "a", &p2, 3),
        ("b1", "b", &p1, 4),
        ("b2", "b", &p2, 5),
        ("b3", "b", &p2, 6),
    ] {
        named.backup(env, name, src, &format!("2026-11-0{day}T10:00:00Z"), &["--host", host]);
    }
    named
}

#[test]
fn group_by_host_paths_default_host_paths_and_one_group() {
    let env = Env::new();
    let named = two_hosts_two_paths(&env);
    let all = named.remaining(&env);
    let plan = |group_by: Option<&str>| {
        let mut args = vec!["--dry-run", "--keep-last", "1"];
        if let Some(g) = group_by {
            args.extend_from_slice(&["--group-by", g]);
        }
        group_lines(&named, &forget_json(&env, &args))
    };
    let default = [
        r#""a" [p1] null: keep ["a2"] remove ["a1"]"#,
        r#""a" [p2] null: keep ["a3"] remove []"#,
        r#""b" [p1] null: keep ["b1"] remove []"#,
        r#""b" [p2] null: keep ["b3"] remove ["b2"]"#,
    ];
    assert_eq!(plan(None), default);
    assert_eq!(plan(Some("host,paths")), default);
    assert_eq!(
        plan(Some("host")),
        [r#""a" null null: keep ["a3"] remove ["a2", "a1"]"#, r#""b" null null: keep ["b3"] remove ["b2", "b1"]"#]
    );
    assert_eq!(
        plan(Some("paths")),
        [r#"null [p1] null: keep ["b1"] remove ["a2", "a1"]"#, r#"null [p2] null: keep ["b3"] remove ["b2", "a3"]"#]
    );
    assert_eq!(plan(Some("")), [r#"null null null: keep ["b3"] remove ["b2", "b1", "a3", "a2", "a1"]"#]);
    // Grouped by tags, an untagged snapshot's key is the empty list, not null.
    assert_eq!(
        plan(Some("host,tags")),
        [r#""a" null []: keep ["a3"] remove ["a2", "a1"]"#, r#""b" null []: keep ["b3"] remove ["b2", "b1"]"#]
    );
    assert_eq!(named.remaining(&env), all, "dry runs remove nothing");

    let bad = env.run(&["forget", "--keep-last", "1", "--group-by", "colour"]);
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("colour"), "{}", stderr(&bad));

    env.ok(&["forget", "--keep-last", "1", "--group-by", "host"]);
    assert_eq!(named.remaining(&env), ["a3", "b3"]);
    env.check();
}

#[test]
fn filters_leave_other_snapshots_untouched() {
    let env = Env::new();
    let named = two_hosts_two_paths(&env);
    let groups = forget_json(&env, &["--host", "a", "--keep-last", "1"]);
    assert_eq!(
        group_lines(&named, &groups),
        [r#""a" [p1] null: keep ["a2"] remove ["a1"]"#, r#""a" [p2] null: keep ["a3"] remove []"#]
    );
    assert_eq!(named.remaining(&env), ["a2", "a3", "b1", "b2", "b3"]);

    let p2 = env.path("p2");
    let groups = forget_json(&env, &["--path", p2.to_str().unwrap(), "--group-by", "", "--keep-last", "1"]);
    assert_eq!(group_lines(&named, &groups), [r#"null null null: keep ["b3"] remove ["b2", "a3"]"#]);
    assert_eq!(named.remaining(&env), ["a2", "b1", "b3"]);

    // A filter nothing matches is no group at all, and removes nothing.
    let groups = forget_json(&env, &["--host", "c", "--keep-last", "1"]);
    assert!(groups.is_empty(), "{groups:?}");
    assert_eq!(named.remaining(&env), ["a2", "b1", "b3"]);
    env.check();
}

#[test]
fn keep_tag_and_keep_within_measured_from_the_newest_snapshot() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let mut named = Named::default();
    for (name, time, tags) in [
        ("t1", "2020-03-01T12:00:00Z", "keep"),
        ("t2", "2020-03-05T12:00:00Z", ""),
        ("t3", "2020-03-08T12:00:00Z", "keep,other"),
        ("t4", "2020-03-08T13:00:00Z", ""),
        ("t5", "2020-03-10T12:00:00Z", ""),
    ] {
        let extra: &[&str] = if tags.is_empty() { &[] } else { &["--tag", tags] };
        named.backup(&env, name, &src, time, extra);
    }
    // The window is 2 days before t5 (not before now, which is years later), exclusive: t3
    // sits exactly on its edge and is kept only for its tag.
    let groups = forget_json(&env, &["--dry-run", "--keep-tag", "keep", "--keep-within", "2d"]);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(named.names(&groups[0]["keep"]), ["t5", "t4", "t3", "t1"]);
    assert_eq!(named.names(&groups[0]["remove"]), ["t2"]);
    assert_eq!(
        reasons(&named, &groups[0]),
        [
            ("t5", json!(["within 2d"]), json!({})),
            ("t4", json!(["within 2d"]), json!({})),
            ("t3", json!(["has tags [keep]"]), json!({})),
            ("t1", json!(["has tags [keep]"]), json!({})),
        ]
    );

    // Comma-separated tags must all be present; tags use up no count.
    let groups = forget_json(&env, &["--dry-run", "--keep-tag", "keep,other", "--keep-last", "1"]);
    assert_eq!(named.names(&groups[0]["keep"]), ["t5", "t3"]);
    // Repeated --keep-tag: any of the sets.
    let groups = forget_json(&env, &["--dry-run", "--keep-tag", "other", "--keep-tag", "nosuch"]);
    assert_eq!(named.names(&groups[0]["keep"]), ["t3"]);
    assert_eq!(named.remaining(&env), ["t1", "t2", "t3", "t4", "t5"]);

    env.ok(&["forget", "--keep-tag", "keep", "--keep-within", "2d"]);
    assert_eq!(named.remaining(&env), ["t1", "t3", "t4", "t5"]);
    env.check();
}

#[test]
fn explicit_ids_remove_exactly_those_and_refuse_a_policy_too() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let mut named = Named::default();
    for (name, day) in [("s1", 1), ("s2", 2), ("s3", 3), ("s4", 4)] {
        named.backup(&env, name, &src, &format!("2026-11-0{day}T10:00:00Z"), &[]);
    }
    let s1 = named.id("s1").to_string();
    let s2 = named.id("s2").to_string();

    let o = env.run(&["forget", &s2[..8], "--keep-last", "1"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("either snapshot ids or a --keep-* policy"), "{}", stderr(&o));
    // One unknown id fails the whole run before anything is removed.
    let o = env.run(&["forget", &s1, "0000000000000000"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("0000000000000000"), "{}", stderr(&o));
    assert_eq!(named.remaining(&env), ["s1", "s2", "s3", "s4"]);

    // A prefix, `latest` and the full id of the same snapshot again: removed once each.
    let groups = forget_json(&env, &[&s1[..8], "latest", &s1]);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(named.names(&groups[0]["keep"]), Vec::<&str>::new());
    assert_eq!(named.names(&groups[0]["remove"]), ["s1", "s4"]);
    assert_eq!(named.remaining(&env), ["s2", "s3"]);

    // `--dry-run` with ids names them and removes nothing.
    let groups = forget_json(&env, &["--dry-run", &s2]);
    assert_eq!(named.names(&groups[0]["remove"]), ["s2"]);
    assert_eq!(named.remaining(&env), ["s2", "s3"]);
    env.check();
}

#[test]
fn a_policy_that_empties_a_group_is_refused_unless_allowed() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let mut named = Named::default();
    named.backup(&env, "a1", &src, "2026-11-01T10:00:00Z", &["--host", "a", "--tag", "keep"]);
    named.backup(&env, "a2", &src, "2026-11-02T10:00:00Z", &["--host", "a"]);
    named.backup(&env, "b1", &src, "2026-11-03T10:00:00Z", &["--host", "b"]);
    named.backup(&env, "b2", &src, "2026-11-04T10:00:00Z", &["--host", "b"]);
    let all = named.remaining(&env);

    let o = env.run(&["forget", "--keep-tag", "nosuchtag"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("--unsafe-allow-remove-all"), "{}", stderr(&o));
    assert_eq!(named.remaining(&env), all);
    // One emptied group refuses the whole run: host a's untagged a2 stays as well.
    let o = env.run(&["forget", "--keep-tag", "keep"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("host b"), "names the group: {}", stderr(&o));
    assert_eq!(named.remaining(&env), all);

    env.ok(&["forget", "--keep-tag", "keep", "--unsafe-allow-remove-all"]);
    assert_eq!(named.remaining(&env), ["a1"]);
    env.ok(&["forget", "--keep-tag", "nosuchtag", "--unsafe-allow-remove-all"]);
    assert!(env.snapshot_ids().is_empty());
    env.check();
}

/// restic 0.17's meaning: no policy is refused (it used to remove nothing and say so, exit 0);
/// still nothing is removed. `--unsafe-allow-remove-all` without a policy removes every
/// selected snapshot: restic_flags::forget_without_policy_refuses_and_the_unsafe_flag_removes_all.
#[test]
fn no_policy_is_refused_and_removes_nothing() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let mut named = Named::default();
    named.backup(&env, "s1", &src, "2026-11-01T10:00:00Z", &[]);
    named.backup(&env, "s2", &src, "2026-11-02T10:00:00Z", &[]);
    // Grouping and filters are no policy; a zero count turns its rule off.
    for args in [&["forget"][..], &["forget", "--group-by", "host", "--host", "x"], &["forget", "--keep-last", "0"]] {
        let o = env.run(args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no policy was specified, no snapshots will be removed"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("--unsafe-allow-remove-all"), "{args:?}: {}", stderr(&o));
        assert_eq!(named.remaining(&env), ["s1", "s2"], "{args:?}");
    }
    assert_eq!(code(&env.run(&["forget", "--json"])), 1);
    assert_eq!(named.remaining(&env), ["s1", "s2"]);
}

#[test]
fn forget_with_prune_then_check_and_restore_the_kept_snapshot() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("same"), &noise(3000, 1));
    write(&src.join("changes"), &noise(3000, 2));
    write(&src.join("gone"), &noise(3000, 3));
    let mut named = Named::default();
    named.backup(&env, "old", &src, "2026-11-01T10:00:00Z", &[]);
    write(&src.join("changes"), &noise(3000, 4));
    std::fs::remove_file(src.join("gone")).unwrap();
    write(&src.join("new/file"), &noise(3000, 5));
    named.backup(&env, "new", &src, "2026-11-02T10:00:00Z", &[]);

    let out = env.ok(&["forget", "--json", "--keep-last", "1", "--prune", "--max-unused", "0"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "forget's groups, then prune's statistics: {out}");
    let stats: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(stats["snapshots"], 1, "{stats}");
    assert!(stats["blobs_unused"].as_u64().unwrap() >= 2, "the old file versions are unused: {stats}");
    assert_eq!(named.remaining(&env), ["new"]);
    env.check();
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.to_str().unwrap()), "restored"));

    // Deleting what was marked leaves a repository that still checks and restores.
    env.prune(&["--instant-delete", "--max-unused", "0"]);
    env.check();
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.to_str().unwrap()), "restored2"));
}

/// As in restic, --host/--tag/--path narrow `latest` among explicit ids.
#[test]
fn latest_among_ids_honours_the_host_filter() {
    let env = Env::new();
    let named = two_hosts_two_paths(&env);
    env.ok(&["forget", "latest", "--host", "a"]);
    assert_eq!(named.remaining(&env), ["a1", "a2", "b1", "b2", "b3"]);
}

/// `--keep-tag ''` keeps the untagged snapshots, as in restic.
#[test]
fn keep_tag_empty_keeps_only_untagged_snapshots() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let mut named = Named::default();
    named.backup(&env, "plain", &src, "2026-11-01T10:00:00Z", &[]);
    named.backup(&env, "tagged", &src, "2026-11-02T10:00:00Z", &["--tag", "t"]);
    let groups = forget_json(&env, &["--dry-run", "--keep-tag", ""]);
    assert_eq!(named.names(&groups[0]["keep"]), ["plain"]);
    assert_eq!(named.names(&groups[0]["remove"]), ["tagged"]);
}
