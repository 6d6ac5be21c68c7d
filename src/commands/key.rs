//! `arca key add|list|remove|passwd`.

use crate::crypto::KdfParams;
use crate::error::Result;
use crate::id::ObjectId;
use crate::repo::{KeyInfo, KeyOwner, Repository};

pub fn list(repo: &Repository) -> Result<Vec<KeyInfo>> {
    repo.list_keys()
}

/// One key as `key list --json` prints it: restic's shape (`current`, the short `id`,
/// `userName`, `hostName`, `created`), so a script written for restic reads it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedKey {
    pub current: bool,
    #[serde(serialize_with = "crate::id::serialize_short")]
    pub id: ObjectId,
    #[serde(rename = "userName")]
    pub user_name: String,
    #[serde(rename = "hostName")]
    pub host_name: String,
    pub created: String,
}

impl From<&KeyInfo> for ListedKey {
    fn from(k: &KeyInfo) -> Self {
        ListedKey {
            current: k.current,
            id: k.id,
            user_name: k.username.clone(),
            host_name: k.hostname.clone(),
            created: k.created.clone(),
        }
    }
}

/// A new key for `new_password`, recording `owner`'s user and host (default: this user and host).
pub fn add(repo: &Repository, new_password: &[u8], kdf: KdfParams, owner: &KeyOwner) -> Result<ObjectId> {
    repo.add_key_as(new_password, kdf, owner)
}

pub fn remove(repo: &Repository, id: &str) -> Result<ObjectId> {
    let _lock = repo.lock("key remove", crate::repo::LockMode::Exclusive)?;
    repo.remove_key(id)
}

pub fn passwd(repo: &mut Repository, new_password: &[u8], kdf: KdfParams, owner: &KeyOwner) -> Result<ObjectId> {
    repo.change_password_as(new_password, kdf, owner)
}

/// `arca key rotate`: a new master secret, everything sealed again under it (format-spec §22;
/// the engine takes the exclusive lock itself, since it re-checks it between packs).
pub fn rotate(
    repo: &mut Repository,
    password: &[u8],
    new_password: Option<&[u8]>,
    log: &dyn Fn(String),
    meter: &dyn crate::util::progress::Meter,
) -> Result<crate::maintenance::rotate::RotateStats> {
    crate::maintenance::rotate::rotate_metered(repo, password, new_password, log, meter)
}
