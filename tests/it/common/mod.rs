//! Shared test harness: run the real binary against a temporary repository with cheap
//! Argon2 parameters, and compare directory trees field by field.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[cfg(feature = "serve")]
pub mod browser;
pub mod server;
pub mod servers;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Env {
    pub dir: tempfile::TempDir,
    /// The local repository directory (unused when `server` is set).
    pub repo: PathBuf,
    /// A repository on a real storage server instead of `repo`.
    pub server: Option<servers::Server>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        Env { dir, repo, server: None }
    }

    /// A repository on `server`; the binary gets the server's credentials from its environment.
    pub fn on(server: servers::Server) -> Env {
        Env { server: Some(server), ..Env::new() }
    }

    /// What `ARCA_REPOSITORY` is set to.
    pub fn location(&self) -> std::ffi::OsString {
        match &self.server {
            Some(s) => s.location.clone().into(),
            None => self.repo.clone().into(),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_arca"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("ARCA_TEST_INSECURE_KDF", "1")
            // the suites prove what a password does: the key cache (tests/it/key_cache.rs) would
            // answer for it, from the keyring every test of this process shares
            .env("ARCA_NO_KEY_CACHE", "1")
            .env("ARCA_PASSWORD", PASSWORD)
            .env("ARCA_REPOSITORY", self.location())
            .stdin(Stdio::null());
        for (k, v) in self.server.iter().flat_map(|s| &s.env) {
            c.env(k, v);
        }
        c
    }

    /// Run arca with args; returns the output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run arca")
    }

    /// Run arca and require exit code 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "arca {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn init(&self) {
        self.ok(&["init"]);
    }

    /// `backup --json`, returning the summary message.
    pub fn backup_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["backup", "--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        summary(&out)
    }

    /// Structural check plus reading every blob; must find nothing wrong.
    pub fn check(&self) {
        let out = self.ok(&["check", "--read-data", "--json"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("check json");
        assert_eq!(v["errors"].as_array().map(|a| a.len()), Some(0), "check found errors: {v}");
        assert_eq!(v["damaged"].as_array().map(|a| a.len()), Some(0), "check found damaged files: {v}");
    }

    /// `prune --json` with extra args; returns its statistics.
    pub fn prune(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["prune", "--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_else(|_| panic!("prune json: {out}"))
    }

    /// Stored pack files (relative paths), sorted.
    pub fn packs(&self) -> Vec<String> {
        let mut v = vec![];
        for d in std::fs::read_dir(self.repo.join("data")).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                v.push(format!("{}/{}", d.file_name().to_string_lossy(), f.file_name().to_string_lossy()));
            }
        }
        v.sort();
        v
    }

    /// Snapshot ids, oldest first.
    pub fn snapshot_ids(&self) -> Vec<String> {
        let out = self.ok(&["snapshots", "--json"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("snapshots json");
        v.as_array().expect("array").iter().map(|s| s["id"].as_str().expect("id").to_string()).collect()
    }

    /// Restore `snapshot` (with optional :PATH) into a fresh directory and describe it.
    pub fn restored(&self, snapshot: &str, name: &str) -> BTreeMap<PathBuf, Meta> {
        let out = self.path(name);
        self.ok(&["restore", snapshot, "--target", out.to_str().expect("utf-8 path")]);
        describe(&out)
    }
}

pub fn summary(out: &str) -> serde_json::Value {
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message_type"] == "summary")
        .unwrap_or_else(|| panic!("no summary in output:\n{out}"))
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Everything a restore must reproduce about one path.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Meta {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, i64),
    pub content: Option<[u8; 32]>,
    pub link: Option<Vec<u8>>,
    pub rdev: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Relative path of the first file sharing this one's inode (hardlinks).
    pub link_group: Option<PathBuf>,
}

/// Describe every path below `root` (not following symlinks), keyed by relative path.
pub fn describe(root: &Path) -> BTreeMap<PathBuf, Meta> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Meta>, inodes: &mut BTreeMap<(u64, u64), PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read_dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        let m = p.symlink_metadata().expect("lstat");
        let ft = m.file_type();
        let rel = p.strip_prefix(root).expect("prefix").to_path_buf();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_char_device() {
            "chardev"
        } else if ft.is_block_device() {
            "blockdev"
        } else {
            "socket"
        };
        let content = ft.is_file().then(|| *blake3::hash(&std::fs::read(&p).expect("read")).as_bytes());
        let link = ft.is_symlink().then(|| std::fs::read_link(&p).expect("readlink").as_os_str().as_bytes().to_vec());
        let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = xattr::list(&p)
            .map(|names| {
                names.filter_map(|n| xattr::get(&p, &n).ok().flatten().map(|v| (n.as_bytes().to_vec(), v))).collect()
            })
            .unwrap_or_default();
        xattrs.sort();
        let link_group =
            (ft.is_file() && m.nlink() > 1).then(|| inodes.entry((m.dev(), m.ino())).or_insert(rel.clone()).clone());
        out.insert(
            rel,
            Meta {
                kind,
                mode: if ft.is_symlink() { 0 } else { m.mode() & 0o7777 },
                uid: m.uid(),
                gid: m.gid(),
                size: if ft.is_file() { m.len() } else { 0 },
                mtime: (m.mtime(), m.mtime_nsec()),
                content,
                link,
                rdev: if ft.is_char_device() || ft.is_block_device() { m.rdev() } else { 0 },
                xattrs,
                link_group,
            },
        );
        if ft.is_dir() {
            walk(root, &p, out, inodes);
        }
    }
}

/// Compare two descriptions field by field, naming the first difference.
pub fn assert_same_tree(a: &BTreeMap<PathBuf, Meta>, b: &BTreeMap<PathBuf, Meta>) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "the restored tree has different paths");
    for (p, ma) in a {
        let mb = &b[p];
        assert_eq!(ma, mb, "metadata of {} differs", p.display());
    }
}

pub fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

pub fn write(p: &Path, data: &[u8]) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(p, data).expect("write");
}

/// Deterministic pseudo-random bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn xattrs_supported(dir: &Path) -> bool {
    let p = dir.join(".xattr-probe");
    std::fs::write(&p, b"").expect("probe");
    let ok = xattr::set(&p, "user.arca.probe", b"1").is_ok();
    std::fs::remove_file(&p).expect("rm probe");
    ok
}

/// Wait at most `limit` for `child` to exit. One still running then is killed and the test
/// fails naming `what`: a process that should stop but does not fails instead of hanging the run.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Make `to` an exact copy of the directory `from` (whatever `to` held is removed first).
pub fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap().success();
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

/// The local repository at `repo` without retries or verification: what fault injection wraps.
pub fn raw_backend(repo: &Path) -> arca::backend::DynBackend {
    arca::backend::open_raw(&arca::backend::Location::Local(repo.to_path_buf()), &[]).unwrap()
}

/// The keys of the local repository at `repo` that [`PASSWORD`] opens, for tests that forge
/// objects under them or check that nothing opens under old ones. They are derived as any
/// holder of the password can, from a key file and `config` through the format layer: a
/// `Repository` never hands its keys out. That `config` opens under them proves they are the
/// repository's (a key file that opens but decodes no `config` is passed over).
pub fn keys_of(repo: &Path) -> arca::crypto::Keys {
    use arca::crypto::Keys;
    use arca::format::config::Config;
    use arca::format::key::KeyFile;
    let config = std::fs::read(repo.join("config")).unwrap();
    for entry in std::fs::read_dir(repo.join("keys")).unwrap() {
        let Ok(key) = KeyFile::decode(&std::fs::read(entry.unwrap().path()).unwrap()) else { continue };
        let Ok((master, _)) = key.open_all(PASSWORD.as_bytes()) else { continue };
        if let Ok(c) = Config::decode(&Keys::derive(&master), &config) {
            return c.keys(&master, &master, None);
        }
    }
    panic!("no key file in {} opens its config with the test password", repo.display())
}
