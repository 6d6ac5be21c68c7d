//! The browsing namespace above the snapshots, built from path templates like restic's:
//! `ids/%i`, `snapshots/%T`, `hosts/%h/%T`, `tags/%t/%T`. Each template places every
//! snapshot at one path (one per tag for `%t`); the last component is the snapshot's root.
//! Names that collide get `-1`, `-2`…; every directory holding snapshots gets a `latest`
//! symlink to its newest one.

use std::collections::BTreeMap;

use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;

pub const DEFAULT_TEMPLATES: [&str; 4] = ["ids/%i", "snapshots/%T", "hosts/%h/%T", "tags/%t/%T"];
pub const DEFAULT_TIME_TEMPLATE: &str = "%Y-%m-%dT%H:%M:%SZ";

#[derive(Clone, Debug, PartialEq)]
pub enum MetaNode {
    /// A directory of the namespace: child names.
    Dir(Vec<Vec<u8>>),
    /// A snapshot's root: index into the snapshot list.
    Snapshot(usize),
    /// `latest`: the name of the newest sibling.
    Latest(Vec<u8>),
}

/// Paths (relative, `/`-separated, no leading slash; the root is empty) to nodes.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub nodes: BTreeMap<Vec<u8>, MetaNode>,
}

/// Expand one template for one snapshot: the paths it puts the snapshot at.
fn expand(template: &str, id: &SnapshotId, s: &Snapshot, time_template: &str) -> Vec<String> {
    let time = s
        .timestamp()
        .map(|t| t.with_timezone(&chrono::Utc).format(time_template).to_string())
        .unwrap_or_else(|| s.time.clone());
    let clean = |v: &str| {
        let v = v.replace('/', "_");
        if v.is_empty() || v == "." || v == ".." {
            format!("_{v}")
        } else {
            v
        }
    };
    let base = template
        .replace("%i", &id.short())
        .replace("%I", &id.to_hex())
        .replace("%T", &clean(&time))
        .replace("%h", &clean(&s.hostname))
        .replace("%u", &clean(&s.username));
    if base.contains("%t") {
        s.tags.iter().map(|t| base.replace("%t", &clean(t))).collect()
    } else {
        vec![base]
    }
}

impl Layout {
    /// Snapshots must be sorted oldest first: a collision's later snapshot gets the suffix.
    pub fn build(snapshots: &[(SnapshotId, Snapshot)], templates: &[String], time_template: &str) -> Layout {
        let mut dirs: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
        dirs.insert(vec![], vec![]);
        // a template's fixed leading directories exist even before any snapshot fills them
        for t in templates {
            let mut dir: Vec<u8> = vec![];
            let comps: Vec<&str> = t.split('/').filter(|c| !c.is_empty()).collect();
            for c in comps.iter().take(comps.len().saturating_sub(1)).take_while(|c| !c.contains('%')) {
                let siblings = dirs.entry(dir.clone()).or_default();
                if !siblings.iter().any(|n| n == c.as_bytes()) {
                    siblings.push(c.as_bytes().to_vec());
                }
                dir = join(&dir, c.as_bytes());
                dirs.entry(dir.clone()).or_default();
            }
        }
        let mut leaves: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        // per directory holding snapshots: its newest (latest time, then position)
        let mut newest: BTreeMap<Vec<u8>, (Vec<u8>, usize)> = BTreeMap::new();
        for (i, (id, s)) in snapshots.iter().enumerate() {
            for t in templates {
                for path in expand(t, id, s, time_template) {
                    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
                    let Some((last, parents)) = comps.split_last() else { continue };
                    let mut dir: Vec<u8> = vec![];
                    for c in parents {
                        let child = join(&dir, c.as_bytes());
                        let siblings = dirs.entry(dir.clone()).or_default();
                        if !siblings.iter().any(|n| n == c.as_bytes()) {
                            siblings.push(c.as_bytes().to_vec());
                        }
                        dirs.entry(child.clone()).or_default();
                        dir = child;
                    }
                    let mut name = last.as_bytes().to_vec();
                    let mut n = 0;
                    while leaves.contains_key(&join(&dir, &name))
                        || dirs.contains_key(&join(&dir, &name))
                        || name == b"latest"
                    {
                        n += 1;
                        name = format!("{last}-{n}").into_bytes();
                    }
                    dirs.entry(dir.clone()).or_default().push(name.clone());
                    leaves.insert(join(&dir, &name), i);
                    let newer = newest.get(&dir).is_none_or(|(_, j)| snapshots[*j].1.timestamp() <= s.timestamp());
                    if newer {
                        newest.insert(dir.clone(), (name, i));
                    }
                }
            }
        }
        let mut nodes = BTreeMap::new();
        for (dir, (name, _)) in &newest {
            dirs.entry(dir.clone()).or_default().push(b"latest".to_vec());
            nodes.insert(join(dir, b"latest"), MetaNode::Latest(name.clone()));
        }
        for (path, i) in leaves {
            nodes.insert(path, MetaNode::Snapshot(i));
        }
        for (path, mut children) in dirs {
            children.sort();
            nodes.insert(path, MetaNode::Dir(children));
        }
        Layout { nodes }
    }
}

pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        let mut p = dir.to_vec();
        p.push(b'/');
        p.extend_from_slice(name);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(time: &str, host: &str, tags: &[&str]) -> Snapshot {
        Snapshot {
            time: time.into(),
            tree: crate::id::TreeId([0; 32]),
            paths: vec!["/x".into()],
            hostname: host.into(),
            username: "u".into(),
            uid: 0,
            gid: 0,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            parent: None,
            excludes: vec![],
            program_version: "t".into(),
            summary: None,
            original: None,
            change_list: None,
        }
    }

    fn layout() -> Layout {
        let snaps = vec![
            (crate::id::SnapshotId([1; 32]), snap("2026-11-01T03:00:00+00:00", "laptop", &["daily"])),
            (crate::id::SnapshotId([2; 32]), snap("2026-11-02T03:00:00+00:00", "server", &["daily", "weekly"])),
            (crate::id::SnapshotId([3; 32]), snap("2026-11-02T03:00:00+00:00", "laptop", &[])),
        ];
        let t: Vec<String> = DEFAULT_TEMPLATES.iter().map(|s| s.to_string()).collect();
        Layout::build(&snaps, &t, DEFAULT_TIME_TEMPLATE)
    }

    fn dir(l: &Layout, p: &str) -> Vec<String> {
        match &l.nodes[p.as_bytes()] {
            MetaNode::Dir(c) => c.iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect(),
            other => panic!("{p} is {other:?}"),
        }
    }

    #[test]
    fn every_template_places_every_snapshot_and_latest_points_at_the_newest() {
        let l = layout();
        assert_eq!(dir(&l, ""), ["hosts", "ids", "snapshots", "tags"]);
        assert_eq!(dir(&l, "ids"), ["01010101", "02020202", "03030303", "latest"]);
        assert_eq!(
            dir(&l, "snapshots"),
            ["2026-11-01T03:00:00Z", "2026-11-02T03:00:00Z", "2026-11-02T03:00:00Z-1", "latest"],
            "the same second twice: a suffix"
        );
        assert_eq!(l.nodes[&b"snapshots/latest"[..]], MetaNode::Latest(b"2026-11-02T03:00:00Z-1".to_vec()));
        assert_eq!(dir(&l, "hosts"), ["laptop", "server"]);
        assert_eq!(dir(&l, "hosts/laptop"), ["2026-11-01T03:00:00Z", "2026-11-02T03:00:00Z", "latest"]);
        assert_eq!(dir(&l, "tags"), ["daily", "weekly"]);
        assert_eq!(l.nodes[&b"tags/weekly/2026-11-02T03:00:00Z"[..]], MetaNode::Snapshot(1));
    }

    #[test]
    fn hostile_names_stay_single_components() {
        let snaps =
            vec![(crate::id::SnapshotId([9; 32]), snap("2026-11-01T03:00:00+00:00", "../../etc", &["a/b", ".."]))];
        let t: Vec<String> = DEFAULT_TEMPLATES.iter().map(|s| s.to_string()).collect();
        let l = Layout::build(&snaps, &t, DEFAULT_TIME_TEMPLATE);
        assert_eq!(dir(&l, "hosts"), [".._.._etc"]);
        assert_eq!(dir(&l, "tags"), ["_..", "a_b"]);
    }
}
