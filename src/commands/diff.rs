//! `arca diff`: what changed between two snapshots, or between a snapshot and a live
//! directory, as restic prints it: `+` added, `-` removed, `M` content changed, `T` type
//! changed, `U` metadata only (with `--metadata`), then counts of files, directories, blobs
//! and bytes on each side.
//!
//! Between snapshots only subtrees whose ids differ are read. Against a live directory a
//! file is read (and cut into chunks with the repository's chunker) only when its size or
//! modification time differ from the snapshot's.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archiver::metadata::{node_from_metadata, read_xattrs};
use crate::error::{Error, Result, ResultExt};
use crate::format::tree::{Node, NodeKind, Time, MAX_INLINE_BYTES};
use crate::format::BlobType;
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::repo::Repository;

/// One side of a comparison: a directory in a snapshot or on disk.
#[derive(Clone, Debug)]
pub enum Dir {
    Tree(TreeId),
    Live(PathBuf),
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub path: String,
    pub modifier: char,
    /// Against a live directory: the ctime of the live entry, or for a removed one the ctime
    /// of its nearest live parent directory (when the change happened at the latest).
    #[serde(skip)]
    pub live_ctime: Option<Time>,
}

/// Which entries a comparison with a live directory looks at: called with each entry's path
/// on disk and node, and whether the node is the live one (`true`) or the snapshot's.
pub type Keep<'f> = &'f dyn Fn(&Path, &Node, bool) -> bool;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub files: u64,
    pub dirs: u64,
    pub others: u64,
    pub data_blobs: u64,
    pub tree_blobs: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DiffStats {
    pub changed_files: u64,
    pub added: Counts,
    pub removed: Counts,
}

pub struct Differ<'a> {
    repo: &'a Repository,
    metadata: bool,
    stats: DiffStats,
    /// Blobs seen on each side in the parts that differ: (data, tree); sizes of live chunks.
    blobs: [(HashSet<BlobId>, HashSet<BlobId>); 2],
    live_bytes: [u64; 2],
    /// Chunks of changed files on disk (counted as they are cut).
    live_ids: HashSet<BlobId>,
    scratch: Vec<u8>,
    /// Against a live directory: which entries take part (all without one).
    keep: Option<Keep<'a>>,
    /// The ctime of the live directory whose entries are being compared.
    live_dir_ctime: Option<Time>,
}

const OLD: usize = 0;
const NEW: usize = 1;

impl<'a> Differ<'a> {
    pub fn new(repo: &'a Repository, metadata: bool) -> Self {
        Differ {
            repo,
            metadata,
            stats: DiffStats::default(),
            blobs: Default::default(),
            live_bytes: [0; 2],
            live_ids: HashSet::new(),
            scratch: vec![],
            keep: None,
            live_dir_ctime: None,
        }
    }

    /// Against a live directory, compare only the entries `keep` keeps (on both sides).
    pub fn keeping(mut self, keep: Keep<'a>) -> Self {
        self.keep = Some(keep);
        self
    }

    /// Drop the entries `keep` leaves out; `live_dir` is the directory the entries are in on
    /// disk, where the snapshot's entries would be.
    fn kept(&self, entries: Vec<(Node, Option<Dir>)>, live_dir: Option<&Path>) -> Vec<(Node, Option<Dir>)> {
        let Some(keep) = self.keep else { return entries };
        entries
            .into_iter()
            .filter(|(n, sub)| match sub {
                Some(Dir::Live(p)) => keep(p, n, true),
                _ => live_dir.is_none_or(|d| keep(&d.join(std::ffi::OsStr::from_bytes(&n.name)), n, false)),
            })
            .collect()
    }

    /// Compare `old` with `new` below `path`, reporting each change to `emit`.
    pub fn diff(mut self, path: &str, old: &Dir, new: &Dir, emit: &mut dyn FnMut(Change)) -> Result<DiffStats> {
        self.dirs(path, old, new, emit)?;
        let idx = self.repo.index()?;
        let [(old_data, old_trees), (new_data, new_trees)] = &self.blobs;
        let size = |id: &BlobId| idx.get(id).map_or(0, |l| l.entry.raw_length as u64);
        for id in new_data.difference(old_data) {
            self.stats.added.data_blobs += 1;
            self.stats.added.bytes += size(id);
        }
        for id in old_data.iter().filter(|id| !new_data.contains(id) && !self.live_ids.contains(id)) {
            self.stats.removed.data_blobs += 1;
            self.stats.removed.bytes += size(id);
        }
        self.stats.added.tree_blobs = new_trees.difference(old_trees).count() as u64;
        self.stats.removed.tree_blobs = old_trees.difference(new_trees).count() as u64;
        if matches!(new, Dir::Live(_)) {
            self.stats.removed.tree_blobs = 0; // a directory on disk has no trees to compare with
        }
        self.stats.added.bytes += self.live_bytes[NEW];
        self.stats.removed.bytes += self.live_bytes[OLD];
        Ok(self.stats)
    }

    /// A directory's entries, each with where it comes from: its subtree (directories in a
    /// snapshot) or its path on disk.
    fn list(&mut self, dir: &Dir) -> Result<Vec<(Node, Option<Dir>)>> {
        match dir {
            Dir::Tree(id) => Ok(self
                .repo
                .load_tree(id)?
                .nodes
                .into_iter()
                .map(|n| {
                    let sub = n.subtree.map(Dir::Tree);
                    (n, sub)
                })
                .collect()),
            Dir::Live(p) => {
                let mut out = vec![];
                for e in std::fs::read_dir(p).map_err(|e| Error::io(p.display(), e))? {
                    let e = e.map_err(|e| Error::io(p.display(), e))?;
                    let path = e.path();
                    let md = std::fs::symlink_metadata(&path).map_err(|err| Error::io(path.display(), err))?;
                    let mut n = node_from_metadata(e.file_name().as_bytes(), &md);
                    if n.kind == NodeKind::Symlink {
                        let t = std::fs::read_link(&path).map_err(|err| Error::io(path.display(), err))?;
                        n.link_target = Some(t.as_os_str().as_bytes().to_vec().into());
                    }
                    if self.metadata {
                        n.xattrs = read_xattrs(&path).unwrap_or_default();
                    }
                    out.push((n, Some(Dir::Live(path))));
                }
                out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
                Ok(out)
            }
        }
    }

    fn dirs(&mut self, path: &str, old: &Dir, new: &Dir, emit: &mut dyn FnMut(Change)) -> Result<()> {
        crate::format::tree::check_depth(crate::format::tree::path_depth(path), &path)?;
        if let (Dir::Tree(a), Dir::Tree(b)) = (old, new) {
            if a == b {
                return Ok(());
            }
        }
        for (side, d) in [(OLD, old), (NEW, new)] {
            if let Dir::Tree(id) = d {
                self.blobs[side].1.insert(id.as_blob());
            }
        }
        let live_dir = match new {
            Dir::Live(p) => Some(p.as_path()),
            Dir::Tree(_) => None,
        };
        let a = self.list(old).ctx(format!("{path} (old side)"))?;
        let a = self.kept(a, live_dir);
        let b = self.list(new).ctx(format!("{path} (new side)"))?;
        let b = self.kept(b, live_dir);
        let outer = self.live_dir_ctime;
        if let Some(d) = live_dir {
            let md = std::fs::symlink_metadata(d).map_err(|e| Error::io(d.display(), e))?;
            self.live_dir_ctime = Some(Time::new(md.ctime(), md.ctime_nsec()));
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let order = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.0.name.cmp(&y.0.name),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    self.whole(OLD, path, &a[i], emit)?;
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    self.whole(NEW, path, &b[j], emit)?;
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    self.both(path, &a[i], &b[j], emit)?;
                    i += 1;
                    j += 1;
                }
            }
        }
        self.live_dir_ctime = outer;
        Ok(())
    }

    /// A node (and everything below it) present on one side only.
    fn whole(
        &mut self,
        side: usize,
        parent: &str,
        (n, sub): &(Node, Option<Dir>),
        emit: &mut dyn FnMut(Change),
    ) -> Result<()> {
        let path = child(parent, n, n.kind == NodeKind::Dir);
        let live_ctime = match sub {
            Some(Dir::Live(_)) => Some(n.ctime),
            _ => self.live_dir_ctime,
        };
        emit(Change { path: path.clone(), modifier: if side == NEW { '+' } else { '-' }, live_ctime });
        let c = if side == NEW { &mut self.stats.added } else { &mut self.stats.removed };
        match n.kind {
            NodeKind::Dir => c.dirs += 1,
            NodeKind::File => c.files += 1,
            _ => c.others += 1,
        }
        match (n.kind, sub) {
            (NodeKind::Dir, Some(d)) => {
                if let Dir::Tree(id) = d {
                    self.blobs[side].1.insert(id.as_blob());
                }
                let entries = self.list(d).ctx_object(&path)?;
                for entry in self.kept(entries, None) {
                    self.whole(side, path.trim_end_matches('/'), &entry, emit)?;
                }
            }
            // a file on disk is counted by its size, not read
            (NodeKind::File, Some(Dir::Live(_))) => self.live_bytes[side] += n.size,
            (NodeKind::File, _) => self.data(side, n)?,
            _ => {}
        }
        Ok(())
    }

    fn data(&mut self, side: usize, n: &Node) -> Result<()> {
        for id in &n.content_lists {
            self.blobs[side].1.insert(*id);
        }
        let content = self.repo.file_content(n)?;
        self.blobs[side].0.extend(content);
        Ok(())
    }

    fn both(
        &mut self,
        parent: &str,
        (a, asub): &(Node, Option<Dir>),
        (b, bsub): &(Node, Option<Dir>),
        emit: &mut dyn FnMut(Change),
    ) -> Result<()> {
        let live_ctime = matches!(bsub, Some(Dir::Live(_))).then_some(b.ctime);
        let change = |path: &String, modifier| Change { path: path.clone(), modifier, live_ctime };
        if a.kind != b.kind {
            let path = child(parent, b, false);
            emit(change(&path, 'T'));
            self.whole_quiet(OLD, a, asub)?;
            self.whole_quiet(NEW, b, bsub)?;
            return Ok(());
        }
        let path = child(parent, b, b.kind == NodeKind::Dir);
        let meta_changed = self.metadata && metadata_differs(a, b);
        match (a.kind, asub, bsub) {
            (NodeKind::Dir, Some(x), Some(y)) => {
                if meta_changed {
                    emit(change(&path, 'U'));
                }
                self.dirs(path.trim_end_matches('/'), x, y, emit)?;
            }
            (NodeKind::File, _, _) => {
                let same = match bsub {
                    Some(Dir::Live(p)) => self.same_as_live(a, b, p).ctx_object(&path)?,
                    _ => self.same_content(a, b).ctx_object(&path)?,
                };
                if !same {
                    emit(change(&path, 'M'));
                    self.stats.changed_files += 1;
                    self.data(OLD, a)?;
                    if !matches!(bsub, Some(Dir::Live(_))) {
                        self.data(NEW, b)?;
                    }
                } else if meta_changed {
                    emit(change(&path, 'U'));
                }
            }
            _ => {
                if a.link_target != b.link_target || a.rdev != b.rdev {
                    emit(change(&path, 'M'));
                } else if meta_changed {
                    emit(change(&path, 'U'));
                }
            }
        }
        Ok(())
    }

    /// Count a node and its subtree as removed/added without printing its children (a type
    /// change prints one `T` line).
    fn whole_quiet(&mut self, side: usize, n: &Node, sub: &Option<Dir>) -> Result<()> {
        let mut sink = |_| {};
        self.whole(side, "", &(n.clone(), sub.clone()), &mut sink)
    }

    /// Do two snapshot files hold the same content? Equal blob lists, or equal inline bytes
    /// (format 4); a file inline on one side and in a blob on the other (a repository upgraded
    /// to format 4 between them) is compared by its bytes, at most [`MAX_INLINE_BYTES`] of them.
    fn same_content(&self, a: &Node, b: &Node) -> Result<bool> {
        Ok(match (&a.inline, &b.inline) {
            (None, None) => a.content == b.content && a.content_lists == b.content_lists,
            (Some(x), Some(y)) => x == y,
            (Some(x), None) | (None, Some(x)) => {
                let other = if a.inline.is_some() { b } else { a };
                a.size == b.size && {
                    let mut bytes = Vec::with_capacity(MAX_INLINE_BYTES);
                    super::dump::dump_file(self.repo, other, &mut bytes)?;
                    bytes == x.as_slice()
                }
            }
        })
    }

    /// Does the live file have the snapshot file's content? Size and mtime equal: assumed
    /// so, as a backup would; otherwise cut it into chunks and compare their ids.
    fn same_as_live(&mut self, a: &Node, b: &Node, path: &Path) -> Result<bool> {
        if a.size == b.size && a.mtime == b.mtime {
            return Ok(true);
        }
        let chunks = live_chunks(self.repo, path, &mut self.scratch)?;
        let old = match &a.inline {
            // at most MAX_INLINE_BYTES: one chunk, whose id is the blob id of those bytes
            Some(b) => vec![self.repo.blob_id(BlobType::Data, b)],
            None => self.repo.file_content(a)?,
        };
        if chunks.iter().map(|c| c.0).eq(old.iter().copied()) {
            return Ok(true);
        }
        let old: HashSet<BlobId> = old.into_iter().collect();
        for (id, len) in chunks {
            if self.live_ids.insert(id) && !old.contains(&id) {
                self.stats.added.data_blobs += 1;
                self.live_bytes[NEW] += len;
            }
        }
        Ok(false)
    }
}

/// `parent/name`, with a trailing `/` for directories.
fn child(parent: &str, n: &Node, dir: bool) -> String {
    let mut p = format!("{}/{}", parent.trim_end_matches('/'), n.name_lossy());
    if dir {
        p.push('/');
    }
    p
}

fn metadata_differs(a: &Node, b: &Node) -> bool {
    a.mode != b.mode || a.uid != b.uid || a.gid != b.gid || a.mtime != b.mtime || a.xattrs != b.xattrs
}

/// Chunk ids and lengths of a file on disk, cut with the repository's chunker.
pub fn live_chunks(repo: &Repository, path: &Path, scratch: &mut Vec<u8>) -> Result<Vec<(BlobId, u64)>> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let mut out = vec![];
    repo.chunker().split_reader(&mut f, scratch, |c| {
        out.push((repo.blob_id(crate::format::BlobType::Data, c), c.len() as u64));
        Ok(())
    })?;
    Ok(out)
}

/// The new side of a comparison: another snapshot, or a directory on disk (its path as shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewSide {
    Snapshot(SnapshotId),
    Live(String),
}

/// A comparison ready to run: both sides resolved, the repository locked for reading.
pub struct Comparison {
    /// The old snapshot's id.
    pub old_id: SnapshotId,
    /// What the old snapshot is compared to.
    pub new_side: NewSide,
    old: Dir,
    new: Dir,
    /// The path both sides are compared at (what changed paths are relative to).
    base: String,
    _lock: crate::repo::LockGuard,
}

/// Resolve `old` (`SNAPSHOT[:PATH]`) and `new` (the same, or a directory on disk) and lock the
/// repository for reading. Against a live directory the old side defaults to the same path
/// in the snapshot, and must be it.
pub fn compare(repo: &Repository, old: &str, new: &str) -> Result<Comparison> {
    let lock = repo.lock_read("diff")?;
    let (new_side, new_dir, new_path) = match live_dir(new) {
        Some(p) => {
            let shown = p.to_string_lossy().trim_end_matches('/').to_string();
            (NewSide::Live(p.display().to_string()), Dir::Live(p), shown)
        }
        None => {
            let (id, d, p) = snapshot_dir(repo, new, None)?;
            (NewSide::Snapshot(id), d, p)
        }
    };
    let live = matches!(new_side, NewSide::Live(_));
    let (old_id, old_dir, old_path) = snapshot_dir(repo, old, live.then_some(new_path.as_str()))?;
    if live && old_path != new_path {
        return Err(crate::error::Error::new(
            crate::error::Kind::NotFound,
            format!("{new_path} is not in snapshot {}", old_id.short()),
        )
        .hint("name the directory inside the snapshot: SNAPSHOT:/PATH"));
    }
    let base = if live { new_path } else { old_path };
    Ok(Comparison { old_id, new_side, old: old_dir, new: new_dir, base, _lock: lock })
}

impl Comparison {
    /// Compare, handing each change to `emit`; `metadata` also reports metadata-only changes.
    pub fn run(&self, repo: &Repository, metadata: bool, emit: &mut dyn FnMut(Change)) -> Result<DiffStats> {
        Differ::new(repo, metadata).diff(&self.base, &self.old, &self.new, emit)
    }
}

/// `SNAPSHOT[:PATH]`: the snapshot and the directory below its root (`default_path` when the
/// spec names none).
fn snapshot_dir(repo: &Repository, spec: &str, default_path: Option<&str>) -> Result<(SnapshotId, Dir, String)> {
    let parsed = super::select::SnapshotPath::parse(spec);
    let (id, snap) = super::select(repo, parsed.snapshot, &Default::default())?;
    let path = match parsed.path {
        Some(p) => super::select::absolute_in(repo, &snap, &id, p)?,
        // `SNAPSHOT:` or `SNAPSHOT:/` names the root; no `:PATH` at all takes the default
        None if parsed.snapshot.len() < spec.len() => "/".to_string(),
        None => default_path.unwrap_or("/").to_string(),
    };
    let tree = super::select::resolve_dir(repo, &snap.tree, Some(path.as_str()), &id)?;
    Ok((id, Dir::Tree(tree), path.trim_end_matches('/').to_string()))
}

/// Is `arg` a directory on disk rather than a snapshot? Only when it looks like a path.
fn live_dir(arg: &str) -> Option<PathBuf> {
    let p = Path::new(arg);
    let pathlike = arg.starts_with('/') || arg.starts_with('.') || arg.starts_with('~');
    (pathlike && !arg.contains(":/") && p.is_dir()).then(|| std::path::absolute(p).ok()).flatten()
}
