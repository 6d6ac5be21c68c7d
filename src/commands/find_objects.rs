//! `arca find --blob ID… | --tree ID… | --pack ID…` (restic's): where objects are used.
//! `--blob`: the files whose content holds the data blob; `--tree`: the directories (or
//! snapshot roots) that are the tree; `--pack`: the blobs the pack holds (from the index) and
//! the files and directories that use them. Ids may be prefixes. Every selected snapshot is
//! walked, newest first; a subtree known to hold none of the objects is not read twice.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::{select_many, Filter};
use crate::error::{Error, Result, ResultExt};
use crate::format::BlobType;
use crate::id::{SnapshotId, TreeId};
use crate::repo::Repository;

/// What the ids name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectQuery {
    Blob,
    Tree,
    Pack,
}

/// One use of a sought object: restic's `find --json` blob object (format of its
/// `doc/075_scripting.rst`), and the pack it was sought in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FoundObject {
    /// `blob` (data) or `tree`.
    pub object_type: &'static str,
    pub id: String,
    /// The file that holds the blob, or the directory that is the tree.
    pub path: String,
    /// The tree that lists the file (blobs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_tree: Option<TreeId>,
    pub snapshot: SnapshotId,
    /// The snapshot's time (RFC 3339).
    pub time: String,
    /// With `--pack`: the pack the blob was sought in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
}

/// The blobs a pack holds (`--pack`), as `TYPE ID`.
#[derive(Clone, Debug, Serialize)]
pub struct PackContents {
    pub pack: String,
    pub blobs: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FindObjectsReport {
    pub snapshots_searched: usize,
    pub packs: Vec<PackContents>,
    pub found: Vec<FoundObject>,
    /// Sought ids no snapshot uses.
    pub not_found: Vec<String>,
}

/// The sought ids: full hex id → (object type, pack) for packs; else prefixes.
struct Sought {
    blobs: Vec<String>,
    trees: Vec<String>,
    /// blob or tree id (full hex) → the pack it was found in (`--pack`)
    pack_of: HashMap<String, String>,
}

impl Sought {
    fn blob(&self, hex: &str) -> Option<&String> {
        self.blobs.iter().find(|p| hex.starts_with(p.as_str()))
    }
    fn tree(&self, hex: &str) -> Option<&String> {
        self.trees.iter().find(|p| hex.starts_with(p.as_str()))
    }
}

pub fn run(
    repo: &Repository,
    what: ObjectQuery,
    ids: &[String],
    snapshots: &[String],
    filter: &Filter,
) -> Result<FindObjectsReport> {
    if ids.is_empty() {
        return Err(Error::usage("name the ids to find").hint("e.g. `arca find --blob 3fa9c1d2`"));
    }
    let ids: Vec<String> = ids.iter().map(|i| i.to_ascii_lowercase()).collect();
    if let Some(bad) = ids.iter().find(|i| i.is_empty() || !i.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(Error::usage(format!("{bad:?} is not an id (hex digits)")));
    }
    let _lock = repo.lock_read("find")?;
    let mut report = FindObjectsReport::default();
    let mut sought = Sought { blobs: vec![], trees: vec![], pack_of: HashMap::new() };
    match what {
        ObjectQuery::Blob => sought.blobs = ids.clone(),
        ObjectQuery::Tree => sought.trees = ids.clone(),
        ObjectQuery::Pack => {
            let index = repo.index()?;
            let mut contents: HashMap<String, BTreeSet<String>> = HashMap::new();
            for l in index.iter() {
                let pack = l.pack.to_hex();
                if !ids.iter().any(|p| pack.starts_with(p.as_str())) {
                    continue;
                }
                let id = l.entry.id.to_hex();
                contents.entry(pack.clone()).or_default().insert(format!("{} {id}", l.entry.blob_type));
                match l.entry.blob_type {
                    BlobType::Data => sought.blobs.push(id.clone()),
                    BlobType::Tree => sought.trees.push(id.clone()),
                }
                sought.pack_of.insert(id, pack);
            }
            for p in &ids {
                if !contents.keys().any(|k| k.starts_with(p.as_str())) {
                    report.not_found.push(p.clone());
                }
            }
            let mut packs: Vec<PackContents> =
                contents.into_iter().map(|(pack, b)| PackContents { pack, blobs: b.into_iter().collect() }).collect();
            packs.sort_by(|a, b| a.pack.cmp(&b.pack));
            report.packs = packs;
        }
    }
    let mut snaps = select_many(repo, snapshots, filter)?;
    snaps.sort_by(|a, b| b.1.time.cmp(&a.1.time));
    report.snapshots_searched = snaps.len();
    // trees known to hold none of the sought objects
    let mut barren: std::collections::HashSet<TreeId> = std::collections::HashSet::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    for (sid, snap) in &snaps {
        let mut found = vec![];
        let at = Found { snapshot: *sid, time: &snap.time };
        walk(repo, &sought, &at, snap.tree, "/".into(), &mut barren, &mut found)
            .ctx(format!("snapshot {}", sid.short()))?;
        for f in &found {
            used.insert(f.id.clone());
        }
        report.found.extend(found);
    }
    if what != ObjectQuery::Pack {
        for p in &ids {
            if !used.iter().any(|u| u.starts_with(p.as_str())) {
                report.not_found.push(p.clone());
            }
        }
    }
    Ok(report)
}

/// The snapshot being walked.
struct Found<'a> {
    snapshot: SnapshotId,
    time: &'a str,
}

/// Record the uses below the tree `id` at `path`; returns whether there were any.
fn walk(
    repo: &Repository,
    sought: &Sought,
    at: &Found,
    id: TreeId,
    path: String,
    barren: &mut std::collections::HashSet<TreeId>,
    found: &mut Vec<FoundObject>,
) -> Result<bool> {
    let mut any = false;
    let hex = id.to_hex();
    if sought.tree(&hex).is_some() {
        found.push(FoundObject {
            object_type: "tree",
            pack: sought.pack_of.get(&hex).cloned(),
            id: hex,
            path: path.clone(),
            parent_tree: None,
            snapshot: at.snapshot,
            time: at.time.to_string(),
        });
        any = true;
    }
    if barren.contains(&id) {
        return Ok(any);
    }
    let tree = repo.load_tree(&id)?;
    let mut below = false;
    for node in &tree.nodes {
        let p = if path.ends_with('/') {
            format!("{path}{}", node.name_lossy())
        } else {
            format!("{path}/{}", node.name_lossy())
        };
        if let Some(sub) = node.subtree {
            below |= walk(repo, sought, at, sub, p.clone(), barren, found)?;
        }
        if sought.blobs.is_empty() || (node.content.is_empty() && node.content_lists.is_empty()) {
            continue;
        }
        let mut seen = BTreeSet::new();
        for blob in repo.file_content(node)? {
            let bhex = blob.to_hex();
            if sought.blob(&bhex).is_some() && seen.insert(bhex.clone()) {
                found.push(FoundObject {
                    object_type: "blob",
                    pack: sought.pack_of.get(&bhex).cloned(),
                    id: bhex,
                    path: p.clone(),
                    parent_tree: Some(id),
                    snapshot: at.snapshot,
                    time: at.time.to_string(),
                });
                below = true;
            }
        }
    }
    if !below {
        barren.insert(id);
    }
    Ok(any || below)
}
