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
}

impl Lock {
    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode(keys, SealKind::Lock, &to_cbor(self))
    }

    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        from_cbor(&object::decode(keys, SealKind::Lock, bytes)?)
    }
}
