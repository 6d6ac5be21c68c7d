//! Key files: each wraps the master secret with one password. Adding, listing, removing and
//! changing passwords never touches anything but `keys/`.

use super::{ObjectKind, Repository};
use crate::backend::DynBackend;
use crate::crypto::{KdfParams, Keys, MasterSecret};
use crate::error::{Error, Kind, Operation, Result, ResultExt};
use crate::format::config::Config;
use crate::format::key::KeyFile;
use crate::format::raw_key::RawKey;
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

/// The user and host a new key file records (restic's `key add --user/--host`); `None`: the
/// running user and this host. They are labels for `key list`, bound into the wrapped secret
/// (format-spec §8) like any other field.
#[derive(Clone, Debug, Default)]
pub struct KeyOwner {
    pub user: Option<String>,
    pub host: Option<String>,
}

impl KeyOwner {
    /// A name to record: not empty, at most 255 bytes, no control characters (it is printed
    /// by `key list` on other people's terminals).
    pub fn check(&self) -> Result<()> {
        for (flag, v) in [("--user", &self.user), ("--host", &self.host)] {
            let Some(v) = v else { continue };
            if v.is_empty() || v.len() > 255 || v.chars().any(char::is_control) {
                return Err(Error::usage(format!("{flag} {v:?}: not a name a key can record"))
                    .hint("give 1 to 255 bytes without control characters"));
            }
        }
        Ok(())
    }
}

pub(super) fn write_key_file(
    backend: &DynBackend,
    master: &MasterSecret,
    password: &[u8],
    kdf: KdfParams,
) -> Result<ObjectId> {
    write_key_file_as(backend, master, password, kdf, &KeyOwner::default())
}

fn write_key_file_as(
    backend: &DynBackend,
    master: &MasterSecret,
    password: &[u8],
    kdf: KdfParams,
    owner: &KeyOwner,
) -> Result<ObjectId> {
    owner.check()?;
    let host = owner.host.clone().unwrap_or_else(platform::hostname);
    let user = owner.user.clone().unwrap_or_else(platform::username);
    let kf = KeyFile::create(master, password, kdf, platform::now_rfc3339(), host, user)?;
    let bytes = kf.encode();
    let id = ObjectId(storage_hash(&bytes));
    backend.write(&ObjectKind::Key.path(&id), bytes.into()).ctx("writing key file")?;
    Ok(id)
}

pub(super) fn key_ids(backend: &DynBackend) -> Result<Vec<ObjectId>> {
    let entries = backend.list("keys/").ctx("listing keys")?;
    Ok(entries.iter().filter_map(|e| e.path.rsplit('/').next().and_then(ObjectId::from_hex)).collect())
}

pub(super) fn read_key(backend: &DynBackend, id: &ObjectId) -> Result<KeyFile> {
    let path = ObjectKind::Key.path(id);
    let bytes = super::limits::read_capped(backend, &path, ObjectKind::Key.cap())?;
    if storage_hash(&bytes) != id.0 {
        return Err(Error::corrupt(format!("{path}: content does not match its name")).object(path));
    }
    KeyFile::decode(&bytes).ctx_object(path)
}

/// What opening with a password yields.
pub(super) struct Unlocked {
    pub master: MasterSecret,
    /// The master secret being replaced, while a key rotation runs (format-spec §22).
    pub previous: Option<MasterSecret>,
    pub key_id: ObjectId,
    pub config: Config,
    pub keys: Keys,
}

/// Try the key files with the password (format-spec §8, §22). `config` is the stored
/// `config` or why it can't be used (missing, or a header this build refuses). `hint` is
/// the key that opened last time (from the local cache): it is tried first and changes
/// nothing else.
///
/// Every key file is read (size-capped) and checked before any Argon2id runs: wrong
/// lengths and costs above the ceiling are skipped with a warning. The rest are tried
/// cheapest first (Argon2id work `m_kib · t`, then name), so a planted expensive key file
/// costs only a password that no cheaper key opens. The first key under which a `config`
/// decodes wins: the stored one under the key's master or its previous one, else the copy a
/// rotation key carries. An `init` that crashed between its key file and `config` leaves an
/// orphan key that decodes no config and is skipped.
///
/// A key without `previous` whose secret a rotation in progress replaces is refused: the
/// rotation revokes its password. A rotation is believed only if its key's marker
/// authenticates under that very secret (only a holder of it can make one); a key file that
/// merely claims a rotation is ignored with a warning.
pub(super) fn unlock(
    backend: &DynBackend,
    password: &[u8],
    config: std::result::Result<Vec<u8>, Error>,
    hint: Option<ObjectId>,
) -> Result<Unlocked> {
    let mut last_corrupt = None;
    let mut files = vec![];
    let mut listed = 0;
    for id in key_ids(backend)? {
        listed += 1;
        match read_key(backend, &id)
            .and_then(|k| k.check_before_deriving().map(|()| k).ctx_object(ObjectKind::Key.path(&id)))
        {
            Ok(k) => files.push((id, k)),
            Err(e) => {
                tracing::warn!("skipping unusable key file: {e}");
                last_corrupt = Some(e);
            }
        }
    }
    let claims_rotation = files.iter().any(|(_, k)| k.is_rotation());
    let config = match config {
        Ok(bytes) => Some(bytes),
        Err(e) if !claims_rotation => return Err(e),
        Err(e) => {
            tracing::warn!("config: {e}; trying the copy of a key rotation in progress");
            None
        }
    };
    if listed == 0 {
        return Err(Error::corrupt(format!("repository at {} has no key files", backend.location())));
    }
    files.sort_by_key(|(id, k)| (Some(*id) != hint, k.params.work(), *id));
    let rotations: Vec<(ObjectId, KeyFile)> = files.iter().filter(|(_, k)| k.is_rotation()).cloned().collect();
    let mut opened_invalid: Option<Error> = None;
    let mut revoked: Option<Error> = None;
    for (id, kf) in files {
        tracing::debug!(
            "trying keys/{} (Argon2id {} KiB, {} passes{})",
            id.short(),
            kf.params.m_kib,
            kf.params.t,
            if Some(id) == hint { ", the key that opened last time" } else { "" }
        );
        let (master, previous) = match kf.open_all(password) {
            Ok(m) => m,
            Err(e) if e.kind == Kind::WrongPassword => continue,
            Err(e) => {
                last_corrupt = Some(e.context_object(ObjectKind::Key.path(&id)));
                continue;
            }
        };
        let decode = |bytes: &[u8], m: &MasterSecret| Config::decode(&Keys::derive(m), bytes);
        let mut tried = vec![];
        if let Some(bytes) = config.as_deref() {
            tried.push(decode(bytes, &master).map(|c| (c, &master)));
            if let Some(p) = &previous {
                tried.push(decode(bytes, p).map(|c| (c, p)));
            }
        }
        if let Some(copy) = &kf.config {
            tried.push(decode(copy, &master).map(|c| (c, &master)));
        }
        let Some(found) = tried.iter().position(|t| t.is_ok()) else {
            tracing::warn!("keys/{id} opens with this password but not this repository's config");
            opened_invalid = tried.into_iter().find_map(|t| t.err()).or(opened_invalid);
            continue;
        };
        let Some(Ok((config, config_master))) = tried.into_iter().nth(found) else { continue };
        if previous.is_none() {
            let seal = Keys::derive(&master).seal;
            if let Some((rid, r)) = rotations.iter().find(|(_, r)| r.rotates_away(&seal)) {
                revoked = Some(
                    Error::new(
                        Kind::WrongPassword,
                        format!(
                            "a key rotation is in progress (keys/{}, started {} by {}@{}) and it revokes this password",
                            rid.short(),
                            r.created,
                            r.username,
                            r.hostname
                        ),
                    )
                    .hint("use the password the rotation keeps, and run `arca key rotate` with it to finish"),
                );
                continue;
            }
            for (rid, r) in &rotations {
                // a rotation *to* this secret whose last step was interrupted (§22.3): its
                // `config` copy is sealed under this very secret
                let to_this = r.config.as_deref().is_some_and(|c| Config::decode(&Keys::derive(&master), c).is_ok());
                if to_this {
                    tracing::warn!(
                        "keys/{rid}: a key rotation to this key did not finish; `arca key rotate` finishes it"
                    );
                    continue;
                }
                tracing::warn!(
                    "keys/{rid} claims a key rotation that no holder of this key started; ignoring it (`arca key remove` removes it)"
                );
            }
        }
        let keys = config.keys(&master, config_master, previous.as_ref());
        return Ok(Unlocked { master, previous, key_id: id, config, keys });
    }
    if let Some(e) = revoked {
        return Err(e);
    }
    if let Some(e) = opened_invalid {
        // the password is right, the config is not: say what is wrong with it
        return Err(super::repair_config::config_damaged(e.context_object("config"), &backend.location()));
    }
    let mut err =
        Error::new(Kind::WrongPassword, format!("wrong password: no key in {} opens with it", backend.location()))
            .object(backend.location())
            .hint("check ARCA_PASSWORD, --password-file or --password-command");
    if let Some(e) = last_corrupt {
        err = err.hint(format!("some key files were unusable: {e}"));
    }
    Err(err)
}

/// Open with an unwrapped key kept outside the repository (format-spec §18.9): `config`
/// must decode under its master secret, or under its previous one while a rotation runs,
/// and name the repository the key says it belongs to. A key without `previous` whose
/// secret a rotation in progress replaces is refused, as [`unlock`] refuses its password:
/// key files are read for that (no Argon2id runs).
pub(super) fn unlock_raw(
    backend: &DynBackend,
    config: std::result::Result<Vec<u8>, Error>,
    raw: &RawKey,
) -> Result<Unlocked> {
    let bytes = config?;
    let location = backend.location();
    let decode = |m: &MasterSecret| Config::decode(&Keys::derive(m), &bytes);
    let (config, config_master) = match decode(&raw.master) {
        Ok(c) => (c, &raw.master),
        Err(first) => match raw.previous.as_ref().map(|p| (decode(p), p)) {
            Some((Ok(c), p)) => (c, p),
            _ if first.kind == Kind::Unsupported => return Err(first.context_object("config")),
            _ => {
                return Err(Error::new(
                    Kind::WrongPassword,
                    format!("the key of repository {} does not open the repository at {location}", raw.repo_id.short()),
                )
                .object(&location))
            }
        },
    };
    if config.id != raw.repo_id {
        return Err(Error::new(
            Kind::WrongPassword,
            format!(
                "the key says it is of repository {}, but it opens the repository {} at {location}",
                raw.repo_id.short(),
                config.id.short()
            ),
        )
        .object(&location));
    }
    if raw.previous.is_none() {
        let seal = Keys::derive(&raw.master).seal;
        for id in key_ids(backend)? {
            let Ok(kf) = read_key(backend, &id) else { continue };
            if kf.is_rotation() && kf.rotates_away(&seal) {
                return Err(Error::new(
                    Kind::WrongPassword,
                    format!("a key rotation is in progress (keys/{}) and it revokes this key", id.short()),
                )
                .object(&location)
                .hint("open the repository with the password the rotation keeps"));
            }
        }
    }
    let keys = config.keys(&raw.master, config_master, raw.previous.as_ref());
    Ok(Unlocked { master: raw.master.clone(), previous: raw.previous.clone(), key_id: raw.key_id, config, keys })
}

impl Repository {
    pub fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<ObjectId> {
        self.add_key_as(password, kdf, &KeyOwner::default())
    }

    /// [`Self::add_key`], the key file recording `owner`'s user and host.
    pub fn add_key_as(&self, password: &[u8], kdf: KdfParams, owner: &KeyOwner) -> Result<ObjectId> {
        write_key_file_as(&self.backend, &self.master, password, kdf, owner)
    }

    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = vec![];
        for id in key_ids(&self.backend)? {
            // a planted or damaged file is not a key: it must not hide the real ones
            let kf = match read_key(&self.backend, &id) {
                Ok(kf) => kf,
                Err(e) if matches!(e.kind, Kind::Corrupt | Kind::Unsupported) => {
                    tracing::warn!("skipping unusable key file: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
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
        let path = ObjectKind::Key.path(&id);
        self.backend.delete(&path).ctx_op(Operation::Deleting, path)?;
        Ok(id)
    }

    /// Replace the key in use with one for a new password (the new key is written first).
    pub fn change_password(&mut self, password: &[u8], kdf: KdfParams) -> Result<ObjectId> {
        self.change_password_as(password, kdf, &KeyOwner::default())
    }

    /// [`Self::change_password`], the new key file recording `owner`'s user and host.
    pub fn change_password_as(&mut self, password: &[u8], kdf: KdfParams, owner: &KeyOwner) -> Result<ObjectId> {
        let new = self.add_key_as(password, kdf, owner)?;
        let old = self.key_id;
        let path = ObjectKind::Key.path(&old);
        self.backend.delete(&path).ctx_op(Operation::Deleting, path)?;
        self.key_id = new;
        Ok(new)
    }
}
