//! `arca snapshots`: list snapshots, restic-shaped.

use serde::Serialize;

use super::Filter;
use crate::error::Result;
use crate::format::snapshot::{Snapshot, Summary};
use crate::repo::Repository;

/// One snapshot as `snapshots --json` prints it (restic's shape plus arca's summary).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub time: String,
    pub parent: Option<String>,
    pub tree: String,
    pub paths: Vec<String>,
    pub hostname: String,
    pub username: String,
    pub uid: u32,
    pub gid: u32,
    pub excludes: Vec<String>,
    pub tags: Vec<String>,
    pub program_version: String,
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    pub id: String,
    pub short_id: String,
}

impl SnapshotInfo {
    pub fn new(id: &crate::id::SnapshotId, s: &Snapshot) -> Self {
        SnapshotInfo {
            time: s.time.clone(),
            parent: s.parent.map(|p| p.to_hex()),
            tree: s.tree.to_hex(),
            paths: s.paths.clone(),
            hostname: s.hostname.clone(),
            username: s.username.clone(),
            uid: s.uid,
            gid: s.gid,
            excludes: s.excludes.clone(),
            tags: s.tags.clone(),
            program_version: s.program_version.clone(),
            summary: s.summary.clone(),
            original: s.original.map(|o| o.to_hex()),
            id: id.to_hex(),
            short_id: id.short(),
        }
    }

    /// A snapshot file that cannot be read: only its id is known.
    pub fn unreadable(id: &crate::id::SnapshotId) -> Self {
        SnapshotInfo {
            time: String::new(),
            parent: None,
            tree: String::new(),
            paths: vec![],
            hostname: String::new(),
            username: String::new(),
            uid: 0,
            gid: 0,
            excludes: vec![],
            tags: vec![],
            program_version: String::new(),
            summary: None,
            original: None,
            id: id.to_hex(),
            short_id: id.short(),
        }
    }
}

pub fn run(repo: &Repository, filter: &Filter, ids: &[String]) -> Result<Vec<SnapshotInfo>> {
    let all = repo.snapshots()?;
    Ok(all
        .iter()
        .filter(|(id, s)| {
            filter.matches(s) && (ids.is_empty() || ids.iter().any(|p| id.to_hex().starts_with(p.as_str())))
        })
        .map(|(id, s)| SnapshotInfo::new(id, s))
        .collect())
}
