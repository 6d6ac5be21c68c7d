//! The repository: the only place where storage, crypto and format meet. Opening unwraps
//! the master secret with a password, reads `config`, and loads the index on demand.
//!
//! Everything written goes through here, in the order packs → index → snapshot, so a crash
//! at any instant leaves a valid repository. The order is kept by types (`repo/commit.rs`):
//! packs and index files each have one road to storage (`Repository::store_pack`,
//! `Repository::store_index`), and [`Repository::save_snapshot`] takes an [`IndexFlushed`]
//! (from [`BlobSaver::finish`] or [`Repository::nothing_pending`]) and the [`LockGuard`] it
//! commits under, whose freshness it checks itself.

mod blob_index;
mod buffer_pool;
mod commit;
mod group_cache;
mod in_flight;
mod index_writer;
mod keys;
pub mod limits;
mod lock;
mod pack_copier;
mod recent_blobs;
mod rotation;
mod saver;
pub mod stage_clock;

use std::collections::HashSet;
use std::sync::{Arc, RwLock, RwLockReadGuard};

pub use blob_index::{BlobIndex, Location as BlobLocation};
pub use commit::IndexFlushed;
pub use index_writer::IndexWriter;
pub use keys::KeyInfo;
pub use lock::{is_stale as lock_is_stale, LockGuard, LockMode};
pub use pack_copier::PackCopier;
pub use saver::{BlobSaver, SaveStats, SaveSummary};

use crate::backend::DynBackend;
use crate::cache::Cache;
use crate::chunker::{Chunker, ChunkerParams};
use crate::crypto::{KdfParams, Keys, MasterSecret};
use crate::error::{Error, Kind, Operation, Result, ResultExt};
use crate::format::config::Config;
use crate::format::index::IndexFile;
use crate::format::pack::{open_blob, open_unit};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{ContentList, Node, Tree};
use crate::format::{BlobType, FORMAT_VERSION};
use crate::id::{storage_hash, BlobId, ObjectId, PackId, RepoId, SnapshotId, TreeId};
use crate::util::sync::IgnorePoison;

pub const CONFIG_PATH: &str = "config";

pub fn pack_path(id: &PackId) -> String {
    let h = id.to_hex();
    format!("data/{}/{}", &h[..2], h)
}

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

pub struct Repository {
    backend: DynBackend,
    keys: Keys,
    master: MasterSecret,
    /// The master secret a key rotation in progress replaces (format-spec §22).
    previous: Option<MasterSecret>,
    config: Config,
    chunker: Arc<Chunker>,
    index: RwLock<Option<BlobIndex>>,
    cache: Option<Cache>,
    key_id: ObjectId,
    /// How long `lock` keeps retrying a locked repository.
    lock_retry: std::time::Duration,
    /// How often a held lock is rewritten (tests shorten it).
    lock_refresh: std::time::Duration,
    /// How long a holder trusts its lock without a successful rewrite; `None` means
    /// [`lock::TRUST_REFRESHES`] refresh intervals.
    lock_trust: Option<std::time::Duration>,
    /// Tree packs found damaged (content not matching the name) in this process: their
    /// blobs are read one by one, each proven by its own authentication.
    damaged_packs: std::sync::Mutex<HashSet<PackId>>,
    /// Indexed packs the last `data/` listing did not hold ([`Self::adopt_unindexed_packs`]).
    absent_packs: RwLock<HashSet<PackId>>,
    /// Groups opened lately by single-blob reads.
    groups: group_cache::GroupCache,
    /// This opened value's number: proofs and locks made for it name it ([`commit`]).
    instance: u64,
    /// Pack writers open and packs stored but not yet indexed ([`Self::nothing_pending`]).
    pending: commit::Pending,
}

impl Repository {
    /// Create a repository at an empty location.
    pub fn init(backend: DynBackend, password: &[u8], opts: &InitOptions) -> Result<Repository> {
        if backend.stat(CONFIG_PATH)?.is_some() {
            return Err(Error::usage(format!("a repository already exists at {}", backend.location())));
        }
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

    /// The key of the chunker's gear table: the config's when it names one, else derived
    /// from the master secret. Two repositories with the same key and chunker parameters cut
    /// identical chunks.
    pub fn chunker_key(&self) -> [u8; 32] {
        self.keys.chunker
    }

    fn assemble(
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
        })
    }

    /// Open with a password: tries every key file (format-spec §8, §22).
    pub fn open(backend: DynBackend, password: &[u8]) -> Result<Repository> {
        Self::open_with_hint(backend, password, None)
    }

    /// [`Self::open`], trying the key file `hint` first (the one that opened last time, as
    /// remembered outside the repository): a hint only changes the order keys are tried in.
    pub fn open_with_hint(backend: DynBackend, password: &[u8], hint: Option<ObjectId>) -> Result<Repository> {
        let config_bytes = match limits::read_capped(&backend, CONFIG_PATH, limits::MAX_CONFIG_LEN) {
            Ok(b) => Ok(b),
            Err(e) if e.kind == Kind::NotFound => {
                Err(Error::new(Kind::NoRepository, format!("no repository at {}", backend.location()))
                    .object(backend.location())
                    .operation(Operation::Opening)
                    .hint("create one with `arca init`, or check -r/--repo and ARCA_REPOSITORY"))
            }
            // an oversized config is damage like any other: a rotation key's copy may stand in
            Err(e) if e.kind == Kind::Corrupt => Err(e),
            Err(e) => return Err(e),
        };
        let config = config_bytes.and_then(|b| {
            crate::format::object::check_header(&b, crate::crypto::SealKind::Config).ctx_object("config")?;
            Ok(b)
        });
        let u = keys::unlock(&backend, password, config, hint)?;
        Self::assemble(backend, u.keys, u.master, u.config, u.key_id, u.previous)
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

    pub fn backend(&self) -> &DynBackend {
        &self.backend
    }
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn chunker(&self) -> &Arc<Chunker> {
        &self.chunker
    }
    pub fn key_id(&self) -> ObjectId {
        self.key_id
    }

    /// Read a content-addressed object (index, snapshot), from the cache when present, and
    /// verify that its bytes hash to its name.
    pub fn read_object(&self, dir: &str, id: &ObjectId) -> Result<Vec<u8>> {
        self.read_object_sized(dir, id, None)
    }

    /// [`Self::read_object`] with the size a listing gave (else the size is asked first):
    /// either way a file larger than its kind's cap is refused unread ([`limits`]).
    fn read_object_sized(&self, dir: &str, id: &ObjectId, listed_size: Option<u64>) -> Result<Vec<u8>> {
        let path = format!("{dir}/{id}");
        if let Some(c) = &self.cache {
            if let Some(b) = c.get(&path) {
                if storage_hash(&b) == id.0 {
                    return Ok(b);
                }
            }
        }
        // a listing that gives no sizes says 0 (no object is empty): then ask
        let bytes = match listed_size.filter(|s| *s > 0) {
            Some(size) => limits::read_listed(&self.backend, &path, size, limits::cap_for(dir))?,
            None => limits::read_capped(&self.backend, &path, limits::cap_for(dir))?,
        };
        if storage_hash(&bytes) != id.0 {
            return Err(Error::corrupt(format!("{path}: content does not match its name")).object(&path));
        }
        if let Some(c) = &self.cache {
            c.put(&path, &bytes);
        }
        Ok(bytes)
    }

    /// The packs stored under `data/` with their sizes (files at non-canonical paths ignored).
    pub fn stored_packs(&self) -> Result<Vec<(PackId, u64)>> {
        let entries = self.backend.list("data/").ctx("listing data")?;
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let id = PackId::from_hex(e.path.rsplit('/').next()?)?;
                (pack_path(&id) == e.path).then_some((id, e.size))
            })
            .collect())
    }

    /// Ids of the objects in `dir` (names that are not 64 hex digits are ignored).
    pub fn list_objects(&self, dir: &str) -> Result<Vec<ObjectId>> {
        Ok(self.list_objects_sized(dir)?.into_iter().map(|(id, _)| id).collect())
    }

    /// [`Self::list_objects`] with each file's size as listed.
    pub(crate) fn list_objects_sized(&self, dir: &str) -> Result<Vec<(ObjectId, u64)>> {
        let entries = self.backend.list(&format!("{dir}/")).ctx_op(Operation::Listing, dir)?;
        // only canonical names (64 lowercase hex digits) are objects; anything else is ignored
        Ok(entries
            .iter()
            .filter_map(|e| {
                let name = e.path.rsplit('/').next()?;
                ObjectId::from_hex(name).filter(|id| id.to_hex() == name).map(|id| (id, e.size))
            })
            .collect())
    }

    // ---- index ----

    /// Load the index if it isn't loaded yet.
    pub fn load_index(&self) -> Result<()> {
        if self.index.read().map_err(poisoned)?.is_some() {
            return Ok(());
        }
        self.load_index_listed().map(|_| ())
    }

    /// Drop the loaded index and load it again from the files `index/` lists now; returns
    /// the ids of every listed index file (superseded ones included).
    pub fn reload_index(&self) -> Result<Vec<ObjectId>> {
        *self.index.write().map_err(poisoned)? = None;
        self.load_index_listed()
    }

    /// Forget the loaded index; the next use loads it again (after prune or repair replaced
    /// the index files).
    pub fn unload_index(&self) -> Result<()> {
        *self.index.write().map_err(poisoned)? = None;
        Ok(())
    }

    /// Load from a fresh listing. A concurrent prune may delete superseded index files
    /// between our listing and our reads; then the listing is taken again (its replacement
    /// files were stored before the deletion, so the new listing has them).
    fn load_index_listed(&self) -> Result<Vec<ObjectId>> {
        let mut attempt = 0;
        loop {
            match self.load_index_once() {
                Err(e) if e.kind == Kind::NotFound && attempt < 8 => {
                    attempt += 1;
                    tracing::debug!("index changed while loading ({}); listing again", e.message);
                    // a prune deleting superseded files one by one: give it a moment to finish
                    std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
                }
                r => return r,
            }
        }
    }

    fn load_index_once(&self) -> Result<Vec<ObjectId>> {
        let mut sized = self.list_objects_sized("index")?;
        sized.sort();
        let ids: Vec<ObjectId> = sized.iter().map(|(id, _)| *id).collect();
        let listed = ids.clone();
        let mut h = blake3::Hasher::new();
        for id in &ids {
            h.update(&id.0);
        }
        let set_hash = *h.finalize().as_bytes();
        let cached =
            self.cache.as_ref().and_then(|c| c.index_table()).and_then(|t| BlobIndex::from_table(t, &set_hash));
        let idx = match cached {
            Some(idx) => idx,
            None => {
                // one decoded file at a time: the table is the only large allocation
                let mut b = blob_index::IndexBuilder::default();
                for (id, size) in sized {
                    let bytes = self.read_object_sized("index", &id, Some(size))?;
                    b.add(Some(id), &IndexFile::decode(&self.keys, &bytes).ctx_object(format!("index/{id}"))?);
                }
                if let Some(c) = &self.cache {
                    c.retain_dir("index", &b.current_files());
                }
                let idx = b.finish();
                if let Some(c) = &self.cache {
                    c.put_index_table(&|w| idx.write_table(&set_hash, w));
                }
                idx
            }
        };
        *self.index.write().map_err(poisoned)? = Some(idx);
        Ok(listed)
    }

    /// The loaded index (loads it first if needed).
    pub fn index(&self) -> Result<IndexRef<'_>> {
        self.load_index()?;
        Ok(IndexRef(self.index.read().map_err(poisoned)?))
    }

    /// Read and authenticate a pack's header (two ranged reads: trailer, then header).
    pub fn read_pack_header(&self, pack: &PackId, size: u64) -> Result<Vec<crate::format::pack::PackEntry>> {
        self.read_pack_header_with(&self.keys, pack, size)
    }

    /// [`Self::read_pack_header`] under the given keys.
    pub fn read_pack_header_with(
        &self,
        keys: &Keys,
        pack: &PackId,
        size: u64,
    ) -> Result<Vec<crate::format::pack::PackEntry>> {
        let tail = self.read_pack_tail(pack, size)?;
        crate::format::pack::decode_header(keys, &tail, size).ctx_object(pack_path(pack))
    }

    /// A pack's sealed header and trailer, unauthenticated (two ranged reads: trailer, then
    /// header); [`crate::format::pack::decode_pack_header`] authenticates it.
    pub fn read_pack_tail(&self, pack: &PackId, size: u64) -> Result<Vec<u8>> {
        use crate::format::pack::{header_len_from_trailer, TRAILER_LEN};
        let path = pack_path(pack);
        let trailer_len = TRAILER_LEN as u64;
        if size < trailer_len {
            return Err(Error::corrupt(format!("{path}: shorter than its trailer")).object(&path));
        }
        let trailer =
            self.backend.read_range(&path, size - trailer_len, trailer_len).ctx_op(Operation::Reading, &path)?;
        let hlen = header_len_from_trailer(&trailer, size).ctx_object(&path)? as u64;
        self.backend.read_range(&path, size - hlen - trailer_len, hlen + trailer_len).ctx_op(Operation::Reading, &path)
    }

    /// A whole pack, as stored (not yet checked against its name): its size is asked first
    /// and a file larger than any pack this repository's writers make is refused before a
    /// byte is read (`limits::max_pack_len`), so a planted file of many gigabytes costs one
    /// request, not the memory to hold it.
    pub fn read_pack(&self, pack: &PackId) -> Result<Vec<u8>> {
        limits::read_capped(&self.backend, &pack_path(pack), limits::max_pack_len(self.config.pack_size))
    }

    /// [`read_pack`](Self::read_pack) with the size a listing gave, saving the request that
    /// asks for it.
    pub fn read_pack_listed(&self, pack: &PackId, size: u64) -> Result<Vec<u8>> {
        limits::read_listed(&self.backend, &pack_path(pack), size, limits::max_pack_len(self.config.pack_size))
    }

    /// Download a whole pack and verify it against its name and its header: its bytes hash
    /// to its id, and every unit is the one its header commits to (format 3) or opens and
    /// holds the blobs its header lists (formats 1 and 2). Returns its entries; an error names
    /// the first thing that does not match.
    pub fn verify_pack(&self, pack: &PackId) -> Result<Vec<crate::format::pack::PackEntry>> {
        let path = pack_path(pack);
        let bytes = self.read_pack(pack)?;
        if storage_hash(&bytes) != pack.0 {
            return Err(Error::corrupt(format!("{path}: content does not match its name")).object(&path));
        }
        let problems = crate::format::pack::verify_pack_bytes(&self.keys, &bytes).ctx_object(&path)?;
        match problems.1.first() {
            None => Ok(problems.0.entries),
            Some(p) => {
                Err(Error::corrupt(format!("{path}: {p} ({} unit(s) do not match its header)", problems.1.len()))
                    .object(&path))
            }
        }
    }

    /// Index the packs that no index file names: those of a backup that was interrupted
    /// after uploading them. Each is downloaded whole and verified against its name and its
    /// header first ([`Self::verify_pack`]): a header copied onto other bytes by someone who
    /// can only add files is never adopted. The blobs of those that pass become usable again
    /// (so the next backup does not upload them twice), and an index file records them unless
    /// `dry_run`. Packs that an index names as marked for deletion are never adopted. Indexed
    /// packs missing from the `data/` listing are remembered as absent: deduplication does
    /// not count blobs stored only there ([`Self::blob_stored`]). Returns the adopted packs.
    pub fn adopt_unindexed_packs(&self, dry_run: bool) -> Result<Vec<PackId>> {
        self.load_index()?;
        let known: std::collections::HashSet<PackId> = self.index()?.packs().iter().copied().collect();
        let stored = self.stored_packs()?;
        let listed: HashSet<PackId> = stored.iter().map(|(id, _)| *id).collect();
        if let Ok(mut absent) = self.absent_packs.write() {
            *absent = known.iter().filter(|p| !listed.contains(p)).copied().collect();
        }
        let mut adopted = IndexFile::default();
        for (id, _size) in stored {
            if known.contains(&id) {
                continue;
            }
            match self.verify_pack(&id) {
                Ok(blobs) => {
                    self.index_add_pack(id, &blobs)?;
                    adopted.packs.push(crate::format::index::IndexPack { id, blobs });
                }
                Err(err) => tracing::warn!("not reusing {}: {err}", pack_path(&id)),
            }
        }
        let n = adopted.packs.len();
        if n > 0 && !dry_run {
            self.store_index(&adopted)?;
            tracing::info!("indexed {n} pack(s) left by an interrupted backup");
        }
        Ok(adopted.packs.iter().map(|p| p.id).collect())
    }

    /// Delete a stored file and its cached copy.
    pub fn delete_file(&self, path: &str) -> Result<()> {
        match self.backend.delete(path) {
            Ok(()) => {}
            Err(e) if e.kind == crate::backend::BackendErrorKind::NotFound => {}
            Err(e) => return Err(Error::from(e).context_op(Operation::Deleting, path)),
        }
        if let Some(c) = &self.cache {
            c.remove(path);
        }
        Ok(())
    }

    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    pub(crate) fn index_add_pack(&self, id: PackId, blobs: &[crate::format::pack::PackEntry]) -> Result<()> {
        let mut guard = self.index.write().map_err(poisoned)?;
        guard.get_or_insert_with(BlobIndex::default).add_pack(id, blobs);
        Ok(())
    }

    // ---- blobs and trees ----

    /// Is the blob stored in a live pack that the last `data/` listing holds? What
    /// deduplication asks: an index entry naming a pack that is not stored (a replayed or
    /// stale index file) must not keep a blob from being stored again.
    pub fn blob_stored(&self, index: &BlobIndex, id: &BlobId) -> bool {
        if !index.contains(id) {
            return false;
        }
        let absent = match self.absent_packs.read() {
            Ok(a) => a,
            Err(_) => return false,
        };
        absent.is_empty() || index.locations(id).iter().any(|l| !absent.contains(&l.pack) && !index.is_marked(&l.pack))
    }

    /// Read a blob from its preferred location; when that fails (the pack is missing or
    /// damaged, or its bytes are not the blob), from every other location the index holds,
    /// warning about each bad one. The first error stands when none works.
    pub fn read_blob(&self, blob_type: BlobType, id: &BlobId) -> Result<Vec<u8>> {
        self.read_blob_except(blob_type, id, None)
    }

    /// [`Self::read_blob`] from the locations outside the pack `except` (one a caller found
    /// bad already).
    pub fn read_blob_except(&self, blob_type: BlobType, id: &BlobId, except: Option<&PackId>) -> Result<Vec<u8>> {
        let mut locations = self.index()?.locations(id);
        if locations.is_empty() {
            return Err(Error::new(Kind::NotFound, format!("{blob_type} blob {id} is not in the index"))
                .hint("run `arca check` to see what else is damaged"));
        }
        locations.retain(|l| Some(&l.pack) != except);
        if locations.is_empty() {
            return Err(Error::new(Kind::NotFound, format!("{blob_type} blob {id} has no other location"))
                .hint("run `arca check --read-data` to see what else is damaged"));
        }
        let mut first: Option<Error> = None;
        for loc in &locations {
            let got = if loc.entry.blob_type != blob_type {
                Err(Error::corrupt(format!("blob {id} is a {} blob, expected {blob_type}", loc.entry.blob_type)))
            } else {
                self.read_blob_at(loc)
            };
            match got {
                Ok(plain) => return Ok(plain),
                Err(e) if e.kind == Kind::Interrupted => return Err(e),
                Err(e) => {
                    if locations.len() > 1 {
                        tracing::warn!(
                            "{blob_type} blob {id} in {} is unreadable ({}); trying its other locations",
                            pack_path(&loc.pack),
                            e.message
                        );
                    }
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_else(|| Error::corrupt(format!("blob {id}: no location"))))
    }

    pub fn read_blob_at(&self, loc: &BlobLocation) -> Result<Vec<u8>> {
        let path = pack_path(&loc.pack);
        if loc.entry.group_offset.is_some() {
            if let Some(unit) = self.groups.get(&loc.pack, loc.entry.offset) {
                return unit.blob(&self.keys, &loc.entry).map(<[u8]>::to_vec).ctx_object(&path);
            }
        }
        let known_damaged = || self.damaged_packs.lock().map(|d| d.contains(&loc.pack)).unwrap_or(true);
        if loc.entry.blob_type == BlobType::Tree && !known_damaged() {
            if let Some(c) = &self.cache {
                // Tree packs are cached whole, so walking trees reads nothing remote twice; a
                // blob is read from the cached copy by its range, and its authentication is
                // the check (a damaged cached copy fails it and is fetched again).
                let (start, len) = (loc.entry.offset as u64, loc.entry.length as u64);
                if let Some(sealed) = c.get_range(&path, start, len) {
                    if let Ok(plain) = open_blob(&self.keys, &loc.entry, &sealed) {
                        return Ok(plain);
                    }
                }
                let pack = self.read_pack(&loc.pack)?;
                if storage_hash(&pack) == loc.pack.0 {
                    c.put(&path, &pack);
                    let (start, len) = (loc.entry.offset as usize, loc.entry.length as usize);
                    let sealed = pack
                        .get(start..start + len)
                        .ok_or_else(|| Error::corrupt(format!("{path}: blob out of range")).object(&path))?;
                    return open_blob(&self.keys, &loc.entry, sealed).ctx_object(&path);
                }
                // damaged somewhere: its other blobs are still good, read one by one below
                tracing::warn!("{path}: content does not match its name; reading its intact blobs one by one");
                if let Ok(mut d) = self.damaged_packs.lock() {
                    d.insert(loc.pack);
                }
            }
        }
        let sealed = self
            .backend
            .read_range(&path, loc.entry.offset as u64, loc.entry.length as u64)
            .ctx(format!("reading blob {} from {path}", loc.entry.id))?;
        if loc.entry.group_offset.is_none() {
            return open_blob(&self.keys, &loc.entry, &sealed).ctx_object(&path);
        }
        let unit = Arc::new(open_unit(&self.keys, &loc.entry, &sealed, usize::MAX).ctx_object(&path)?);
        let plain = unit.blob(&self.keys, &loc.entry).ctx_object(&path)?.to_vec();
        self.groups.put(loc.pack, loc.entry.offset, unit);
        Ok(plain)
    }

    pub fn load_tree(&self, id: &TreeId) -> Result<Tree> {
        Tree::decode(&self.read_blob(BlobType::Tree, &id.as_blob())?).ctx_object(format!("tree {id}"))
    }

    /// A file's content ids, resolving indirect content lists.
    pub fn file_content(&self, node: &Node) -> Result<Vec<BlobId>> {
        if node.content_lists.is_empty() {
            return Ok(node.content.clone());
        }
        let mut out = Vec::new();
        for id in &node.content_lists {
            out.extend(
                ContentList::decode(&self.read_blob(BlobType::Tree, id)?)
                    .ctx_object(format!("content list {id}"))?
                    .content,
            );
        }
        Ok(out)
    }

    /// The node at `path` (absolute, `/`-separated) below the tree `root`; `None` for `/`.
    pub fn find_path(&self, root: &TreeId, path: &str) -> Result<Option<Node>> {
        let mut tree_id = *root;
        let mut found: Option<Node> = None;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if let Some(n) = &found {
                tree_id = n.subtree.ok_or_else(|| {
                    Error::new(Kind::NotFound, format!("{path}: {} is not a directory", n.name_lossy()))
                })?;
            }
            let tree = self.load_tree(&tree_id)?;
            let node = tree
                .nodes
                .into_iter()
                .find(|n| n.name.as_slice() == comp.as_bytes())
                .ok_or_else(|| Error::new(Kind::NotFound, format!("{path} is not in the snapshot")))?;
            found = Some(node);
        }
        Ok(found)
    }

    // ---- snapshots ----

    pub fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        Snapshot::decode(&self.keys, &self.read_object("snapshots", &id.as_object())?)
            .ctx_object(format!("snapshots/{id}"))
    }

    /// Every snapshot, oldest first. A snapshot removed (by a concurrent forget) between the
    /// listing and its read is skipped.
    /// Every readable snapshot, oldest first. A snapshot file that fails authentication or
    /// decoding is skipped with a warning naming it, so one damaged file does not hide the
    /// others; storage errors still fail. See [`Self::snapshots_strict`].
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (ok, damaged) = self.snapshots_and_damaged()?;
        for (id, e) in &damaged {
            tracing::warn!(
                "snapshot {} skipped: {} (`arca check` reports it, `arca forget {}` removes it)",
                id.short(),
                e.message,
                id.short()
            );
        }
        Ok(ok)
    }

    /// Every snapshot, or an error naming the first that cannot be read: for commands that
    /// must know everything every snapshot references (prune).
    pub fn snapshots_strict(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (ok, mut damaged) = self.snapshots_and_damaged()?;
        match damaged.pop() {
            None => Ok(ok),
            Some((id, e)) => Err(Error::corrupt(format!("snapshot {} cannot be read: {}", id.short(), e.message))
                .object(format!("snapshots/{id}"))
                .hint(format!("what it references is unknown; remove it first with `arca forget {}`", id.short()))),
        }
    }

    /// The readable snapshots, oldest first, and the damaged ones with their errors.
    #[allow(clippy::type_complexity)]
    pub fn snapshots_and_damaged(&self) -> Result<(Vec<(SnapshotId, Snapshot)>, Vec<(SnapshotId, Error)>)> {
        let sized = self.list_objects_sized("snapshots")?;
        let ids: Vec<ObjectId> = sized.iter().map(|(id, _)| *id).collect();
        let mut out = Vec::with_capacity(ids.len());
        let mut damaged = vec![];
        for (id, size) in &sized {
            let loaded = self
                .read_object_sized("snapshots", id, Some(*size))
                .and_then(|b| Snapshot::decode(&self.keys, &b).ctx_object(format!("snapshots/{id}")));
            match loaded {
                Ok(s) => out.push((SnapshotId::from_object(*id), s)),
                Err(e) if e.kind == Kind::NotFound => tracing::debug!("snapshot {id} vanished: {}", e.message),
                Err(e) if matches!(e.kind, Kind::Corrupt | Kind::Unsupported) => {
                    damaged.push((SnapshotId::from_object(*id), e))
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(c) = &self.cache {
            c.retain_dir("snapshots", &ids);
        }
        out.sort_by(|a, b| a.1.timestamp().cmp(&b.1.timestamp()).then(a.0.cmp(&b.0)));
        Ok((out, damaged))
    }
}

pub struct IndexRef<'a>(RwLockReadGuard<'a, Option<BlobIndex>>);

impl std::ops::Deref for IndexRef<'_> {
    type Target = BlobIndex;
    fn deref(&self) -> &BlobIndex {
        // load_index() ran before this guard was made
        static EMPTY: std::sync::OnceLock<BlobIndex> = std::sync::OnceLock::new();
        self.0.as_ref().unwrap_or_else(|| EMPTY.get_or_init(BlobIndex::default))
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::internal("a worker thread panicked while holding the index")
}
