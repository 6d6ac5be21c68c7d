//! `arca snapshots`: list snapshots, restic-shaped.

use serde::Serialize;

use super::Filter;
use crate::error::Result;
use crate::format::snapshot::{Snapshot, Summary};
use crate::id::{SnapshotId, TreeId};
use crate::repo::Repository;

/// One snapshot as `snapshots --json` prints it (restic's shape plus arca's summary).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub time: String,
    pub parent: Option<SnapshotId>,
    /// The root tree; `None` (printed as `""`) for a snapshot file that cannot be read.
    #[serde(serialize_with = "crate::id::serialize_or_empty")]
    pub tree: Option<TreeId>,
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
    pub original: Option<SnapshotId>,
    pub id: SnapshotId,
    /// The same id, printed short (restic's `short_id`).
    #[serde(serialize_with = "crate::id::serialize_short")]
    pub short_id: SnapshotId,
}

impl SnapshotInfo {
    pub fn new(id: &SnapshotId, s: &Snapshot) -> Self {
        SnapshotInfo {
            time: s.time.clone(),
            parent: s.parent,
            tree: Some(s.tree),
            paths: s.paths.clone(),
            hostname: s.hostname.clone(),
            username: s.username.clone(),
            uid: s.uid,
            gid: s.gid,
            excludes: s.excludes.clone(),
            tags: s.tags.clone(),
            program_version: s.program_version.clone(),
            summary: s.summary.clone(),
            original: s.original,
            id: *id,
            short_id: *id,
        }
    }

    /// A snapshot file that cannot be read: only its id is known.
    pub fn unreadable(id: &SnapshotId) -> Self {
        SnapshotInfo {
            time: String::new(),
            parent: None,
            tree: None,
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
            id: *id,
            short_id: *id,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            time: "2026-12-07T00:00:00+00:00".into(),
            tree: TreeId([0xab; 32]),
            paths: vec!["/x".into()],
            hostname: "h".into(),
            username: "u".into(),
            uid: 1,
            gid: 2,
            tags: vec!["t".into()],
            parent: Some(SnapshotId([0x01; 32])),
            excludes: vec![],
            program_version: "arca test".into(),
            summary: None,
            original: Some(SnapshotId([0x02; 32])),
        }
    }

    /// `snapshots --json` is read by scripts: typed ids print exactly as the hex strings did
    /// (full ids, `short_id` 8 digits, an unreadable snapshot's tree `""`, `original` only when
    /// set).
    #[test]
    fn typed_ids_print_the_json_that_hex_strings_printed() {
        let id = SnapshotId([0xcd; 32]);
        let (h01, h02, hab, hcd) = (hex::encode([1; 32]), hex::encode([2; 32]), "ab".repeat(32), "cd".repeat(32));
        let json = serde_json::to_string(&SnapshotInfo::new(&id, &snapshot())).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"time":"2026-12-07T00:00:00+00:00","parent":"{h01}","tree":"{hab}","paths":["/x"],"hostname":"h","username":"u","uid":1,"gid":2,"excludes":[],"tags":["t"],"program_version":"arca test","summary":null,"original":"{h02}","id":"{hcd}","short_id":"cdcdcdcd"}}"#
            )
        );
        let json = serde_json::to_string(&SnapshotInfo::unreadable(&id)).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"time":"","parent":null,"tree":"","paths":[],"hostname":"","username":"","uid":0,"gid":0,"excludes":[],"tags":[],"program_version":"","summary":null,"id":"{hcd}","short_id":"cdcdcdcd"}}"#
            )
        );
    }
}
