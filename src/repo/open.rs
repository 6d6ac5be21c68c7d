//! Creating and opening a repository: `init` writes a key file and `config`; `open` reads
//! `config` (size-capped) and tries the key files with a password (format-spec §8, §22);
//! the `with_*` settings say how this opened value locks and caches.

use std::sync::{Arc, RwLock};

use super::{commit, keys, limits, lock, Repository, CONFIG_PATH};
use crate::backend::DynBackend;
use crate::cache::Cache;
use crate::chunker::{Chunker, ChunkerParams};
use crate::crypto::{KdfParams, Keys, MasterSecret};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::config::Config;
use crate::format::raw_key::RawKey;
use crate::format::FORMAT_VERSION;
use crate::id::{ObjectId, RepoId};
use crate::util::sync::IgnorePoison;

/// Options for a new repository.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub chunker: ChunkerParams,
    pub pack_size: u32,
    pub kdf: KdfParams,
    /// Another repository's gear-table key (`init --copy-chunker-params`); `None` derives one
    /// from the new master secret.
    pub chunker_key: Option<[u8; 32]>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chunker: ChunkerParams::DEFAULT,
            pack_size: Config::DEFAULT_PACK_SIZE,
            kdf: KdfParams::DEFAULT,
            chunker_key: None,
        }
    }
}

impl Repository {
    /// Create a repository at an empty location.
    pub fn init(backend: DynBackend, password: &[u8], opts: &InitOptions) -> Result<Repository> {
        super::refuse_init_over(&backend)?;
        opts.chunker.validate().map_err(|e| Error::usage(e.message))?;
        let master = MasterSecret::generate();
        let keys = Keys::derive(&master);
        let config = Config {
            version: FORMAT_VERSION,
            id: RepoId(crate::crypto::random_bytes()),
            chunker: opts.chunker,
            pack_size: opts.pack_size,
            chunker_key: opts.chunker_key.map(|k| serde_bytes::ByteBuf::from(k.to_vec())),
            blob_id_key: None,
            tree_id_key: None,
        };
        let key_id = keys::write_key_file(&backend, &master, password, opts.kdf)?;
        backend.write(CONFIG_PATH, config.encode(&keys).into()).ctx("writing config")?;
        let keys = config.keys(&master, &master, None);
        Self::assemble(backend, keys, master, config, key_id, None)
    }

    pub(super) fn assemble(
        backend: DynBackend,
        keys: Keys,
        master: MasterSecret,
        config: Config,
        key_id: ObjectId,
        previous: Option<MasterSecret>,
    ) -> Result<Repository> {
        let chunker = Arc::new(Chunker::new(&keys.chunker, config.chunker)?);
        Ok(Repository {
            backend,
            keys,
            master,
            previous,
            config,
            chunker,
            index: RwLock::new(None),
            cache: None,
            key_id,
            lock_retry: Default::default(),
            lock_refresh: lock::REFRESH_EVERY,
            lock_trust: None,
            damaged_packs: Default::default(),
            absent_packs: Default::default(),
            groups: Default::default(),
            instance: commit::next_instance(),
            pending: Default::default(),
            no_lock: false,
            pack_target: None,
        })
    }

    /// Open with a password: tries every key file (format-spec §8, §22).
    pub fn open(backend: DynBackend, password: &[u8]) -> Result<Repository> {
        Self::open_with_hint(backend, password, None)
    }

    /// [`Self::open`], trying the key file `hint` first (the one that opened last time, as
    /// remembered outside the repository): a hint only changes the order keys are tried in.
    pub fn open_with_hint(backend: DynBackend, password: &[u8], hint: Option<ObjectId>) -> Result<Repository> {
        let config = read_config(&backend)?;
        let u = keys::unlock(&backend, password, config, hint)?;
        Self::assemble(backend, u.keys, u.master, u.config, u.key_id, u.previous)
    }

    /// Open with an unwrapped key kept outside the repository (the key cache, a raw key
    /// file): no key file is opened and no Argon2id runs. The key is used only once `config`
    /// decodes under it (authenticated) and carries its repository id (format-spec §18.9).
    pub fn open_with_raw_key(backend: DynBackend, raw: &RawKey) -> Result<Repository> {
        let config = read_config(&backend)?;
        let u = keys::unlock_raw(&backend, config, raw)?;
        Self::assemble(backend, u.keys, u.master, u.config, u.key_id, u.previous)
    }

    /// This repository's unwrapped key, for the key cache and `key export-raw`.
    pub fn raw_key(&self) -> RawKey {
        RawKey {
            repo_id: self.config.id,
            key_id: self.key_id,
            master: self.master.clone(),
            previous: self.previous.clone(),
        }
    }

    /// Use the local cache of this repository under `root` (index files, snapshots, tree
    /// packs, the blob index table), authenticated under a key derived from the master
    /// secret; a cache directory that fails its ownership and mode checks is not used.
    pub fn with_cache_at(mut self, root: &std::path::Path) -> Self {
        self.cache = Cache::open(root, &self.config.id, self.keys.cache_mac);
        self
    }

    /// Keep retrying for this long when the repository is locked (`--retry-lock`).
    pub fn with_lock_retry(mut self, d: std::time::Duration) -> Self {
        self.lock_retry = d;
        self
    }

    /// Refresh held locks this often (default 5 minutes; tests use less).
    pub fn with_lock_refresh(mut self, d: std::time::Duration) -> Self {
        self.lock_refresh = d.max(std::time::Duration::from_millis(10));
        self
    }

    /// Trust a held lock for this long without a successful refresh (default: three refresh
    /// intervals). Tests that only check that refreshing happens widen it, so a slow machine
    /// does not turn a late refresh into a failure.
    pub fn with_lock_trust(mut self, d: std::time::Duration) -> Self {
        self.lock_trust = Some(d);
        self
    }

    /// Read everything from storage (check must see what is stored, not a good cached copy).
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        *self.index.get_mut().ignore_poison() = None;
        self
    }
}

/// The stored `config` (size-capped, its header checked), or why it can't be used: missing
/// beside other repository files or damaged (a rotation key's copy may still stand in), or
/// an error that stops opening here.
fn read_config(backend: &DynBackend) -> Result<std::result::Result<Vec<u8>, Error>> {
    let config_bytes = match limits::read_capped(backend, CONFIG_PATH, limits::MAX_CONFIG_LEN) {
        Ok(b) => Ok(b),
        // missing beside other repository files: damaged, not absent (a rotation key's
        // copy may still stand in)
        Err(e) if e.kind == Kind::NotFound => Err(super::missing_config(backend)),
        // an oversized config is damage like any other: a rotation key's copy may stand in
        Err(e) if e.kind == Kind::Corrupt => Err(super::repair_config::config_damaged(e, &backend.location())),
        Err(e) => return Err(e),
    };
    Ok(config_bytes.and_then(|b| {
        crate::format::object::check_header(&b, crate::crypto::SealKind::Config)
            .ctx_object("config")
            .map_err(|e| super::repair_config::config_damaged(e, &backend.location()))?;
        Ok(b)
    }))
}
