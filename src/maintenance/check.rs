//! Structural check: every index entry points into an existing pack within its bounds, every
//! pack's header agrees with the index, every snapshot's trees decode and every blob they
//! reference is indexed. With `read_data`, every blob is downloaded and authenticated.

use std::collections::{HashMap, HashSet};

use crate::error::Result;
use crate::format::tree::NodeKind;
use crate::format::BlobType;
use crate::id::{BlobId, PackId};
use crate::repo::{pack_path, Repository};

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
    pub trees_checked: usize,
    pub blobs_read: usize,
    /// Packs no index names: left by an interrupted backup. Harmless; the next backup
    /// indexes and reuses them.
    pub unreferenced_packs: Vec<String>,
    pub errors: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

pub fn check(repo: &Repository, read_data: bool) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let stored: HashMap<String, u64> = repo.backend().list("data/")?.into_iter().map(|e| (e.path, e.size)).collect();
    repo.load_index()?;
    let idx = repo.index()?;
    report.blobs = idx.len();
    let mut by_pack: HashMap<PackId, Vec<crate::repo::BlobLocation>> = HashMap::new();
    for loc in idx.iter() {
        by_pack.entry(loc.pack).or_default().push(loc);
    }
    report.packs = by_pack.len();
    for (pack, locs) in &by_pack {
        let path = pack_path(pack);
        let Some(&size) = stored.get(&path) else {
            report.errors.push(format!("pack {pack} is indexed but missing ({} blobs)", locs.len()));
            continue;
        };
        match repo.read_pack_header(pack, size) {
            Ok(entries) => {
                let listed: HashSet<(BlobId, u32, u32)> = entries.iter().map(|e| (e.id, e.offset, e.length)).collect();
                for l in locs {
                    if !listed.contains(&(l.entry.id, l.entry.offset, l.entry.length)) {
                        report.errors.push(format!(
                            "pack {pack}: index entry for blob {} does not match the pack header",
                            l.entry.id
                        ));
                    }
                }
            }
            Err(e) => report.errors.push(format!("pack {pack}: {}", e.message)),
        }
        if read_data {
            for l in locs {
                report.blobs_read += 1;
                if let Err(e) = repo.read_blob_at(l) {
                    report.errors.push(format!("pack {pack}: blob {}: {}", l.entry.id, e.message));
                }
            }
        }
    }
    let indexed_packs: HashSet<String> = by_pack.keys().map(pack_path).collect();
    for path in stored.keys() {
        if !indexed_packs.contains(path) {
            report.unreferenced_packs.push(path.clone());
        }
    }
    drop(idx);
    let snaps = repo.snapshots()?;
    report.snapshots = snaps.len();
    let mut seen: HashSet<BlobId> = HashSet::new();
    for (sid, snap) in &snaps {
        let mut stack = vec![(snap.tree, String::from("/"))];
        while let Some((tid, at)) = stack.pop() {
            if !seen.insert(tid) {
                continue;
            }
            report.trees_checked += 1;
            let tree = match repo.load_tree(&tid) {
                Ok(t) => t,
                Err(e) => {
                    report.errors.push(format!(
                        "snapshot {}: tree {} at {at}: {}",
                        sid.short(),
                        tid.short(),
                        e.message
                    ));
                    continue;
                }
            };
            let idx = repo.index()?;
            for n in &tree.nodes {
                let p = format!("{}{}", at, n.name_lossy());
                match n.kind {
                    NodeKind::Dir => {
                        if let Some(s) = n.subtree {
                            stack.push((s, format!("{p}/")));
                        }
                    }
                    NodeKind::File => {
                        for id in n.content.iter() {
                            if idx.get(id).is_none_or(|l| l.entry.blob_type != BlobType::Data) {
                                report.errors.push(format!(
                                    "snapshot {}: {p}: data blob {} missing",
                                    sid.short(),
                                    id.short()
                                ));
                            }
                        }
                        for id in &n.content_lists {
                            if !idx.contains(id) {
                                report.errors.push(format!(
                                    "snapshot {}: {p}: content list {} missing",
                                    sid.short(),
                                    id.short()
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(report)
}
