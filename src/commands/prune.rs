//! `arca prune`: under the maintenance lock (two-phase deletion, format-spec §21), or an
//! exclusive one with `--instant-delete`.

use crate::error::Result;
use crate::maintenance::prune::{self, PruneOptions, PruneStats};
use std::sync::Arc;

use crate::repo::{LockMode, Repository};
use crate::util::progress::Meter;

pub fn run(
    repo: &Arc<Repository>,
    opts: &PruneOptions,
    note: &dyn Fn(String),
    meter: &dyn Meter,
) -> Result<PruneStats> {
    let mode = if opts.instant_delete { LockMode::Exclusive } else { LockMode::Maintenance };
    let lock = repo.lock("prune", mode)?;
    prune::prune_metered(repo, opts, Some(&lock), note, meter)
}
