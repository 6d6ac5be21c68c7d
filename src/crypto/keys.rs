//! One random 32-byte master secret per repository; every key arca uses derives from it with
//! BLAKE3 `derive_key` under a distinct context string, so keys for different purposes are
//! independent and none reveals another.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::seal::{open, Aad};
use crate::error::Result;
use crate::id::BlobId;

/// The repository's master secret. Never stored unwrapped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSecret(pub [u8; 32]);

impl MasterSecret {
    pub fn generate() -> Self {
        MasterSecret(super::random_bytes())
    }
}

pub const CONTEXT_SEAL: &str = "arca v1 2026-11-22 seal key";
pub const CONTEXT_BLOB_ID: &str = "arca v1 2026-11-22 blob id key";
pub const CONTEXT_CHUNKER: &str = "arca v1 2026-11-22 chunker gear key";
pub const CONTEXT_TREE_ID: &str = "arca v1 2026-11-22 tree id key";
/// The key of the MACs over local cache files that decide what is written, pruned or copied
/// (format-spec §18.5). Never leaves this machine; changes with the master secret.
pub const CONTEXT_CACHE_MAC: &str = "arca v1 2026-12-07 local cache mac key";

/// The newest repository format version (`format::FORMAT_VERSION` names it there): what keys
/// derived without a `config` write.
pub const NEWEST_FORMAT: u8 = 4;

/// The subkeys of one repository.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Keys {
    /// XChaCha20-Poly1305 key for every sealed blob and object.
    pub seal: [u8; 32],
    /// Key of the keyed BLAKE3 that names data blobs.
    pub blob_id: [u8; 32],
    /// Key of the keyed BLAKE3 that names tree blobs: a separate key, so a data blob and a
    /// tree blob can never share an id even when their plaintexts are equal.
    pub tree_id: [u8; 32],
    /// Seed of the chunker's gear table.
    pub chunker: [u8; 32],
    /// Key of the keyed BLAKE3 MACs that authenticate the local cache's blob index table and
    /// copy map (format-spec §18.5).
    pub cache_mac: [u8; 32],
    /// While a key rotation runs (format-spec §22): the seal key of the master secret being
    /// replaced. Everything is sealed under `seal`; opening falls back to this one.
    pub previous_seal: Option<[u8; 32]>,
    /// The repository's format version: what stored objects, pack headers and index files
    /// are written as (format-spec §17). Not a secret; kept here because every codec that
    /// needs it takes the keys.
    pub format: u8,
}

impl Keys {
    pub fn derive(master: &MasterSecret) -> Self {
        Keys {
            seal: blake3::derive_key(CONTEXT_SEAL, &master.0),
            blob_id: blake3::derive_key(CONTEXT_BLOB_ID, &master.0),
            tree_id: blake3::derive_key(CONTEXT_TREE_ID, &master.0),
            chunker: blake3::derive_key(CONTEXT_CHUNKER, &master.0),
            cache_mac: blake3::derive_key(CONTEXT_CACHE_MAC, &master.0),
            previous_seal: None,
            format: NEWEST_FORMAT,
        }
    }

    /// Open something sealed under the seal key or, during a key rotation, under the
    /// previous one. A failure is reported as the current key's failure.
    pub fn open(&self, aad: &Aad, sealed: &[u8]) -> Result<(u8, Vec<u8>)> {
        match open(&self.seal, aad, sealed) {
            Err(e) => match &self.previous_seal {
                Some(previous) => open(previous, aad, sealed).map_err(|_| e),
                None => Err(e),
            },
            ok => ok,
        }
    }

    /// These keys without the previous seal key: opens only what is sealed under `seal`.
    pub fn current_only(&self) -> Keys {
        let mut k = self.clone();
        k.previous_seal = None;
        k
    }

    /// A data blob's id: keyed BLAKE3 of its plaintext.
    pub fn blob_id(&self, plaintext: &[u8]) -> BlobId {
        BlobId(*blake3::keyed_hash(&self.blob_id, plaintext).as_bytes())
    }

    /// A tree blob's id: keyed BLAKE3 of its plaintext under the tree id key.
    pub fn tree_id(&self, plaintext: &[u8]) -> BlobId {
        BlobId(*blake3::keyed_hash(&self.tree_id, plaintext).as_bytes())
    }
}
