//! Key files: each wraps the master secret with one password. Adding, listing, removing and
//! changing passwords never touches anything but `keys/`.

use super::Repository;
use crate::backend::DynBackend;
use crate::crypto::{KdfParams, MasterSecret};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::key::KeyFile;
use crate::id::{storage_hash, ObjectId};
use crate::platform;

#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    pub id: ObjectId,
    pub current: bool,
    pub created: String,
    pub hostname: String,
    pub username: String,
}

pub(super) fn write_key_file(
    backend: &DynBackend,
    master: &MasterSecret,
    password: &[u8],
    kdf: KdfParams,
) -> Result<ObjectId> {
    let kf =
        KeyFile::create(master, password, kdf, platform::now_rfc3339(), platform::hostname(), platform::username())?;
    let bytes = kf.encode();
    let id = ObjectId(storage_hash(&bytes));
    backend.write(&format!("keys/{id}"), &bytes).ctx("writing key file")?;
    Ok(id)
}

fn key_ids(backend: &DynBackend) -> Result<Vec<ObjectId>> {
    let entries = backend.list("keys/").ctx("listing keys")?;
    Ok(entries.iter().filter_map(|e| e.path.rsplit('/').next().and_then(ObjectId::from_hex)).collect())
}

fn read_key(backend: &DynBackend, id: &ObjectId) -> Result<KeyFile> {
    let bytes = backend.read(&format!("keys/{id}")).ctx(format!("reading keys/{id}"))?;
    if storage_hash(&bytes) != id.0 {
        return Err(Error::corrupt(format!("keys/{id}: content does not match its name")));
    }
    KeyFile::decode(&bytes).ctx(format!("keys/{id}"))
}

/// Try every key file with the password; the first master secret that `valid` accepts wins
/// (an `init` that crashed between its key file and `config` leaves an orphan key behind).
pub(super) fn unlock(
    backend: &DynBackend,
    password: &[u8],
    valid: impl Fn(&MasterSecret) -> Result<()>,
) -> Result<(MasterSecret, ObjectId)> {
    let ids = key_ids(backend)?;
    if ids.is_empty() {
        return Err(Error::corrupt(format!("repository at {} has no key files", backend.location())));
    }
    let mut last_corrupt = None;
    let mut opened_invalid: Option<Error> = None;
    for id in ids {
        let kf = match read_key(backend, &id) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!("skipping unreadable key file: {e}");
                last_corrupt = Some(e);
                continue;
            }
        };
        match kf.open(password) {
            Ok(m) => match valid(&m) {
                Ok(()) => return Ok((m, id)),
                Err(e) => {
                    tracing::warn!("keys/{id} opens with this password but not this repository's config");
                    opened_invalid = Some(e);
                }
            },
            Err(e) if e.kind == Kind::WrongPassword => continue,
            Err(e) => last_corrupt = Some(e),
        }
    }
    if let Some(e) = opened_invalid {
        // the password is right, the config is not: say what is wrong with it
        return Err(e.context("config"));
    }
    let mut err =
        Error::new(Kind::WrongPassword, format!("wrong password: no key in {} opens with it", backend.location()))
            .hint("check ARCA_PASSWORD, --password-file or --password-command");
    if let Some(e) = last_corrupt {
        err = err.hint(format!("some key files were unreadable: {e}"));
    }
    Err(err)
}

impl Repository {
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<ObjectId> {
        write_key_file(&self.backend, &self.master, password, kdf)
    }

    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = vec![];
        for id in key_ids(&self.backend)? {
            let kf = read_key(&self.backend, &id)?;
            out.push(KeyInfo {
                id,
                current: id == self.key_id,
                created: kf.created,
                hostname: kf.hostname,
                username: kf.username,
            });
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    /// Remove a key by id or unique prefix. The key in use can't be removed.
    pub fn remove_key(&self, prefix: &str) -> Result<ObjectId> {
        let ids = key_ids(&self.backend)?;
        let matches: Vec<_> = ids.iter().filter(|id| id.to_hex().starts_with(prefix)).collect();
        let id = match matches.as_slice() {
            [one] => **one,
            [] => return Err(Error::new(Kind::NotFound, format!("no key {prefix:?}"))),
            _ => return Err(Error::usage(format!("key prefix {prefix:?} is ambiguous"))),
        };
        if id == self.key_id {
            return Err(Error::usage("refusing to remove the key in use")
                .hint("open the repository with another password to remove this key"));
        }
        self.backend.delete(&format!("keys/{id}")).ctx(format!("deleting keys/{id}"))?;
        Ok(id)
    }

    /// Replace the key in use with one for a new password (the new key is written first).
    pub fn change_password(&mut self, password: &[u8], kdf: KdfParams) -> Result<ObjectId> {
        let new = self.add_key(password, kdf)?;
        let old = self.key_id;
        self.backend.delete(&format!("keys/{old}")).ctx(format!("deleting keys/{old}"))?;
        self.key_id = new;
        Ok(new)
    }
}
