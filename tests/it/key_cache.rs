//! Unlock once (issue 24, lever 1): the key cache in the kernel keyring and raw key files,
//! attacked. Each keyring test runs arca in a session keyring of its own (a named keyring,
//! joined with `keyctl session NAME`), plants entries with `keyctl padd` and reads what arca
//! left with `keyctl rdescribe`/`pipe`. Skipped with a reason only where the kernel refuses
//! keyctl; `ARCA_TEST_REQUIRE_KEYRING=1` (CI) makes that a failure.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{code, Env, PASSWORD};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A session keyring of one test.
struct Session {
    name: String,
    id: String,
}

impl Session {
    fn new(tag: &str) -> Option<Session> {
        let name = format!("arca-test-{}-{tag}", std::process::id());
        // user search permission lets the next `keyctl session NAME` find it again; the link
        // from the user keyring keeps it alive between commands
        let made = Command::new("keyctl")
            .args(["session", &name, "sh", "-c", "keyctl setperm @s 0x3f1b0000 && keyctl link @s @u"])
            .stdin(Stdio::null())
            .output();
        let refused = match &made {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!("keyctl session failed: {}", stderr(o))),
            Err(e) => Some(format!("no keyctl (apt-get install keyutils): {e}")),
        };
        if let Some(why) = refused {
            assert!(
                std::env::var("ARCA_TEST_REQUIRE_KEYRING").as_deref() != Ok("1"),
                "the kernel keyring is needed (ARCA_TEST_REQUIRE_KEYRING=1): {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        let o = Command::new("keyctl").args(["search", "@u", "keyring", &name]).output().unwrap();
        let id = stdout(&o).trim().to_string();
        assert!(o.status.success() && !id.is_empty(), "{}", stderr(&o));
        Some(Session { name, id })
    }

    /// arca in this session, with the environment of `env.cmd()` and the key cache on.
    fn arca(&self, env: &Env) -> Command {
        let base = env.cmd();
        let mut c = Command::new("keyctl");
        c.env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c.env_remove("ARCA_NO_KEY_CACHE")
            .args(["session", &self.name, env!("CARGO_BIN_EXE_arca")])
            .stdin(Stdio::null());
        c
    }

    fn run(&self, env: &Env, args: &[&str]) -> Output {
        self.arca(env).args(args).output().unwrap()
    }

    /// arca with the password from a command that appends a line to `marker` each time it runs.
    fn run_counted(&self, env: &Env, marker: &Path, args: &[&str]) -> Output {
        let cmd = format!("echo ran >> '{}'; echo '{PASSWORD}'", marker.display());
        self.arca(env).env_remove("ARCA_PASSWORD").arg("--password-command").arg(cmd).args(args).output().unwrap()
    }

    /// A shell script run in this session.
    fn sh(&self, script: &str) -> String {
        let o = Command::new("keyctl").args(["session", &self.name, "sh", "-c", script]).output().unwrap();
        assert!(o.status.success(), "{script}: {}", stderr(&o));
        stdout(&o)
    }

    /// The user keys of this session: (serial, permissions, description).
    fn entries(&self) -> Vec<(String, String, String)> {
        let out = self.sh("for k in $(keyctl rlist @s); do printf '%s;' $k; keyctl rdescribe $k || true; echo; done");
        out.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(6, ';').collect();
                (f.len() == 6 && f[1] == "user").then(|| (f[0].to_string(), f[4].to_string(), f[5].to_string()))
            })
            .collect()
    }

    fn payload(&self, serial: &str) -> Vec<u8> {
        let o = Command::new("keyctl").args(["session", &self.name, "keyctl", "pipe", serial]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    }

    /// Add a user key `description` holding the bytes of `file`.
    fn plant(&self, description: &str, file: &Path) {
        self.sh(&format!("keyctl padd user '{description}' @s < '{}' >/dev/null", file.display()));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("keyctl").args(["clear", &self.id]).output();
        let _ = Command::new("keyctl").args(["unlink", &self.id, "@u"]).output();
    }
}

fn repo_id(env: &Env) -> String {
    let config: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "config"])).unwrap();
    config["id"].as_str().expect("config id").to_string()
}

fn description(env: &Env) -> String {
    format!("arca:v1:{}:{}", repo_id(env), env.repo.display())
}

fn runs(marker: &Path) -> usize {
    std::fs::read_to_string(marker).map(|s| s.lines().count()).unwrap_or(0)
}

fn ok(o: &Output) {
    assert_eq!(code(o), 0, "stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
}

#[test]
fn a_cache_hit_asks_no_password_and_forget_cached_drops_it() {
    let Some(s) = Session::new("hit") else { return };
    let env = Env::new();
    env.init();
    let marker = env.path("marker");
    ok(&s.run_counted(&env, &marker, &["snapshots"]));
    assert_eq!(runs(&marker), 1);
    let entries = s.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (_, perm, desc) = &entries[0];
    assert_eq!(desc, &description(&env), "the entry names the repository id and location");
    // possessor: view, read, write, search, setattr; nothing for user, group or others
    assert_eq!(perm, "2f000000");
    // the next commands open without the password: the command does not run, and a wrong
    // password in the environment is never read
    ok(&s.run_counted(&env, &marker, &["snapshots"]));
    ok(&s.run_counted(&env, &marker, &["backup", env.path("marker").to_str().unwrap()]));
    assert_eq!(runs(&marker), 1, "a cache hit ran the password command");
    let wrong = s.arca(&env).env("ARCA_PASSWORD", "wrong").args(["snapshots"]).output().unwrap();
    ok(&wrong);

    let o = s.run(&env, &["key", "forget-cached"]);
    ok(&o);
    assert!(
        stdout(&o).contains(&format!("dropped the cached key of repository {}", &repo_id(&env)[..8])),
        "{}",
        stdout(&o)
    );
    assert!(s.entries().is_empty());
    let o = s.run(&env, &["key", "forget-cached"]);
    ok(&o);
    assert!(stdout(&o).contains("nothing to drop"), "{}", stdout(&o));
    ok(&s.run_counted(&env, &marker, &["snapshots"]));
    assert_eq!(runs(&marker), 2, "after forget-cached the password is asked again");
    env.check();
}

#[test]
fn planted_entries_are_ignored_and_removed_and_the_password_unlocks() {
    let Some(s) = Session::new("plant") else { return };
    let env = Env::new();
    env.init();
    let other = Env::new();
    other.init();
    let marker = env.path("marker");
    // the other repository's genuine entry, in this session
    ok(&s.run(&other, &["snapshots"]));
    let (serial, _, _) = s.entries().into_iter().next().unwrap();
    let theirs = env.path("theirs");
    std::fs::write(&theirs, s.payload(&serial)).unwrap();
    assert!(s.payload(&serial).starts_with(b"ARCAKC\x01"));
    let garbage = env.path("garbage");
    std::fs::write(&garbage, b"ARCAKC\x01\x00 not a key at all, just bytes").unwrap();
    let big = env.path("big");
    std::fs::write(&big, vec![7u8; 4000]).unwrap();
    let ours = description(&env);
    let theirs_here = format!("arca:v1:{}:{}", repo_id(&other), env.repo.display());
    for (n, (desc, file)) in
        [(&ours, &garbage), (&ours, &big), (&ours, &theirs), (&theirs_here, &theirs)].into_iter().enumerate()
    {
        ok(&s.run(&env, &["key", "forget-cached"]));
        s.plant(desc, file);
        let o = s.run_counted(&env, &marker, &["snapshots"]);
        ok(&o);
        assert_eq!(runs(&marker), n + 1, "planted entry {n} ({desc}) opened the repository");
        // the planted entry is gone; the fresh unlock's entry stands in its place
        let here: Vec<_> =
            s.entries().into_iter().filter(|(_, _, d)| d.ends_with(&*env.repo.to_string_lossy())).collect();
        assert_eq!(here.len(), 1, "{here:?}");
        assert_eq!(here[0].2, ours);
        assert_ne!(s.payload(&here[0].0), std::fs::read(file).unwrap());
    }
    // the other repository's own entry still opens it
    let o = s.arca(&other).env("ARCA_PASSWORD", "wrong").args(["snapshots"]).output().unwrap();
    ok(&o);
}

#[test]
fn an_expired_entry_misses() {
    let Some(s) = Session::new("expire") else { return };
    let env = Env::new();
    env.init();
    let marker = env.path("marker");
    ok(&s.run_counted(&env, &marker, &["--key-cache-timeout", "1s", "snapshots"]));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    ok(&s.run_counted(&env, &marker, &["snapshots"]));
    assert_eq!(runs(&marker), 2, "an expired entry opened the repository");
}

#[test]
fn without_the_key_cache_the_keyring_is_neither_read_nor_written() {
    let Some(s) = Session::new("off") else { return };
    let env = Env::new();
    env.init();
    let marker = env.path("marker");
    type Off = fn(&mut Command);
    let ways: [(&str, Off); 4] = [
        ("--no-key-cache", |c| {
            c.arg("--no-key-cache");
        }),
        ("ARCA_NO_KEY_CACHE=1", |c| {
            c.env("ARCA_NO_KEY_CACHE", "1");
        }),
        ("--key-cache-timeout 0", |c| {
            c.args(["--key-cache-timeout", "0"]);
        }),
        ("key-cache = false", |c| {
            c.args(["-P", "nocache"]);
        }),
    ];
    let profile = env.path("home-config/arca/nocache.toml");
    std::fs::create_dir_all(profile.parent().unwrap()).unwrap();
    std::fs::write(&profile, "[repository]\nkey-cache = false\n").unwrap();
    for (what, off) in ways {
        // nothing is written
        let mut c = s.arca(&env);
        c.env("XDG_CONFIG_HOME", env.path("home-config"));
        off(&mut c);
        ok(&c.args(["snapshots"]).output().unwrap());
        assert!(s.entries().is_empty(), "{what} wrote to the keyring");
    }
    // a valid entry is not read: a wrong password fails
    ok(&s.run_counted(&env, &marker, &["snapshots"]));
    assert_eq!(s.entries().len(), 1);
    for (what, off) in ways {
        let mut c = s.arca(&env);
        c.env("XDG_CONFIG_HOME", env.path("home-config")).env("ARCA_PASSWORD", "wrong");
        off(&mut c);
        let o = c.args(["snapshots"]).output().unwrap();
        assert_eq!(code(&o), 12, "{what} read the keyring: {}", stderr(&o));
    }
}

#[test]
fn commands_that_change_keys_ask_for_the_password_and_rotate_drops_the_entry() {
    let Some(s) = Session::new("keys") else { return };
    let env = Env::new();
    env.init();
    let marker = env.path("marker");
    ok(&s.run_counted(&env, &marker, &["snapshots"]));
    let newpw = env.path("new-password");
    std::fs::write(&newpw, "another password").unwrap();
    let o = s.run_counted(&env, &marker, &["key", "add", "--new-password-file", newpw.to_str().unwrap()]);
    ok(&o);
    assert_eq!(runs(&marker), 2, "key add did not ask for the password");
    let o = s.run_counted(&env, &marker, &["key", "passwd", "--new-password-file", newpw.to_str().unwrap()]);
    ok(&o);
    assert_eq!(runs(&marker), 3, "key passwd did not ask for the password");
    // the cache is warm, but a wrong password still fails a key command
    let o = s.arca(&env).env("ARCA_PASSWORD", "wrong").args(["key", "list"]).output().unwrap();
    ok(&o);
    for args in [&["key", "remove", "0000"][..], &["key", "passwd", "--new-password-file", newpw.to_str().unwrap()]] {
        let o = s.arca(&env).env("ARCA_PASSWORD", "wrong").args(args).output().unwrap();
        assert_eq!(code(&o), 12, "{args:?} answered from the cache: {}", stderr(&o));
    }
    assert_eq!(s.entries().len(), 1);
    let o = s.arca(&env).env("ARCA_PASSWORD", "another password").args(["key", "rotate"]).output().unwrap();
    ok(&o);
    assert!(s.entries().is_empty(), "key rotate left the old key in the keyring: {:?}", s.entries());
    let o = s.arca(&env).env("ARCA_PASSWORD", "another password").args(["snapshots"]).output().unwrap();
    ok(&o);
    ok(&env.cmd().env("ARCA_PASSWORD", "another password").args(["check"]).output().unwrap());
}

#[test]
fn forget_cached_all_drops_every_arca_entry_and_nothing_else() {
    let Some(s) = Session::new("all") else { return };
    let (a, b) = (Env::new(), Env::new());
    a.init();
    b.init();
    ok(&s.run(&a, &["snapshots"]));
    ok(&s.run(&b, &["snapshots"]));
    let mine = a.path("mine");
    std::fs::write(&mine, b"someone else's secret").unwrap();
    s.plant("not-arca:thing", &mine);
    assert_eq!(s.entries().len(), 3);
    let o = s.run(&a, &["key", "forget-cached", "--all"]);
    ok(&o);
    assert_eq!(stdout(&o).lines().filter(|l| l.starts_with("dropped the cached key")).count(), 2, "{}", stdout(&o));
    let left = s.entries();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].2, "not-arca:thing");
}

/// `key export-raw` and `--key-file`: no password, no KDF; every unsafe or wrong file refused
/// with its own message, exit 14 for a file that is not a private key file, 12 for a key of
/// another repository.
#[test]
fn raw_key_files_open_without_a_password_and_unsafe_or_wrong_ones_are_refused() {
    let env = Env::new();
    env.init();
    let key = env.path("arca.key");
    let o = env.run(&["key", "export-raw", "--output", key.to_str().unwrap()]);
    ok(&o);
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 104);
    // never over an existing file
    let o = env.run(&["key", "export-raw", "--output", key.to_str().unwrap()]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("never overwritten"), "{}", stderr(&o));
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"data").unwrap();
    let no_password = |args: &[&str]| env.cmd().env_remove("ARCA_PASSWORD").args(args).output().unwrap();
    ok(&no_password(&["--key-file", key.to_str().unwrap(), "backup", src.to_str().unwrap()]));
    let o = env
        .cmd()
        .env_remove("ARCA_PASSWORD")
        .env("ARCA_KEY_FILE", &key)
        .args(["snapshots", "--json"])
        .output()
        .unwrap();
    ok(&o);
    // a wrong password beside a good key file changes nothing: the key file is used
    let o = env
        .cmd()
        .env("ARCA_PASSWORD", "wrong")
        .args(["--key-file", key.to_str().unwrap(), "snapshots"])
        .output()
        .unwrap();
    ok(&o);

    let bytes = std::fs::read(&key).unwrap();
    let private = |name: &str, content: &[u8]| {
        let p = env.path(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    };
    let open = private("open.key", &bytes);
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = env.path("link.key");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    let foreign = private("foreign.key", &bytes);
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    let truncated = private("truncated.key", &bytes[..60]);
    let huge = private("huge.key", &vec![0u8; 1 << 20]);
    let mut edited = bytes.clone();
    edited[8] ^= 1; // the repository id it names
    let edited = private("edited.key", &edited);
    let other = Env::new();
    other.init();
    let theirs = env.path("theirs.key");
    ok(&other.run(&["key", "export-raw", "--output", theirs.to_str().unwrap()]));
    let dir = env.path("dir.key");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    for (file, exit, says) in [
        (&open, 14, "permissions 0644 are too open"),
        (&open, 14, "chmod 600"),
        (&link, 14, "is a symbolic link"),
        (&foreign, 14, "is owned by uid 65534"),
        (&truncated, 14, "not a raw key file: 60 bytes"),
        (&huge, 14, "1048576 bytes: not a raw key file"),
        (&dir, 14, "is not a regular file"),
        (&edited, 12, "but it opens the repository"),
        (&theirs, 12, "does not open the repository"),
    ] {
        let o = env.run(&["--key-file", file.to_str().unwrap(), "snapshots"]);
        assert_eq!(code(&o), exit, "{}: {}", file.display(), stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&file.display().to_string()) && err.contains(says), "{}: {err}", file.display());
    }
    env.check();
}
