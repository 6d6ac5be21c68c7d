//! `arca ls`: list a snapshot's nodes, as restic does (JSON lines: the snapshot, then nodes).

use serde::Serialize;

use super::{select, Filter};
use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind, Time};
use crate::id::TreeId;
use crate::repo::Repository;

#[derive(Debug, Serialize)]
pub struct LsNode {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub group: String,
    pub size: u64,
    pub mode: u32,
    pub permissions: String,
    pub mtime: String,
    pub atime: String,
    pub ctime: String,
    pub inode: u64,
    pub links: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    pub struct_type: &'static str,
}

/// What `ls --sort` (and the server's tree listing) orders a directory by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// The tree's own order.
    Name,
    Size,
    Mtime,
    Atime,
    Ctime,
    Extension,
}

/// restic's `ls --sort KEY [--reverse]`: a stable sort, so entries with equal keys keep the
/// tree's order; `Name` is the tree's order itself. Times compare as instants (the nodes carry
/// them as RFC 3339 text with the local offset, so as text only within one offset).
pub fn sort_nodes(nodes: &mut [LsNode], by: SortKey, reverse: bool) {
    let instant = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let ext = |n: &LsNode| std::path::Path::new(&n.name).extension().map(|e| e.to_os_string());
    match by {
        SortKey::Name => {}
        SortKey::Size => nodes.sort_by_key(|n| n.size),
        SortKey::Mtime => nodes.sort_by_key(|n| instant(&n.mtime)),
        SortKey::Atime => nodes.sort_by_key(|n| instant(&n.atime)),
        SortKey::Ctime => nodes.sort_by_key(|n| instant(&n.ctime)),
        SortKey::Extension => nodes.sort_by_key(ext),
    }
    if reverse {
        nodes.reverse();
    }
}

pub fn format_ns(ns: i64) -> String {
    format_time(Time::from_nanos(ns))
}

/// A node time as RFC 3339 in local time, to the nanosecond (empty past what a date holds).
pub fn format_time(t: Time) -> String {
    t.to_utc()
        .map(|t| t.with_timezone(&chrono::Local).to_rfc3339_opts(chrono::SecondsFormat::Nanos, false))
        .unwrap_or_default()
}

pub fn permissions(node: &Node) -> String {
    let t = match node.kind {
        NodeKind::Dir => 'd',
        NodeKind::Symlink => 'L',
        NodeKind::Chardev => 'c',
        NodeKind::Blockdev => 'D',
        NodeKind::Fifo => 'p',
        NodeKind::Socket => 'S',
        NodeKind::File => '-',
    };
    let m = node.mode;
    let mut s = String::from(t);
    // ls(1)'s letters: setuid, setgid and sticky show in the execute places, lower case
    // where that execute bit is set too (s, t) and upper case where it is not (S, T)
    let x = |exec: u32, special: u32, set: char, unset: char| match (m & exec != 0, m & special != 0) {
        (true, true) => set,
        (false, true) => unset,
        (true, false) => 'x',
        (false, false) => '-',
    };
    let bit = |b: u32, c: char| if m & b != 0 { c } else { '-' };
    s.extend([bit(0o400, 'r'), bit(0o200, 'w'), x(0o100, 0o4000, 's', 'S')]);
    s.extend([bit(0o40, 'r'), bit(0o20, 'w'), x(0o10, 0o2000, 's', 'S')]);
    s.extend([bit(0o4, 'r'), bit(0o2, 'w'), x(0o1, 0o1000, 't', 'T')]);
    s
}

impl LsNode {
    pub fn new(node: &Node, path: String) -> Self {
        LsNode {
            name: node.name_lossy(),
            kind: node.kind.as_str(),
            path,
            uid: node.uid,
            gid: node.gid,
            user: node.user.clone(),
            group: node.group.clone(),
            size: node.size,
            mode: node.mode,
            permissions: permissions(node),
            mtime: format_time(node.mtime),
            atime: format_time(node.atime),
            ctime: format_time(node.ctime),
            inode: node.inode,
            links: node.links,
            link_target: node.link_target.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()),
            struct_type: "node",
        }
    }
}

pub struct LsCommand {
    pub snapshot: String,
    pub dirs: Vec<String>,
    pub recursive: bool,
    pub filter: Filter,
}

/// Lists nodes through `emit`; returns the snapshot listed.
pub fn run(repo: &Repository, cmd: &LsCommand, emit: &mut dyn FnMut(LsNode)) -> Result<super::snapshots::SnapshotInfo> {
    // `ls SNAPSHOT:PATH` is `ls SNAPSHOT PATH`
    let spec = super::select::SnapshotPath::parse(&cmd.snapshot);
    let (id, snap) = select(repo, spec.snapshot, &cmd.filter)?;
    let info = super::snapshots::SnapshotInfo::new(&id, &snap);
    let dirs: Vec<&str> = spec.path.into_iter().chain(cmd.dirs.iter().map(String::as_str)).collect();
    if dirs.is_empty() {
        walk(repo, &snap.tree, "", true, emit)?;
        return Ok(info);
    }
    for d in dirs {
        let d = super::select::absolute_in(repo, &snap, &id, d.trim_end_matches('/'))?;
        let d = d.as_str();
        match repo.find_path(&snap.tree, d)? {
            None => walk(repo, &snap.tree, "", cmd.recursive, emit)?,
            Some(n) if n.kind == NodeKind::Dir => {
                emit(LsNode::new(&n, d.to_string()));
                let sub = n.subtree.ok_or_else(|| Error::corrupt("directory without subtree"))?;
                walk(repo, &sub, d, cmd.recursive, emit)?;
            }
            Some(n) => emit(LsNode::new(&n, d.to_string())),
        }
    }
    Ok(info)
}

/// One directory of a snapshot, its entries in the tree's order (by name), for a face that
/// pages through them (`arca serve`). `path` is absolute inside the snapshot (`/` the root); a
/// file is listed as itself. `NotFound` when nothing is at `path`, where `run` lists the root
/// as restic's `ls` does.
pub fn list_dir(repo: &Repository, snap: &crate::format::snapshot::Snapshot, path: &str) -> Result<Vec<LsNode>> {
    let (total, nodes) = list_dir_page(repo, snap, path, 0, usize::MAX)?;
    debug_assert_eq!(total, nodes.len());
    Ok(nodes)
}

/// One page of [`list_dir`] in the tree's (name) order, and how many entries there are in
/// all: the tree is decoded once, but only the page's entries are made into [`LsNode`]s (their
/// times and permissions formatted), so the first page of a directory of 100,000 entries costs
/// little more than its decoding.
pub fn list_dir_page(
    repo: &Repository,
    snap: &crate::format::snapshot::Snapshot,
    path: &str,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<LsNode>)> {
    let at = path.trim_end_matches('/');
    let tree = if at.is_empty() {
        snap.tree
    } else {
        match repo.find_path(&snap.tree, at)? {
            None => {
                return Err(Error::new(Kind::NotFound, format!("{at}: no such file or directory in the snapshot"))
                    .hint("list the directory above it to see what is there"))
            }
            Some(n) if n.kind == NodeKind::Dir => {
                n.subtree.ok_or_else(|| Error::corrupt(format!("{at}: directory without subtree")))?
            }
            Some(n) => {
                let page = if offset == 0 && limit > 0 { vec![LsNode::new(&n, at.to_string())] } else { vec![] };
                return Ok((1, page));
            }
        }
    };
    let t = repo.load_tree(&tree)?;
    let page =
        t.nodes.iter().skip(offset).take(limit).map(|n| LsNode::new(n, format!("{at}/{}", n.name_lossy()))).collect();
    Ok((t.nodes.len(), page))
}

fn walk(repo: &Repository, tree: &TreeId, at: &str, recursive: bool, emit: &mut dyn FnMut(LsNode)) -> Result<()> {
    let t = repo.load_tree(tree)?;
    for n in &t.nodes {
        let p = format!("{at}/{}", n.name_lossy());
        emit(LsNode::new(n, p.clone()));
        if recursive && n.kind == NodeKind::Dir {
            let sub = n.subtree.ok_or_else(|| Error::new(Kind::Corrupt, format!("{p}: directory without subtree")))?;
            crate::format::tree::check_depth(crate::format::tree::path_depth(&p), &p)?;
            walk(repo, &sub, &p, true, emit)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(kind: NodeKind, mode: u32) -> String {
        let mut n = Node::new(b"x".to_vec(), kind);
        n.mode = mode;
        permissions(&n)
    }

    #[test]
    fn permissions_show_setuid_setgid_and_sticky_as_ls_does() {
        assert_eq!(mode(NodeKind::File, 0o644), "-rw-r--r--");
        assert_eq!(mode(NodeKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode(NodeKind::File, 0o4644), "-rwSr--r--");
        assert_eq!(mode(NodeKind::File, 0o2755), "-rwxr-sr-x");
        assert_eq!(mode(NodeKind::File, 0o2745), "-rwxr-Sr-x");
        assert_eq!(mode(NodeKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode(NodeKind::Dir, 0o1776), "drwxrwxrwT");
        assert_eq!(mode(NodeKind::Dir, 0o7777), "drwsrwsrwt");
    }
}
