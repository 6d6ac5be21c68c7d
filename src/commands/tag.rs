//! `arca tag`: change the tags of snapshots, as restic does. Stored objects are never
//! modified: a changed snapshot is saved as a new file whose `original` names the first one,
//! and the old file is deleted only after the new one is stored. A listing therefore shows the
//! old or the new snapshot (for a moment both, never neither), and a crash between the two
//! steps leaves a duplicate that differs only in tags, which running the same `tag` again
//! resolves.

use serde::Serialize;

use super::{select, Filter};
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::repo::{LockGuard, LockMode, Repository};

/// What to do to the tags: `--set` replaces them; `--add` and `--remove` edit them.
#[derive(Clone, Debug, Default)]
pub struct TagChange {
    pub set: Option<Vec<String>>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl TagChange {
    /// From the flags; each value may be a comma-separated list, as in restic.
    pub fn new(set: &[String], add: &[String], remove: &[String]) -> Result<TagChange> {
        let split = |v: &[String]| -> Vec<String> {
            v.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect()
        };
        if set.is_empty() && add.is_empty() && remove.is_empty() {
            return Err(Error::usage("nothing to do: give --set, --add or --remove"));
        }
        if !set.is_empty() && (!add.is_empty() || !remove.is_empty()) {
            return Err(Error::usage("--set replaces all tags: it cannot be combined with --add or --remove"));
        }
        Ok(TagChange { set: (!set.is_empty()).then(|| split(set)), add: split(add), remove: split(remove) })
    }

    /// The tags after the change: sorted, without duplicates.
    pub fn apply(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = match &self.set {
            Some(s) => s.clone(),
            None => tags.iter().filter(|t| !self.remove.contains(t)).cloned().chain(self.add.iter().cloned()).collect(),
        };
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Retagged {
    pub old: crate::id::SnapshotId,
    pub new: crate::id::SnapshotId,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct TagReport {
    pub changed: Vec<Retagged>,
    /// Selected snapshots whose tags were already as asked.
    pub unchanged: usize,
}

/// `arca tag`: take a shared lock, then [`run`].
pub fn tag(repo: &Repository, selectors: &[String], filter: &Filter, change: &TagChange) -> Result<TagReport> {
    let lock = repo.lock("tag", LockMode::Shared)?;
    run(repo, selectors, filter, change, &lock)
}

/// Apply `change` to the snapshots named by `selectors` (all snapshots matching `filter` when
/// there are none), under `lock`, which the caller holds.
pub fn run(
    repo: &Repository,
    selectors: &[String],
    filter: &Filter,
    change: &TagChange,
    lock: &LockGuard,
) -> Result<TagReport> {
    let mut chosen = select::select_many(repo, selectors, filter)?;
    chosen.sort_by_key(|(id, _)| *id);
    let mut report = TagReport::default();
    let existing = repo.snapshots()?;
    // a new tag names only what is stored and indexed already
    let flushed = repo.nothing_pending()?;
    for (id, snap) in chosen {
        let tags = change.apply(&snap.tags);
        let mut current = snap.tags.clone();
        current.sort();
        current.dedup();
        if tags == current {
            report.unchanged += 1;
            continue;
        }
        let new = Snapshot { tags: tags.clone(), original: Some(snap.original.unwrap_or(id)), ..snap };
        let new_id = repo.save_snapshot_once(&new, &existing, &flushed, lock)?;
        repo.delete_snapshot(&id)?;
        report.changed.push(Retagged { old: id, new: new_id, tags });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn changes_follow_restic() {
        let c = TagChange::new(&[], &v(&["reviewed,b"]), &v(&["draft"])).unwrap();
        assert_eq!(c.apply(&v(&["draft", "z", "b"])), v(&["b", "reviewed", "z"]));
        let c = TagChange::new(&v(&["x", "y,x"]), &[], &[]).unwrap();
        assert_eq!(c.apply(&v(&["a"])), v(&["x", "y"]));
        // --set '' removes every tag
        let c = TagChange::new(&v(&[""]), &[], &[]).unwrap();
        assert!(c.apply(&v(&["a", "b"])).is_empty());
        assert!(TagChange::new(&[], &[], &[]).is_err());
        assert!(TagChange::new(&v(&["a"]), &v(&["b"]), &[]).is_err());
    }
}
