//! Listing directories ahead of the walker, in parallel, handed over in walk order.
//!
//! Listing a directory is what an unchanged re-backup spends most of its time on: open it
//! (`openat(parent, name, O_DIRECTORY | O_NOFOLLOW)`, `fstat`: still the inode the walk saw),
//! read its names (`getdents64`), sort them, `fstatat(AT_SYMLINK_NOFOLLOW)` each, and decode
//! the parent snapshot's tree of it together with which of that tree's files still have all
//! their content in live packs (format-spec §21). None of that needs the walker's state, so a
//! small pool does it: when a directory is listed, a job for each subdirectory the walk will
//! enter goes into a queue ordered by the position of the directory in the walk (the indices
//! of the entries on the way to it, compared lexicographically: depth-first pre-order), and
//! the pool takes the earliest first. The walker takes each listing from the job's own
//! channel when it reaches the directory, so the walk's order, and every tree id, is the same
//! whatever the pool's size or timing.
//!
//! Memory: at most [`READY`] listings are taken by the pool and not yet dropped by the
//! walker; a worker waits for the walker before taking more, except while the walker waits
//! for a listing (the one it needs may still be queued behind work the walk skipped). Queued
//! jobs are small (a name, a path, the parent's descriptor). A listing holds its directory's
//! descriptor, which the walk needs for `fstatat`/`openat` of the entries and the readers for
//! opening the files.
//!
//! With no pool (`workers == 0`, or a change list, which lists only the directories on the
//! way to a changed path), the walker lists each directory itself when it reaches it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::{bounded, Receiver, Sender};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode};

use super::BackupOptions;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::{BlobId, TreeId};
use crate::repo::Repository;
use crate::util::sync::IgnorePoison;

/// Listings taken by the pool and not yet dropped by the walker, at most.
pub(super) const READY: usize = 64;

/// One entry of a listed directory.
pub(super) struct Entry {
    pub name: Vec<u8>,
    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)` when the directory was listed.
    pub stat: nix::Result<FileStat>,
    /// The listing of this subdirectory, queued in the pool.
    pub listing: Option<Pending>,
}

/// A directory's listing, as [`Lister::list`] made it.
pub(super) struct Listing {
    pub fd: Arc<OwnedFd>,
    /// Sorted by name.
    pub entries: Vec<Entry>,
    /// The parent snapshot's tree of this directory (`None` without one, or unreadable).
    pub parent: Option<Arc<Tree>>,
    /// For each node of `parent`: a file whose content is all in live packs.
    pub live: Vec<bool>,
    _slot: Option<Slot>,
}

impl Listing {
    /// The descriptor, the entries, the parent tree and its files' liveness, for the walker
    /// to go through; the listing's place in the pool's budget ([`READY`]) is given back.
    pub fn take(self) -> (Arc<OwnedFd>, Vec<Entry>, Option<Arc<Tree>>, Vec<bool>) {
        (self.fd, self.entries, self.parent, self.live)
    }
}

pub(super) enum Listed {
    Ready(Listing),
    /// No longer the directory the walk saw (a symlink or another inode in its place).
    Replaced,
    Failed(nix::errno::Errno),
}

/// A directory to list: `name` in the directory `at` (by descriptor), or `path` itself.
pub(super) struct Target {
    pub at: Option<Arc<OwnedFd>>,
    pub name: Vec<u8>,
    pub path: PathBuf,
    /// The (device, inode) the walk's `lstat`/`fstatat` saw.
    pub device: u64,
    pub inode: u64,
    /// The directory's tree in the parent snapshot.
    pub parent_subtree: Option<TreeId>,
    /// The device of the source it is below (for `--one-file-system`).
    pub root_dev: u64,
    pub key: Vec<u32>,
}

/// A listing being made by the pool.
pub(super) struct Pending {
    rx: Receiver<Listed>,
}

struct Job {
    target: Target,
    tx: Sender<Listed>,
}

impl PartialEq for Job {
    fn eq(&self, other: &Self) -> bool {
        self.target.key == other.target.key
    }
}
impl Eq for Job {}
impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Job {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.target.key.cmp(&other.target.key)
    }
}

#[derive(Default)]
struct State {
    jobs: BinaryHeap<Reverse<Job>>,
    /// Listings taken by the pool and not yet dropped.
    ready: usize,
    /// The walker is waiting for a listing.
    waiting: bool,
    closed: bool,
}

struct Queue {
    state: Mutex<State>,
    changed: Condvar,
}

/// Gives its place back in [`READY`] when the listing is dropped.
struct Slot(Arc<Queue>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.state.lock().ignore_poison().ready -= 1;
        self.0.changed.notify_all();
    }
}

pub(super) struct Lister<'a> {
    repo: &'a Repository,
    opts: &'a BackupOptions,
    /// `None`: the walker lists every directory itself.
    queue: Option<Arc<Queue>>,
}

impl<'a> Lister<'a> {
    pub fn new(repo: &'a Repository, opts: &'a BackupOptions, pooled: bool) -> Self {
        let queue = pooled.then(|| Arc::new(Queue { state: Mutex::new(State::default()), changed: Condvar::new() }));
        Lister { repo, opts, queue }
    }

    /// One worker of the pool: lists queued directories until [`Self::close`].
    pub fn work(&self) {
        let Some(q) = &self.queue else { return };
        loop {
            let job = {
                let mut st = q.state.lock().ignore_poison();
                loop {
                    if st.closed {
                        return;
                    }
                    if !st.jobs.is_empty() && (st.ready < READY || st.waiting) {
                        break;
                    }
                    st = q.changed.wait(st).ignore_poison();
                }
                st.ready += 1;
                st.jobs.pop().map(|Reverse(j)| j)
            };
            let Some(job) = job else { continue };
            let slot = Slot(q.clone());
            let listed = match self.list(job.target) {
                Listed::Ready(mut l) => {
                    l._slot = Some(slot);
                    Listed::Ready(l)
                }
                other => other,
            };
            // the walker may have skipped the directory: then the listing is dropped here
            let _ = job.tx.send(listed);
        }
    }

    /// Stop the pool's workers (the walk is over).
    pub fn close(&self) {
        if let Some(q) = &self.queue {
            q.state.lock().ignore_poison().closed = true;
            q.changed.notify_all();
        }
    }

    /// The listing the pool makes for `p`, waiting for it.
    pub fn wait(&self, p: Pending) -> Listed {
        let Some(q) = &self.queue else { return Listed::Failed(nix::errno::Errno::EIO) };
        if let Ok(l) = p.rx.try_recv() {
            return l;
        }
        q.state.lock().ignore_poison().waiting = true;
        q.changed.notify_all();
        let got = p.rx.recv();
        q.state.lock().ignore_poison().waiting = false;
        // a worker never drops a job's sender without sending (only `close` stops them)
        got.unwrap_or(Listed::Failed(nix::errno::Errno::EIO))
    }

    /// List a directory: open it through its parent's descriptor without following a
    /// symlink, check it is the inode the walk saw, read and sort its names, `fstatat` each,
    /// decode its parent tree, and queue the subdirectories the walk will enter.
    pub fn list(&self, t: Target) -> Listed {
        let (fd, mut names) = match open_dir(t.at.as_ref(), &t.path, &t.name, t.device, t.inode) {
            Ok(Some(opened)) => opened,
            Ok(None) => return Listed::Replaced,
            Err(e) => return Listed::Failed(e),
        };
        names.sort_unstable();
        let fd = Arc::new(fd);
        let mut entries: Vec<Entry> = names
            .into_iter()
            .map(|name| {
                let stat = nix::sys::stat::fstatat(&fd, name.as_slice(), AtFlags::AT_SYMLINK_NOFOLLOW);
                Entry { name, stat, listing: None }
            })
            .collect();
        let parent = t.parent_subtree.and_then(|id| match self.repo.load_tree(&id) {
            Ok(tree) => Some(Arc::new(tree)),
            Err(e) => {
                tracing::warn!("parent tree {id} unreadable, reading files again: {e}");
                None
            }
        });
        let live = parent.as_ref().map_or_else(Vec::new, |p| {
            p.nodes.iter().map(|n| n.kind == NodeKind::File && content_live(self.repo, n)).collect()
        });
        if let Some(q) = &self.queue {
            let mut queued = vec![];
            for (i, e) in entries.iter_mut().enumerate() {
                let Ok(st) = &e.stat else { continue };
                let child = t.path.join(std::ffi::OsStr::from_bytes(&e.name));
                if !enters(self.opts, &child, st, t.root_dev) {
                    continue;
                }
                let pnode = find(parent.as_deref(), &e.name).map(|(_, n)| n);
                let (tx, rx) = bounded(1);
                let mut key = t.key.clone();
                key.push(u32::try_from(i).unwrap_or(u32::MAX));
                let target = Target {
                    at: Some(fd.clone()),
                    name: e.name.clone(),
                    path: child,
                    device: st.st_dev,
                    inode: st.st_ino,
                    parent_subtree: pnode.filter(|n| n.kind == NodeKind::Dir).and_then(|n| n.subtree),
                    root_dev: t.root_dev,
                    key,
                };
                queued.push(Reverse(Job { target, tx }));
                e.listing = Some(Pending { rx });
            }
            if !queued.is_empty() {
                q.state.lock().ignore_poison().jobs.extend(queued);
                q.changed.notify_all();
            }
        }
        Listed::Ready(Listing { fd, entries, parent, live, _slot: None })
    }
}

/// Does the walk enter the directory at `path` (by the rules of `Walker::path`: excludes,
/// marker files, `--one-file-system`)? Only for queueing: the walker decides again, and a
/// listing it does not take is dropped.
fn enters(opts: &BackupOptions, path: &Path, st: &FileStat, root_dev: u64) -> bool {
    if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFDIR || (opts.one_file_system && st.st_dev != root_dev) {
        return false;
    }
    !opts.excludes.matches_path(path) && !opts.excludes.dir_has_marker(path)
}

/// The node named `name` in `tree` and its position.
pub(super) fn find<'t>(tree: Option<&'t Tree>, name: &[u8]) -> Option<(usize, &'t Node)> {
    let t = tree?;
    t.nodes.binary_search_by(|n| n.name.as_slice().cmp(name)).ok().map(|i| (i, &t.nodes[i]))
}

/// Is every blob the file node names stored in a live pack? Blobs only in packs marked for
/// deletion must not be referenced again (format-spec §21), so for a file with content
/// lists the data blobs they hold are checked too.
pub(super) fn content_live(repo: &Repository, node: &Node) -> bool {
    let live = |ids: &[BlobId]| match repo.index() {
        Ok(idx) => ids.iter().all(|id| repo.blob_stored(&idx, id)),
        Err(_) => false,
    };
    if !live(&node.content) || !live(&node.content_lists) {
        return false;
    }
    node.content_lists.is_empty() || repo.file_content(node).is_ok_and(|c| live(&c))
}

/// Open the directory `name` in `at` (or `path` when `at` is `None`) without following a
/// symlink, check that it is the inode (`device`, `inode`) the walk saw (`Ok(None)` when it
/// was replaced), and read its entry names (without `.` and `..`) through the descriptor.
pub(super) fn open_dir(
    at: Option<&Arc<OwnedFd>>,
    path: &Path,
    name: &[u8],
    device: u64,
    inode: u64,
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
    if st.st_dev != device || st.st_ino != inode {
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
