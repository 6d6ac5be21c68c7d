#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Profiles (TOML settings selected with -P) and the hooks they run.

use crate::common;

use common::*;

/// Write `~/.config/arca/NAME.toml` in the test's home directory.
fn profile(env: &Env, name: &str, text: &str) -> std::path::PathBuf {
    let p = env.dir.path().join(format!(".config/arca/{name}.toml"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn snapshots(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = args.to_vec();
    a.extend(["snapshots", "--json"]);
    serde_json::from_str::<serde_json::Value>(&env.ok(&a)).unwrap().as_array().unwrap().clone()
}

fn tags(s: &serde_json::Value) -> Vec<String> {
    s["tags"].as_array().map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

#[test]
fn a_profile_supplies_repository_sources_excludes_tags_and_policy() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("keep.txt"), b"kept");
    write(&src.join("skip.o"), b"excluded");
    let repo = env.path("profile-repo");
    profile(
        &env,
        "laptop",
        &format!(
            "[repository]\nrepo = \"${{PROFILE_REPO}}\"\n\n[backup]\nsources = [\"{}\"]\nexclude = [\"*.o\"]\ntags = [\"daily\", \"laptop\"]\nhost = \"laptop\"\n\n[forget]\nkeep-last = 1\n",
            src.display()
        ),
    );
    let run = |args: &[&str]| {
        let o = env.cmd().env("PROFILE_REPO", &repo).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&["-P", "laptop", "init"]);
    assert!(repo.join("config").is_file(), "the profile's repository wins over ARCA_REPOSITORY");
    run(&["-P", "laptop", "backup", "-q"]);
    run(&["-P", "laptop", "backup", "-q", "--tag", "manual"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&run(&["-P", "laptop", "snapshots", "--json"])).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(tags(&list[0]), ["daily", "laptop"]);
    assert_eq!(tags(&list[1]), ["manual"], "a flag on the command line replaces the profile's value");
    assert_eq!(list[0]["hostname"], "laptop");
    let out = env.path("out");
    run(&["-P", "laptop", "restore", "latest", "--target", out.to_str().unwrap()]);
    let restored = out.join(src.strip_prefix("/").unwrap());
    assert!(restored.join("keep.txt").is_file());
    assert!(!restored.join("skip.o").exists(), "the profile's exclude applied");
    // the profile's policy: keep the last one (tags differ, so group by host only)
    run(&["-P", "laptop", "forget", "--group-by", "host"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&run(&["-P", "laptop", "snapshots", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn later_profiles_win_and_config_show_masks_secrets() {
    let env = Env::new();
    profile(&env, "base", "[repository]\nrepo = \"/tmp/base-repo\"\noptions = { \"s3.secret_access_key\" = \"hunter2\", \"s3.region\" = \"eu\" }\n[backup]\ntags = [\"a\"]\n");
    profile(&env, "extra", "[repository]\nrepo = \"s3:bucket/extra\"\n[backup]\ntags = [\"b\"]\n");
    let out = env.ok(&["-P", "base", "-P", "extra", "config", "show"]);
    assert!(out.contains("repository:  s3:bucket/extra"), "{out}");
    assert!(out.contains("s3.region=eu"), "{out}");
    assert!(!out.contains("hunter2"), "a secret was shown: {out}");
    assert!(out.contains("s3.secret_access_key=*****"), "{out}");
    assert!(out.contains("tags = [\"b\"]"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(env.ok(&["-P", "base,extra", "config", "show", "--json"]).trim()).unwrap();
    assert_eq!(json["repository"], "s3:bucket/extra");
    assert_eq!(json["profiles"].as_array().unwrap().len(), 2);
}

#[test]
fn profile_mistakes_are_clear_errors() {
    let env = Env::new();
    let o = env.run(&["-P", "nosuch", "snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no profile \"nosuch\""), "{}", stderr(&o));
    profile(&env, "unset", "[repository]\nrepo = \"${ARCA_TEST_SURELY_UNSET}\"\n");
    let o = env.run(&["-P", "unset", "snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("ARCA_TEST_SURELY_UNSET") && stderr(&o).contains("unset.toml"), "{}", stderr(&o));
    profile(&env, "typo", "[backup]\nexclud = [\"x\"]\n");
    let o = env.run(&["-P", "typo", "snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("exclud"), "{}", stderr(&o));
    // secrets in a file others can read get a warning
    let p = profile(&env, "open", "[repository]\npassword-command = \"echo x\"\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = env.run(&["-P", "open", "config", "show"]);
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
}

#[test]
fn hooks_run_in_order_with_the_documented_environment() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"hooked");
    env.init();
    let log = env.path("hooks.log");
    let l = log.display();
    profile(
        &env,
        "hooked",
        &format!(
            "[hooks]\nrun-before = [\"echo global-before $ARCA_COMMAND >> {l}\"]\nrun-finally = [\"echo finally $ARCA_EXIT_CODE >> {l}\"]\n\n\
             [backup]\nsources = [\"{}\"]\nrun-before = [\"echo before $ARCA_HOOK >> {l}\"]\n\
             run-after = [\"echo after $ARCA_SNAPSHOT_ID $ARCA_FILES_NEW >> {l}\", \"echo to-stderr >&2\"]\n\
             run-failed = [\"echo failed >> {l}\"]\n",
            src.display()
        ),
    );
    let o = env.run(&["-P", "hooked", "backup", "-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("[run-after] to-stderr"), "hook output is passed on: {}", stderr(&o));
    let id = snapshots(&env, &[])[0]["id"].as_str().unwrap().to_string();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text, format!("global-before backup\nbefore run-before\nafter {id} 1\nfinally 0\n"));
}

#[test]
fn a_failing_run_before_stops_the_command_and_runs_failed_and_finally() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    env.init();
    let log = env.path("hooks.log");
    let l = log.display();
    profile(
        &env,
        "guarded",
        &format!(
            "[backup]\nsources = [\"{}\"]\nrun-before = [\"exit 7\"]\nrun-after = [\"echo after >> {l}\"]\n\
             run-failed = [\"echo failed $ARCA_EXIT_CODE >> {l}\"]\nrun-finally = [\"echo finally >> {l}\"]\n",
            src.display()
        ),
    );
    let o = env.run(&["-P", "guarded", "backup"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("run-before hook `exit 7` failed (exit code 7)"), "{}", stderr(&o));
    assert!(env.snapshot_ids().is_empty(), "the backup did not run");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "failed 1\nfinally\n");
}

#[test]
fn a_hook_that_hangs_is_killed_at_its_timeout() {
    let env = Env::new();
    env.init();
    profile(&env, "slow", "[check]\nrun-before = [\"sleep 60\"]\nhook-timeout = \"1s\"\n");
    let started = std::time::Instant::now();
    let o = env.run(&["-P", "slow", "check"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("timed out after 1s"), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the hook was not killed");
}

#[test]
fn config_show_says_which_key_file_and_key_cache_a_command_would_use() {
    let env = Env::new();
    let show = |args: &[&str], no_cache_env: bool| -> serde_json::Value {
        let mut c = env.cmd();
        if !no_cache_env {
            c.env_remove("ARCA_NO_KEY_CACHE");
        }
        let o = c.args(args).args(["config", "show", "--json"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap()
    };
    let v = show(&[], false);
    assert_eq!((v["key_cache"].as_str(), v["key_file"].as_str()), (Some("900 s"), Some("none")), "{v}");
    assert_eq!(show(&[], true)["key_cache"], "off");
    assert_eq!(show(&["--key-cache-timeout", "5m"], false)["key_cache"], "300 s");
    assert_eq!(show(&["--key-cache-timeout", "0"], false)["key_cache"], "off");
    profile(&env, "raw", "[repository]\nkey-file = \"/root/arca.key\"\nkey-cache = false\n");
    let v = show(&["-P", "raw"], false);
    assert_eq!((v["key_cache"].as_str(), v["key_file"].as_str()), (Some("off"), Some("/root/arca.key")), "{v}");
    let text = env.ok(&["-P", "raw", "config", "show"]);
    assert!(text.contains("key file:    /root/arca.key") && text.contains("key cache:   off"), "{text}");
}
