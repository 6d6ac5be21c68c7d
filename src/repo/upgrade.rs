//! The steps of a format upgrade (`migrate`, format-spec/v3.md §17.1) that need the keys or
//! `config`: writing in a newer format than `config` names, telling a pack's header version,
//! and storing `config` with the new version last.

use super::{limits, pack_path, LockGuard, Repository, CONFIG_PATH};
use crate::backend::Bytes;
use crate::crypto::Keys;
use crate::error::{Error, Result, ResultExt};
use crate::format::config::Config;
use crate::format::pack::PackEntry;
use crate::id::PackId;

impl Repository {
    /// The keys with writers of format `format` (pack headers, index files, objects).
    pub(in crate::repo) fn keys_as(&self, format: u8) -> Keys {
        let mut keys = self.keys.clone();
        keys.format = format;
        keys
    }

    /// A pack's header (two ranged reads, authenticated) and the format version of its
    /// layout: 3 for a header that commits to its units (format-spec §11.1), else the
    /// repository's. In a version 1 or 2 repository a version 3 header is one a `migrate`
    /// stored (§17.1).
    pub fn read_pack_header_versioned(&self, pack: &PackId, size: u64) -> Result<(u8, Vec<PackEntry>)> {
        let tail = self.read_pack_tail(pack, size)?;
        let header = crate::format::pack::decode_pack_header(&self.keys, &tail, size).ctx_object(pack_path(pack))?;
        let version = if header.commits() { 3 } else { self.config.version };
        Ok((version, header.entries))
    }

    /// Store `config` again with format version `version`, everything else unchanged: the
    /// last write of an upgrade, made when nothing stored needs the old version any more.
    /// `config` is replaced in one write (local storage writes a temporary file and renames
    /// it; object stores replace an object whole), read back and decoded before this value
    /// uses it.
    pub fn store_config_version(&mut self, version: u8, lock: &LockGuard) -> Result<()> {
        if self.previous.is_some() {
            return Err(Error::usage("a key rotation is in progress").hint("finish it first: `arca key rotate`"));
        }
        lock.ensure_fresh()?;
        let config = Config { version, ..self.config.clone() };
        let keys = self.keys_as(version);
        self.backend.write(CONFIG_PATH, Bytes::from(config.encode(&keys))).ctx("writing config")?;
        let stored =
            limits::read_capped(&self.backend, CONFIG_PATH, limits::MAX_CONFIG_LEN).ctx("reading back config")?;
        let decoded = Config::decode(&keys, &stored).ctx("config as written")?;
        if decoded != config {
            return Err(Error::corrupt("config as read back differs from what was written").object(CONFIG_PATH));
        }
        self.keys = keys;
        self.config = decoded;
        Ok(())
    }
}
