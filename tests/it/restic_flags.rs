//! restic's flags and environment variables that a restic user reaches for (issue 21, "every
//! command and flag they know"), driven through the real binary: each test fails on a build
//! without the flag, and attacks what the flag promises (every byte of a name, no snapshot, no
//! lock, the named repository, the recorded host, the stored sizes, the restored set, the
//! refused forget).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn json(out: &str) -> Value {
    serde_json::from_str(out.lines().next().unwrap_or("")).unwrap_or_else(|e| panic!("json ({e}): {out}"))
}

/// The names `ls --json` lists under the snapshot, as raw bytes (the `path` of each node).
fn listed(env: &Env, snapshot: &str) -> Vec<String> {
    env.ok(&["ls", snapshot, "--json"])
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["path"].as_str().map(String::from))
        .collect()
}

fn data_pack_sizes(repo: &Path) -> Vec<u64> {
    let mut v = vec![];
    for d in std::fs::read_dir(repo.join("data")).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            v.push(f.metadata().unwrap().len());
        }
    }
    v
}

#[test]
fn files_from_raw_keeps_newlines_and_files_from_verbatim_keeps_spaces_and_hashes() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a\nb"), b"newline in the name");
    write(&src.join("# not a comment"), b"hash");
    write(&src.join(" padded "), b"spaces");
    write(&src.join("left out"), b"not listed");
    // NUL-separated: the newline is part of the first name
    let raw = env.path("list.raw");
    let mut bytes = src.join("a\nb").as_os_str().as_bytes().to_vec();
    bytes.push(0);
    bytes.extend_from_slice(src.join(" padded ").as_os_str().as_bytes());
    bytes.push(0);
    std::fs::write(&raw, &bytes).unwrap();
    env.ok(&["backup", "--files-from-raw", raw.to_str().unwrap(), "--host", "raw"]);
    let names = listed(&env, "latest");
    assert!(names.iter().any(|n| n.ends_with("/a\nb")), "the name with a newline was not stored whole: {names:?}");
    assert!(names.iter().any(|n| n.ends_with("/ padded ")), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("/left out") || n.ends_with("/a")), "{names:?}");

    // one per line, as written: `--files-from` would trim " padded " and skip "# not a comment"
    let verbatim = env.path("list.txt");
    let text = format!("{}\n{}\n", src.join("# not a comment").display(), src.join(" padded ").display());
    std::fs::write(&verbatim, text).unwrap();
    env.ok(&["backup", "--files-from-verbatim", verbatim.to_str().unwrap(), "--host", "verbatim"]);
    let names = listed(&env, "latest");
    assert!(names.iter().any(|n| n.ends_with("/# not a comment")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("/ padded ")), "{names:?}");
    env.check();
}

#[test]
fn skip_if_unchanged_stores_no_snapshot_and_says_so_until_something_changes() {
    let env = Env::new();
    env.init();
    // A snapshot records the sources' ancestors too (/, /tmp, …), and their times change
    // whenever another test makes a directory in one of them. So each attempt notes the
    // ancestors' times around its backups, and one that saw them change is tried again: what
    // is tested is that a backup of an unchanged tree stores nothing.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(&src.join("f"), b"one");
    let s = src.to_str().unwrap();
    let ancestors = || -> Vec<(i64, i64, i64, i64)> {
        use std::os::unix::fs::MetadataExt;
        src.ancestors()
            .skip(1)
            .map(|a| {
                std::fs::symlink_metadata(a).map(|m| (m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())).unwrap()
            })
            .collect()
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = ancestors();
        env.ok(&["backup", s]);
        let stored = env.snapshot_ids().len();
        let o = env.run(&["backup", "--skip-if-unchanged", s]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v = env.backup_json(&["--skip-if-unchanged", s]);
        let after = ancestors();
        if before != after && attempts < 20 {
            continue; // another test touched /tmp (or above) meanwhile
        }
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(all.contains("skipped creating snapshot"), "{all}");
        assert!(v["snapshot_id"].is_null(), "{v}");
        assert_eq!(v["dry_run"], false, "{v}");
        assert_eq!(env.snapshot_ids().len(), stored, "a snapshot was stored although nothing changed");
        break;
    }
    let stored = env.snapshot_ids().len();

    write(&src.join("f"), b"two");
    env.ok(&["backup", "--skip-if-unchanged", s]);
    assert_eq!(env.snapshot_ids().len(), stored + 1, "a change must be stored");
    env.check();
}

/// What `--no-lock` is for: reading while another client holds an exclusive lock (or on
/// storage one may not write). Commands that write refuse it, and so does
/// `check --read-data`, each with the reason.
#[test]
fn no_lock_reads_beside_an_exclusive_lock_and_is_refused_where_unsafe() {
    use arca::backend::{self, Location};
    use arca::repo::{LockMode, Repository};
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"content");
    let s = src.to_str().unwrap();
    env.ok(&["backup", s]);
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Repository::open(raw, PASSWORD.as_bytes()).unwrap();
    let held = repo.lock("key rotate", LockMode::Exclusive).unwrap();
    let locks = || std::fs::read_dir(env.repo.join("locks")).unwrap().count();
    assert_eq!(locks(), 1);

    // nothing a --no-lock command does may change the repository: the whole tree, byte for
    // byte and time for time, is as before (what a repository on read-only storage needs)
    let untouched = describe(&env.repo);
    let target = env.path("out");
    let t = target.to_str().unwrap();
    let o = env.run(&["restore", "latest", "--target", t]);
    assert_eq!(code(&o), 11, "without --no-lock the exclusive lock must stop a restore: {}", stderr(&o));
    env.ok(&["restore", "--no-lock", "latest", "--target", t]);
    assert_eq!(std::fs::read(target.join(src.strip_prefix("/").unwrap()).join("f")).unwrap(), b"content");
    for args in [
        &["--no-lock", "snapshots"][..],
        &["--no-lock", "ls", "latest"],
        &["--no-lock", "cat", "config"],
        &["--no-lock", "stats"],
        &["--no-lock", "find", "f"],
        &["--no-lock", "diff", "latest", "latest"],
        &["--no-lock", "dump", "latest", &format!("{s}/f")],
        &["--no-lock", "check"],
        &["--no-lock", "key", "list"],
    ] {
        let o = env.run(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    assert_eq!(locks(), 1, "a --no-lock command wrote a lock file");
    assert!(describe(&env.repo) == untouched, "a --no-lock command changed the repository");

    drop(held);
    let before = env.snapshot_ids();
    for (args, why) in [
        (&["--no-lock", "backup", s][..], "changes the repository"),
        (&["--no-lock", "forget", "--keep-last", "1"], "changes the repository"),
        (&["--no-lock", "prune"], "changes the repository"),
        (&["--no-lock", "tag", "--add", "x", "latest"], "changes the repository"),
        (&["--no-lock", "check", "--read-data"], "check --read-data"),
    ] {
        let o = env.run(args);
        assert_eq!(code(&o), 1, "{args:?} must refuse --no-lock: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--no-lock cannot be used here") && stderr(&o).contains(why),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(env.snapshot_ids(), before, "a refused command changed the repository");
    assert_eq!(locks(), 0);
    // a dry run writes nothing, so it may
    env.ok(&["--no-lock", "backup", "--dry-run", s]);
    env.check();
}

#[test]
fn repository_file_names_the_repository_and_conflicts_with_repo() {
    let env = Env::new();
    env.init();
    let file = env.path("repo-name");
    std::fs::write(&file, format!("{}\n", env.repo.display())).unwrap();
    let f = file.to_str().unwrap();
    let run = |args: &[&str], var: Option<&str>| {
        let mut c = env.cmd();
        c.env_remove("ARCA_REPOSITORY").args(args);
        if let Some(v) = var {
            c.env("ARCA_REPOSITORY_FILE", v);
        }
        c.output().unwrap()
    };
    let o = run(&["--repository-file", f, "cat", "config"], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["cat", "config"], Some(f));
    assert_eq!(code(&o), 0, "ARCA_REPOSITORY_FILE: {}", stderr(&o));
    // -r and the file together: which one was meant?
    let o = run(&["-r", env.repo.to_str().unwrap(), "--repository-file", f, "snapshots"], None);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("--repository-file"), "{}", stderr(&o));
    // precedence: the command line's --repository-file over a profile's repository, and the
    // profile's over ARCA_REPOSITORY_FILE in the environment (as for -r and ARCA_REPOSITORY)
    let absent = env.path("absent");
    let profile = env.path(".config/arca/p.toml");
    std::fs::create_dir_all(profile.parent().unwrap()).unwrap();
    std::fs::write(&profile, format!("[repository]\nrepo = \"{}\"\n", absent.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(&["-P", "p", "--repository-file", f, "cat", "config"], None);
    assert_eq!(code(&o), 0, "--repository-file must win over the profile: {}", stderr(&o));
    let o = run(&["-P", "p", "cat", "config"], Some(f));
    assert_ne!(code(&o), 0, "the profile's repository must win over ARCA_REPOSITORY_FILE");
    assert!(stderr(&o).contains(absent.to_str().unwrap()), "{}", stderr(&o));
    assert!(!absent.exists());
    // an empty file names no repository (it must not fall back to the default one)
    std::fs::write(&file, "\n").unwrap();
    let o = run(&["--repository-file", f, "snapshots"], None);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("is empty"), "{}", stderr(&o));
    assert!(!env.path("data/arca/repository").exists(), "the default repository was created");
}

#[test]
fn arca_host_is_recorded_by_backup_and_filters_the_other_commands() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let s = src.to_str().unwrap();
    let o = env.cmd().env("ARCA_HOST", "from-env").args(["backup", s]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    env.ok(&["backup", "--host", "other", s]);
    let snaps = json(&env.ok(&["snapshots", "--json"]));
    let hosts: Vec<&str> = snaps.as_array().unwrap().iter().map(|s| s["hostname"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["from-env", "other"]);
    // as restic 0.17: the variable is also the --host filter; the flag wins over it
    let filtered = env.cmd().env("ARCA_HOST", "other").args(["snapshots", "--json"]).output().unwrap();
    assert_eq!(json(&String::from_utf8_lossy(&filtered.stdout)).as_array().unwrap().len(), 1);
    let flag =
        env.cmd().env("ARCA_HOST", "other").args(["snapshots", "--json", "--host", "from-env"]).output().unwrap();
    let v = json(&String::from_utf8_lossy(&flag.stdout));
    assert_eq!(v[0]["hostname"], "from-env", "{v}");
}

#[test]
fn arca_compression_off_stores_compressible_data_uncompressed() {
    // compressible and not periodic (periodic data would deduplicate instead)
    let text: Vec<u8> = (0..200_000).flat_map(|i| format!("line {i} of a log\n").into_bytes()).collect();
    let stored = |compression: Option<&str>| {
        let env = Env::new();
        env.init();
        let src = env.path("src");
        write(&src.join("log"), &text);
        let mut c = env.cmd();
        if let Some(v) = compression {
            c.env("ARCA_COMPRESSION", v);
        }
        let o = c.args(["backup", src.to_str().unwrap()]).output().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        env.check();
        data_pack_sizes(&env.repo).iter().sum::<u64>()
    };
    let (auto, off) = (stored(None), stored(Some("off")));
    assert!(off > text.len() as u64, "ARCA_COMPRESSION=off stored {off} bytes of {}", text.len());
    assert!(auto * 3 < off, "compressed {auto}, uncompressed {off}");
    // a bad value is refused, not ignored; so is a bad ARCA_READ_CONCURRENCY
    let env = Env::new();
    env.init();
    write(&env.path("src/f"), b"x");
    for (var, value) in [("ARCA_COMPRESSION", "fastest"), ("ARCA_READ_CONCURRENCY", "many")] {
        let o = env.cmd().env(var, value).args(["backup", env.path("src").to_str().unwrap()]).output().unwrap();
        assert_eq!(code(&o), 1, "{var}={value}: {}", stderr(&o));
        assert!(stderr(&o).contains(value), "{var}={value}: the error must name the value: {}", stderr(&o));
    }
    assert!(env.snapshot_ids().is_empty());
}

#[test]
fn pack_size_sets_the_repository_size_at_init_and_a_smaller_target_later() {
    let data = noise(6 << 20, 7);
    let packs = |init: &[(&str, &str)], backup: &[&str]| {
        let env = Env::new();
        let mut c = env.cmd();
        // chunks of at most 256 KiB, so a pack closes near its target size
        c.envs(init.iter().copied()).args(["init", "--chunker-params", "65536,131072,262144"]);
        assert!(c.status().unwrap().success());
        let src = env.path("src");
        write(&src.join("big"), &data);
        let mut args = vec!["backup"];
        args.extend_from_slice(backup);
        args.push(src.to_str().unwrap());
        let o = env.run(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        env.check();
        let config = json(&env.ok(&["cat", "config"]).replace('\n', " "));
        (data_pack_sizes(&env.repo), config["pack_size"].as_u64(), stderr(&o), env)
    };
    // the default: 16 MiB packs, so 6 MiB of data fit in one data pack (plus a tree pack)
    let (default, size, ..) = packs(&[], &[]);
    assert_eq!(size, Some(16 << 20));
    assert!(default.len() <= 2, "{default:?}");
    // ARCA_PACK_SIZE=1 at init: the repository's packs are 1 MiB (restic's unit: MiB)
    let (small, size, ..) = packs(&[("ARCA_PACK_SIZE", "1")], &[]);
    assert_eq!(size, Some(1 << 20));
    assert!(small.len() >= 4, "1 MiB packs for 6 MiB of data: {small:?}");
    assert!(small.iter().all(|s| *s < 2 << 20), "{small:?}");
    // on a 16 MiB repository, --pack-size 1 writes small packs without changing the config
    let (later, size, _, env) = packs(&[], &["--pack-size", "1"]);
    assert_eq!(size, Some(16 << 20));
    assert!(later.len() >= 4 && later.iter().all(|s| *s < 2 << 20), "{later:?}");
    // prune's "small pack" follows the run's target as restic's does: every such pack is
    // small to a prune at the repository's 16 MiB, at most the two last ones (data, tree) to
    // one at --pack-size 1
    let repack = |global: &[&str]| {
        let mut a = global.to_vec();
        a.extend(["prune", "--repack-small", "--dry-run", "--json"]);
        json(&env.ok(&a))["packs_repack"].as_u64().unwrap()
    };
    let (at_16, at_1) = (repack(&[]), repack(&["--pack-size", "1"]));
    assert!(at_16 >= 4 && at_1 <= 2, "repacked at 16 MiB {at_16}, at 1 MiB {at_1}");
    // larger than the repository's: the repository's size, said so when packs are written
    // (readers bound packs by it), and not by a command that only reads
    let (large, _, err, env) = packs(&[], &["--pack-size", "64"]);
    assert!(large.len() <= 2 && err.contains("at most 16 MiB"), "{large:?} {err}");
    let o = env.cmd().env("ARCA_PACK_SIZE", "64").args(["snapshots"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("pack-size"), "a reader warned about the pack size: {}", stderr(&o));
}

#[test]
fn restore_include_and_exclude_files() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    for n in ["a.txt", "b.log", "c.rs", "D.TXT"] {
        write(&src.join(n), n.as_bytes());
    }
    env.ok(&["backup", src.to_str().unwrap()]);
    let file = |name: &str, text: &str| {
        let p = env.path(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let restored = |args: &[&str], name: &str| -> Vec<String> {
        let target = env.path(name);
        let mut a = vec!["restore", "latest", "--target", target.to_str().unwrap()];
        a.extend_from_slice(args);
        env.ok(&a);
        let dir = target.join(src.strip_prefix("/").unwrap());
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let inc = file("inc", "# sources\n*.txt\n\n*.rs\n");
    assert_eq!(restored(&["--include-file", &inc], "r1"), ["a.txt", "c.rs"]);
    let iinc = file("iinc", "*.txt\n");
    assert_eq!(restored(&["--iinclude-file", &iinc], "r2"), ["D.TXT", "a.txt"]);
    let exc = file("exc", "*.log\n");
    assert_eq!(restored(&["--exclude-file", &exc], "r3"), ["D.TXT", "a.txt", "c.rs"]);
    let iexc = file("iexc", "*.txt\n");
    assert_eq!(restored(&["--iexclude-file", &iexc, "--exclude", "*.log"], "r4"), ["c.rs"]);
    let o =
        env.run(&["restore", "latest", "--target", env.path("r5").to_str().unwrap(), "--include-file", "/nonexistent"]);
    assert_eq!(code(&o), 1, "a missing pattern file must be an error");
    assert!(stderr(&o).contains("/nonexistent"), "{}", stderr(&o));
}

#[test]
fn forget_without_policy_refuses_and_the_unsafe_flag_removes_all() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let s = src.to_str().unwrap();
    for host in ["a", "a", "b"] {
        write(&src.join("f"), host.as_bytes());
        env.ok(&["backup", "--host", host, s]);
    }
    let o = env.run(&["forget"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no policy was specified, no snapshots will be removed"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--unsafe-allow-remove-all"), "the hint must name the flag: {}", stderr(&o));
    assert_eq!(env.snapshot_ids().len(), 3);
    // as restic: the flag alone would empty the repository, so it needs a filter
    for args in [&["forget", "--unsafe-allow-remove-all"][..], &["forget", "--unsafe-allow-remove-all", "--prune"]] {
        let o = env.run(args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not allowed unless a snapshot filter option is specified"), "{}", stderr(&o));
        assert_eq!(env.snapshot_ids().len(), 3, "{args:?}");
    }
    // restic's meaning: every snapshot the filters select goes, and only those
    env.ok(&["forget", "--unsafe-allow-remove-all", "--host", "a"]);
    let left = json(&env.ok(&["snapshots", "--json"]));
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["hostname"], "b");
    // ARCA_HOST is the --host filter (restic 0.17), so it selects too
    let o = env.cmd().env("ARCA_HOST", "b").args(["forget", "--unsafe-allow-remove-all", "--prune"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(env.snapshot_ids().is_empty());
    env.check();
}

/// restic's `options` and `features`, with arca's meaning: the `-o` keys arca itself sets or
/// reads per storage service, and the Cargo features this binary was built with. Neither
/// needs, opens or creates a repository.
#[test]
fn options_and_features_describe_this_build_without_a_repository() {
    let env = Env::new();
    let run = |args: &[&str]| {
        let o = env.cmd().env_remove("ARCA_REPOSITORY").env_remove("ARCA_PASSWORD").args(args).output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let text = run(&["options"]);
    for key in ["fs.atomic_write_dir", "s3.region", "s3.endpoint", "sftp.key", "azblob.account_name"] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(key)), "options lacks {key}:\n{text}");
    }
    let keys = json(&run(&["options", "--json"]));
    let keys = keys.as_array().unwrap();
    assert!(keys.len() > 20, "{keys:?}");
    for k in keys {
        for field in ["service", "key", "help"] {
            assert!(k[field].as_str().is_some_and(|v| !v.is_empty()), "{k}");
        }
    }
    assert!(keys.iter().any(|k| k["service"] == "s3" && k["key"] == "region"));

    let text = run(&["features"]);
    assert!(text.contains("remote") && text.contains("testing"), "{text}");
    let features = json(&run(&["features", "--json"]));
    let enabled = |name: &str| {
        features.as_array().unwrap().iter().find(|f| f["name"] == name).and_then(|f| f["enabled"].as_bool())
    };
    // the test build's features are the binary's: it must say what it was built with
    assert_eq!(enabled("remote"), Some(cfg!(feature = "remote")), "{features}");
    assert_eq!(enabled("testing"), Some(cfg!(feature = "testing")), "{features}");
    assert!(!env.path("data").exists(), "options/features created a repository");
}

/// restic reads its variables set but empty as unset; so does arca for their twins. Without
/// that, `export ARCA_HOST=` selects the host "" (no snapshot at all, and a backup without a
/// parent recorded under no host), and an empty ARCA_PACK_SIZE, ARCA_COMPRESSION,
/// ARCA_READ_CONCURRENCY or ARCA_REPOSITORY_FILE makes every command fail.
#[test]
fn empty_restic_like_variables_are_unset() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    let s = src.to_str().unwrap();
    env.ok(&["backup", s]);
    let empty = || {
        let mut c = env.cmd();
        for v in ["ARCA_HOST", "ARCA_COMPRESSION", "ARCA_PACK_SIZE", "ARCA_READ_CONCURRENCY", "ARCA_REPOSITORY_FILE"] {
            c.env(v, "");
        }
        c
    };
    let o = empty().args(["snapshots", "--json"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        json(&String::from_utf8_lossy(&o.stdout)).as_array().map(Vec::len),
        Some(1),
        "ARCA_HOST= hid the snapshot"
    );
    let o = empty().args(["backup", "--json", s]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = summary(&String::from_utf8_lossy(&o.stdout));
    assert!(v["parent"].is_string(), "the parent (same host) was not found: {v}");
    let snaps = json(&env.ok(&["snapshots", "--json"]));
    assert!(snaps.as_array().unwrap().iter().all(|s| s["hostname"] != ""), "{snaps}");
}
