//! `locks/<id>`: who holds what kind of lock since when. Sealed object of kind Lock, CBOR.

use serde::{Deserialize, Serialize};

use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{Keys, SealKind};
use crate::error::Result;

use super::object;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// RFC 3339 time the lock was created or last refreshed.
    pub time: String,
    pub exclusive: bool,
    pub hostname: String,
    pub username: String,
    pub pid: u32,
    /// The command holding it ("backup", "prune", ...).
    pub command: String,
    /// RFC 3339 time the lock was first taken; kept across refreshes. Absent in locks of
    /// older writers: then `time`. Prune compares it with the time packs were marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// Held by a maintenance command (two-phase prune): shared with backups, but two
    /// maintenance locks exclude each other.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maintenance: bool,
}

/// How a lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Backup, restore, check, forget: any number at once.
    Shared,
    /// Two-phase prune: with shared locks, but not with another maintenance lock.
    Maintenance,
    /// Alone: repair, `prune --instant-delete`, `key remove`.
    Exclusive,
}

impl Lock {
    pub fn mode(&self) -> LockMode {
        if self.exclusive {
            LockMode::Exclusive
        } else if self.maintenance {
            LockMode::Maintenance
        } else {
            LockMode::Shared
        }
    }

    /// When the holder took it (`started`, else `time`).
    pub fn started_at(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        chrono::DateTime::parse_from_rfc3339(self.started.as_deref().unwrap_or(&self.time)).ok()
    }

    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode(keys, SealKind::Lock, &to_cbor(self))
    }

    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        from_cbor(&object::decode(keys, SealKind::Lock, bytes)?)
    }
}
