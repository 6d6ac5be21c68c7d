//! The smaller edges a restic user meets first (issue 21): `--help` lists a command's own
//! options before the global ones, counts in English ("1 snapshot"), relative paths in
//! `SNAPSHOT:PATH` resolved or explained, `ls -l` with the setuid, setgid and sticky bits,
//! `memory:` said to be a test backend, a date-only `latest@DATE` as the end of that day.

use std::os::unix::fs::PermissionsExt;

use crate::common;

use common::*;

/// A repository with one snapshot of `src` (`src/d/f`, `src/top`); returns `src`.
fn one_snapshot(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    write(&src.join("d/f"), b"in d");
    write(&src.join("top"), b"at the top");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    src
}

#[test]
fn help_lists_a_commands_own_options_before_the_global_ones() {
    let env = Env::new();
    for (cmd, own) in [("backup", "--exclude"), ("restore", "--target"), ("forget", "--keep-last")] {
        let help = env.ok(&[cmd, "--help"]);
        let own_at = help.find(own).unwrap_or_else(|| panic!("{cmd} --help lacks {own}: {help}"));
        let global_heading = help.find("Global options:").unwrap_or_else(|| panic!("{cmd}: no global heading: {help}"));
        let repo_at = help.find("--repo").unwrap_or_else(|| panic!("{cmd} --help lacks --repo"));
        assert!(own_at < global_heading && global_heading < repo_at, "{cmd}: own options come first: {help}");
        // the examples stay at the end
        assert!(help.rfind("Examples:").is_some_and(|e| e > repo_at), "{cmd}: {help}");
    }
}

#[test]
fn counts_are_in_english() {
    let env = Env::new();
    let src = one_snapshot(&env);
    let table = env.ok(&["snapshots"]);
    assert!(table.trim_end().ends_with("\n1 snapshot"), "{table}");
    let o = env.run(&["backup", src.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stdout).to_string() + &stderr(&o);
    assert!(err.contains("processed 2 files,"), "{err}");
    let forget = env.ok(&["forget", "--keep-last", "1", "--dry-run"]);
    assert!(forget.contains("keep 1 snapshot:") && forget.contains("remove 1 snapshot:"), "{forget}");
    assert!(forget.contains("would remove 1 snapshot\n"), "{forget}");
    let out = env.path("out");
    let restored = env.ok(&["restore", "latest:/", "--target", out.to_str().unwrap()]);
    assert!(!restored.contains("(s)"), "{restored}");
    assert!(restored.contains(" 2 files,"), "{restored}");
}

#[test]
fn relative_paths_in_snapshot_path_are_resolved_or_explained() {
    let env = Env::new();
    let src = one_snapshot(&env);
    // from the directory that was backed up: `latest:d` is ./d
    let out = env.path("r1");
    let o =
        env.cmd().current_dir(&src).args(["restore", "latest:d", "--target", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("f")).unwrap(), b"in d");
    // from anywhere: below the snapshot's source (`d` in /…/src) or its parent (`src/d`)
    for rel in ["d", "src/d", "./src/../src/d/"] {
        let out = env.path(&format!("r-{}", rel.replace('/', "_")));
        let o = env.cmd().current_dir("/").args(["restore", &format!("latest:{rel}"), "--target"]).arg(&out).output();
        let o = o.unwrap();
        assert_eq!(code(&o), 0, "{rel}: {}", stderr(&o));
        assert_eq!(std::fs::read(out.join("f")).unwrap(), b"in d", "{rel}");
    }
    let listed = env.cmd().current_dir("/").args(["ls", "latest", "src/d"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("/src/d/f"), "{}", stderr(&listed));
    // nowhere: explained, naming the sources, and nothing restored
    let out = env.path("r3");
    let o = env.cmd().current_dir("/").args(["restore", "latest:nope/x", "--target"]).arg(&out).output().unwrap();
    assert_ne!(code(&o), 0);
    let err = stderr(&o);
    assert!(err.contains("nope/x is not in snapshot") && err.contains(src.to_str().unwrap()), "{err}");
    assert!(err.contains("absolute"), "{err}");
    assert!(!out.exists());
    // `..` never climbs above the root into a different path
    let o = env.cmd().current_dir("/").args(["ls", "latest", "../../../../../../../../../.."]).output().unwrap();
    assert_ne!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn ls_long_shows_setuid_setgid_and_sticky_bits() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("tools/suid"), b"#!/bin/sh\n");
    write(&src.join("tools/sgid-noexec"), b"x");
    std::fs::set_permissions(src.join("tools/suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(src.join("tools/sgid-noexec"), std::fs::Permissions::from_mode(0o2644)).unwrap();
    std::fs::set_permissions(src.join("tools"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let ls = env.ok(&["ls", "-l", "latest"]);
    let line =
        |name: &str| ls.lines().find(|l| l.ends_with(name)).unwrap_or_else(|| panic!("{name}: {ls}")).to_string();
    assert!(line("/tools").starts_with("drwxrwxrwt"), "{ls}");
    assert!(line("/tools/suid").starts_with("-rwsr-xr-x"), "{ls}");
    assert!(line("/tools/sgid-noexec").starts_with("-rw-r-Sr--"), "{ls}");
}

#[test]
fn memory_is_said_to_be_a_test_backend_for_one_command() {
    let env = Env::new();
    let o = env.cmd().env("ARCA_REPOSITORY", "memory:").args(["init"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("memory: is a test backend") && stderr(&o).contains("one command"), "{}", stderr(&o));
    let help = env.ok(&["--help"]);
    assert!(help.contains("--repo"), "{help}");
}

#[test]
fn a_date_alone_after_latest_at_means_the_end_of_that_day() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"morning");
    env.init();
    env.ok(&["backup", "--time", "2026-11-01 08:00:00", src.to_str().unwrap()]);
    write(&src.join("f"), b"evening");
    env.ok(&["backup", "--time", "2026-11-01 22:30:00", src.to_str().unwrap()]);
    write(&src.join("f"), b"next day");
    env.ok(&["backup", "--time", "2026-11-02 09:00:00", src.to_str().unwrap()]);
    let out = env.path("out");
    env.ok(&["restore", "latest@2026-11-01", "--target", out.to_str().unwrap()]);
    let restored = out.join(src.strip_prefix("/").unwrap()).join("f");
    assert_eq!(std::fs::read(restored).unwrap(), b"evening");
    let help = env.ok(&["restore", "--help"]);
    assert!(help.contains("a date alone: the end of that day"), "{help}");
}
