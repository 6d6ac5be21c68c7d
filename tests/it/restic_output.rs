#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Output that means what it says, with restic's semantics (issue 21): `-q` keeps results,
//! `-v` is not the storage log, snapshot selection, JSON shapes as restic documents them, a
//! closed pipe, `dump` to a terminal, password prompts that say which password.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::Stdio;

use crate::common;

use common::*;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A repository with two snapshots of `src` (a file changed in between).
fn two_snapshots(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    write(&src.join("notes.txt"), b"first");
    write(&src.join("sub/data.bin"), &noise(20_000, 1));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    write(&src.join("notes.txt"), b"second, longer");
    env.backup_json(&[src.to_str().unwrap()]);
    src
}

/// `-q` silences chatter, never the results a command was asked for: restic prints the
/// snapshots table, `ls`, `find`, `key list`, `stats`, `diff` and `check`'s verdict with `-q`.
#[test]
fn quiet_keeps_the_results_a_command_was_asked_for() {
    let env = Env::new();
    let src = two_snapshots(&env);
    let ids = env.snapshot_ids();
    let quiet = |args: &[&str]| {
        let mut a = vec!["-q"];
        a.extend_from_slice(args);
        env.ok(&a)
    };
    assert!(quiet(&["snapshots"]).contains(&ids[1][..8]), "snapshots -q lost the table");
    assert!(quiet(&["ls", "latest"]).contains("notes.txt"), "ls -q lost the listing");
    assert!(quiet(&["find", "data.bin"]).contains("data.bin"), "find -q lost the matches");
    assert!(quiet(&["key", "list"]).contains("ID"), "key list -q lost the keys");
    assert!(quiet(&["stats"]).contains("Total Size"), "stats -q lost the figures");
    let diff = quiet(&["diff", &ids[0][..8], &ids[1][..8]]);
    assert!(diff.contains("M    ") && diff.contains("notes.txt"), "diff -q lost the changes: {diff}");
    assert!(quiet(&["check"]).contains("no errors were found"), "check -q lost its verdict");
    // chatter stays silent: a quiet backup prints nothing
    let o = env.run(&["-q", "backup", src.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "backup -q talked: {}", String::from_utf8_lossy(&o.stdout));
}

/// `snapshots latest`, `snapshots ID…`, `--latest N`, `--group-by`, `--compact`; an id that
/// names no snapshot is an error, not an empty table.
#[test]
fn snapshots_selects_by_id_latest_and_group_and_refuses_an_unknown_id() {
    let env = Env::new();
    let src = two_snapshots(&env);
    env.backup_json(&["--host", "other", src.to_str().unwrap()]);
    let ids = env.snapshot_ids();
    let listed = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["snapshots", "--json"];
        a.extend_from_slice(args);
        json(&env.ok(&a)).as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed(&["latest"]), vec![ids[2].clone()]);
    assert_eq!(listed(&[&ids[0][..8], &ids[1][..10]]), vec![ids[0].clone(), ids[1].clone()]);
    // the newest of each host and paths
    assert_eq!(listed(&["--latest", "1"]), vec![ids[1].clone(), ids[2].clone()]);
    let o = env.run(&["snapshots", "deadbeef"]);
    assert_ne!(code(&o), 0, "an unknown id listed as {:?}", String::from_utf8_lossy(&o.stdout));
    assert!(stderr(&o).contains("deadbeef"), "{}", stderr(&o));
    // restic's --group-by JSON: [{group_key: {hostname, paths, tags}, snapshots: [...]}]
    let groups = json(&env.ok(&["snapshots", "--json", "--group-by", "host"]));
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(keys(&groups[0]), set(&["group_key", "snapshots"]));
    assert_eq!(keys(&groups[0]["group_key"]), set(&["hostname", "paths", "tags"]));
    let other = groups.iter().find(|g| g["group_key"]["hostname"] == "other").unwrap();
    assert_eq!(other["group_key"]["paths"], serde_json::Value::Null, "not grouped by paths: {other}");
    assert_eq!(other["snapshots"].as_array().unwrap().len(), 1);
    let text = env.ok(&["snapshots", "--group-by", "host"]);
    assert!(text.contains("snapshots for (host [other]):"), "{text}");
    let compact = env.ok(&["snapshots", "--compact"]);
    assert!(compact.contains(&ids[0][..8]) && !compact.contains("Paths"), "{compact}");
}

/// `key list --json` is restic's shape: `current`, the short `id`, `userName`, `hostName`,
/// `created` (restic's scripting docs), nothing renamed.
#[test]
fn key_list_json_is_restics_shape() {
    let env = Env::new();
    env.init();
    let list = json(&env.ok(&["key", "list", "--json"]));
    let k = &list.as_array().unwrap()[0];
    assert_eq!(keys(k), set(&["current", "id", "userName", "hostName", "created"]), "{k}");
    assert_eq!(k["current"], true);
    assert_eq!(k["id"].as_str().unwrap().len(), 8, "restic lists short ids: {k}");
    assert!(k["created"].as_str().is_some_and(|c| c.starts_with("20")), "{k}");
}

/// The restore summary carries restic 0.18's fields under restic's names (`message_type`
/// "summary", totals, restored, skipped, deleted, seconds); files overwritten in the target are
/// counted in the text and the JSON.
#[test]
fn restore_summary_is_restics_shape_and_counts_what_it_overwrote() {
    let env = Env::new();
    let src = two_snapshots(&env);
    let target = env.path("out");
    let t = target.to_str().unwrap();
    let first = summary(&env.ok(&["restore", "latest", "--target", t, "--json"]));
    let restic = [
        "message_type",
        "seconds_elapsed",
        "total_files",
        "files_restored",
        "files_skipped",
        "files_deleted",
        "total_bytes",
        "bytes_restored",
        "bytes_skipped",
    ];
    for k in restic {
        assert!(first.get(k).is_some(), "restore summary lacks restic's {k:?}: {first}");
        assert!(k == "message_type" || first[k].is_u64(), "{k} is not a count: {first}");
    }
    assert_eq!(first["total_files"], 2, "{first}");
    assert_eq!(first["files_restored"], 2, "{first}");
    let size = 20_000 + "second, longer".len() as u64;
    assert_eq!(first["total_bytes"], size, "{first}");
    assert_eq!(first["bytes_restored"], size, "{first}");
    assert_eq!(first["files_overwritten"], 0, "{first}");
    // again over the restored files: everything is replaced, and said so
    let again = summary(&env.ok(&["restore", "latest", "--target", t, "--json", "--overwrite", "always"]));
    assert_eq!(again["files_overwritten"], 2, "{again}");
    let text = env.ok(&["restore", "latest", "--target", t, "--overwrite", "always"]);
    assert!(text.contains("2 overwritten"), "{text}");
    // kept files are skipped, with their bytes
    let kept = summary(&env.ok(&["restore", "latest", "--target", t, "--json", "--overwrite", "never"]));
    assert_eq!((kept["files_skipped"].as_u64(), kept["bytes_skipped"].as_u64()), (Some(2), Some(size)), "{kept}");
    let _ = src;
}

/// `restore --dry-run` says "would restore" and touches nothing; `--delete` lists and counts
/// what it removes, in a dry run what it would remove.
#[test]
fn restore_dry_run_says_would_and_delete_lists_and_counts_what_it_removes() {
    let env = Env::new();
    let src = two_snapshots(&env);
    let target = env.path("out");
    let t = target.to_str().unwrap();
    env.ok(&["restore", "latest", "--target", t]);
    // one stray at the top of the target, one inside a restored directory
    let restored = target.join(src.strip_prefix("/").unwrap());
    write(&target.join("stray.txt"), b"not in the snapshot");
    write(&restored.join("sub/old.log"), b"neither");
    let dry = env.ok(&["restore", "latest", "--target", t, "--dry-run", "--delete"]);
    assert!(dry.contains("would restore"), "{dry}");
    assert!(dry.contains("would delete") && dry.contains("stray.txt") && dry.contains("old.log"), "{dry}");
    assert!(target.join("stray.txt").exists(), "a dry run deleted");
    let dry = summary(&env.ok(&["restore", "latest", "--target", t, "--dry-run", "--delete", "--json"]));
    assert_eq!(dry["files_deleted"], 2, "{dry}");
    let done = env.ok(&["restore", "latest", "--target", t, "--delete"]);
    assert!(done.contains("deleted") && done.contains("stray.txt") && done.contains("2 deleted"), "{done}");
    assert!(!target.join("stray.txt").exists() && !restored.join("sub/old.log").exists());
    assert!(restored.join("sub/data.bin").exists() && restored.join("notes.txt").exists());
    assert!(!done.contains("would"), "{done}");
}

/// A reader that goes away (`| head`) ends the output quietly: exit 0, no panic (the old `cat`
/// panicked with exit 101, `dump` failed with "Broken pipe").
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..1500 {
        write(&src.join(format!("a-rather-long-file-name-number-{i:05}.txt")), b"x");
    }
    write(&src.join("big.bin"), &noise(3_000_000, 7));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let s = src.to_str().unwrap();
    let big = format!("{s}/big.bin");
    let tree = format!("latest:{s}");
    for args in [
        vec!["cat", "tree", &tree],
        vec!["dump", "latest", &big],
        vec!["dump", "latest", s],
        vec!["ls", "latest"],
        vec!["ls", "latest", "--json"],
    ] {
        let mut child = env.cmd().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        out.read_exact(&mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(code(&o), 0, "{args:?}: {err}");
    }
}

/// `dump` of a directory refuses to write an archive to a terminal, and says how to get one;
/// a file still goes to the terminal.
#[test]
fn dump_of_a_directory_refuses_a_terminal() {
    let env = Env::new();
    let src = two_snapshots(&env);
    // `script` runs arca on a pseudo-terminal and copies what it shows to its own stdout
    let script = |path: &str| {
        let mut c = std::process::Command::new("script");
        c.env_clear();
        let line = format!("{} dump latest {path}", env!("CARGO_BIN_EXE_arca"));
        c.args(["-q", "-e", "-c", &line, "/dev/null"]);
        let base = env.cmd();
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.stdin(Stdio::null()).output().unwrap()
    };
    let dir = script(src.to_str().unwrap());
    let shown = String::from_utf8_lossy(&dir.stdout);
    assert_eq!(code(&dir), 1, "{shown}");
    assert!(shown.contains("refusing to write a tar archive to a terminal") && shown.contains("--target"), "{shown}");
    let file = script(&format!("{}/notes.txt", src.display()));
    assert_eq!(code(&file), 0, "{}", String::from_utf8_lossy(&file.stdout));
    assert!(String::from_utf8_lossy(&file.stdout).contains("second, longer"));
}

/// Without a terminal, a missing password names which one and the options that give it: the
/// repository's, the source repository's (`--from-password-file`), a new key's.
#[test]
fn a_missing_password_names_which_and_the_option_that_gives_it() {
    let env = Env::new();
    env.init();
    let o = env.cmd().env_remove("ARCA_PASSWORD").args(["snapshots"]).output().unwrap();
    let err = stderr(&o);
    assert_ne!(code(&o), 0);
    assert!(
        err.contains(&format!("the repository {}", env.repo.display())) && err.contains("--password-file"),
        "{err}"
    );
    let other = env.path("other");
    let o = env.cmd().env("ARCA_REPOSITORY", &other).args(["init"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env.run(&["copy", "--from-repo", other.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(err.contains("the source repository") && err.contains("--from-password-file"), "{err}");
    assert!(!err.contains("ARCA_PASSWORD,"), "names the wrong password: {err}");
    let o = env.run(&["key", "add"]);
    let err = stderr(&o);
    assert!(err.contains("no new password") && err.contains("--new-password-file"), "{err}");
}

/// `--verbose=N` is accepted (restic's spelling); `-v` no longer prints the storage request log,
/// which `--log-level`/`ARCA_LOG` turn on.
#[test]
fn verbose_n_is_accepted_and_storage_logs_have_their_own_switch() {
    let env = Env::new();
    let src = two_snapshots(&env);
    let o = env.run(&["--verbose=2", "backup", src.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env.run(&["-vv", "--no-cache", "ls", "latest"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("read "), "-vv printed the storage log: {}", stderr(&o));
    let o = env.run(&["--log-level", "debug", "--no-cache", "ls", "latest"]);
    assert!(stderr(&o).contains("read "), "--log-level debug logged no storage reads: {}", stderr(&o));
    let o = env.cmd().env("ARCA_LOG", "arca=debug").args(["--no-cache", "ls", "latest"]).output().unwrap();
    assert!(stderr(&o).contains("read "), "ARCA_LOG logged no storage reads: {}", stderr(&o));
    let o = env.run(&["--log-level", "arca=loud", "snapshots"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("--log-level"), "{}", stderr(&o));
}

/// `backup -v` lists new and modified files as restic does, `-vv` unchanged ones too,
/// `--dry-run -v` what would be stored; with `--json`, `verbose_status` lines.
#[test]
fn backup_verbose_lists_files_by_status() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"alpha");
    write(&src.join("b.txt"), b"beta");
    env.init();
    let s = src.to_str().unwrap();
    let line = |status: &str, name: &str| format!("{status:<9} {s}/{name},");
    let first = env.ok(&["backup", "-v", s]);
    assert!(first.contains(&line("new", "a.txt")) && first.contains(&line("new", "b.txt")), "{first}");
    write(&src.join("b.txt"), b"beta, changed");
    let second = env.ok(&["backup", "-v", s]);
    assert!(second.contains(&line("modified", "b.txt")), "{second}");
    assert!(!second.contains("a.txt"), "-v listed an unchanged file: {second}");
    let third = env.ok(&["backup", "-vv", s]);
    assert!(third.contains(&line("unchanged", "a.txt")), "{third}");
    write(&src.join("c.txt"), b"gamma");
    let dry = env.ok(&["backup", "--dry-run", "-v", s]);
    assert!(dry.contains(&line("new", "c.txt")) && dry.contains("dry run"), "{dry}");
    let out = env.ok(&["backup", "--json", "-v", s]);
    let listed: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message_type"] == "verbose_status")
        .collect();
    assert_eq!(listed.len(), 1, "{out}");
    assert_eq!(listed[0]["action"], "new");
    assert_eq!(listed[0]["item"], format!("{s}/c.txt"));
}
