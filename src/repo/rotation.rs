//! The key-file and `config` steps of a key rotation (format-spec §22): starting one (a new
//! master secret in a rotation key that also holds the old one and the new `config`) and
//! ending one (`config` and the final key written, every other key removed); and the steps
//! between that need both secrets: telling what is sealed under the new one, sealing a pack
//! again, removing the locks only the old one opens. What to reseal in which order, and the
//! index and snapshots written on the way, is `maintenance::rotate`; the keys stay here.

use super::keys::{key_ids, read_key};
use super::{pack_path, LockGuard, ObjectKind, Repository, CONFIG_PATH};
use crate::backend::Bytes;
use crate::crypto::{Keys, MasterSecret};
use crate::error::{Error, Result, ResultExt};
use crate::format::config::Config;
use crate::format::key::KeyFile;
use crate::format::lock::Lock;
use crate::format::pack::PackEntry;
use crate::format::snapshot::Snapshot;
use crate::id::{storage_hash, ObjectId, PackId, SnapshotId};
use crate::platform;

impl Repository {
    /// Is a key rotation in progress (the key in use holds a previous master secret)?
    pub fn rotation_in_progress(&self) -> bool {
        self.previous.is_some()
    }

    /// The header of a pack sealed under the current master secret; one sealed under the
    /// secret a rotation replaces fails as [`crate::error::Kind::Corrupt`] (format-spec §22).
    pub fn read_pack_header_current(&self, pack: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        self.read_pack_header_with(&self.keys.current_only(), pack, size)
    }

    /// Seal a pack again under the current master secret: it is read whole, checked against
    /// its name and opened under either secret. Returns the new pack's bytes (to be stored
    /// through `store_pack`), its entries, and the old pack's size.
    pub fn reseal_pack(&self, pack: &PackId) -> Result<(Vec<u8>, Vec<PackEntry>, u64)> {
        let path = pack_path(pack);
        let bytes = self.read_pack(pack)?;
        if storage_hash(&bytes) != pack.0 {
            return Err(Error::corrupt(format!("{path}: content does not match its name"))
                .hint("nothing was lost; run `arca check`, `arca repair index`, then `arca key rotate` again"));
        }
        let current = self.keys.current_only();
        let (new, entries) = crate::format::pack::reseal_pack(&self.keys, &current, &bytes).ctx_object(&path)?;
        Ok((new, entries, bytes.len() as u64))
    }

    /// A snapshot and whether it is sealed under the current master secret (else under the
    /// one a rotation replaces).
    pub fn load_snapshot_sealed(&self, id: &SnapshotId) -> Result<(Snapshot, bool)> {
        let bytes = self.read(ObjectKind::Snapshot, &id.as_object())?;
        match Snapshot::decode(&self.keys.current_only(), &bytes) {
            Ok(s) => Ok((s, true)),
            Err(_) => {
                let s = Snapshot::decode(&self.keys, &bytes).ctx_object(ObjectKind::Snapshot.path(&id.as_object()))?;
                Ok((s, false))
            }
        }
    }

    /// Remove the lock files that only the replaced secret opens: stale ones (a rotation holds
    /// the exclusive lock `held`) that would otherwise read as unreadable locks blocking
    /// everyone afterwards. Returns how many.
    pub fn remove_locks_of_previous_secret(&self, held: &LockGuard) -> Result<u64> {
        let current = self.keys.current_only();
        let mut n = 0;
        for id in self.list(ObjectKind::Lock)? {
            if id == held.id() {
                continue;
            }
            let path = ObjectKind::Lock.path(&id);
            let Ok(bytes) = super::limits::read_capped(&self.backend, &path, ObjectKind::Lock.cap()) else {
                continue;
            };
            if Lock::decode(&current, &bytes).is_err() && Lock::decode(&self.keys, &bytes).is_ok() {
                self.delete_file(&path)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Start a rotation: a new master secret, wrapped with `password` in a rotation key
    /// that also carries the current one and the `config` the rotation will write. From
    /// here on everything is sealed under the new secret and opened under either.
    pub fn begin_rotation(&mut self, password: &[u8]) -> Result<ObjectId> {
        if self.previous.is_some() {
            return Err(Error::usage("a key rotation is already in progress"));
        }
        // the key in use keeps its costs, unless they are below the floor for new keys
        let params = read_key(&self.backend, &self.key_id)?.params;
        let params = if params.check_new().is_ok() { params } else { crate::crypto::KdfParams::DEFAULT };
        let new = MasterSecret::generate();
        // the ids and chunk boundaries stay: the new config names the keys in use now
        let bytes = |k: [u8; 32]| Some(serde_bytes::ByteBuf::from(k.to_vec()));
        let config = Config {
            chunker_key: bytes(self.keys.chunker),
            blob_id_key: bytes(self.keys.blob_id),
            tree_id_key: bytes(self.keys.tree_id),
            ..self.config.clone()
        };
        let config_bytes = config.encode(&config.keys(&new, &new, None));
        let meta = (platform::now_rfc3339(), platform::hostname(), platform::username());
        // the marker is sealed under the current seal key: holders of the current secret can
        // tell this rotation from a planted key file (format-spec §22.1)
        let kf = KeyFile::create_rotation(&new, (&self.master, &self.keys.seal), config_bytes, password, params, meta)?;
        let encoded = kf.encode();
        let id = ObjectId(storage_hash(&encoded));
        self.backend.write(&ObjectKind::Key.path(&id), encoded.into()).ctx("writing the rotation key")?;
        let old = std::mem::replace(&mut self.master, new);
        self.keys.previous_seal = Some(self.keys.seal);
        self.keys.seal = Keys::derive(&self.master).seal;
        self.previous = Some(old);
        self.key_id = id;
        Ok(id)
    }

    /// End a rotation whose data is all sealed under the new master secret: store the new
    /// `config` (from the rotation key, checked after writing), then a plain key for
    /// `password`, then remove every other key. Returns the new key and the removed ones.
    pub fn finish_rotation(&mut self, password: &[u8]) -> Result<(ObjectId, Vec<ObjectId>)> {
        if self.previous.is_none() {
            return Err(Error::usage("no key rotation is in progress"));
        }
        let rotation = read_key(&self.backend, &self.key_id)?;
        let config_bytes = rotation.config.as_ref().ok_or_else(|| {
            Error::corrupt(format!("{}: rotation key without a config", ObjectKind::Key.path(&self.key_id)))
        })?;
        let current = self.keys.current_only();
        self.backend.write(CONFIG_PATH, Bytes::copy_from_slice(config_bytes)).ctx("writing config")?;
        let stored = super::limits::read_capped(&self.backend, CONFIG_PATH, super::limits::MAX_CONFIG_LEN)
            .ctx("reading back config")?;
        let config = Config::decode(&current, &stored).ctx("config as written")?;
        let params =
            if rotation.params.check_new().is_ok() { rotation.params } else { crate::crypto::KdfParams::DEFAULT };
        let key = super::keys::write_key_file(&self.backend, &self.master, password, params)?;
        let mut removed = vec![];
        for id in key_ids(&self.backend)? {
            if id != key {
                self.delete(ObjectKind::Key, &id)?;
                removed.push(id);
            }
        }
        self.keys = current;
        self.previous = None;
        self.config = config;
        self.key_id = key;
        Ok((key, removed))
    }
}
