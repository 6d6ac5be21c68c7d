//! The walker and the tree assembler of one backup (see the module above for the flow).
//!
//! The walker goes through directory descriptors, not paths: each directory is opened with
//! `openat(parent, name, O_DIRECTORY | O_NOFOLLOW)` and must be the inode its `lstat` showed,
//! its entries are read with `fdopendir`/`readdir`, and each child is `fstatat`ed relative to
//! it (`AT_SYMLINK_NOFOLLOW`). A file job carries the directory's descriptor, the name and the
//! (device, inode) seen, so the reader opens exactly that (see `file_reader`). Swapping a
//! directory on the path for a symlink therefore never leads the walk elsewhere. Paths remain
//! for messages, excludes and extended attributes (`llistxattr`, which does not follow a
//! final symlink). Sources named on the command line, and the directories above them, are
//! reached by path, as the user named them.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode};

use super::change_list::ChangeTree;
use super::file_reader::{read_file, FileContent, Walked};
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
    // one descriptor per directory level the walk is inside
    crate::platform::raise_open_file_limit();
    let parent_root = match &opts.parent_tree {
        Some(id) => Some(repo.load_tree(id)?),
        None => None,
    };
    let (job_tx, job_rx) = bounded::<FileJob>(opts.read_concurrency.max(1) * 4);
    let (event_tx, event_rx) = bounded::<Vec<Event>>(4096 / EVENT_BATCH);
    std::thread::scope(|s| {
        for _ in 0..opts.read_concurrency.max(1) {
            let rx = job_rx.clone();
            let hook = opts.before_open.clone();
            s.spawn(move || reader(rx, saver, run, hook));
        }
        drop(job_rx);
        let assembler = s.spawn(move || assemble(event_rx, saver, run));
        let clock = saver.clock();
        clock.thread(Stage::Walk);
        let started = Instant::now();
        let mut w = Walker {
            repo,
            run,
            opts,
            jobs: job_tx,
            events: event_tx,
            batch: Vec::with_capacity(EVENT_BATCH),
            root_dev: 0,
            blocked: Duration::ZERO,
        };
        if let Err(e) = w.virtual_dir(&root, parent_root.as_ref()).and_then(|()| w.flush()) {
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

struct Walker<'a, 'r> {
    repo: &'a Repository,
    run: &'a Run<'r>,
    opts: &'a BackupOptions,
    jobs: Sender<FileJob>,
    events: Sender<Vec<Event>>,
    /// Events not yet sent (see [`EVENT_BATCH`]).
    batch: Vec<Event>,
    root_dev: u64,
    /// Time spent waiting for the readers or the assembler to take work.
    blocked: Duration,
}

fn find<'t>(tree: Option<&'t Tree>, name: &[u8]) -> Option<&'t Node> {
    let t = tree?;
    t.nodes.binary_search_by(|n| n.name.as_slice().cmp(name)).ok().map(|i| &t.nodes[i])
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
            let pnode = find(parent, name);
            match entry {
                VirtualEntry::Source(path) => {
                    self.root_dev = match nix::sys::stat::lstat(path.as_path()) {
                        Ok(m) => m.st_dev,
                        Err(_) => 0,
                    };
                    let scope = self.opts.changed.as_ref().and_then(|l| l.below(path));
                    self.path(None, path, name, pnode, true, scope)?
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
                    let ptree = self.subtree(pnode);
                    self.emit(Event::Enter { node, parent_subtree: pnode.and_then(|n| n.subtree) })?;
                    self.virtual_dir(sub, ptree.as_ref())?;
                    self.emit(Event::Leave)?;
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

    /// One entry: `name` in the directory `dir` (by its descriptor), or the source `path`
    /// itself when `dir` is `None`. `scope`: what a change list says changed below it (`None`
    /// without a change list, or when the entry is to be walked whole).
    fn path(
        &mut self,
        dir: Option<&Arc<OwnedFd>>,
        path: &Path,
        name: &[u8],
        parent: Option<&Node>,
        is_source: bool,
        scope: Option<&ChangeTree>,
    ) -> Result<()> {
        let ex = &self.opts.excludes;
        if ex.matches_path(path) {
            return Ok(());
        }
        let m = match dir {
            Some(d) => nix::sys::stat::fstatat(d, name, AtFlags::AT_SYMLINK_NOFOLLOW),
            None => nix::sys::stat::lstat(path),
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                self.run.warning(format!("{}: {}", path.display(), std::io::Error::from(e)));
                return Ok(());
            }
        };
        let mut node = node_from_stat(name, &m);
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
                self.dir(dir, path, name, &m, node, parent, scope)
            }
            NodeKind::File => {
                if ex.too_large(node.size) {
                    return Ok(());
                }
                let node = self.with_xattrs(path, node, parent);
                self.file(dir, path, name, node, parent)
            }
            NodeKind::Symlink => {
                let mut node = self.with_xattrs(path, node, parent);
                let target = match dir {
                    Some(d) => nix::fcntl::readlinkat(d, name),
                    None => nix::fcntl::readlink(path),
                };
                match target {
                    Ok(t) => node.link_target = Some(serde_bytes::ByteBuf::from(t.as_bytes().to_vec())),
                    Err(e) => {
                        self.run.warning(format!("{}: {}", path.display(), std::io::Error::from(e)));
                        return Ok(());
                    }
                }
                self.emit(Event::Leaf(node))
            }
            _ => {
                let node = self.with_xattrs(path, node, parent);
                self.emit(Event::Leaf(node))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dir(
        &mut self,
        at: Option<&Arc<OwnedFd>>,
        path: &Path,
        name: &[u8],
        seen: &FileStat,
        node: Node,
        parent: Option<&Node>,
        scope: Option<&ChangeTree>,
    ) -> Result<()> {
        if let Some(id) = scope.filter(|t| t.is_empty()).and_then(|_| self.reusable(parent, &node)) {
            // nothing below it changed: the parent's subtree, without listing the directory
            let mut node = self.with_xattrs(path, node, parent);
            node.subtree = Some(id);
            self.run.counters.dirs_unmodified.fetch_add(1, Ordering::Relaxed);
            self.run.progress.dirs_done.fetch_add(1, Ordering::Relaxed);
            return self.emit(Event::Leaf(node));
        }
        let (fd, mut names) = match open_dir(at, path, name, seen) {
            Ok(Some(opened)) => opened,
            Ok(None) => {
                self.run.warning(format!("{}: replaced during backup (now another file); not saved", path.display()));
                return Ok(());
            }
            Err(e) => {
                self.run.warning(format!("{}: {}", path.display(), std::io::Error::from(e)));
                return Ok(());
            }
        };
        names.sort_unstable();
        let fd = Arc::new(fd);
        let node = self.with_xattrs(path, node, parent);
        let ptree = self.subtree(parent);
        self.emit(Event::Enter { node, parent_subtree: parent.and_then(|n| n.subtree) })?;
        for name in names {
            if self.run.cancelled() {
                break;
            }
            let child = path.join(std::ffi::OsStr::from_bytes(&name));
            let pnode = find(ptree.as_ref(), &name);
            self.path(Some(&fd), &child, &name, pnode, false, scope.and_then(|t| t.child(&name)))?;
        }
        self.emit(Event::Leave)
    }

    fn file(
        &mut self,
        dir: Option<&Arc<OwnedFd>>,
        path: &Path,
        name: &[u8],
        mut node: Node,
        parent: Option<&Node>,
    ) -> Result<()> {
        if let Some(p) = parent {
            let same = p.kind == NodeKind::File && self.opts.change.same(p, &node) && self.content_indexed(p);
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
                return self.emit(Event::Leaf(node));
            }
        }
        let (tx, rx) = bounded(1);
        let t = Instant::now();
        let file = Walked {
            dir: dir.cloned(),
            name: name.to_vec(),
            path: path.to_path_buf(),
            device: node.device,
            inode: node.inode,
            size: node.size,
        };
        let sent = self.jobs.send(FileJob { file, result: tx });
        self.blocked += t.elapsed();
        sent.map_err(|_| Error::internal("backup stopped"))?;
        self.emit(Event::File { node, had_parent: parent.is_some(), result: rx, path: path.to_path_buf() })
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

    /// Is every blob the node names stored in a live pack? Blobs only in packs marked for
    /// deletion must not be referenced again (format-spec §21), so for a file with content
    /// lists the data blobs they hold are checked too.
    fn content_indexed(&self, node: &Node) -> bool {
        let live = |ids: &[crate::id::BlobId]| match self.repo.index() {
            Ok(idx) => ids.iter().all(|id| self.repo.blob_stored(&idx, id)),
            Err(_) => false,
        };
        if !live(&node.content) || !live(&node.content_lists) {
            return false;
        }
        node.content_lists.is_empty() || self.repo.file_content(node).is_ok_and(|c| live(&c))
    }
}

/// Open the directory `name` in `at` (or `path` when `at` is `None`) without following a
/// symlink, check that it is the inode `seen` (`Ok(None)` when it was replaced), and read its
/// entry names (without `.` and `..`) through the descriptor.
fn open_dir(
    at: Option<&Arc<OwnedFd>>,
    path: &Path,
    name: &[u8],
    seen: &FileStat,
) -> nix::Result<Option<(OwnedFd, Vec<Vec<u8>>)>> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match at {
        Some(d) => nix::fcntl::openat(d, name, flags, Mode::empty()),
        None => nix::fcntl::open(path, flags, Mode::empty()),
    };
    let fd = match fd {
        Ok(fd) => fd,
        // a symlink or a non-directory swapped in for the directory
        Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => return Ok(None),
        Err(e) => return Err(e),
    };
    let st = nix::sys::stat::fstat(&fd)?;
    if st.st_dev != seen.st_dev || st.st_ino != seen.st_ino {
        return Ok(None);
    }
    // the walk keeps `fd` for `fstatat`/`openat` of the children; `Dir` owns a duplicate
    let dup = fd.try_clone().map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)))?;
    let mut dir = nix::dir::Dir::from_fd(dup)?;
    let mut names = vec![];
    for entry in dir.iter() {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    Ok(Some((fd, names)))
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
        let (_, names) = open_dir(Some(&parent), &dir, b"d", &seen).unwrap().unwrap();
        assert_eq!(names, vec![b"inside".to_vec()]);
        // swapped for a symlink: by descriptor and by path, nothing is listed
        std::fs::rename(&dir, tmp.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        assert!(open_dir(Some(&parent), &dir, b"d", &seen).unwrap().is_none());
        assert!(open_dir(None, &dir, b"", &seen).unwrap().is_none());
        // swapped for another directory: not the inode the walk saw
        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert!(open_dir(Some(&parent), &dir, b"d", &seen).unwrap().is_none());
    }
}
