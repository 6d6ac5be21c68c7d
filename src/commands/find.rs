//! `arca find`: which snapshots hold files whose names match patterns (newest first), and
//! one path's version history across snapshots. Both are answered from the history catalog
//! (`cache::history`), which is brought up to date incrementally first: only trees no
//! earlier snapshot had are read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use globset::{GlobBuilder, GlobMatcher};
use serde::Serialize;

use super::ls::format_time;
use super::select::select_many_from;
use super::Filter;
use crate::cache::history::{Entry, History};
use crate::error::{Error, Result, ResultExt};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind, Time};
use crate::id::SnapshotId;
use crate::repo::Repository;

#[derive(Clone, Debug, Default)]
pub struct FindOptions {
    /// Glob patterns matched against names (or full paths, when they contain `/`).
    pub patterns: Vec<String>,
    pub ignore_case: bool,
    /// Only entries modified at or after / at or before (nanoseconds since the epoch).
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
    /// Snapshot selectors; none: every snapshot the filter selects.
    pub snapshots: Vec<String>,
    pub filter: Filter,
    /// `--path`: this path's version history instead of name matches.
    pub path: Option<String>,
}

/// What `arca find` found: matches grouped by snapshot, or one path's history.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Found {
    Matches(Vec<SnapshotMatches>),
    History(PathHistory),
}

/// `arca find`: under a read lock, bring the history catalog up to date (`log` hears about
/// new snapshots), then answer from it: [`history`] of `o.path` when given, else [`find`].
pub fn run(repo: &Repository, o: &FindOptions, log: &dyn Fn(String)) -> Result<Found> {
    let _lock = repo.lock_read("find")?;
    let catalog = catalog(repo, log)?;
    match &o.path {
        Some(path) => history(repo, &catalog, path, o).map(Found::History),
        None => find(repo, &catalog, o).map(Found::Matches),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Match {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub permissions: String,
    pub mode: u32,
    pub size: u64,
    pub mtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SnapshotMatches {
    pub snapshot: SnapshotId,
    pub time: String,
    pub hits: usize,
    pub matches: Vec<Match>,
}

/// One version of a path: the same content, size and modification time in a run of
/// snapshots.
#[derive(Clone, Debug, Serialize)]
pub struct Version {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
    pub mtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Snapshots holding this version, newest first.
    pub snapshots: Vec<SnapshotId>,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PathHistory {
    pub path: String,
    pub snapshots_searched: usize,
    /// Newest first.
    pub versions: Vec<Version>,
}

/// Where a directory appears: (snapshot id, path bytes) pairs, shared between lookups.
type Places = std::rc::Rc<Vec<([u8; 32], Vec<u8>)>>;
/// What makes two entries of one path the same version.
type VersionKey = (Option<[u8; 32]>, u64, Time, &'static str);

/// The catalog of `repo`, brought up to date with its snapshots.
pub fn catalog(repo: &Repository, log: &dyn Fn(String)) -> Result<History> {
    let h = open_catalog(repo)?;
    update_catalog(repo, &h, &repo.snapshots()?, log)?;
    Ok(h)
}

/// The catalog file of `repo`'s cache (one in memory without a cache, or when the file is
/// unusable), as it is: [`update_catalog`] brings it up to date.
pub fn open_catalog(repo: &Repository) -> Result<History> {
    let file = repo.cache().map(|c| c.dir().join("history.sqlite"));
    let open = History::open;
    let h = match file.as_deref().map(|f| open(Some(f))) {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            tracing::warn!("history catalog unusable ({}); building one in memory", e.message);
            open(None)?
        }
        None => open(None)?,
    };
    Ok(h)
}

/// Bring the catalog `h` up to date with the snapshot list `snaps`: gone snapshots are
/// removed, and only trees no earlier snapshot had are read for new ones (a long-running
/// server keeps one catalog and calls this when its snapshot list changed).
pub fn update_catalog(
    repo: &Repository,
    h: &History,
    snaps: &[(SnapshotId, Snapshot)],
    log: &dyn Fn(String),
) -> Result<()> {
    let known = h.snapshot_ids()?;
    let listed: HashSet<[u8; 32]> = snaps.iter().map(|(id, _)| id.0).collect();
    for gone in known.difference(&listed) {
        h.remove_snapshot(gone)?;
    }
    let new: Vec<_> = snaps.iter().filter(|(id, _)| !known.contains(&id.0)).collect();
    if !new.is_empty() {
        log(format!("adding {} snapshot{} to the history catalog", new.len(), if new.len() == 1 { "" } else { "s" }));
    }
    for (id, s) in new {
        h.begin()?;
        let mut stack = vec![s.tree];
        while let Some(t) = stack.pop() {
            if h.has_tree(&t.0)? {
                continue;
            }
            let tree = repo.load_tree(&t).ctx(format!("snapshot {}", id.short()))?;
            stack.extend(tree.nodes.iter().filter_map(|n| n.subtree));
            h.add_tree(&t.0, &tree.nodes, content_key)?;
        }
        h.add_snapshot(&id.0, &s.tree.0)?;
        h.commit()?;
    }
    Ok(())
}

/// A file's content identity: its content ids and content lists, hashed; inline content
/// (format 4) hashed under its own prefix, so it never equals a list of ids.
fn content_key(n: &Node) -> Option<[u8; 32]> {
    (n.kind == NodeKind::File).then(|| {
        let mut h = blake3::Hasher::new();
        if let Some(b) = &n.inline {
            h.update(b"inline content\0");
            h.update(b);
        }
        for id in n.content.iter().chain(&n.content_lists) {
            h.update(&id.0);
        }
        *h.finalize().as_bytes()
    })
}

fn glob(p: &str, ignore_case: bool) -> Result<GlobMatcher> {
    GlobBuilder::new(p)
        .case_insensitive(ignore_case)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| Error::usage(format!("bad pattern {p:?}: {e}")))
}

fn short_content(c: &Option<[u8; 32]>) -> Option<String> {
    c.map(|c| c[..8].iter().map(|b| format!("{b:02x}")).collect())
}

fn matched(path: String, e: &Entry) -> Match {
    let mut n = Node::new(e.name.clone(), e.kind);
    n.mode = e.mode;
    Match {
        path,
        kind: e.kind.as_str(),
        permissions: super::ls::permissions(&n),
        mode: e.mode,
        size: e.size,
        mtime: format_time(e.mtime),
        content_id: short_content(&e.content),
    }
}

/// The selected snapshots of `all`, newest first.
fn selected(all: &[(SnapshotId, Snapshot)], o: &FindOptions) -> Result<Vec<(SnapshotId, Snapshot)>> {
    let mut s = select_many_from(all.to_vec(), &o.snapshots, &o.filter)?;
    s.sort_by(|a, b| b.1.timestamp().cmp(&a.1.timestamp()).then(b.0.cmp(&a.0)));
    Ok(s)
}

/// Files and directories whose names match, grouped by snapshot, newest first.
pub fn find(repo: &Repository, h: &History, o: &FindOptions) -> Result<Vec<SnapshotMatches>> {
    find_in(h, &repo.snapshots()?, o)
}

/// [`find`] among the snapshots `all` (oldest first, as `Repository::snapshots` lists them),
/// which a caller that keeps the list (the server) passes without reading it again.
pub fn find_in(h: &History, all: &[(SnapshotId, Snapshot)], o: &FindOptions) -> Result<Vec<SnapshotMatches>> {
    if o.patterns.is_empty() {
        return Err(Error::usage("find needs a pattern, or --path for one path's history"));
    }
    let mut name_globs = vec![];
    let mut path_globs = vec![];
    for p in &o.patterns {
        let last = p.trim_end_matches('/').rsplit('/').next().unwrap_or(p);
        name_globs.push(glob(last, o.ignore_case)?);
        if p.contains('/') {
            let full = if p.starts_with('/') { p.clone() } else { format!("**/{p}") };
            path_globs.push(glob(&full, o.ignore_case)?);
        } else {
            path_globs.push(glob("**", false)?);
        }
    }
    let mut names = vec![];
    h.names(|n| {
        let c = OsStr::from_bytes(n);
        if name_globs.iter().any(|g| g.is_match(c)) {
            names.push(n.to_vec());
        }
    })?;
    let wanted: HashMap<[u8; 32], (SnapshotId, Snapshot)> =
        selected(all, o)?.into_iter().map(|(id, s)| (id.0, (id, s))).collect();
    let mut memo: HashMap<[u8; 32], Places> = HashMap::new();
    let mut by_snap: HashMap<[u8; 32], Vec<Match>> = HashMap::new();
    for name in names {
        for e in h.named(&name)? {
            if o.oldest.is_some_and(|t| e.mtime < Time::from_nanos(t))
                || o.newest.is_some_and(|t| e.mtime > Time::from_nanos(t))
            {
                continue;
            }
            for (sid, dir) in paths_of(h, &e.tree, &mut memo, 0)?.iter() {
                if !wanted.contains_key(sid) {
                    continue;
                }
                let mut path = dir.clone();
                path.push(b'/');
                path.extend_from_slice(&e.name);
                let p = OsStr::from_bytes(&path);
                let hit = o
                    .patterns
                    .iter()
                    .zip(name_globs.iter().zip(&path_globs))
                    .any(|(_, (ng, pg))| ng.is_match(OsStr::from_bytes(&e.name)) && pg.is_match(p));
                if hit {
                    let shown = String::from_utf8_lossy(&path).into_owned();
                    by_snap.entry(*sid).or_default().push(matched(shown, &e));
                }
            }
        }
    }
    let mut out: Vec<SnapshotMatches> = by_snap
        .into_iter()
        .filter_map(|(sid, mut matches)| {
            let (id, s) = wanted.get(&sid)?;
            matches.sort_by(|a, b| a.path.cmp(&b.path));
            Some(SnapshotMatches { snapshot: *id, time: s.time.clone(), hits: matches.len(), matches })
        })
        .collect();
    out.sort_by(|a, b| {
        let t = |m: &SnapshotMatches| wanted.get(&m.snapshot.0).and_then(|w| w.1.timestamp());
        t(b).cmp(&t(a)).then(b.snapshot.cmp(&a.snapshot))
    });
    Ok(out)
}

/// Every (snapshot, path) at which the directory `tree` appears. Paths are raw bytes
/// without a trailing `/`; a snapshot's root is the empty path.
fn paths_of(h: &History, tree: &[u8; 32], memo: &mut HashMap<[u8; 32], Places>, depth: usize) -> Result<Places> {
    if let Some(v) = memo.get(tree) {
        return Ok(v.clone());
    }
    crate::format::tree::check_depth(depth, &"history catalog")?;
    let mut out: Vec<([u8; 32], Vec<u8>)> = h.snapshots_rooted_at(tree)?.into_iter().map(|s| (s, vec![])).collect();
    for (parent, name) in h.parents(tree)? {
        for (sid, dir) in paths_of(h, &parent, memo, depth + 1)?.iter() {
            let mut p = dir.clone();
            p.push(b'/');
            p.extend_from_slice(&name);
            out.push((*sid, p));
        }
    }
    let out = std::rc::Rc::new(out);
    memo.insert(*tree, out.clone());
    Ok(out)
}

/// Every version of `path` across the selected snapshots, newest first.
pub fn history(repo: &Repository, h: &History, path: &str, o: &FindOptions) -> Result<PathHistory> {
    history_in(h, &repo.snapshots()?, path, o)
}

/// [`history`] among the snapshots `all` (see [`find_in`]).
pub fn history_in(h: &History, all: &[(SnapshotId, Snapshot)], path: &str, o: &FindOptions) -> Result<PathHistory> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if comps.is_empty() {
        return Err(Error::usage("--path needs a path below the snapshot root, e.g. /home/me/report.odt"));
    }
    let snaps = selected(all, o)?;
    let mut versions: Vec<Version> = vec![];
    let mut index: BTreeMap<VersionKey, usize> = BTreeMap::new();
    for (id, s) in &snaps {
        let mut tree = s.tree.0;
        let mut found = None;
        for (i, c) in comps.iter().enumerate() {
            let Some(e) = h.lookup(&tree, c.as_bytes())? else { break };
            if i + 1 == comps.len() {
                found = Some(e);
            } else if let Some(sub) = e.subtree {
                tree = sub;
            } else {
                break;
            }
        }
        let Some(e) = found else { continue };
        if o.oldest.is_some_and(|t| e.mtime < Time::from_nanos(t))
            || o.newest.is_some_and(|t| e.mtime > Time::from_nanos(t))
        {
            continue;
        }
        let key = (e.content, e.size, e.mtime, e.kind.as_str());
        let i = *index.entry(key).or_insert_with(|| {
            versions.push(Version {
                kind: e.kind.as_str(),
                size: e.size,
                mtime: format_time(e.mtime),
                content_id: short_content(&e.content),
                snapshots: vec![],
                first_seen: s.time.clone(),
                last_seen: s.time.clone(),
            });
            versions.len() - 1
        });
        let v = &mut versions[i];
        v.snapshots.push(*id);
        v.first_seen = s.time.clone(); // snapshots come newest first
    }
    Ok(PathHistory { path: path.to_string(), snapshots_searched: snaps.len(), versions })
}
