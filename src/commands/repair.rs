//! `arca repair index` (exclusive lock, without the cache: the index is rebuilt from what
//! storage holds), `arca repair snapshots` (shared lock) and `arca repair config` (no lock:
//! without a config no other client can open the repository, and `init` refuses it).

use std::sync::Arc;

use super::{select_many, Filter};
use crate::backend::DynBackend;
use crate::error::Result;
use crate::maintenance::repair::{self, RepairIndexReport, RepairSnapshotsReport};
use crate::repo::{LockMode, RebuiltConfig, RepairConfigOptions, Repository};
use crate::util::progress::Meter;

/// Rebuild a missing or damaged `config` (format-spec §7.1); refuses, writing nothing,
/// when a field cannot be recovered and proved.
pub fn config(backend: DynBackend, password: &[u8], opts: &RepairConfigOptions) -> Result<RebuiltConfig> {
    Repository::repair_config(backend, password, opts).map(|(report, _)| report)
}

pub fn index(
    repo: Repository,
    read_data: bool,
    dry_run: bool,
    note: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<RepairIndexReport> {
    let repo = Arc::new(repo.without_cache());
    let lock = repo.lock("repair index", LockMode::Exclusive)?;
    repair::repair_index_metered(&repo, read_data, dry_run, Some(&lock), note, meter)
}

pub fn snapshots(
    repo: &Arc<Repository>,
    ids: &[String],
    filter: &Filter,
    forget: bool,
    dry_run: bool,
) -> Result<RepairSnapshotsReport> {
    let lock = repo.lock("repair snapshots", LockMode::Shared)?;
    let snaps = select_many(repo, ids, filter)?;
    repair::repair_snapshots(repo, snaps, forget, dry_run, Some(&lock))
}
