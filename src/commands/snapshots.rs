//! `arca snapshots`: list snapshots, restic-shaped.

use serde::Serialize;

use super::forget::GroupBy;
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
    /// Made from a change list: how many paths it named (`backup --changed-paths`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_list: Option<u64>,
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
            change_list: s.change_list,
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
            change_list: None,
            id: *id,
            short_id: *id,
        }
    }
}

/// What `arca snapshots` shows: ids (or `latest`, `latest@TIME`) resolved one by one, each an
/// error when it names no snapshot (restic: "no matching ID found"), then the filter, then
/// the newest `latest` of each group.
#[derive(Debug, Default)]
pub struct Query {
    pub filter: Filter,
    pub ids: Vec<String>,
    /// `--latest N`: only the N newest snapshots of each group (host and paths, or `group_by`).
    pub latest: Option<usize>,
    /// `--group-by`: the snapshots in groups (restic's `group_key` JSON shape).
    pub group_by: Option<GroupBy>,
}

/// One group of `snapshots --group-by` (restic's JSON: `group_key` with `hostname`, `paths`,
/// `tags`, each null where the group is not made by that field).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotGroup {
    pub group_key: GroupKey,
    pub snapshots: Vec<SnapshotInfo>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub hostname: Option<String>,
    pub paths: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
}

impl GroupKey {
    fn of(by: GroupBy, s: &Snapshot) -> GroupKey {
        let (hostname, paths, tags) = by.key(s);
        GroupKey { hostname, paths, tags }
    }

    /// The key in words, as restic heads each group: `host h, paths [...], tags [...]`.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(h) = &self.hostname {
            parts.push(format!("host [{h}]"));
        }
        if let Some(p) = &self.paths {
            parts.push(format!("paths [{}]", p.join(", ")));
        }
        if let Some(t) = &self.tags {
            parts.push(format!("tags [{}]", t.join(", ")));
        }
        parts.join(", ")
    }
}

/// The snapshots `q` asks for, oldest first, in groups (one group with an empty key when
/// `q.group_by` is `None`).
pub fn run(repo: &Repository, q: &Query) -> Result<Vec<SnapshotGroup>> {
    pick(repo.snapshots()?, q)
}

fn pick(all: Vec<(SnapshotId, Snapshot)>, q: &Query) -> Result<Vec<SnapshotGroup>> {
    let mut chosen: Vec<(SnapshotId, Snapshot)> = if q.ids.is_empty() {
        all.into_iter().filter(|(_, s)| q.filter.matches(s)).collect()
    } else {
        let mut ids = std::collections::HashSet::new();
        for sel in &q.ids {
            let (id, _) = super::select::select_from(all.clone(), sel, &q.filter)?;
            ids.insert(id);
        }
        all.into_iter().filter(|(id, _)| ids.contains(id)).collect()
    };
    if let Some(n) = q.latest {
        // restic: the last n snapshots of each host and path
        let by = q.group_by.unwrap_or(GroupBy { host: true, paths: true, tags: false });
        let mut seen: std::collections::HashMap<GroupKey, usize> = Default::default();
        let mut keep = vec![false; chosen.len()];
        for (i, (_, s)) in chosen.iter().enumerate().rev() {
            let count = seen.entry(GroupKey::of(by, s)).or_default();
            if *count < n {
                *count += 1;
                keep[i] = true;
            }
        }
        let mut keep = keep.into_iter();
        chosen.retain(|_| keep.next().unwrap_or(false));
    }
    let by = q.group_by.unwrap_or(GroupBy { host: false, paths: false, tags: false });
    let mut groups: std::collections::BTreeMap<GroupKey, Vec<SnapshotInfo>> = Default::default();
    for (id, s) in &chosen {
        groups.entry(GroupKey::of(by, s)).or_default().push(SnapshotInfo::new(id, s));
    }
    if groups.is_empty() && q.group_by.is_none() {
        groups.insert(GroupKey { hostname: None, paths: None, tags: None }, vec![]);
    }
    Ok(groups.into_iter().map(|(group_key, snapshots)| SnapshotGroup { group_key, snapshots }).collect())
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
            change_list: None,
        }
    }

    fn at(time: &str, host: &str, byte: u8) -> (SnapshotId, Snapshot) {
        (SnapshotId([byte; 32]), Snapshot { time: time.into(), hostname: host.into(), ..snapshot() })
    }

    fn ids(groups: &[SnapshotGroup]) -> Vec<Vec<u8>> {
        groups.iter().map(|g| g.snapshots.iter().map(|s| s.id.0[0]).collect()).collect()
    }

    /// `snapshots latest`, `snapshots ID…`, `--latest N` per host and paths, `--group-by`; an id
    /// that names no snapshot is an error, never an empty list.
    #[test]
    fn ids_latest_and_groups_select_as_restic_does() {
        let all = vec![
            at("2026-01-01T00:00:00Z", "a", 0x11),
            at("2026-01-02T00:00:00Z", "b", 0x22),
            at("2026-01-03T00:00:00Z", "a", 0x33),
            at("2026-01-04T00:00:00Z", "a", 0x44),
        ];
        let q = |ids: &[&str], latest, group_by| Query {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            latest,
            group_by,
            ..Default::default()
        };
        assert_eq!(ids(&pick(all.clone(), &q(&["latest"], None, None)).unwrap()), vec![vec![0x44]]);
        assert_eq!(ids(&pick(all.clone(), &q(&["22", "11"], None, None)).unwrap()), vec![vec![0x11, 0x22]]);
        let e = pick(all.clone(), &q(&["99"], None, None)).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::NotFound, "{e}");
        assert_eq!(ids(&pick(all.clone(), &q(&[], Some(1), None)).unwrap()), vec![vec![0x22, 0x44]]);
        let host = Some(GroupBy::parse("host").unwrap());
        let g = pick(all.clone(), &q(&[], Some(2), host)).unwrap();
        assert_eq!(ids(&g), vec![vec![0x33, 0x44], vec![0x22]]);
        assert_eq!(g[0].group_key.hostname.as_deref(), Some("a"));
        assert_eq!(g[0].group_key.paths, None);
        assert_eq!(ids(&pick(vec![], &q(&[], None, None)).unwrap()), vec![Vec::<u8>::new()]);
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
