//! Which blobs are used: every blob reachable from a set of snapshots, as one bit per position
//! of the loaded index table (a million blobs cost 125 KiB). Trees are loaded one at a time,
//! and a tree whose bit is already set is not walked again, so shared subtrees cost nothing.

use crate::error::{Error, Result, ResultExt};
use crate::format::snapshot::Snapshot;
use crate::format::tree::ContentList;
use crate::format::BlobType;
use crate::util::words::count;
use std::collections::HashSet;

use crate::id::{BlobId, PackId, SnapshotId};
use crate::repo::{BlobIndex, Repository};

/// A fixed-size set of positions.
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub fn new(len: usize) -> Self {
        BitSet { words: vec![0; len.div_ceil(64)] }
    }

    /// Set bit `i`; returns whether it was set before.
    pub fn insert(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let was = self.words[w] & b != 0;
        self.words[w] |= b;
        was
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1u64 << (i % 64)) != 0
    }
}

pub struct Usage {
    /// Bit per index table position: the preferred location of a used blob.
    pub used: BitSet,
    /// Referenced blobs that no index names, with the first snapshot found referencing each.
    pub missing: Vec<(SnapshotId, BlobType, BlobId)>,
    pub trees: u64,
}

/// Mark every blob reachable from `snapshots`, by position in the repository's loaded index.
pub fn mark_used(repo: &Repository, snapshots: &[(SnapshotId, Snapshot)]) -> Result<Usage> {
    mark_used_stored(repo, snapshots, None)
}

/// [`mark_used`], where a blob's preferred location is its first location in a pack of
/// `stored` (the `data/` listing) when it has one: an index file naming packs that are gone
/// (a replayed, superseded one) must not make the pack that really holds a used blob look
/// unused (format-spec/v3.md §21.1).
pub fn mark_used_stored(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    stored: Option<&HashSet<PackId>>,
) -> Result<Usage> {
    let len = repo.whole_index()?.table_len();
    let mut u = Usage { used: BitSet::new(len), missing: vec![], trees: 0 };
    for (sid, snap) in snapshots {
        let mut stack = vec![snap.tree];
        while let Some(tid) = stack.pop() {
            let Some(pos) = preferred(&*repo.whole_index()?, &tid.as_blob(), stored) else {
                u.missing.push((*sid, BlobType::Tree, tid.as_blob()));
                continue;
            };
            if u.used.insert(pos) {
                continue;
            }
            u.trees += 1;
            let tree = repo.load_tree(&tid).ctx(format!("snapshot {}", sid.short()))?;
            for n in &tree.nodes {
                if let Some(s) = n.subtree {
                    stack.push(s);
                }
                mark_blobs(repo, &mut u, sid, &n.content, stored)?;
                for list in &n.content_lists {
                    let Some(pos) = preferred(&*repo.whole_index()?, list, stored) else {
                        u.missing.push((*sid, BlobType::Tree, *list));
                        continue;
                    };
                    if u.used.insert(pos) {
                        continue;
                    }
                    let bytes = repo.read_blob(BlobType::Tree, list)?;
                    let content = ContentList::decode(&bytes).ctx_object(format!("content list {list}"))?.content;
                    mark_blobs(repo, &mut u, sid, &content, stored)?;
                }
            }
        }
    }
    Ok(u)
}

/// The table position of `id`'s preferred location: its first one in a stored pack, when
/// `stored` is given and it has one, else its first one.
fn preferred(idx: &BlobIndex, id: &BlobId, stored: Option<&HashSet<PackId>>) -> Option<usize> {
    let first = idx.position(id)?;
    let Some(stored) = stored else { return Some(first) };
    let same = (first..idx.table_len()).take_while(|&i| idx.table_entry(i).id == *id);
    Some(same.clone().find(|&i| stored.contains(&idx.pack_id(idx.table_entry(i).pack))).unwrap_or(first))
}

fn mark_blobs(
    repo: &Repository,
    u: &mut Usage,
    sid: &SnapshotId,
    ids: &[BlobId],
    stored: Option<&HashSet<PackId>>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let idx = repo.whole_index()?;
    for id in ids {
        match preferred(&idx, id, stored) {
            Some(p) => {
                u.used.insert(p);
            }
            None => u.missing.push((*sid, BlobType::Data, *id)),
        }
    }
    Ok(())
}

impl Usage {
    /// An error naming what is missing, if anything is.
    pub fn missing_error(&self) -> Option<Error> {
        let (sid, t, id) = self.missing.first()?;
        Some(
            Error::corrupt(format!(
                "{} used by snapshots not in the index (first: {t} blob {} of snapshot {})",
                count(self.missing.len(), "blob"),
                id.short(),
                sid.short()
            ))
            .hint("no pack was deleted; run `arca check` to see what is damaged, then `arca repair index` or `arca repair snapshots`"),
        )
    }
}
