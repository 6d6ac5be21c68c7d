//! The walker and the tree assembler of one backup (see the module above for the flow).
//!
//! The walker goes through directory descriptors, not paths: each directory is opened with
//! `openat(parent, name, O_DIRECTORY | O_NOFOLLOW)` and must be the inode its `fstatat`
//! showed, its entries are read with `getdents64` and each is `fstatat`ed relative to it
//! (`AT_SYMLINK_NOFOLLOW`); the listings are made ahead of the walk by a small pool and taken
//! in walk order (see `lister`). A file job carries the directory's descriptor, the name and
//! the (device, inode) seen, so the reader opens exactly that (see `file_reader`). Swapping a
//! directory on the path for a symlink therefore never leads the walk elsewhere. Paths remain
//! for messages, excludes and extended attributes (`llistxattr`, which does not follow a
//! final symlink). Sources named on the command line, and the directories above them, are
//! reached by path, as the user named them.
//!
//! A directory whose every entry is its node in the parent snapshot's tree, in order, keeps
//! that tree by id (see [`WalkFrame`]): an unchanged re-backup sends the assembler nothing
//! for it and encodes no tree. Its id is the one a full write would give for the same nodes,
//! except after a format upgrade that changed the tree encoding: then the older encoding is
//! kept until something in the directory changes (readers read every older tree encoding).

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use nix::sys::stat::FileStat;

use super::change_list::ChangeTree;
use super::file_reader::{read_file, FileContent, Walked};
use super::lister::{content_live, find, Listed, Lister, Pending, Target};
use super::metadata::{node_from_stat, read_xattrs};
use super::{is_source_error, BackupOptions, BeforeOpen, FileStatus, Run};
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::TreeId;
use crate::repo::stage_clock::Stage;
use crate::repo::{BlobSaver, Repository};
use crate::util::sync::IgnorePoison;

/// What the walker tells the assembler, in walk order.
enum Event {
    Enter { node: Node, parent_subtree: Option<TreeId> },
    Leave,
    Leaf(Node),
    File { node: Node, had_parent: bool, result: Receiver<Result<FileContent>>, path: PathBuf },
}

/// Events go to the assembler in batches of this many: one channel hand-off per event cost an
/// unchanged re-backup of 200,000 files ~290,000 `sched_yield`s of the two threads spinning on
/// the channel. The walker never waits for anything that waits for the assembler (the readers
/// answer each file on its own channel), so holding a partial batch cannot stall the pipeline.
const EVENT_BATCH: usize = 128;

struct FileJob {
    file: Walked,
    result: Sender<Result<FileContent>>,
}

/// The sources as a tree of path components from `/`.
#[derive(Default)]
struct VirtualDir {
    children: BTreeMap<Vec<u8>, VirtualEntry>,
}

enum VirtualEntry {
    Source(PathBuf),
    Dir(VirtualDir, PathBuf),
}

fn virtual_root(paths: Vec<PathBuf>) -> Result<VirtualDir> {
    let mut root = VirtualDir::default();
    let mut paths: Vec<PathBuf> = paths.into_iter().map(|p| clean(&p)).collect();
    paths.sort();
    paths.dedup();
    'outer: for p in paths {
        let comps: Vec<&[u8]> = p
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.as_bytes()),
                _ => None,
            })
            .collect();
        if comps.is_empty() {
            return Err(Error::usage("backing up / as a whole is not supported; name its directories"));
        }
        let mut dir = &mut root;
        let mut real = PathBuf::from("/");
        for (i, c) in comps.iter().enumerate() {
            real.push(std::ffi::OsStr::from_bytes(c));
            if i + 1 == comps.len() {
                dir.children.insert(c.to_vec(), VirtualEntry::Source(real.clone()));
                continue 'outer;
            }
            let entry = dir
                .children
                .entry(c.to_vec())
                .or_insert_with(|| VirtualEntry::Dir(VirtualDir::default(), real.clone()));
            match entry {
                VirtualEntry::Dir(d, _) => dir = d,
                VirtualEntry::Source(_) => continue 'outer, // an ancestor is already a source
            }
        }
    }
    Ok(root)
}

/// Lexically clean an absolute path (no `.` or `..`, no trailing slash).
pub(super) fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

pub(super) fn run(
    repo: &Repository,
    saver: &BlobSaver,
    run: &Run<'_>,
    paths: Vec<PathBuf>,
    opts: &BackupOptions,
) -> Result<TreeId> {
    let root = virtual_root(paths)?;
    // one descriptor per directory level the walk is inside, and one per listing ahead
    crate::platform::raise_open_file_limit();
    let parent_root = match &opts.parent_tree {
        Some(id) => Some(repo.load_tree(id)?),
        None => None,
    };
    // a change list lists only the directories on the way to a changed path: nothing ahead
    let list_workers = if opts.changed.is_some() { 0 } else { opts.list_workers };
    let lister = Lister::new(repo, opts, list_workers > 0);
    let (job_tx, job_rx) = bounded::<FileJob>(opts.read_concurrency.max(1) * 4);
    let (event_tx, event_rx) = bounded::<Vec<Event>>(4096 / EVENT_BATCH);
    std::thread::scope(|s| {
        for _ in 0..opts.read_concurrency.max(1) {
            let rx = job_rx.clone();
            let hook = opts.before_open.clone();
            s.spawn(move || reader(rx, saver, run, hook));
        }
        drop(job_rx);
        for _ in 0..list_workers {
            let lister = &lister;
            s.spawn(move || lister.work());
        }
        let assembler = s.spawn(move || assemble(event_rx, saver, run));
        let clock = saver.clock();
        clock.thread(Stage::Walk);
        let started = Instant::now();
        let mut w = Walker {
            repo,
            run,
            opts,
            lister: &lister,
            jobs: job_tx,
            events: event_tx,
            batch: Vec::with_capacity(EVENT_BATCH),
            frames: Vec::new(),
            sources: 0,
            root_dev: 0,
            blocked: Duration::ZERO,
        };
        let walked = w.virtual_dir(&root, parent_root.as_ref());
        lister.close();
        if let Err(e) = walked.and_then(|()| w.flush()) {
            run.fail(e);
        }
        clock.add_busy(Stage::Walk, started.elapsed().saturating_sub(w.blocked));
        clock.add_blocked(Stage::Walk, w.blocked);
        drop(w);
        assembler.join().unwrap_or_else(|_| Err(Error::internal("tree assembler panicked")))
    })
}

fn reader(rx: Receiver<FileJob>, saver: &BlobSaver, run: &Run<'_>, before_open: Option<BeforeOpen>) {
    for stage in [Stage::Read, Stage::Chunk, Stage::Hash] {
        saver.clock().thread(stage);
    }
    let mut scratch = Vec::new();
    for job in rx {
        if run.cancelled() {
            continue;
        }
        if let Some(hook) = &before_open {
            hook(&job.file.path);
        }
        run.progress.reading(&job.file.path);
        let r = read_file(&job.file, saver, &mut scratch, &|n| {
            run.progress.bytes_done.fetch_add(n, Ordering::Relaxed);
            run.progress.note_saved(saver.stats());
        });
        run.progress.read(&job.file.path);
        let _ = job.result.send(r);
    }
}

/// A directory the walker is inside. Until something in it differs from the parent
/// snapshot's tree of it, nothing about it is sent to the assembler: `matched` counts the
/// entries equal, in order, to that tree's first nodes. The first entry that differs
/// "opens" the directory (and every enclosing one not yet open): its `Enter` and the parent's
/// nodes matched so far are sent, then everything else as usual. A directory that ends with
/// every node matched, and whose parent tree is still in a live pack, is the parent's tree:
/// the enclosing directory gets a node with that subtree id, and no tree is encoded, hashed
/// or looked up again. Nodes are compared whole (every field a tree stores), so the tree
/// reused is the one the assembler would have written from the same nodes.
struct WalkFrame {
    node: Node,
    parent: Option<Arc<Tree>>,
    parent_subtree: Option<TreeId>,
    matched: usize,
    open: bool,
}

struct Walker<'a, 'r> {
    repo: &'a Repository,
    run: &'a Run<'r>,
    opts: &'a BackupOptions,
    lister: &'a Lister<'a>,
    jobs: Sender<FileJob>,
    events: Sender<Vec<Event>>,
    /// Events not yet sent (see [`EVENT_BATCH`]).
    batch: Vec<Event>,
    /// The directories the walk is inside, outermost first (the virtual root has none).
    frames: Vec<WalkFrame>,
    /// Sources listed so far (the first component of a listing's position in the walk).
    sources: u32,
    root_dev: u64,
    /// Time spent waiting for the readers, the listers or the assembler.
    blocked: Duration,
}

impl Walker<'_, '_> {
    fn emit(&mut self, e: Event) -> Result<()> {
        self.batch.push(e);
        if self.batch.len() < EVENT_BATCH {
            return Ok(());
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(EVENT_BATCH));
        let t = Instant::now();
        let r = self.events.send(batch).map_err(|_| Error::internal("backup stopped"));
        self.blocked += t.elapsed();
        r
    }

    /// Send the `Enter` and the matched nodes of every directory not yet open (see
    /// [`WalkFrame`]), outermost first.
    fn open_frames(&mut self) -> Result<()> {
        let first = self.frames.iter().position(|f| !f.open).unwrap_or(self.frames.len());
        for i in first..self.frames.len() {
            let f = &mut self.frames[i];
            f.open = true;
            let enter = Event::Enter { node: f.node.clone(), parent_subtree: f.parent_subtree };
            let matched: Vec<Node> = match &f.parent {
                Some(p) => p.nodes[..f.matched].to_vec(),
                None => vec![],
            };
            self.emit(enter)?;
            for n in matched {
                self.emit(Event::Leaf(n))?;
            }
        }
        Ok(())
    }

    /// A finished node in the current directory.
    fn leaf(&mut self, node: Node) -> Result<()> {
        if let Some(f) = self.frames.last_mut().filter(|f| !f.open) {
            if f.parent.as_ref().and_then(|p| p.nodes.get(f.matched)) == Some(&node) {
                f.matched += 1;
                return Ok(());
            }
            self.open_frames()?;
        }
        self.emit(Event::Leaf(node))
    }

    /// A file to be read: its directory's tree is written.
    fn read(&mut self, e: Event) -> Result<()> {
        self.open_frames()?;
        self.emit(e)
    }

    fn enter(&mut self, node: Node, parent: Option<Arc<Tree>>, parent_subtree: Option<TreeId>) {
        self.frames.push(WalkFrame { node, parent, parent_subtree, matched: 0, open: false });
    }

    fn leave(&mut self) -> Result<()> {
        let unchanged = self.frames.last().filter(|f| !f.open).and_then(|f| {
            let p = f.parent.as_ref()?;
            let id = f.parent_subtree?;
            let live = f.matched == p.nodes.len()
                && self.repo.index().is_ok_and(|idx| self.repo.blob_stored(&idx, &id.as_blob()));
            live.then_some(id)
        });
        match unchanged {
            Some(id) => {
                let f = self.frames.pop().ok_or_else(|| Error::internal("unbalanced walk"))?;
                self.run.counters.dirs_unmodified.fetch_add(1, Ordering::Relaxed);
                self.run.progress.dirs_done.fetch_add(1, Ordering::Relaxed);
                let mut node = f.node;
                node.subtree = Some(id);
                self.leaf(node)
            }
            None => {
                self.open_frames()?;
                self.frames.pop();
                self.emit(Event::Leave)
            }
        }
    }

    fn subtree(&self, parent: Option<&Node>) -> Option<Tree> {
        let id = parent.filter(|n| n.kind == NodeKind::Dir)?.subtree?;
        match self.repo.load_tree(&id) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("parent tree {id} unreadable, reading files again: {e}");
                None
            }
        }
    }

    fn virtual_dir(&mut self, dir: &VirtualDir, parent: Option<&Tree>) -> Result<()> {
        for (name, entry) in &dir.children {
            if self.run.cancelled() {
                return Ok(());
            }
            let pnode = find(parent, name).map(|(_, n)| n);
            match entry {
                VirtualEntry::Source(path) => {
                    self.root_dev = match nix::sys::stat::lstat(path.as_path()) {
                        Ok(m) => m.st_dev,
                        Err(_) => 0,
                    };
                    let scope = self.opts.changed.as_ref().and_then(|l| l.below(path));
                    let here = Here { dir: None, path, name, parent: pnode, live: None };
                    self.path(here, None, None, true, scope)?
                }
                VirtualEntry::Dir(sub, real) => {
                    let m = match nix::sys::stat::lstat(real.as_path()) {
                        Ok(m) => m,
                        Err(e) => {
                            self.run.warning(format!("{}: {}", real.display(), std::io::Error::from(e)));
                            continue;
                        }
                    };
                    let mut node = self.with_xattrs(real, node_from_stat(name, &m), pnode);
                    node.kind = NodeKind::Dir;
                    if !self.opts.with_atime {
                        node.atime = crate::format::tree::Time::ZERO;
                    }
                    let ptree = self.subtree(pnode).map(Arc::new);
                    self.enter(node, ptree.clone(), pnode.and_then(|n| n.subtree));
                    self.virtual_dir(sub, ptree.as_deref())?;
                    self.leave()?;
                }
            }
        }
        Ok(())
    }

    /// The node with its extended attributes: the parent snapshot's, when the parent node is
    /// the same inode with the same ctime (setting or removing an attribute, ACLs included,
    /// moves ctime), else read from the file (`listxattr` and a `getxattr` for each name).
    fn with_xattrs(&self, path: &Path, mut node: Node, parent: Option<&Node>) -> Node {
        if let Some(p) = parent.filter(|p| {
            p.kind == node.kind && p.inode == node.inode && p.device == node.device && p.ctime == node.ctime
        }) {
            node.xattrs = p.xattrs.clone();
            return node;
        }
        match read_xattrs(path) {
            Ok(x) => node.xattrs = x,
            Err(e) => self.run.warning(format!("{}: reading extended attributes: {e}", path.display())),
        }
        node
    }

    /// One entry (`here`): `stat` is its `fstatat` from the listing (`None`: `lstat` it now,
    /// a source), `listing` its listing queued in the pool if it is a directory. `scope`:
    /// what a change list says changed below it (`None` without a change list, or when the
    /// entry is to be walked whole).
    fn path(
        &mut self,
        here: Here<'_>,
        stat: Option<nix::Result<FileStat>>,
        listing: Option<Pending>,
        is_source: bool,
        scope: Option<&ChangeTree>,
    ) -> Result<()> {
        let path = here.path;
        let ex = &self.opts.excludes;
        if ex.matches_path(path) {
            return Ok(());
        }
        let m = match stat {
            Some(m) => m,
            None => nix::sys::stat::lstat(path),
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                self.run.warning(format!("{}: {}", path.display(), std::io::Error::from(e)));
                return Ok(());
            }
        };
        let mut node = node_from_stat(here.name, &m);
        if !self.opts.with_atime {
            node.atime = crate::format::tree::Time::ZERO;
        }
        match node.kind {
            NodeKind::Dir => {
                if ex.dir_has_marker(path) {
                    return Ok(());
                }
                if self.opts.one_file_system && !is_source && m.st_dev != self.root_dev {
                    return Ok(());
                }
                self.dir(here, &m, node, listing, scope)
            }
            NodeKind::File => {
                if ex.too_large(node.size) {
                    return Ok(());
                }
                let node = self.with_xattrs(path, node, here.parent);
                self.file(here, node)
            }
            NodeKind::Symlink => {
                let mut node = self.with_xattrs(path, node, here.parent);
                let target = match here.dir {
                    Some(d) => nix::fcntl::readlinkat(d, here.name),
                    None => nix::fcntl::readlink(path),
                };
                match target {
                    Ok(t) => node.link_target = Some(serde_bytes::ByteBuf::from(t.as_bytes().to_vec())),
                    Err(e) => {
                        self.run.warning(format!("{}: {}", path.display(), std::io::Error::from(e)));
                        return Ok(());
                    }
                }
                self.leaf(node)
            }
            _ => {
                let node = self.with_xattrs(path, node, here.parent);
                self.leaf(node)
            }
        }
    }

    fn dir(
        &mut self,
        here: Here<'_>,
        seen: &FileStat,
        node: Node,
        listing: Option<Pending>,
        scope: Option<&ChangeTree>,
    ) -> Result<()> {
        let (path, parent) = (here.path, here.parent);
        if let Some(id) = scope.filter(|t| t.is_empty()).and_then(|_| self.reusable(parent, &node)) {
            // nothing below it changed: the parent's subtree, without listing the directory
            let mut node = self.with_xattrs(path, node, parent);
            node.subtree = Some(id);
            self.run.counters.dirs_unmodified.fetch_add(1, Ordering::Relaxed);
            self.run.progress.dirs_done.fetch_add(1, Ordering::Relaxed);
            return self.leaf(node);
        }
        let parent_subtree = parent.filter(|n| n.kind == NodeKind::Dir).and_then(|n| n.subtree);
        let listed = match listing {
            Some(p) => {
                let t = Instant::now();
                let l = self.lister.wait(p);
                self.blocked += t.elapsed();
                l
            }
            None => {
                let key = match here.dir {
                    // a source: its own place in the walk
                    None => {
                        self.sources += 1;
                        vec![self.sources]
                    }
                    // a directory the pool was not asked for (it had a marker file when
                    // listed, or there is no pool): what it queues goes after the rest
                    Some(_) => vec![u32::MAX],
                };
                self.lister.list(Target {
                    at: here.dir.cloned(),
                    name: here.name.to_vec(),
                    path: path.to_path_buf(),
                    device: seen.st_dev,
                    inode: seen.st_ino,
                    parent_subtree,
                    root_dev: self.root_dev,
                    key,
                })
            }
        };
        let listing = match listed {
            Listed::Ready(l) => l,
            Listed::Replaced => {
                self.run.warning(format!("{}: replaced during backup (now another file); not saved", path.display()));
                return Ok(());
            }
            Listed::Failed(e) => {
                self.run.warning(format!("{}: {}", path.display(), std::io::Error::from(e)));
                return Ok(());
            }
        };
        let (fd, entries, ptree, live) = listing.take();
        let node = self.with_xattrs(path, node, parent);
        self.enter(node, ptree.clone(), parent_subtree);
        for entry in entries {
            if self.run.cancelled() {
                break;
            }
            let child = path.join(std::ffi::OsStr::from_bytes(&entry.name));
            let found = find(ptree.as_deref(), &entry.name);
            let here = Here {
                dir: Some(&fd),
                path: &child,
                name: &entry.name,
                parent: found.map(|(_, n)| n),
                live: Some(found.is_some_and(|(i, _)| live.get(i).copied().unwrap_or(false))),
            };
            self.path(here, Some(entry.stat), entry.listing, false, scope.and_then(|t| t.child(&entry.name)))?;
        }
        self.leave()
    }

    fn file(&mut self, here: Here<'_>, mut node: Node) -> Result<()> {
        let path = here.path;
        if let Some(p) = here.parent {
            let same = p.kind == NodeKind::File
                && self.opts.change.same(p, &node)
                && here.live.unwrap_or_else(|| content_live(self.repo, p));
            if same {
                node.content = p.content.clone();
                node.content_lists = p.content_lists.clone();
                node.inline = p.inline.clone();
                let c = &self.run.counters;
                c.files_unmodified.fetch_add(1, Ordering::Relaxed);
                c.bytes.fetch_add(node.size, Ordering::Relaxed);
                self.run.progress.files_done.fetch_add(1, Ordering::Relaxed);
                self.run.progress.bytes_done.fetch_add(node.size, Ordering::Relaxed);
                self.run.progress.on_file.report(FileStatus::Unmodified, path, node.size);
                return self.leaf(node);
            }
        }
        let (tx, rx) = bounded(1);
        let t = Instant::now();
        let file = Walked {
            dir: here.dir.cloned(),
            name: here.name.to_vec(),
            path: path.to_path_buf(),
            device: node.device,
            inode: node.inode,
            size: node.size,
        };
        let sent = self.jobs.send(FileJob { file, result: tx });
        self.blocked += t.elapsed();
        sent.map_err(|_| Error::internal("backup stopped"))?;
        let had_parent = here.parent.is_some();
        self.read(Event::File { node, had_parent, result: rx, path: path.to_path_buf() })
    }

    /// The parent's subtree of a directory a change list says nothing about, if the directory
    /// is still the one the parent snapshot saw: a directory node there with the same inode
    /// and device, the same mtime (which any entry created, removed or renamed in it moves) and
    /// ctime (unless [`super::ChangeDetection`] ignores them), whose tree is in a live pack
    /// (format-spec §12: a blob only in a marked pack is not referenced again). Anything else
    /// (a directory moved in, one whose entries changed unseen) is listed.
    fn reusable(&self, parent: Option<&Node>, node: &Node) -> Option<TreeId> {
        let p = parent.filter(|p| p.kind == NodeKind::Dir)?;
        let id = p.subtree?;
        let ch = self.opts.change;
        let same = p.mtime == node.mtime
            && (ch.ignore_inode || (p.inode == node.inode && p.device == node.device))
            && (ch.ignore_inode || ch.ignore_ctime || p.ctime == node.ctime);
        let live = same && self.repo.index().is_ok_and(|idx| self.repo.blob_stored(&idx, &id.as_blob()));
        live.then_some(id)
    }
}

/// Where an entry is: `name` in the directory `dir` (by its descriptor; `None` for a source,
/// reached by `path`), its node in the parent snapshot, and whether that node's content is
/// all in live packs (`None`: not known yet).
struct Here<'a> {
    dir: Option<&'a Arc<OwnedFd>>,
    path: &'a Path,
    name: &'a [u8],
    parent: Option<&'a Node>,
    live: Option<bool>,
}

struct Frame {
    node: Option<Node>,
    parent_subtree: Option<TreeId>,
    nodes: Vec<Node>,
}

fn assemble(rx: Receiver<Vec<Event>>, saver: &BlobSaver, run: &Run<'_>) -> Result<TreeId> {
    saver.clock().thread(Stage::Trees);
    let mut stack = vec![Frame { node: None, parent_subtree: None, nodes: vec![] }];
    let c = &run.counters;
    for ev in rx.into_iter().flatten() {
        if run.cancelled() {
            continue;
        }
        let r: Result<()> = (|| {
            match ev {
                Event::Enter { node, parent_subtree } => {
                    stack.push(Frame { node: Some(node), parent_subtree, nodes: vec![] })
                }
                Event::Leaf(node) => top(&mut stack)?.nodes.push(node),
                Event::File { mut node, had_parent, result, path } => {
                    let got = result.recv().map_err(|_| Error::internal("file reader stopped"))?;
                    match got {
                        Ok(fc) => {
                            if fc.changed_while_reading {
                                run.warning(format!(
                                    "{}: file changed while it was read; saved as read",
                                    path.display()
                                ));
                            }
                            node.size = fc.size;
                            saver.set_content(&mut node, fc.content)?;
                            node.inline = fc.inline.map(serde_bytes::ByteBuf::from);
                            let counter = if had_parent { &c.files_changed } else { &c.files_new };
                            counter.fetch_add(1, Ordering::Relaxed);
                            let status = if had_parent { FileStatus::Changed } else { FileStatus::New };
                            run.progress.on_file.report(status, &path, fc.size);
                            c.bytes.fetch_add(fc.size, Ordering::Relaxed);
                            run.progress.files_done.fetch_add(1, Ordering::Relaxed);
                            top(&mut stack)?.nodes.push(node);
                        }
                        Err(e) if is_source_error(&e) => run.warning(e.message),
                        Err(e) => return Err(e),
                    }
                }
                Event::Leave => {
                    let frame = stack.pop().ok_or_else(|| Error::internal("unbalanced walk"))?;
                    let id = saver.save_tree(Tree { nodes: frame.nodes })?;
                    let counter = match frame.parent_subtree {
                        Some(p) if p == id => &c.dirs_unmodified,
                        Some(_) => &c.dirs_changed,
                        None => &c.dirs_new,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    run.progress.dirs_done.fetch_add(1, Ordering::Relaxed);
                    let mut node = frame.node.ok_or_else(|| Error::internal("unbalanced walk"))?;
                    node.subtree = Some(id);
                    top(&mut stack)?.nodes.push(node);
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            run.fail(e);
        }
    }
    if let Some(e) = run.fatal.lock().ignore_poison().take() {
        return Err(e);
    }
    let root = stack.pop().filter(|_| stack.is_empty()).ok_or_else(|| Error::internal("unbalanced walk"))?;
    saver.save_tree(Tree { nodes: root.nodes })
}

fn top(stack: &mut [Frame]) -> Result<&mut Frame> {
    stack.last_mut().ok_or_else(|| Error::internal("unbalanced walk"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::lister::open_dir;
    use super::*;

    #[test]
    fn a_directory_swapped_for_a_symlink_after_its_lstat_is_not_entered() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("inside"), b"x").unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("secret"), b"s").unwrap();
        let seen = nix::sys::stat::lstat(dir.as_path()).unwrap();
        let parent = Arc::new(OwnedFd::from(std::fs::File::open(tmp.path()).unwrap()));
        let (dev, ino) = (seen.st_dev, seen.st_ino);
        let (_, names) = open_dir(Some(&parent), &dir, b"d", dev, ino).unwrap().unwrap();
        assert_eq!(names, vec![b"inside".to_vec()]);
        // swapped for a symlink: by descriptor and by path, nothing is listed
        std::fs::rename(&dir, tmp.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        assert!(open_dir(Some(&parent), &dir, b"d", dev, ino).unwrap().is_none());
        assert!(open_dir(None, &dir, b"", dev, ino).unwrap().is_none());
        // swapped for another directory: not the inode the walk saw
        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert!(open_dir(Some(&parent), &dir, b"d", dev, ino).unwrap().is_none());
    }
}
