//! The repository: the only place where storage, crypto and format meet. Opening unwraps
//! the master secret with a password, reads `config`, and loads the index on demand.
//!
//! Everything written goes through here, in the order packs → index → snapshot, so a crash
//! at any instant leaves a valid repository. The order is kept by types (`repo/commit.rs`):
//! packs and index files each have one road to storage (`Repository::store_pack`,
//! `Repository::store_index`), and [`Repository::save_snapshot`] takes an [`IndexFlushed`]
//! (from [`BlobSaver::finish`] or [`Repository::nothing_pending`]) and the [`LockGuard`] it
//! commits under, whose freshness it checks itself.
//!
//! The repository is sealed: its storage and its keys never leave `repo/`. Engines name what
//! they want by kind and id ([`ObjectKind`], `PackId`, `BlobId`) and get typed operations
//! (list, read size-capped and checked against the name, delete; a pack's header, a range of
//! it, a sealed unit opened, a blob id computed) instead of a backend, a path string or the
//! keys. The accessors that hand those out are visible only inside `repo/`, and `cargo xtask
//! layers` refuses object paths spelled out and calls of them elsewhere. So neither of these
//! compiles outside `repo/`:
//!
//! ```compile_fail
//! # fn f(repo: &arca::repo::Repository) {
//! let keys = repo.keys(); // the keys stay inside repo/
//! # }
//! ```
//!
//! ```compile_fail
//! # fn f(repo: &arca::repo::Repository) {
//! repo.delete_file("config"); // files are named by kind and id, never by a path
//! # }
//! ```
//!
//! while the typed road does:
//!
//! ```no_run
//! # fn f(repo: &arca::repo::Repository) -> arca::error::Result<()> {
//! use arca::repo::ObjectKind;
//! for id in repo.list(ObjectKind::Index)? {
//!     let file = repo.load_index_file(&id)?;
//!     println!("{}: {} packs", ObjectKind::Index.path(&id), file.packs.len());
//! }
//! # Ok(()) }
//! ```
//!
//! | file | what it holds |
//! | --- | --- |
//! | `open.rs` | creating and opening a repository, and its settings |
//! | `objects.rs` | [`ObjectKind`]: the files under `snapshots/`, `index/`, `keys/`, `locks/` |
//! | `packs.rs` | packs: listing, headers, ranges, verifying, adopting, deleting |
//! | `blobs.rs` | blobs: reading one from its locations, opening sealed units, blob ids |
//! | `trees.rs` | trees, content lists and paths inside a tree |
//! | `snapshots.rs` | reading, listing and deleting snapshots |
//! | `index.rs` | loading the index and reading single index files |
//! | `commit.rs` | the commit order: the one road for packs, index files and snapshots |
//! | `keys.rs`, `rotation.rs` | key files, and the steps of a key rotation that need both secrets |
//! | `lock.rs` | repository locks |
//! | `upgrade.rs` | the steps of a format upgrade (`migrate`) that need the keys or `config` |
//! | `repair_config.rs` | what is at a location (`init` refuses repository files), and rebuilding a missing or damaged `config` |
//! | `limits.rs` | the size cap of each kind, applied before anything is read |
//! | `saver.rs`, `pack_copier.rs`, `index_writer.rs` | the writers of packs and index files |

mod blob_index;
mod blobs;
mod buffer_pool;
mod commit;
mod group_cache;
mod in_flight;
mod index;
mod index_writer;
mod keys;
mod limits;
mod lock;
mod objects;
mod open;
mod pack_copier;
mod packs;
mod recent_blobs;
mod repair_config;
mod rotation;
mod saver;
mod snapshots;
pub mod stage_clock;
mod trees;
mod upgrade;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

pub use blob_index::{BlobIndex, Location as BlobLocation};
pub use commit::IndexFlushed;
pub use index::IndexRef;
pub use index_writer::IndexWriter;
pub use keys::{KeyInfo, KeyOwner};
pub use lock::{is_stale as lock_is_stale, LockGuard, LockMode};
pub use objects::ObjectKind;
pub use open::InitOptions;
pub use pack_copier::PackCopier;
pub use packs::pack_path;
pub use repair_config::{
    config_path, missing_config, refuse_init_over, repository_files, RebuiltConfig, RepairConfigOptions,
};
pub use saver::{BlobSaver, SaveStats, SaveSummary};

use crate::backend::DynBackend;
use crate::cache::Cache;
use crate::chunker::Chunker;
use crate::crypto::{Keys, MasterSecret};
use crate::format::config::Config;
use crate::id::{ObjectId, PackId};

pub const CONFIG_PATH: &str = "config";

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
    /// `--no-lock`: readers take no lock, writers refuse to run ([`Self::with_no_lock`]).
    no_lock: bool,
    /// `--pack-size`: close packs at this size rather than the config's ([`Self::with_pack_size`]).
    pack_target: Option<u64>,
}

impl Repository {
    /// The keys, for `repo/` alone: everything else asks for what needs them (a sealed unit
    /// opened, a blob id computed, an index file decoded).
    pub(in crate::repo) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Where the repository is stored, for messages (`/srv/backup`, `s3:bucket/prefix`).
    pub fn location(&self) -> String {
        self.backend.location()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Write packs of about `size` bytes in this process instead of the config's pack size.
    /// Only a smaller size is taken: readers bound a pack by the config's size
    /// (`limits::max_pack_len`), so a larger pack would be unreadable; a larger request
    /// writes packs of the config's size and says so when it writes a pack ([`Self::pack_target`]).
    pub fn with_pack_size(mut self, size: u64) -> crate::error::Result<Self> {
        if size < 1 << 20 {
            return Err(crate::error::Error::usage(format!("--pack-size {size} bytes: a pack is at least 1 MiB"))
                .hint("give MiB (e.g. --pack-size 4) or a size (e.g. 4M)"));
        }
        self.pack_target = Some(size);
        Ok(self)
    }

    /// Where a pack writer closes a pack (and below which prune calls a pack small):
    /// `--pack-size`, at most the config's pack size, else the config's pack size.
    pub fn pack_target(&self) -> usize {
        let max = self.config.pack_size;
        match self.pack_target {
            Some(size) if size > u64::from(max) => {
                // said once per process, by the command that writes packs (a reader opened
                // with ARCA_PACK_SIZE in its environment has nothing to say about it)
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    tracing::warn!(
                        "--pack-size {} MiB: this repository's packs are at most {} MiB (chosen at init), so that is used",
                        size >> 20,
                        max >> 20
                    )
                });
                max as usize
            }
            Some(size) => size as usize,
            None => max as usize,
        }
    }

    pub fn chunker(&self) -> &Arc<Chunker> {
        &self.chunker
    }

    /// The key of the chunker's gear table: the config's when it names one, else derived
    /// from the master secret. Two repositories with the same key and chunker parameters cut
    /// identical chunks.
    pub fn chunker_key(&self) -> [u8; 32] {
        self.keys.chunker
    }

    pub fn key_id(&self) -> ObjectId {
        self.key_id
    }

    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }
}
