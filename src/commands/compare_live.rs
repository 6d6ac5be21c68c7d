//! `arca check --compare-live [SNAPSHOT]`: is everything that was on disk when a snapshot was
//! taken in it? Meant for snapshots made from a change list (`backup --changed-paths`), whose
//! correctness rests on the list being complete.
//!
//! Each of the snapshot's paths is compared, as `arca diff SNAPSHOT /live/path` compares (the
//! same [`Differ`], with metadata), with the live tree as it is now: a full walk of it, leaving
//! out what backup leaves out (the snapshot's recorded exclude patterns, or the profile's
//! whole exclude set when the snapshot records none or the same patterns: patterns, marker
//! files, the size limit). Each difference is then classified by when the live side last
//! changed, its ctime (for an entry that is gone: its live parent directory's ctime, which
//! the removal set):
//!
//! - at or after the snapshot's start time: *changed since* the snapshot, as expected;
//! - before it: *missed*. What is on disk now was already there when the snapshot was taken
//!   and the snapshot does not hold it: a change list that left something out, or a bug.
//!
//! A ctime cannot be set back by an unprivileged user (a `touch -d` sets mtime and atime and
//! moves ctime to now), so a change can only look newer than it is, never older: nothing
//! missed is hidden by a forged time. It only reads: a read lock, no writes to the repository
//! or the live tree.

use std::path::Path;

use serde::Serialize;

use super::diff::{Change, Differ, Dir};
use super::select::Filter;
use crate::archiver::BackupExcludes;
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::tree::{Node, NodeKind, Time};
use crate::id::SnapshotId;
use crate::patterns::Patterns;
use crate::repo::Repository;

pub struct CompareLiveOptions {
    /// The snapshot (an id, a prefix, `latest`); `None`: the newest of this host whose paths
    /// all exist here.
    pub snapshot: Option<String>,
    /// The profile's backup exclude set and the patterns it was made of.
    pub profile_excludes: Option<(BackupExcludes, Vec<String>)>,
}

/// Where the exclude set of the walk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcludesFrom {
    /// The patterns the snapshot records.
    Snapshot,
    /// The profile's (the snapshot records none, or the same patterns).
    Profile,
    /// Nothing is left out.
    None,
}

/// One difference between the snapshot and the live tree, as `diff` names it.
#[derive(Clone, Debug, Serialize)]
pub struct LiveDifference {
    pub path: String,
    /// `+` only on disk, `-` only in the snapshot, `M` content, `T` type, `U` metadata.
    pub modifier: char,
}

#[derive(Clone, Debug, Serialize)]
pub struct CompareLiveReport {
    pub snapshot_id: SnapshotId,
    /// The snapshot's start time: what the live ctimes are compared with.
    pub snapshot_time: String,
    /// How many paths the change list named, if the snapshot came from one.
    pub change_list: Option<u64>,
    pub paths: Vec<String>,
    pub excludes_from: ExcludesFrom,
    /// Differences that were already there when the snapshot was taken.
    pub missed: Vec<LiveDifference>,
    /// Differences made at or after the snapshot's start.
    pub changed_since: Vec<LiveDifference>,
}

impl CompareLiveReport {
    pub fn ok(&self) -> bool {
        self.missed.is_empty()
    }
}

pub fn run(repo: &Repository, opts: &CompareLiveOptions) -> Result<CompareLiveReport> {
    let _lock = repo.lock_read("check")?;
    let (id, snap) = pick(repo, opts.snapshot.as_deref())?;
    let start = snap.timestamp().ok_or_else(|| {
        Error::corrupt(format!("snapshot {}: time {:?} is not RFC 3339", id.short(), snap.time))
            .hint("name another snapshot: arca check --compare-live SNAPSHOT")
    })?;
    let start = Time::new(start.timestamp(), i64::from(start.timestamp_subsec_nanos()));
    let (excludes, excludes_from) = excludes(&snap.excludes, opts.profile_excludes.as_ref())?;
    let mut report = CompareLiveReport {
        snapshot_id: id,
        snapshot_time: snap.time.clone(),
        change_list: snap.change_list,
        paths: snap.paths.clone(),
        excludes_from,
        missed: vec![],
        changed_since: vec![],
    };
    let mut emit = |c: Change| {
        let d = LiveDifference { path: c.path, modifier: c.modifier };
        match c.live_ctime {
            Some(t) if t >= start => report.changed_since.push(d),
            _ => report.missed.push(d),
        }
    };
    for source in &snap.paths {
        let source = Path::new(source);
        // each source is compared inside the directory above it, which is otherwise only
        // the way to it: its other entries are not the snapshot's
        let (base, name) = match (source.parent(), source.file_name()) {
            (Some(parent), Some(name)) => (parent, Some(name)),
            _ => (source, None),
        };
        let shown = base.to_string_lossy().into_owned();
        let tree = super::select::resolve_dir(repo, &snap.tree, Some(&shown), &id)?;
        if !base.is_dir() {
            return Err(Error::new(
                Kind::NotFound,
                format!("{shown}: the directory above the snapshot's path {} is not here", source.display()),
            )
            .hint("compare a snapshot taken on this host: arca check --compare-live SNAPSHOT"));
        }
        let keep = |path: &Path, node: &Node, live: bool| {
            if name.is_some() && path.parent() == Some(base) && path.file_name() != name {
                return false;
            }
            if excludes.matches_path(path) {
                return false;
            }
            // markers and sizes are decided on what is on disk, as backup decides them
            !live
                || match node.kind {
                    NodeKind::Dir => !excludes.dir_has_marker(path),
                    NodeKind::File => !excludes.too_large(node.size),
                    _ => true,
                }
        };
        Differ::new(repo, true)
            .keeping(&keep)
            .diff(&shown, &Dir::Tree(tree), &Dir::Live(base.to_path_buf()), &mut emit)
            .ctx(format!("comparing snapshot {} with {}", id.short(), source.display()))?;
    }
    Ok(report)
}

/// The snapshot `selector` names, or the newest of this host whose paths all exist here.
fn pick(repo: &Repository, selector: Option<&str>) -> Result<(SnapshotId, crate::format::snapshot::Snapshot)> {
    if let Some(s) = selector {
        return super::select(repo, s, &Filter::default());
    }
    let host = crate::platform::hostname();
    let here: Vec<_> = repo
        .snapshots()?
        .into_iter()
        .filter(|(_, s)| s.paths.iter().all(|p| std::fs::symlink_metadata(p).is_ok()))
        .collect();
    let filter = Filter { hosts: vec![host.clone()], ..Default::default() };
    super::select::select_from(here, "latest", &filter).map_err(|e| match e.kind {
        Kind::NotFound => Error::new(Kind::NotFound, format!("no snapshot of host {host} whose paths all exist here"))
            .hint("name one: arca check --compare-live SNAPSHOT"),
        _ => e,
    })
}

/// What the walk leaves out. The snapshot records its exclude patterns (case-insensitive
/// ones among them, without their flag) but not its marker files or size limit: the
/// profile's full set is taken when it was made of the same patterns, or when the snapshot
/// records none.
fn excludes(
    recorded: &[String],
    profile: Option<&(BackupExcludes, Vec<String>)>,
) -> Result<(BackupExcludes, ExcludesFrom)> {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    match profile {
        Some((ex, used)) if recorded.is_empty() || sorted(used) == sorted(recorded) => {
            Ok((ex.clone(), ExcludesFrom::Profile))
        }
        _ if recorded.is_empty() => Ok((BackupExcludes::default(), ExcludesFrom::None)),
        _ => Ok((BackupExcludes::new(Patterns::new(recorded, &[])?), ExcludesFrom::Snapshot)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(patterns: &[&str], marker: &str) -> (BackupExcludes, Vec<String>) {
        let used: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let mut ex = BackupExcludes::new(Patterns::new(&used, &[]).unwrap());
        ex.exclude_if_present(marker);
        (ex, used)
    }

    #[test]
    fn the_walk_leaves_out_what_the_snapshot_recorded_and_the_profile_only_when_it_agrees() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(".nobackup"), b"").unwrap();
        let tmp_file = Path::new("/x/a.tmp");
        // the same patterns, in another order: the profile's whole set, marker files too
        let p = profile(&["*.log", "*.tmp"], ".nobackup");
        let (ex, from) = excludes(&["*.tmp".into(), "*.log".into()], Some(&p)).unwrap();
        assert_eq!(from, ExcludesFrom::Profile);
        assert!(ex.matches_path(tmp_file) && ex.dir_has_marker(tmp.path()));
        // other patterns: the snapshot's, so a profile changed since cannot hide what the
        // backup did not leave out
        let p = profile(&["*"], ".nobackup");
        let (ex, from) = excludes(&["*.tmp".into()], Some(&p)).unwrap();
        assert_eq!(from, ExcludesFrom::Snapshot);
        assert!(ex.matches_path(tmp_file) && !ex.matches_path(Path::new("/x/a.txt")));
        assert!(!ex.dir_has_marker(tmp.path()), "a marker the snapshot does not record");
        // none recorded: the profile's; no profile either: nothing left out
        let (ex, from) = excludes(&[], Some(&p)).unwrap();
        assert_eq!(from, ExcludesFrom::Profile);
        assert!(ex.matches_path(Path::new("/x/a.txt")));
        let (ex, from) = excludes(&[], None).unwrap();
        assert_eq!(from, ExcludesFrom::None);
        assert!(!ex.matches_path(tmp_file) && !ex.dir_has_marker(tmp.path()));
    }
}
