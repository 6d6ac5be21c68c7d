//! `config`: the repository's id, format version and chunker and pack parameters. Sealed
//! object of kind Config holding CBOR.

use serde::{Deserialize, Serialize};

use crate::chunker::ChunkerParams;
use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{Keys, SealKind};
use crate::error::{Error, Kind, Result};
use crate::id::RepoId;

use super::{object, FORMAT_VERSION};

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
}

impl Config {
    pub const DEFAULT_PACK_SIZE: u32 = 16 * 1024 * 1024;

    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        object::encode(keys, SealKind::Config, &to_cbor(self))
    }

    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self> {
        let c: Config = from_cbor(&object::decode(keys, SealKind::Config, bytes)?)?;
        if c.version != FORMAT_VERSION {
            return Err(Error::new(
                Kind::Unsupported,
                format!("repository format version {} is not supported", c.version),
            ));
        }
        c.chunker.validate()?;
        if c.chunker_key.as_ref().is_some_and(|k| k.len() != 32) {
            return Err(Error::corrupt("config: chunker_key is not 32 bytes"));
        }
        if !(1024 * 1024..=1024 * 1024 * 1024).contains(&c.pack_size) {
            return Err(Error::corrupt(format!("pack size {} out of range", c.pack_size)));
        }
        Ok(c)
    }
}
