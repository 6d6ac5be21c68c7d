//! `rewrite`: new snapshots without what `--exclude` matches (and, with `--include`, with only
//! what matches and the directories above it), and optionally a new host or time.
//!
//! Trees are rewritten only where something below them changes: an untouched subtree keeps its
//! id, so a rewrite stores a handful of new tree blobs, and no data blob is read or written.
//! The new snapshot names its `original`, is tagged `rewrite`, and has no summary (the old
//! figures would be wrong). With `forget`, the original snapshot file is deleted after the
//! new one is stored. `prune` then frees the data only the excluded files used.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::NodeKind;
use crate::id::{SnapshotId, TreeId};
use crate::patterns::Patterns;
use crate::repo::{BlobSaver, LockGuard, Repository};

pub struct RewriteOptions {
    pub excludes: Patterns,
    /// Keep only what matches (and its ancestors); `None` keeps everything not excluded.
    pub includes: Option<Patterns>,
    pub new_host: Option<String>,
    /// RFC 3339.
    pub new_time: Option<String>,
    pub forget: bool,
    pub dry_run: bool,
}

/// Paths listed per snapshot in the report; the count is always exact.
const LISTED: usize = 1000;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Rewritten {
    pub original: SnapshotId,
    /// The new snapshot (none in a dry run).
    pub rewritten: Option<SnapshotId>,
    pub removed_count: usize,
    /// The first removed paths (directories count once, with what was below them).
    pub removed: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RewriteReport {
    pub dry_run: bool,
    pub snapshots_checked: usize,
    pub rewritten: Vec<Rewritten>,
    pub originals_removed: usize,
}

pub fn rewrite(
    repo: &Arc<Repository>,
    snapshots: Vec<(SnapshotId, Snapshot)>,
    opts: &RewriteOptions,
    lock: &LockGuard,
) -> Result<RewriteReport> {
    let mut report = RewriteReport { dry_run: opts.dry_run, ..Default::default() };
    let saver = BlobSaver::new(repo.clone(), Compression::AUTO, 1, 1, opts.dry_run)?;
    let mut memo = Memo::new();
    let mut pending = vec![];
    for (sid, snap) in snapshots {
        report.snapshots_checked += 1;
        let mut removed = vec![];
        let (tree, _) = rewrite_tree(repo, &saver, &snap.tree, Path::new("/"), false, opts, &mut memo, &mut removed)?;
        let host_changes = opts.new_host.as_ref().is_some_and(|h| *h != snap.hostname);
        let time_changes = opts.new_time.as_ref().is_some_and(|t| *t != snap.time);
        if tree == snap.tree && !host_changes && !time_changes {
            continue;
        }
        let mut new = snap.clone();
        new.tree = tree;
        if let Some(h) = &opts.new_host {
            new.hostname = h.clone();
        }
        if let Some(t) = &opts.new_time {
            new.time = t.clone();
        }
        if tree != snap.tree {
            new.summary = None;
        }
        if !new.tags.iter().any(|t| t == "rewrite") {
            new.tags.push("rewrite".into());
        }
        new.original = Some(snap.original.unwrap_or(sid));
        pending.push((sid, new, removed));
    }
    let (_, flushed) = saver.finish()?;
    let existing = if pending.is_empty() { vec![] } else { repo.snapshots()? };
    for (sid, new, removed) in pending {
        let rewritten =
            if opts.dry_run { None } else { Some(repo.save_snapshot_once(&new, &existing, &flushed, lock)?) };
        if opts.forget && !opts.dry_run {
            repo.delete_snapshot(&sid)?;
            report.originals_removed += 1;
        }
        report.rewritten.push(Rewritten {
            original: sid,
            rewritten,
            removed_count: removed.len(),
            removed: removed
                .iter()
                .take(LISTED)
                .map(|(p, dir)| format!("{}{}", p.display(), if *dir { "/" } else { "" }))
                .collect(),
        });
    }
    Ok(report)
}

/// Results per (tree, path, included-from-above): patterns match whole paths, so the same
/// tree can come out differently at another path. What each result removed is kept so the
/// report is the same whether a tree was rewritten or found in the memo.
type Memo = HashMap<(TreeId, PathBuf, bool), (TreeId, bool, Vec<(PathBuf, bool)>)>;

/// The rewritten tree and whether anything in it is kept by `--include`; every removed path
/// (with whether it was a directory) is appended to `gone`.
#[allow(clippy::too_many_arguments)]
fn rewrite_tree(
    repo: &Repository,
    saver: &BlobSaver,
    id: &TreeId,
    at: &Path,
    included_above: bool,
    opts: &RewriteOptions,
    memo: &mut Memo,
    gone: &mut Vec<(PathBuf, bool)>,
) -> Result<(TreeId, bool)> {
    crate::format::tree::check_depth(at.components().count(), &at.display())?;
    let key = (*id, at.to_path_buf(), included_above);
    if let Some((new, any, removed)) = memo.get(&key) {
        gone.extend(removed.iter().cloned());
        return Ok((*new, *any));
    }
    let start = gone.len();
    let mut tree = repo.load_tree(id)?;
    let mut changed = false;
    let mut any = false;
    let mut kept = Vec::with_capacity(tree.nodes.len());
    for mut node in std::mem::take(&mut tree.nodes) {
        let path = at.join(OsStr::from_bytes(&node.name));
        let is_dir = node.kind == NodeKind::Dir;
        if opts.excludes.matches_path(&path) {
            gone.push((path, is_dir));
            changed = true;
            continue;
        }
        let included = included_above || opts.includes.as_ref().is_none_or(|i| i.matches_path(&path));
        if is_dir {
            let sub =
                node.subtree.ok_or_else(|| Error::corrupt(format!("{}: directory without subtree", path.display())))?;
            let mark = gone.len();
            let (new, inside) = rewrite_tree(repo, saver, &sub, &path, included, opts, memo, gone)?;
            if !included && !inside {
                // nothing below is kept: the directory goes, listed once
                gone.truncate(mark);
                gone.push((path, true));
                changed = true;
                continue;
            }
            if new != sub {
                node.subtree = Some(new);
                changed = true;
            }
            any = true;
        } else if !included {
            gone.push((path, false));
            changed = true;
            continue;
        } else {
            any = true;
        }
        kept.push(node);
    }
    tree.nodes = kept;
    let new = if changed { saver.save_tree(tree)? } else { *id };
    memo.insert(key, (new, any, gone[start..].to_vec()));
    Ok((new, any))
}
