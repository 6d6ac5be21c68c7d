#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Secrets stay where they belong (issue 19, point 6): `cat config` hides key material unless
//! asked, no child arca starts sees a password in its environment, and names that came from
//! the file system or a key file cannot drive the terminal.

use crate::common;

use common::*;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn cat_config_hides_the_chunker_key_unless_asked() {
    let env = Env::new();
    env.init();
    let target = env.path("target-repo");
    let to = |args: &[&str]| {
        let o =
            env.cmd().env("ARCA_FROM_PASSWORD", PASSWORD).env("ARCA_REPOSITORY", &target).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // a repository that shares another's chunker carries the gear-table key in its config
    to(&["init", "--from-repo", env.repo.to_str().unwrap(), "--copy-chunker-params"]);
    let shown = json(&to(&["cat", "config", "--show-secrets"]));
    let key = shown["chunker_key"].as_array().unwrap_or_else(|| panic!("key material with --show-secrets: {shown}"));
    assert_eq!(key.len(), 32);
    let text = to(&["cat", "config"]);
    let hidden = json(&text);
    assert!(hidden["chunker_key"].as_str().is_some_and(|s| s.starts_with("hidden")), "{hidden}");
    assert_eq!(hidden["chunker"], shown["chunker"], "the rest is printed as before");
    assert_eq!(hidden["id"], shown["id"]);
    let compact: String = serde_json::to_string(key).unwrap();
    assert!(!text.replace([' ', '\n'], "").contains(&compact), "the key leaks: {text}");
}

/// What `var` was in the environment a child saw (its `env` output), if set.
fn var_in(env_output: &str, var: &str) -> Option<String> {
    env_output.lines().find_map(|l| l.strip_prefix(&format!("{var}=")).map(str::to_string))
}

#[test]
fn stdin_from_command_children_do_not_see_the_password() {
    let env = Env::new();
    env.init();
    let o = env
        .cmd()
        .env("ARCA_FROM_PASSWORD", "the other repository's password")
        .env("ARCA_MARKER", "visible")
        .args(["backup", "--stdin-from-command", "--stdin-filename", "env.txt", "--", "env"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let seen = env.ok(&["dump", "latest", "/env.txt"]);
    assert_eq!(var_in(&seen, "ARCA_MARKER").as_deref(), Some("visible"), "the rest of the environment is passed");
    assert_eq!(var_in(&seen, "ARCA_PASSWORD"), None, "{seen}");
    assert_eq!(var_in(&seen, "ARCA_FROM_PASSWORD"), None, "{seen}");
    assert!(!seen.contains(PASSWORD) && !seen.contains("other repository's password"), "{seen}");
}

#[test]
fn hooks_do_not_see_the_password() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"hooked");
    env.init();
    let log = env.path("hook-env.txt");
    let p = env.dir.path().join(".config/arca/hooked.toml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(
        &p,
        format!(
            "[backup]\nsources = [\"{}\"]\nrun-before = [\"env >> {l}\"]\nrun-after = [\"env >> {l}\"]\n",
            src.display(),
            l = log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = env.run(&["-P", "hooked", "backup", "-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(seen.lines().any(|l| l == "ARCA_HOOK=run-before"), "the hook ran: {seen}");
    assert!(seen.lines().any(|l| l == "ARCA_HOOK=run-after"), "the hook ran: {seen}");
    assert_eq!(var_in(&seen, "ARCA_PASSWORD"), None, "{seen}");
    assert!(!seen.contains(PASSWORD), "{seen}");
}

#[test]
fn a_password_command_does_not_see_the_other_repositorys_password() {
    let env = Env::new();
    env.init();
    let from = env.path("from-repo");
    let o = env.cmd().env("ARCA_REPOSITORY", &from).args(["init"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let log = env.path("command-env.txt");
    let cmd = format!("env > {}; echo '{PASSWORD}'", log.display());
    let o = env
        .cmd()
        .args(["copy", "--from-repo", from.to_str().unwrap(), "--from-password-command", &cmd])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let seen = std::fs::read_to_string(&log).unwrap();
    assert_eq!(var_in(&seen, "ARCA_PASSWORD"), None, "the target's password leaks to the source's command: {seen}");
}

/// A name that repaints the terminal, sets its title and forges a line.
const EVIL: &[u8] = b"evil\x1b[31m\x1b]0;pwned\x07\nforged line";
const EVIL_SHOWN: &str = "evil\\x1b[31m\\x1b]0;pwned\\x07\\nforged line";

fn assert_tame(what: &str, text: &str) {
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{what} prints raw control characters: {text:?}");
    assert!(!text.lines().any(|l| l.starts_with("forged line")), "{what} lets a name forge a line: {text:?}");
    assert!(text.contains(EVIL_SHOWN), "{what} shows the name escaped: {text:?}");
}

#[test]
fn file_names_with_escapes_and_newlines_are_shown_escaped_and_exact_in_json() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("plain"), b"p");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    write(&src.join(os(EVIL)), b"hostile name");
    env.backup_json(&[src.to_str().unwrap()]);
    let ls = env.ok(&["ls", "latest"]);
    assert_tame("ls", &ls);
    assert_tame("ls -l", &env.ok(&["ls", "-l", "latest"]));
    assert_tame("find", &env.ok(&["find", "evil*"]));
    let ids = env.snapshot_ids();
    let listed = env.ok(&["snapshots", "--json"]);
    let order: Vec<String> =
        json(&listed).as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(order.len(), ids.len());
    assert_tame("diff", &env.ok(&["diff", &order[0], &order[1]]));
    // JSON keeps the name exact
    let name = String::from_utf8(EVIL.to_vec()).unwrap();
    let exact = env
        .ok(&["ls", "--json", "latest"])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|v| v["name"].as_str() == Some(name.as_str()));
    assert!(exact, "ls --json names the file exactly");
}

#[test]
fn key_fields_from_a_planted_key_file_are_shown_escaped() {
    let env = Env::new();
    env.init();
    let keys = env.repo.join("keys");
    let first = std::fs::read_dir(&keys).unwrap().next().unwrap().unwrap().path();
    let mut k = arca::format::key::KeyFile::decode(&std::fs::read(first).unwrap()).unwrap();
    k.hostname = String::from_utf8(EVIL.to_vec()).unwrap();
    k.username = "user\x1b[2J".into();
    let bytes = k.encode();
    let id: String = arca::id::storage_hash(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(keys.join(id), bytes).unwrap();
    let listed = env.ok(&["key", "list"]);
    assert_tame("key list", &listed);
    assert!(listed.contains("user\\x1b[2J"), "{listed}");
}
