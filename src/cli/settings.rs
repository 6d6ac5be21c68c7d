//! Step two of argument parsing: one validated `Settings` (repository, password source,
//! output mode) made before any command runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::args::Global;
use crate::backend::{self, Location};
use crate::crypto::KdfParams;
use crate::error::{Error, Kind, Operation, Result};
use crate::repo::Repository;
use crate::util::sync::IgnorePoison;

pub enum PasswordSource {
    /// This environment variable (`ARCA_PASSWORD`, `ARCA_FROM_PASSWORD`).
    Env(&'static str),
    File(PathBuf),
    Command(String),
    /// Standard input, read to its end, every byte kept: how `mount --background` hands the
    /// password it read to the process it starts (a pipe, not that process's environment).
    Stdin,
    /// Ask on the terminal: which password, and which options give it without one.
    Prompt(Ask),
}

/// Which password a prompt asks for, and the options and variables that give it where there
/// is no terminal to ask on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    /// `the repository`, `the source repository`, …; `None`: a new password, for no repository.
    pub role: Option<&'static str>,
    pub give: &'static str,
}

impl Ask {
    pub const REPOSITORY: Ask = Ask {
        role: Some("the repository"),
        give: "set ARCA_PASSWORD, ARCA_PASSWORD_FILE (--password-file) or ARCA_PASSWORD_COMMAND (--password-command)",
    };
    pub const NEW_PASSWORD: Ask = Ask { role: None, give: "give it with --new-password-file FILE" };

    /// The password of a second repository, given by `var` (`ARCA_FROM_PASSWORD`, …).
    fn other(var: &'static str) -> Ask {
        match var {
            "ARCA_TO_PASSWORD" => Ask {
                role: Some("the destination repository"),
                give: "set ARCA_TO_PASSWORD, or give --to-password-file or --to-password-command",
            },
            _ => Ask {
                role: Some("the source repository"),
                give: "set ARCA_FROM_PASSWORD, ARCA_FROM_PASSWORD_FILE (--from-password-file) or ARCA_FROM_PASSWORD_COMMAND (--from-password-command)",
            },
        }
    }
}

pub struct Settings {
    pub location: Location,
    /// No repository was named: the default local one is used.
    pub default_repo: bool,
    pub options: Vec<(String, String)>,
    pub stack: backend::StackOptions,
    pub password: PasswordSource,
    /// `--key-file`: open with this raw key file, not a password.
    pub key_file: Option<PathBuf>,
    /// How long the kernel keyring keeps an unlocked key; `None`: no key cache.
    pub key_cache: Option<std::time::Duration>,
    /// `-v`: say why there is no key cache.
    pub verbose: bool,
    pub cache_root: Option<PathBuf>,
    pub retry_lock: std::time::Duration,
    /// `--no-lock`: readers take no lock, writers refuse.
    pub no_lock: bool,
    /// `--pack-size`/`ARCA_PACK_SIZE` in bytes.
    pub pack_size: Option<u64>,
    /// The profiles in use (merged), if any.
    pub profile: Option<super::profile::Loaded>,
    /// Figures a command reports for its hooks (`ARCA_SNAPSHOT_ID`, …).
    facts: std::sync::Mutex<Vec<(String, String)>>,
}

pub type Password = Zeroizing<Vec<u8>>;

/// Set in the environment of the process `mount --background` starts; that process reads its
/// password from standard input ([`PasswordSource::Stdin`]).
pub(super) const BACKGROUND_CHILD: &str = "ARCA_MOUNT_BACKGROUND_CHILD";

impl Settings {
    pub fn from_global(g: &Global) -> Result<Settings> {
        let from_file = read_repository_file(g)?;
        let (location, default_repo) = match from_file.as_deref().or(g.repo.as_deref()).filter(|r| !r.is_empty()) {
            Some(r) => (Location::parse(r)?, false),
            None => (Location::Local(default_repository()?), true),
        };
        let mut options = vec![];
        for o in &g.options {
            let (k, v) =
                o.split_once('=').ok_or_else(|| Error::usage(format!("option {o:?} is not SERVICE.KEY=VALUE")))?;
            options.push((k.to_string(), v.to_string()));
        }
        let kib = |n: Option<u64>, flag: &str| match n {
            Some(0) => Err(Error::usage(format!("{flag} 0 would never transfer anything"))),
            n => Ok(n.map(|k| k * 1024)),
        };
        let io_timeout = humantime::parse_duration(&g.storage_timeout)
            .map_err(|e| Error::usage(format!("--storage-timeout {:?}: {e}", g.storage_timeout)))?;
        let stack = backend::StackOptions {
            connections: match g.connections {
                Some(0) => return Err(Error::usage("--connections must be at least 1")),
                n => n,
            },
            limit_upload: kib(g.limit_upload, "--limit-upload")?,
            limit_download: kib(g.limit_download, "--limit-download")?,
            io_timeout,
            op_timeout: io_timeout * 2,
            ..Default::default()
        };
        let password = if std::env::var_os(BACKGROUND_CHILD).is_some() {
            PasswordSource::Stdin
        } else if std::env::var_os("ARCA_PASSWORD").is_some() {
            PasswordSource::Env("ARCA_PASSWORD")
        } else if let Some(f) = &g.password_file {
            PasswordSource::File(f.clone())
        } else if let Some(c) = &g.password_command {
            PasswordSource::Command(c.clone())
        } else {
            PasswordSource::Prompt(Ask::REPOSITORY)
        };
        let cache_root = if g.no_cache { None } else { g.cache_dir.clone().or_else(crate::cache::Cache::default_root) };
        let retry_lock = match &g.retry_lock {
            Some(d) => humantime::parse_duration(d)
                .map_err(|e| Error::usage(format!("--retry-lock {d:?}: {e}")).hint("use e.g. 30s, 5m or 1h"))?,
            None => std::time::Duration::ZERO,
        };
        let pack_size = g.pack_size.as_deref().map(parse_pack_size).transpose()?;
        let key_cache = match (&g.key_cache_timeout, g.no_key_cache) {
            (_, true) => None,
            (None, false) => Some(super::unlock::DEFAULT_LIFETIME),
            (Some(d), false) => Some(humantime::parse_duration(d).map_err(|e| {
                Error::usage(format!("--key-cache-timeout {d:?}: {e}")).hint("use e.g. 15m, 1h, or 0 for no key cache")
            })?)
            .filter(|d| !d.is_zero()),
        };
        Ok(Settings {
            location,
            default_repo,
            options,
            stack,
            password,
            key_file: g.key_file.clone(),
            key_cache,
            verbose: g.verbose > 0,
            cache_root,
            retry_lock,
            no_lock: g.no_lock,
            pack_size,
            profile: None,
            facts: Default::default(),
        })
    }

    /// Settings for a second repository of the same command (`copy`): the same storage
    /// options, limits and cache root, another location and password.
    pub fn other(&self, repo: &str, password: PasswordSource) -> Result<Settings> {
        Ok(Settings {
            location: Location::parse(repo)?,
            default_repo: false,
            options: self.options.clone(),
            stack: self.stack.clone(),
            password,
            // the key file is the first repository's; the other one has its own cache entry
            key_file: None,
            key_cache: self.key_cache,
            verbose: self.verbose,
            cache_root: self.cache_root.clone(),
            retry_lock: self.retry_lock,
            no_lock: self.no_lock,
            pack_size: self.pack_size,
            profile: None,
            facts: Default::default(),
        })
    }

    /// The password source of a second repository: `var` (e.g. `ARCA_FROM_PASSWORD`), then
    /// the file, then the command, else a prompt.
    pub fn other_password(file: &Option<PathBuf>, cmd: &Option<String>, var: &'static str) -> PasswordSource {
        if std::env::var_os(var).is_some() {
            PasswordSource::Env(var)
        } else if let Some(f) = file {
            PasswordSource::File(f.clone())
        } else if let Some(c) = cmd {
            PasswordSource::Command(c.clone())
        } else {
            PasswordSource::Prompt(Ask::other(var))
        }
    }

    /// Record a figure for the hooks.
    pub fn fact(&self, key: &str, value: String) {
        self.facts.lock().ignore_poison().push((key.to_string(), value));
    }

    pub fn facts(&self) -> Vec<(String, String)> {
        self.facts.lock().ignore_poison().clone()
    }

    pub fn backend(&self) -> Result<backend::DynBackend> {
        backend::open_with(&self.location, &self.options, &self.stack)
    }

    pub fn read_password(&self, confirm: bool) -> Result<Password> {
        let pw = match &self.password {
            PasswordSource::Env(var) => Zeroizing::new(std::env::var(var).unwrap_or_default().into_bytes()),
            PasswordSource::File(f) => {
                let mut b = std::fs::read(f).map_err(|e| Error::io(format!("password file {}", f.display()), e))?;
                strip_newline(&mut b);
                Zeroizing::new(b)
            }
            PasswordSource::Command(c) => {
                // a password command for one repository does not see the other's password
                let out = crate::platform::without_secrets(&mut std::process::Command::new("sh"))
                    .args(["-c", c])
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| Error::usage(format!("password command {c:?}: {e}")))?;
                if !out.status.success() {
                    return Err(Error::usage(format!("password command {c:?} failed ({})", out.status)));
                }
                let mut b = out.stdout;
                strip_newline(&mut b);
                Zeroizing::new(b)
            }
            PasswordSource::Stdin => {
                use std::io::Read;
                // room enough that reading does not reallocate, leaving a copy behind unwiped
                let mut b = Zeroizing::new(Vec::with_capacity(64 * 1024));
                std::io::stdin().lock().read_to_end(&mut b).map_err(|e| Error::io("password on standard input", e))?;
                b
            }
            PasswordSource::Prompt(ask) => prompt_for(ask, &self.location.to_string(), confirm)?,
        };
        if pw.is_empty() {
            return Err(Error::usage("empty password").hint("set ARCA_PASSWORD, --password-file or --password-command"));
        }
        Ok(pw)
    }

    /// Open the repository (with the cache unless disabled): with `--key-file` if given;
    /// else with the key kept in the key cache, without reading the password; else with the
    /// password, keeping the key in the key cache afterwards.
    pub fn open(&self) -> Result<Repository> {
        let backend = self.existing_backend()?;
        let location = self.location.to_string();
        let repo = if let Some(path) = &self.key_file {
            super::unlock::open_with_key_file(backend, path)?
        } else if let Some(repo) = match self.key_cache {
            Some(_) => super::unlock::open_cached(&backend, &location, self.verbose)?,
            None => None,
        } {
            repo
        } else {
            let pw = self.read_password(false)?;
            let repo = self.unlock(backend, &pw)?;
            if let Some(lifetime) = self.key_cache {
                super::unlock::store(&repo, &location, lifetime, self.verbose);
            }
            repo
        };
        let repo = match self.pack_size {
            Some(size) => repo.with_pack_size(size)?,
            None => repo,
        };
        Ok(self.attach_cache(repo))
    }

    /// Open the repository with the password, also returning it (read once: a password
    /// command runs once, a prompt asks once): never from the key cache or a key file, and
    /// nothing is kept in the key cache. For what must prove the password (the `key`
    /// commands) or pass it on (`mount --background`).
    pub fn open_with_password(&self) -> Result<(Repository, Password)> {
        let backend = self.existing_backend()?;
        let pw = self.read_password(false)?;
        let mut repo = self.unlock(backend, &pw)?;
        if let Some(size) = self.pack_size {
            repo = repo.with_pack_size(size)?;
        }
        Ok((self.attach_cache(repo), pw))
    }

    /// Unlock with the password, trying the key that opened last time first.
    fn unlock(&self, backend: backend::DynBackend, pw: &[u8]) -> Result<Repository> {
        let location = self.location.to_string();
        let hint = self.cache_root.as_deref().and_then(|root| crate::cache::key_hint::read(root, &location));
        let repo = Repository::open_with_hint(backend, pw, hint)?;
        if let Some(root) = self.cache_root.as_deref().filter(|_| hint != Some(repo.key_id())) {
            crate::cache::key_hint::write(root, &location, &repo.key_id());
        }
        Ok(repo)
    }

    /// The backend of a repository that exists (something of it is at the location).
    fn existing_backend(&self) -> Result<backend::DynBackend> {
        // check before opening: the local backend creates its root directory
        // (a path that is a file reaches the backend, which says so)
        let backend = match &self.location {
            Location::Local(p) if std::fs::symlink_metadata(p).is_err() => None,
            _ => Some(self.backend()?),
        };
        match backend {
            Some(b) if b.stat(crate::repo::CONFIG_PATH)?.is_some() => Ok(b),
            // repository files without config: opening says it is damaged (or a rotation
            // key's copy of config stands in)
            Some(b) if !crate::repo::repository_files(&b)?.is_empty() => Ok(b),
            _ => {
                let mut e = Error::new(Kind::NoRepository, format!("no repository at {}", self.location))
                    .object(&self.location)
                    .operation(Operation::Opening);
                e = e.hint(if self.default_repo {
                "no repository given (-r/--repo or ARCA_REPOSITORY) and the default one does not exist yet; `arca backup` creates it"
            } else {
                "create one with `arca init`, or check -r/--repo and ARCA_REPOSITORY"
            });
                Err(e)
            }
        }
    }

    pub fn attach_cache(&self, repo: Repository) -> Repository {
        let mut repo = repo.with_lock_retry(self.retry_lock);
        if self.no_lock {
            repo = repo.with_no_lock();
        }
        match &self.cache_root {
            Some(root) => repo.with_cache_at(root),
            None => repo,
        }
    }
}

/// The variables that stand for restic's `RESTIC_HOST`, `RESTIC_COMPRESSION`, … are read as
/// restic reads them: set but empty is unset. `export ARCA_HOST=` must not select the host ""
/// (no snapshot at all) nor record it, and an empty `ARCA_PACK_SIZE` or `ARCA_COMPRESSION`
/// must not make every command fail.
pub(super) fn empty_variables_unset(cmd: clap::Command) -> clap::Command {
    const RESTIC_LIKE: &[&str] =
        &["ARCA_HOST", "ARCA_COMPRESSION", "ARCA_PACK_SIZE", "ARCA_READ_CONCURRENCY", "ARCA_REPOSITORY_FILE"];
    fn unset(cmd: clap::Command, empty: &[&str]) -> clap::Command {
        cmd.mut_args(|a| match a.get_env() {
            Some(var) if empty.iter().any(|e| var == *e) => a.env(None),
            _ => a,
        })
        .mut_subcommands(|s| unset(s, empty))
    }
    let empty: Vec<&str> =
        RESTIC_LIKE.iter().copied().filter(|v| std::env::var_os(v).is_some_and(|x| x.is_empty())).collect();
    if empty.is_empty() {
        return cmd;
    }
    unset(cmd, &empty)
}

/// `--repository-file`/`ARCA_REPOSITORY_FILE`: the repository named in a file (its first
/// line, trimmed), as restic reads it. Giving -r/`ARCA_REPOSITORY` too is an error: which one
/// was meant?
fn read_repository_file(g: &Global) -> Result<Option<String>> {
    repository_from_file(
        g.repository_file.as_deref(),
        g.repo.as_deref(),
        "-r/--repo (or ARCA_REPOSITORY) and --repository-file (or ARCA_REPOSITORY_FILE)",
    )
}

/// The repository a repository file names (its first line, trimmed), as restic reads
/// `--repository-file` and `--from-repository-file`; `None` without a file. `named` is the
/// repository given directly beside it (an error: which one was meant?), `both` the two
/// ways of giving it, for the message.
pub(super) fn repository_from_file(file: Option<&Path>, named: Option<&str>, both: &str) -> Result<Option<String>> {
    let Some(f) = file else { return Ok(None) };
    if named.is_some_and(|r| !r.is_empty()) {
        return Err(Error::usage(format!("both {both} name a repository")).hint("give only one of them"));
    }
    let text = std::fs::read_to_string(f).map_err(|e| Error::io(format!("repository file {}", f.display()), e))?;
    let repo = text.lines().next().unwrap_or("").trim().to_string();
    if repo.is_empty() {
        return Err(Error::usage(format!("the repository file {} is empty", f.display()))
            .hint("write the repository (a path or SERVICE:ROOT) on its first line"));
    }
    Ok(Some(repo))
}

/// `--pack-size`: a bare number is MiB (restic's unit), else a size like `64M`.
pub fn parse_pack_size(s: &str) -> Result<u64> {
    let n = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<u64>().map_err(|_| Error::usage(format!("invalid --pack-size {s:?}")))?.saturating_mul(1 << 20)
    } else {
        parse_size(s)?
    };
    Ok(n)
}

fn strip_newline(b: &mut Vec<u8>) {
    while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        b.pop();
    }
}

/// A new password, asked twice (`key add`, `key passwd`).
pub(super) fn prompt(ask: &Ask, confirm: bool) -> Result<Password> {
    prompt_for(ask, "", confirm)
}

/// What a prompt for `ask` says, and the question it repeats with `confirm`; `location` names
/// the repository.
fn questions(ask: &Ask, location: &str, confirm: bool) -> (String, &'static str) {
    match ask.role {
        // creating a repository: its first password
        Some("the repository") if confirm => {
            (format!("enter password for the new repository {location}: "), "enter password again: ")
        }
        Some(role) => (format!("enter password for {role} {location}: "), "enter password again: "),
        None => ("enter new password: ".into(), "repeat new password: "),
    }
}

fn prompt_for(ask: &Ask, location: &str, confirm: bool) -> Result<Password> {
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        let what = match ask.role {
            Some(role) => format!("no password given for {role} {location}"),
            None => "no new password given".into(),
        };
        return Err(Error::usage(format!("{what} and no terminal to ask on")).hint(ask.give));
    }
    let (first, again) = questions(ask, location, confirm);
    let p = Zeroizing::new(
        rpassword::prompt_password(first).map_err(|e| Error::new(Kind::Io, format!("reading password: {e}")))?,
    );
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password(again).map_err(|e| Error::new(Kind::Io, format!("reading password: {e}")))?,
        );
        if *p != *again {
            return Err(Error::usage("passwords do not match"));
        }
    }
    Ok(Zeroizing::new(p.as_bytes().to_vec()))
}

/// Where the default local repository lives.
pub fn default_repository() -> Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("arca").join("repository")).ok_or_else(|| {
        Error::usage("no repository given and no data directory known").hint("pass -r/--repo or set ARCA_REPOSITORY")
    })
}

/// Argon2id costs for new keys. Debug builds honour `ARCA_TEST_INSECURE_KDF=1` so the test
/// suite can make many repositories quickly; release builds always use the default.
pub fn kdf_params() -> KdfParams {
    #[cfg(debug_assertions)]
    if std::env::var_os("ARCA_TEST_INSECURE_KDF").is_some() {
        return KdfParams::INSECURE_TEST;
    }
    KdfParams::DEFAULT
}

/// Parse sizes like `500M`, `2G`, `1024`, `10KiB`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| Error::usage(format!("invalid size {s:?}")))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(Error::usage(format!("invalid size unit in {s:?}"))),
    };
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prompt says which password it wants; a missing one names the options that give it.
    #[test]
    fn prompts_say_which_password_they_want() {
        let first = |ask: Ask, confirm| questions(&ask, "/srv/backup", confirm).0;
        assert_eq!(first(Ask::REPOSITORY, false), "enter password for the repository /srv/backup: ");
        assert_eq!(first(Ask::REPOSITORY, true), "enter password for the new repository /srv/backup: ");
        assert_eq!(
            first(Ask::other("ARCA_FROM_PASSWORD"), false),
            "enter password for the source repository /srv/backup: "
        );
        assert_eq!(
            first(Ask::other("ARCA_TO_PASSWORD"), false),
            "enter password for the destination repository /srv/backup: "
        );
        assert_eq!(questions(&Ask::NEW_PASSWORD, "", true), ("enter new password: ".into(), "repeat new password: "));
        assert!(Ask::other("ARCA_FROM_PASSWORD").give.contains("--from-password-file"));
        assert!(Ask::NEW_PASSWORD.give.contains("--new-password-file"));
    }
}
