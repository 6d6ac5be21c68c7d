//! `config`: the repository's id, format version and chunker and pack parameters. Sealed
//! object of kind Config holding CBOR.

use serde::{Deserialize, Serialize};

use crate::chunker::ChunkerParams;
use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{Keys, MasterSecret, SealKind};
use crate::error::{Error, Kind, Result};
use crate::id::RepoId;

use super::{object, READ_VERSIONS};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub version: u8,
    pub id: RepoId,
    pub chunker: ChunkerParams,
    /// Target size of pack files in bytes.
    pub pack_size: u32,
    /// The chunker's gear-table key when it is not derived from the master secret: written by
    /// `init --copy-chunker-params`, so that this repository cuts the same chunks as the one
    /// it was copied from (format-spec §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunker_key: Option<serde_bytes::ByteBuf>,
    /// The keys naming data and tree blobs when they are not derived from the master secret:
    /// written by `key rotate`, which replaces the master secret but keeps every blob id
    /// (format-spec §7, §22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_id_key: Option<serde_bytes::ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_id_key: Option<serde_bytes::ByteBuf>,
}

impl Config {
    pub const DEFAULT_PACK_SIZE: u32 = 16 * 1024 * 1024;

    /// The keys this repository uses: the seal key of `seal_master` (and of `previous`
    /// while a key rotation runs), and the id and chunker keys this config names or else
    /// those derived from `config_master`, the master secret this config is sealed under.
    pub fn keys(
        &self,
        seal_master: &MasterSecret,
        config_master: &MasterSecret,
        previous: Option<&MasterSecret>,
    ) -> Keys {
        let derived = Keys::derive(config_master);
        let pick = |named: &Option<serde_bytes::ByteBuf>, default: [u8; 32]| {
            named.as_ref().and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok()).unwrap_or(default)
        };
        let mut keys = Keys::derive(seal_master);
        keys.blob_id = pick(&self.blob_id_key, derived.blob_id);
        keys.tree_id = pick(&self.tree_id_key, derived.tree_id);
        keys.chunker = pick(&self.chunker_key, derived.chunker);
        keys.previous_seal = previous.map(|p| Keys::derive(p).seal);
        keys.format = self.version;
        keys
    }

    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode_as(self.version, keys, SealKind::Config, &to_cbor(self))
    }

    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        let c: Config = from_cbor(&object::decode(keys, SealKind::Config, bytes)?)?;
        if !READ_VERSIONS.contains(&c.version) {
            return Err(Error::new(
                Kind::Unsupported,
                format!("repository format version {} is not supported", c.version),
            ));
        }
        c.chunker.validate()?;
        for (name, key) in
            [("chunker_key", &c.chunker_key), ("blob_id_key", &c.blob_id_key), ("tree_id_key", &c.tree_id_key)]
        {
            if key.as_ref().is_some_and(|k| k.len() != 32) {
                return Err(Error::corrupt(format!("config: {name} is not 32 bytes")));
            }
        }
        if !(1024 * 1024..=1024 * 1024 * 1024).contains(&c.pack_size) {
            return Err(Error::corrupt(format!("pack size {} out of range", c.pack_size)));
        }
        Ok(c)
    }
}
