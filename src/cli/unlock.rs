//! Unlock once, not every command: the unwrapped key outside the repository, in two places.
//!
//! **The key cache** (ssh-agent's model): after a password opens a repository, its unwrapped
//! key (format-spec §18.9) is kept as a `user` key in the caller's session keyring for a
//! fixed time from the unlock (default 15 minutes, not refreshed by use), readable only by
//! its possessor. Its description names the repository id and location,
//! `arca:v1:<64 hex digits of the repository id>:<location>`, so two repositories never share
//! an entry. The next command at that location uses it without running Argon2id and without
//! reading the password (no prompt, no password command), but only after `config` decoded
//! under it, authenticated, and named the same repository id; an entry that fails (planted,
//! stale, for the repository that used to be there) is removed and the password unlocks as
//! usual. Where keyctl is refused (seccomp, another kernel), there is no cache, never an error.
//!
//! **Raw key files** (bupstash's model): `key export-raw` writes the key to a new file, mode
//! 0600; `--key-file` reads one only when it is a regular file of the caller with no group or
//! other permission bits (as ssh treats private keys), of the exact length, and uses it only
//! once `config` decodes under it.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use crate::backend::DynBackend;
use crate::error::{Error, Kind, Result};
use crate::format::raw_key::{Holder, RawKey, MAX_LEN};
use crate::id::RepoId;
use crate::platform::keyring;
use crate::repo::Repository;

/// How long the keyring keeps an unlocked key unless told otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Every description arca gives a keyring entry starts with this (`forget-cached --all`).
const PREFIX: &str = "arca:v1:";

/// The description of the entry for the repository `id` at `location`.
pub fn description(id: &RepoId, location: &str) -> String {
    format!("{PREFIX}{}:{location}", id.to_hex())
}

/// The repository id and location a description names, if it is one of ours.
fn parse(description: &str) -> Option<(RepoId, &str)> {
    let rest = description.strip_prefix(PREFIX)?;
    let (hex, location) = rest.split_at_checked(64)?;
    Some((RepoId::from_hex(hex)?, location.strip_prefix(':')?))
}

/// The entries for `location`, whatever repository they name.
fn entries_at(location: &str) -> std::result::Result<Vec<(keyring::Entry, RepoId)>, String> {
    Ok(keyring::list(PREFIX)?
        .into_iter()
        .filter_map(|e| {
            let (id, at) = parse(&e.description)?;
            (at == location).then_some((e, id))
        })
        .collect())
}

fn drop_entry(e: &keyring::Entry, why: &str) {
    tracing::debug!("key cache: removing {:?}: {why}", e.description);
    if let Err(e) = keyring::unlink(e) {
        tracing::debug!("key cache: {e}");
    }
}

/// Open the repository at `location` with the key cached for it, if there is one that opens
/// it. `None`: no usable entry (those that failed are removed), unlock with the password.
/// Storage errors are returned.
pub fn open_cached(backend: &DynBackend, location: &str, verbose: bool) -> Result<Option<Repository>> {
    let entries = match entries_at(location) {
        Ok(e) => e,
        Err(why) => {
            note_unavailable(&why, verbose);
            return Ok(None);
        }
    };
    for (entry, id) in entries {
        let bytes = match keyring::read(&entry, MAX_LEN) {
            Ok(b) => b,
            Err(why) => {
                drop_entry(&entry, &why);
                continue;
            }
        };
        let raw = match RawKey::decode(Holder::KeyCache, &bytes) {
            Ok(r) if r.repo_id == id => r,
            Ok(_) => {
                drop_entry(&entry, "it holds the key of another repository than its description names");
                continue;
            }
            Err(e) => {
                drop_entry(&entry, &e.to_string());
                continue;
            }
        };
        match Repository::open_with_raw_key(backend.clone(), &raw) {
            Ok(repo) => {
                tracing::debug!("key cache: opened {location} with the key kept in the keyring");
                return Ok(Some(repo));
            }
            // storage that fails would fail the password's unlock as well
            Err(e) if matches!(e.kind, Kind::Backend | Kind::Io | Kind::Interrupted) => return Err(e),
            // anything else about the key or `config` (a rotation key's copy of a missing
            // `config` opens only with a password): the password decides
            Err(e) => drop_entry(&entry, &e.to_string()),
        }
    }
    Ok(None)
}

/// Keep `repo`'s unlocked key for `lifetime` (replacing what is kept for `location`);
/// failing to is harmless (the next command asks for the password).
pub fn store(repo: &Repository, location: &str, lifetime: Duration, verbose: bool) {
    let stored = entries_at(location).and_then(|old| {
        for (e, _) in &old {
            drop_entry(e, "replaced by a fresh unlock");
        }
        let raw = repo.raw_key();
        let secs = usize::try_from(lifetime.as_secs()).unwrap_or(usize::MAX);
        keyring::add(&description(&raw.repo_id, location), &raw.encode(Holder::KeyCache), secs)
    });
    if let Err(why) = stored {
        note_unavailable(&why, verbose);
    }
}

fn note_unavailable(why: &str, verbose: bool) {
    tracing::debug!("key cache not used: {why}");
    if verbose {
        eprintln!("key cache not used: {why}");
    }
}

/// Drop the entries kept for `location` (`None`: every arca entry); returns what was dropped
/// (repository id and location), or why the keyring can't be used.
pub fn forget(location: Option<&str>) -> std::result::Result<Vec<(RepoId, String)>, String> {
    let entries: Vec<(keyring::Entry, RepoId)> = match location {
        Some(l) => entries_at(l)?,
        None => keyring::list(PREFIX)?
            .into_iter()
            .filter_map(|e| {
                let id = parse(&e.description)?.0;
                Some((e, id))
            })
            .collect(),
    };
    let mut dropped = vec![];
    for (e, id) in entries {
        keyring::unlink(&e)?;
        let at = parse(&e.description).map(|(_, l)| l.to_string()).unwrap_or_default();
        dropped.push((id, at));
    }
    Ok(dropped)
}

fn refused(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(Kind::KeyFileRefused, format!("key file {}: {why}", path.display())).object(path.display())
}

/// Read a raw key file (`--key-file`), refusing it before any use unless it is a regular file
/// owned by the caller without group or other permission bits, of a raw key file's length.
pub fn read_key_file(path: &Path) -> Result<RawKey> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        // not through a symlink; a FIFO does not block
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => refused(path, "is a symbolic link; refusing to follow it")
                .hint(format!("give the file it points to: --key-file {}", resolved(path))),
            _ => Error::io(format!("key file {}", path.display()), e),
        })?;
    let meta = file.metadata().map_err(|e| Error::io(format!("key file {}", path.display()), e))?;
    if !meta.file_type().is_file() {
        return Err(refused(path, "is not a regular file"));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        let owner = crate::platform::user_name(meta.uid()).unwrap_or_else(|| "?".into());
        return Err(refused(path, format!("is owned by uid {} ({owner}), not by you (uid {me})", meta.uid()))
            .hint(format!("a key file must be yours alone: chown it to yourself and chmod 600 {}", path.display())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refused(
            path,
            format!("permissions {:04o} are too open: others may read the key to the repository", meta.mode() & 0o7777),
        )
        .hint(format!("chmod 600 {}", path.display())));
    }
    if meta.len() > MAX_LEN as u64 {
        return Err(refused(path, format!("{} bytes: not a raw key file (at most {MAX_LEN} bytes)", meta.len()))
            .hint("give a file written by `arca key export-raw`"));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(MAX_LEN + 1));
    file.take(MAX_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("key file {}", path.display()), e))?;
    RawKey::decode(Holder::KeyFile, &bytes)
        .map_err(|e| refused(path, e.message).hint("give a file written by `arca key export-raw`"))
}

fn resolved(path: &Path) -> String {
    std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| "THE-FILE".into())
}

/// Open the repository with a raw key file; a key of another repository is refused naming
/// the file.
pub fn open_with_key_file(backend: DynBackend, path: &Path) -> Result<Repository> {
    let raw = read_key_file(path)?;
    Repository::open_with_raw_key(backend, &raw).map_err(|e| {
        if e.kind == Kind::WrongPassword {
            let hint = "give the key file of this repository (`arca key export-raw` writes one), or leave --key-file out to use the password";
            Error::new(Kind::WrongPassword, format!("key file {}: {}", path.display(), e.message))
                .object(path.display())
                .hint(hint)
        } else {
            e
        }
    })
}

/// Write `raw` to a new file `path` (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600): never over an
/// existing file or through a symlink.
pub fn write_key_file(path: &Path, raw: &RawKey) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "it is never overwritten: remove it first, or give another --output"
            } else {
                "give a path in a directory you can write to"
            };
            Error::io(format!("creating the key file {}", path.display()), e).hint(hint)
        })?;
    f.write_all(&raw.encode(Holder::KeyFile))
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("writing the key file {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_repository_and_location_and_parse_back() {
        let id = RepoId([0xab; 32]);
        let d = description(&id, "/srv/a:b");
        assert_eq!(parse(&d), Some((id, "/srv/a:b")));
        assert_eq!(parse("arca:v1:xyz:/srv"), None);
        assert_eq!(parse(&format!("arca:v1:{}/srv", id.to_hex())), None);
        assert_eq!(parse(&format!("other:{}", &d)), None);
    }
}
