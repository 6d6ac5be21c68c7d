//! `arca restore SNAPSHOT[:PATH] --target DIR`.

use super::select::{absolute_in, resolve_dir, SnapshotPath};
use super::{select, Filter};
use crate::error::Result;
use crate::id::SnapshotId;
use crate::repo::Repository;
use crate::restorer::{self, RestoreOptions, RestoreProgress, RestoreSummary};

pub fn run(
    repo: &Repository,
    selector: &str,
    filter: &Filter,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
    warn: &(dyn Fn(String) + Sync),
) -> Result<(SnapshotId, RestoreSummary)> {
    let spec = SnapshotPath::parse(selector);
    let (id, snap) = select(repo, spec.snapshot, filter)?;
    let _lock = repo.lock_read("restore")?;
    let path = spec.path.map(|p| absolute_in(repo, &snap, &id, p)).transpose()?;
    let tree = resolve_dir(repo, &snap.tree, path.as_deref(), &id)?;
    let root_path = std::path::PathBuf::from(path.as_deref().unwrap_or("/"));
    let summary = restorer::restore(repo, &tree, &root_path, opts, progress, warn)?;
    Ok((id, summary))
}

/// The final `summary` message of `restore --json` (restic's shape plus arca's figures): what
/// the command line prints and what `arca serve` reports for a restore job.
pub fn report(
    id: &SnapshotId,
    summary: &RestoreSummary,
    elapsed: std::time::Duration,
    dry_run: bool,
) -> serde_json::Value {
    let mut v = serde_json::to_value(summary).unwrap_or_default();
    v["message_type"] = "summary".into();
    v["seconds_elapsed"] = elapsed.as_secs().into();
    v["snapshot_id"] = id.to_hex().into();
    v["dry_run"] = dry_run.into();
    v
}
