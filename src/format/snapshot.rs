//! `snapshots/<id>`: one backup. Sealed object of kind Snapshot holding CBOR; field names
//! follow restic's JSON so `cat snapshot` and `snapshots --json` read the same.

use serde::{Deserialize, Serialize};

use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{Keys, SealKind};
use crate::error::Result;
use crate::id::{SnapshotId, TreeId};

use super::object;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub backup_start: String,
    pub backup_end: String,
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unmodified: u64,
    pub dirs_new: u64,
    pub dirs_changed: u64,
    pub dirs_unmodified: u64,
    pub data_blobs: u64,
    pub tree_blobs: u64,
    /// Plaintext bytes of new blobs.
    pub data_added: u64,
    /// Bytes of new blobs as stored (compressed, sealed, padded).
    pub data_added_packed: u64,
    pub total_files_processed: u64,
    pub total_bytes_processed: u64,
    /// Sources that could not be read (the snapshot is incomplete by that much).
    pub errors: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// RFC 3339 with nanoseconds and offset.
    pub time: String,
    pub tree: TreeId,
    pub paths: Vec<String>,
    pub hostname: String,
    pub username: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub parent: Option<SnapshotId>,
    #[serde(default)]
    pub excludes: Vec<String>,
    pub program_version: String,
    #[serde(default)]
    pub summary: Option<Summary>,
    /// The snapshot this one replaces (written by `repair snapshots`, `tag`, `rewrite`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<SnapshotId>,
    /// Made from a change list (`backup --changed-paths`): how many paths it named. Absent for
    /// a full walk (format-spec §14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_list: Option<u64>,
}

impl Snapshot {
    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode(keys, SealKind::Snapshot, &to_cbor(self))
    }

    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        from_cbor(&object::decode(keys, SealKind::Snapshot, bytes)?)
    }

    pub fn timestamp(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        chrono::DateTime::parse_from_rfc3339(&self.time).ok()
    }
}
