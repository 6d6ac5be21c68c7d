//! The mounted file system without FUSE: inode numbers, lookups, attributes, directory
//! listings, symlinks, xattrs and reads over a repository, so tests walk it directly.
//!
//! Inode numbers are hashes of paths (a namespace directory's path, or a parent inode and
//! a name), so they are stable across refreshes and need no table to be handed out.
//! Entries inside snapshots are remembered only while the kernel holds them (looked up and
//! not yet forgotten) as a place in a tree (24 bytes each, see `inodes`); trees are decoded
//! into a byte-bounded cache and found again there; an open directory's listing is taken
//! once per handle; file content comes through a size-bounded blob cache with readahead
//! for sequential reads.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use lru::LruCache;

use super::inodes::{Inodes, Place};
use super::layout::{join, Layout, MetaNode, DEFAULT_TEMPLATES, DEFAULT_TIME_TEMPLATE};
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind, Time};
use crate::format::BlobType;
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::repo::Repository;
use crate::util::sync::IgnorePoison;

pub const ROOT: u64 = 1;

#[derive(Clone, Debug)]
pub struct VfsOptions {
    pub templates: Vec<String>,
    pub time_template: String,
    /// Bytes of decrypted blobs kept in memory.
    pub cache_bytes: usize,
    /// Approximate bytes of decoded trees kept in memory.
    pub tree_cache_bytes: usize,
    /// Blobs fetched ahead of a sequential reader.
    pub readahead: usize,
    /// The snapshot list is read again at most this often.
    pub refresh: Duration,
    /// Only the snapshots this selects appear (`mount --host/--tag/--path`); `None`: all.
    pub select: Option<Select>,
}

/// Which snapshots a mount shows: a predicate the command line builds from its filters.
#[derive(Clone)]
pub struct Select(pub Arc<dyn Fn(&Snapshot) -> bool + Send + Sync>);

impl std::fmt::Debug for Select {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Select(..)")
    }
}

impl Default for VfsOptions {
    fn default() -> Self {
        VfsOptions {
            templates: DEFAULT_TEMPLATES.iter().map(|s| s.to_string()).collect(),
            time_template: DEFAULT_TIME_TEMPLATE.into(),
            cache_bytes: 64 << 20,
            tree_cache_bytes: 32 << 20,
            readahead: 4,
            refresh: Duration::from_secs(30),
            select: None,
        }
    }
}

/// What `stat` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: NodeKind,
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub perm: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub mtime: Time,
    pub atime: Time,
    pub ctime: Time,
}

/// A failure as an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail {
    NotFound,
    NotDir,
    Invalid,
    Range,
    NoData,
    Io,
}

type Res<T> = std::result::Result<T, Fail>;

enum Target {
    Meta(Vec<u8>),
    Root(usize),
    Node(Entry),
}

/// An entry inside a snapshot: its place in a decoded tree, and the inode of that
/// snapshot's root.
struct Entry {
    tree: Arc<Vec<Node>>,
    index: usize,
    root: u64,
}

impl std::ops::Deref for Entry {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.tree[self.index]
    }
}

struct Meta {
    snapshots: Vec<(SnapshotId, Snapshot)>,
    layout: Layout,
    by_ino: HashMap<u64, Vec<u8>>,
    loaded: Instant,
}

/// A directory's entries as listed when it was opened: (inode, kind, name).
pub type Listing = Vec<(u64, NodeKind, Vec<u8>)>;

struct OpenFile {
    blobs: Vec<BlobId>,
    /// Cumulative end offset of each blob.
    ends: Vec<u64>,
    /// A file stored inline in its node (format 4): its whole content, and no blobs.
    inline: Option<Vec<u8>>,
    next: AtomicU64,
}

pub struct Vfs {
    repo: Arc<Repository>,
    opts: VfsOptions,
    meta: RwLock<Meta>,
    looked: Mutex<Inodes>,
    trees: Mutex<TreeCache>,
    blobs: Mutex<LruCache<BlobId, Arc<Vec<u8>>>>,
    blob_bytes: AtomicU64,
    inflight: Mutex<HashSet<BlobId>>,
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    dirs: Mutex<HashMap<u64, Arc<Listing>>>,
    next_fh: AtomicU64,
    owner: (u32, u32),
}

/// Decoded trees, least recently used first out once their estimated size passes the limit
/// (the most recent one always stays, however large).
struct TreeCache {
    lru: LruCache<TreeId, (Arc<Vec<Node>>, usize)>,
    bytes: usize,
    limit: usize,
}

impl TreeCache {
    fn weight(nodes: &[Node]) -> usize {
        nodes
            .iter()
            .map(|n| {
                std::mem::size_of::<Node>()
                    + n.name.len()
                    + n.user.len()
                    + n.group.len()
                    + n.link_target.as_ref().map_or(0, |t| t.len())
                    + n.xattrs.iter().map(|x| 48 + x.name.len() + x.value.len()).sum::<usize>()
                    + n.content.len() * std::mem::size_of::<BlobId>()
                    + n.inline.as_ref().map_or(0, |b| b.len())
            })
            .sum()
    }

    fn put(&mut self, id: TreeId, t: Arc<Vec<Node>>) {
        let weight = Self::weight(&t);
        if let Some((_, old)) = self.lru.put(id, (t, weight)) {
            self.bytes -= old;
        }
        self.bytes += weight;
        while self.bytes > self.limit && self.lru.len() > 1 {
            match self.lru.pop_lru() {
                Some((_, (_, old))) => self.bytes -= old,
                None => break,
            }
        }
    }
}

fn hash_ino(parts: &[&[u8]]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let b = h.finalize();
    // never 0 (invalid) or 1 (the root)
    (u64::from_le_bytes(b.as_bytes()[..8].try_into().unwrap_or_default()) | (1 << 63)) & !1
}

fn meta_ino(path: &[u8]) -> u64 {
    if path.is_empty() {
        ROOT
    } else {
        hash_ino(&[b"meta", path])
    }
}

/// A snapshot entry's inode: by parent and name, or for a file with several links by the
/// snapshot root and the (device, inode) it had, so hard links share one inode as on disk.
fn child_ino(root: u64, parent: u64, n: &Node) -> u64 {
    if n.kind == NodeKind::File && n.links > 1 && n.inode != 0 {
        hash_ino(&[b"link", &root.to_le_bytes(), &n.device.to_le_bytes(), &n.inode.to_le_bytes()])
    } else {
        hash_ino(&[&parent.to_le_bytes(), &n.name])
    }
}

fn repo_error(e: Error) -> Fail {
    tracing::warn!("mount: {e}");
    Fail::Io
}

impl Vfs {
    pub fn new(repo: Arc<Repository>, opts: VfsOptions) -> Result<Vfs> {
        let owner = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        let vfs = Vfs {
            meta: RwLock::new(Meta {
                snapshots: vec![],
                layout: Layout::default(),
                by_ino: HashMap::new(),
                loaded: Instant::now(),
            }),
            looked: Mutex::new(Inodes::default()),
            dirs: Mutex::new(HashMap::new()),
            trees: Mutex::new(TreeCache { lru: LruCache::unbounded(), bytes: 0, limit: opts.tree_cache_bytes }),
            blobs: Mutex::new(LruCache::unbounded()),
            blob_bytes: AtomicU64::new(0),
            inflight: Mutex::new(HashSet::new()),
            files: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            owner,
            repo,
            opts,
        };
        vfs.reload()?;
        Ok(vfs)
    }

    /// Read the snapshot list again and rebuild the namespace.
    pub fn reload(&self) -> Result<()> {
        let mut snapshots = self.repo.snapshots()?;
        if let Some(Select(keep)) = &self.opts.select {
            snapshots.retain(|(_, s)| keep(s));
        }
        let layout = Layout::build(&snapshots, &self.opts.templates, &self.opts.time_template);
        let by_ino = layout.nodes.keys().map(|p| (meta_ino(p), p.clone())).collect();
        let mut m = self.meta.write().ignore_poison();
        *m = Meta { snapshots, layout, by_ino, loaded: Instant::now() };
        Ok(())
    }

    /// Reload when the list is older than the refresh interval (new snapshots appear).
    fn maybe_reload(&self) {
        let stale = self.meta.read().map(|m| m.loaded.elapsed() >= self.opts.refresh).unwrap_or(false);
        if stale {
            if let Err(e) = self.reload() {
                tracing::warn!("mount: could not refresh the snapshot list: {e}");
                if let Ok(mut m) = self.meta.write() {
                    m.loaded = Instant::now();
                }
            }
        }
    }

    fn target(&self, ino: u64) -> Res<Target> {
        let m = self.meta.read().map_err(|_| Fail::Io)?;
        if let Some(path) = m.by_ino.get(&ino) {
            return Ok(match m.layout.nodes.get(path) {
                Some(MetaNode::Snapshot(i)) => Target::Root(*i),
                _ => Target::Meta(path.clone()),
            });
        }
        if ino == ROOT {
            return Ok(Target::Meta(vec![]));
        }
        drop(m);
        let place = self.looked.lock().map_err(|_| Fail::Io)?.get(ino).ok_or(Fail::NotFound)?;
        let (index, root) = (place.index as usize, place.root);
        let tree = self.tree(&place.dir)?;
        if index >= tree.len() {
            return Err(Fail::Io);
        }
        Ok(Target::Node(Entry { tree, index, root }))
    }

    fn tree(&self, id: &TreeId) -> Res<Arc<Vec<Node>>> {
        if let Some((t, _)) = self.trees.lock().map_err(|_| Fail::Io)?.lru.get(id) {
            return Ok(t.clone());
        }
        let t = Arc::new(self.repo.load_tree(id).map_err(repo_error)?.nodes);
        self.trees.lock().map_err(|_| Fail::Io)?.put(*id, t.clone());
        Ok(t)
    }

    /// The tree listing a directory inode's entries.
    fn dir_tree(&self, t: &Target) -> Res<TreeId> {
        match t {
            Target::Root(i) => {
                let m = self.meta.read().map_err(|_| Fail::Io)?;
                m.snapshots.get(*i).map(|s| s.1.tree).ok_or(Fail::NotFound)
            }
            Target::Node(n) if n.kind == NodeKind::Dir => n.subtree.ok_or(Fail::Io),
            _ => Err(Fail::NotDir),
        }
    }

    fn meta_attr(&self, ino: u64, path: &[u8]) -> Res<Attr> {
        let m = self.meta.read().map_err(|_| Fail::Io)?;
        let newest = m
            .snapshots
            .last()
            .and_then(|s| s.1.timestamp())
            .map_or(Time::ZERO, |t| Time::new(t.timestamp(), i64::from(t.timestamp_subsec_nanos())));
        let (kind, size, time) = match m.layout.nodes.get(path) {
            Some(MetaNode::Dir(_)) | None if path.is_empty() => (NodeKind::Dir, 0, newest),
            Some(MetaNode::Dir(_)) => (NodeKind::Dir, 0, newest),
            Some(MetaNode::Latest(t)) => (NodeKind::Symlink, t.len() as u64, newest),
            Some(MetaNode::Snapshot(i)) => {
                let t = m.snapshots[*i]
                    .1
                    .timestamp()
                    .map_or(Time::ZERO, |t| Time::new(t.timestamp(), i64::from(t.timestamp_subsec_nanos())));
                (NodeKind::Dir, 0, t)
            }
            None => return Err(Fail::NotFound),
        };
        let perm = if kind == NodeKind::Symlink { 0o777 } else { 0o555 };
        Ok(Attr {
            ino,
            kind,
            size,
            perm,
            nlink: if kind == NodeKind::Dir { 2 } else { 1 },
            uid: self.owner.0,
            gid: self.owner.1,
            rdev: 0,
            mtime: time,
            atime: time,
            ctime: time,
        })
    }

    fn node_attr(ino: u64, n: &Node) -> Attr {
        Attr {
            ino,
            kind: n.kind,
            size: match n.kind {
                NodeKind::File => n.size,
                NodeKind::Symlink => n.link_target.as_ref().map_or(0, |t| t.len() as u64),
                _ => 0,
            },
            perm: n.mode & 0o7777,
            nlink: n.links.clamp(1, u32::MAX as u64) as u32,
            uid: n.uid,
            gid: n.gid,
            rdev: n.rdev,
            mtime: n.mtime,
            atime: if n.atime.is_zero() { n.mtime } else { n.atime },
            ctime: n.ctime,
        }
    }

    pub fn getattr(&self, ino: u64) -> Res<Attr> {
        match self.target(ino)? {
            Target::Meta(p) => self.meta_attr(ino, &p),
            Target::Root(_) => {
                let path = self.meta.read().map_err(|_| Fail::Io)?.by_ino.get(&ino).cloned().unwrap_or_default();
                self.meta_attr(ino, &path)
            }
            Target::Node(n) => Ok(Self::node_attr(ino, &n)),
        }
    }

    /// Look `name` up in the directory `parent`; the kernel now holds the result (one
    /// lookup, undone by [`Self::forget`]).
    pub fn lookup(&self, parent: u64, name: &[u8]) -> Res<Attr> {
        let t = self.target(parent)?;
        if let Target::Meta(path) = &t {
            self.maybe_reload();
            let child = join(path, name);
            let known = self.meta.read().map_err(|_| Fail::Io)?.layout.nodes.contains_key(&child);
            if !known {
                return Err(Fail::NotFound);
            }
            return self.meta_attr(meta_ino(&child), &child);
        }
        let root = Self::root_of(&t, parent);
        let dir = self.dir_tree(&t)?;
        let tree = self.tree(&dir)?;
        let i = tree.binary_search_by(|n| n.name.as_slice().cmp(name)).map_err(|_| Fail::NotFound)?;
        let index = u32::try_from(i).map_err(|_| Fail::Range)?;
        let node = &tree[i];
        let ino = child_ino(root, parent, node);
        self.looked.lock().map_err(|_| Fail::Io)?.hold(ino, Place { dir, index, root });
        Ok(Self::node_attr(ino, node))
    }

    /// The kernel dropped `n` references to `ino`.
    pub fn forget(&self, ino: u64, n: u64) {
        if let Ok(mut looked) = self.looked.lock() {
            looked.forget(ino, n);
        }
    }

    /// Inodes the kernel holds inside snapshots (bounded by what it caches).
    pub fn held_inodes(&self) -> usize {
        self.looked.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Open a directory: its listing is taken once and served by [`Self::listing`] to
    /// every read of the handle. Returns the handle and whether the directory lies inside a
    /// snapshot (never changes, so the kernel may cache its listing).
    pub fn opendir(&self, ino: u64) -> Res<(u64, bool)> {
        let inside = !matches!(self.target(ino)?, Target::Meta(_));
        let listing = Arc::new(self.readdir(ino)?);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.dirs.lock().map_err(|_| Fail::Io)?.insert(fh, listing);
        Ok((fh, inside))
    }

    /// The listing of an open directory handle, or taken afresh for an unknown handle.
    pub fn listing(&self, ino: u64, fh: u64) -> Res<Arc<Listing>> {
        match self.dirs.lock().map_err(|_| Fail::Io)?.get(&fh) {
            Some(l) => Ok(l.clone()),
            None => Ok(Arc::new(self.readdir(ino)?)),
        }
    }

    pub fn releasedir(&self, fh: u64) {
        if let Ok(mut d) = self.dirs.lock() {
            d.remove(&fh);
        }
    }

    /// A directory's entries: (inode, kind, name), `.` and `..` not included.
    pub fn readdir(&self, ino: u64) -> Res<Listing> {
        let t = self.target(ino)?;
        if let Target::Meta(path) = &t {
            self.maybe_reload();
            let m = self.meta.read().map_err(|_| Fail::Io)?;
            let Some(MetaNode::Dir(children)) = m.layout.nodes.get(path) else { return Err(Fail::NotDir) };
            return Ok(children
                .iter()
                .map(|c| {
                    let p = join(path, c);
                    let kind = match m.layout.nodes.get(&p) {
                        Some(MetaNode::Latest(_)) => NodeKind::Symlink,
                        _ => NodeKind::Dir,
                    };
                    (meta_ino(&p), kind, c.clone())
                })
                .collect());
        }
        let root = Self::root_of(&t, ino);
        let tree = self.tree(&self.dir_tree(&t)?)?;
        Ok(tree.iter().map(|n| (child_ino(root, ino, n), n.kind, n.name.to_vec())).collect())
    }

    fn root_of(t: &Target, ino: u64) -> u64 {
        match t {
            Target::Node(e) => e.root,
            _ => ino,
        }
    }

    pub fn readlink(&self, ino: u64) -> Res<Vec<u8>> {
        match self.target(ino)? {
            Target::Meta(p) => match self.meta.read().map_err(|_| Fail::Io)?.layout.nodes.get(&p) {
                Some(MetaNode::Latest(t)) => Ok(t.clone()),
                _ => Err(Fail::Invalid),
            },
            Target::Node(n) if n.kind == NodeKind::Symlink => {
                Ok(n.link_target.as_ref().map(|t| t.to_vec()).unwrap_or_default())
            }
            _ => Err(Fail::Invalid),
        }
    }

    fn xattrs(&self, ino: u64) -> Res<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(match self.target(ino)? {
            Target::Node(n) => n.xattrs.iter().map(|x| (x.name.to_vec(), x.value.to_vec())).collect(),
            _ => vec![],
        })
    }

    pub fn getxattr(&self, ino: u64, name: &[u8]) -> Res<Vec<u8>> {
        self.xattrs(ino)?.into_iter().find(|(n, _)| n == name).map(|(_, v)| v).ok_or(Fail::NoData)
    }

    /// Names, each followed by a NUL, as `listxattr(2)` returns them.
    pub fn listxattr(&self, ino: u64) -> Res<Vec<u8>> {
        let mut out = vec![];
        for (n, _) in self.xattrs(ino)? {
            out.extend_from_slice(&n);
            out.push(0);
        }
        Ok(out)
    }

    /// Open a file for reading; returns a handle for [`Self::read`].
    pub fn open(&self, ino: u64) -> Res<u64> {
        let Target::Node(n) = self.target(ino)? else { return Err(Fail::Invalid) };
        if n.kind != NodeKind::File {
            return Err(Fail::Invalid);
        }
        if let Some(b) = &n.inline {
            let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
            let f = OpenFile { blobs: vec![], ends: vec![], inline: Some(b.to_vec()), next: AtomicU64::new(0) };
            self.files.lock().map_err(|_| Fail::Io)?.insert(fh, Arc::new(f));
            return Ok(fh);
        }
        let blobs = self.repo.file_content(&n).map_err(repo_error)?;
        let idx = self.repo.index().map_err(repo_error)?;
        let mut ends = Vec::with_capacity(blobs.len());
        let mut end = 0u64;
        for id in &blobs {
            end += idx
                .get(id)
                .ok_or_else(|| repo_error(Error::corrupt(format!("data blob {id} is not in the index"))))?
                .entry
                .raw_length as u64;
            ends.push(end);
        }
        drop(idx);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.files
            .lock()
            .map_err(|_| Fail::Io)?
            .insert(fh, Arc::new(OpenFile { blobs, ends, inline: None, next: AtomicU64::new(0) }));
        Ok(fh)
    }

    pub fn release(&self, fh: u64) {
        if let Ok(mut f) = self.files.lock() {
            f.remove(&fh);
        }
    }

    fn blob(&self, id: &BlobId) -> Res<Arc<Vec<u8>>> {
        if let Some(b) = self.blobs.lock().map_err(|_| Fail::Io)?.get(id) {
            return Ok(b.clone());
        }
        let b = Arc::new(self.repo.read_blob(BlobType::Data, id).map_err(repo_error)?);
        self.cache_blob(*id, b.clone());
        Ok(b)
    }

    fn cache_blob(&self, id: BlobId, b: Arc<Vec<u8>>) {
        let Ok(mut c) = self.blobs.lock() else { return };
        if let Some(old) = c.put(id, b.clone()) {
            self.blob_bytes.fetch_sub(old.len() as u64, Ordering::Relaxed);
        }
        let mut total = self.blob_bytes.fetch_add(b.len() as u64, Ordering::Relaxed) + b.len() as u64;
        while total > self.opts.cache_bytes as u64 && c.len() > 1 {
            match c.pop_lru() {
                Some((_, old)) => {
                    total = self.blob_bytes.fetch_sub(old.len() as u64, Ordering::Relaxed) - old.len() as u64
                }
                None => break,
            }
        }
    }

    /// Fetch blobs a sequential reader will want next, in the background.
    fn read_ahead(self: &Arc<Self>, ids: &[BlobId]) {
        for id in ids {
            let cached = self.blobs.lock().map(|c| c.contains(id)).unwrap_or(true);
            let started = !cached && self.inflight.lock().map(|mut f| f.insert(*id)).unwrap_or(false);
            if started {
                let (me, id) = (self.clone(), *id);
                rayon::spawn(move || {
                    if let Ok(b) = me.repo.read_blob(BlobType::Data, &id) {
                        me.cache_blob(id, Arc::new(b));
                    }
                    if let Ok(mut f) = me.inflight.lock() {
                        f.remove(&id);
                    }
                });
            }
        }
    }

    /// Up to `size` bytes at `offset` (fewer only at the end of the file).
    pub fn read(self: &Arc<Self>, fh: u64, offset: u64, size: u32) -> Res<Vec<u8>> {
        let f = self.files.lock().map_err(|_| Fail::Io)?.get(&fh).cloned().ok_or(Fail::Invalid)?;
        if let Some(b) = &f.inline {
            let from = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
            let to = from.saturating_add(size as usize).min(b.len());
            return Ok(b[from..to].to_vec());
        }
        let total = f.ends.last().copied().unwrap_or(0);
        let end = total.min(offset.saturating_add(size as u64));
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let mut pos = offset;
        // the blob holding `offset`: the first whose end lies beyond it
        let mut i = f.ends.partition_point(|e| *e <= offset);
        if f.next.swap(end, Ordering::Relaxed) == offset && self.opts.readahead > 0 {
            let ahead = (i + 1).min(f.blobs.len())..(i + 1 + self.opts.readahead).min(f.blobs.len());
            self.read_ahead(&f.blobs[ahead]);
        }
        while pos < end {
            let start = if i == 0 { 0 } else { f.ends[i - 1] };
            let blob = self.blob(&f.blobs[i])?;
            let from = (pos - start) as usize;
            let to = ((end.min(f.ends[i])) - start) as usize;
            out.extend_from_slice(blob.get(from..to).ok_or(Fail::Io)?);
            pos = start + to as u64;
            i += 1;
        }
        Ok(out)
    }
}
