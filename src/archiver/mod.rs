//! The backup engine. Data flows one way through bounded channels:
//!
//! ```text
//! walker ──files──► readers (chunk, id) ──► BlobSaver (dedup, seal pool, packer, uploaders)
//!    └────events (in walk order)────► assembler (waits for each file, writes trees)
//! ```
//!
//! The walker visits sources in sorted order, applies excludes and compares each file with the
//! parent snapshot's node: a file with the same size, mtime, ctime and inode (ctime and inode
//! unless [`ChangeDetection`] says to ignore them) whose content is in the index is reused without being read, and any entry whose inode and ctime match its
//! parent node takes that node's extended attributes instead of listing them again. The
//! assembler receives nodes in walk order, waits for each file's content ids, and writes a
//! directory's tree as soon as the directory is done, so memory holds only the directories on
//! the current path. Directories are read, and files opened, through descriptors and checked
//! to be the inode the walk saw (see `walker` and `file_reader`), so a file swapped mid-backup
//! is reported, never read through a symlink or under another name. An unreadable or replaced
//! source is a counted warning; a storage failure stops everything.
//!
//! Directories are listed ahead of the walk by a small pool (`lister`) and taken in walk
//! order; a directory whose entries are all, in order, the nodes of its parent tree keeps
//! that tree by id, so an unchanged re-backup writes no tree but the root's.
//!
//! With a change list ([`BackupOptions::changed`]) the walk lists only the directories that
//! lead to a changed path; every other directory that is still the parent snapshot's (same
//! inode, mtime and ctime) keeps the parent's subtree id without being listed, so the
//! summary's file counts cover only what was walked and `dirs_unmodified` counts the
//! subtrees reused.

pub mod change_list;
pub mod excludes;
mod file_reader;
mod lister;
pub mod metadata;
pub mod scan;
mod walker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::patterns::read_pattern_file;
pub use change_list::ChangeList;
pub use excludes::BackupExcludes;

use crate::codec::Compression;
use crate::error::{Error, Kind, Result};
use crate::format::snapshot::Summary;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::format::BlobType;
use crate::id::TreeId;
use crate::repo::stage_clock::StageReport;
use crate::repo::{BlobSaver, IndexFlushed, Repository};
use crate::util::sync::IgnorePoison;

/// Called by a file reader with the file's path just before it opens a file the walker chose
/// (see [`BackupOptions::before_open`]).
pub type BeforeOpen = Arc<dyn Fn(&std::path::Path) + Send + Sync>;

/// What to back up.
pub enum Source {
    /// Absolute paths; the snapshot tree mirrors them from `/`.
    Paths(Vec<PathBuf>),
    /// One stream, stored as a file of this name in the snapshot's root.
    Stream { name: String, reader: Box<dyn std::io::Read + Send> },
}

pub struct BackupOptions {
    pub excludes: BackupExcludes,
    pub one_file_system: bool,
    /// Root tree of the parent snapshot, whose unchanged files are not read again.
    pub parent_tree: Option<TreeId>,
    pub read_concurrency: usize,
    /// Threads that list directories ahead of the walk (`0`: the walker lists each one
    /// itself). The walk's order and the trees written are the same for any number.
    pub list_workers: usize,
    pub compression: Compression,
    pub seal_workers: usize,
    pub uploaders: usize,
    pub dry_run: bool,
    /// Store access times (off by default, as in restic: reading a file changes its atime,
    /// which would make every directory's tree differ from the last backup's).
    pub with_atime: bool,
    /// Runs in the reader just before each file is opened, after the walker's `lstat`: the
    /// seam where another process may swap the file. Tests use it to do that swap on cue;
    /// nothing in arca sets it.
    pub before_open: Option<BeforeOpen>,
    /// Count the sources ahead of the walk ([`scan`]) for a progress display's totals. Off
    /// where nobody shows them (a cron job, `-q`): the scan costs a second `lstat` per entry.
    pub scan_ahead: bool,
    /// Whether a file is unchanged since the parent snapshot (so its content is reused
    /// without being read): by default size, mtime, ctime and inode must all match, as in
    /// restic; these loosen that.
    pub change: ChangeDetection,
    /// The paths that may have changed since the parent snapshot (`--changed-paths`): with a
    /// parent tree, only the directories on the way to them are listed, and every other
    /// directory that is still the parent's takes its subtree by id (see [`change_list`]).
    /// The caller clears it when the parent cannot serve (none, other paths).
    pub changed: Option<Arc<ChangeList>>,
}

/// What may differ from the parent's node while a file still counts as unchanged (restic's
/// `--ignore-inode`, which ignores inode and ctime, and `--ignore-ctime`). Size and mtime
/// always count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangeDetection {
    pub ignore_inode: bool,
    pub ignore_ctime: bool,
}

impl ChangeDetection {
    /// Does `node` (just read from the file system) look like the parent's `p`?
    pub fn same(self, p: &crate::format::tree::Node, node: &crate::format::tree::Node) -> bool {
        p.size == node.size
            && p.mtime == node.mtime
            && (self.ignore_ctime || self.ignore_inode || p.ctime == node.ctime)
            && (self.ignore_inode || p.inode == node.inode)
    }
}

impl Default for BackupOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        BackupOptions {
            excludes: BackupExcludes::default(),
            one_file_system: false,
            parent_tree: None,
            read_concurrency: 2,
            list_workers: cores.clamp(1, 4),
            compression: Compression::AUTO,
            seal_workers: cores,
            uploaders: 4,
            dry_run: false,
            with_atime: false,
            before_open: None,
            scan_ahead: false,
            change: ChangeDetection::default(),
            changed: None,
        }
    }
}

/// Live counters for progress displays. `bytes_done` counts what was read (or found unchanged),
/// `bytes_added` the new data among it before compression, `bytes_stored` what went into packs
/// (compressed, sealed; uploaded unless a dry run). The totals come from the scan ahead
/// ([`scan`]) and are final once `scan_finished` is set.
#[derive(Default, Debug)]
pub struct Progress {
    pub files_done: AtomicU64,
    pub dirs_done: AtomicU64,
    pub bytes_done: AtomicU64,
    pub errors: AtomicU64,
    pub total_files: AtomicU64,
    pub total_bytes: AtomicU64,
    pub scan_finished: AtomicBool,
    pub bytes_added: AtomicU64,
    pub bytes_stored: AtomicU64,
    /// The files being read now (one per reader at most).
    current: Mutex<Vec<PathBuf>>,
    /// Told what became of each file (`backup -v`); unset, it costs one branch per file.
    pub on_file: FileReport,
}

impl Progress {
    /// Counters that tell `on_file` what became of each file (`backup -v`).
    pub fn reporting(on_file: FileReport) -> Self {
        Progress { on_file, ..Default::default() }
    }

    /// The files being read now, in the order their reads began.
    pub fn current_files(&self) -> Vec<PathBuf> {
        self.current.lock().ignore_poison().clone()
    }

    fn reading(&self, path: &std::path::Path) {
        self.current.lock().ignore_poison().push(path.to_path_buf());
    }

    fn read(&self, path: &std::path::Path) {
        let mut c = self.current.lock().ignore_poison();
        if let Some(i) = c.iter().position(|p| p == path) {
            c.remove(i);
        }
    }

    /// Take the saver's counts of new and stored bytes (they only grow).
    fn note_saved(&self, stats: &crate::repo::SaveStats) {
        self.bytes_added.fetch_max(stats.data_added.load(Ordering::Relaxed), Ordering::Relaxed);
        self.bytes_stored.fetch_max(stats.data_added_packed.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// What a backup did with one file (restic's `-v` words: new, modified, unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Not in the parent snapshot: read and stored.
    New,
    /// In the parent snapshot but changed: read again.
    Changed,
    /// As in the parent snapshot: not read, its content reused.
    Unmodified,
}

impl FileStatus {
    /// restic's word for it (`backup -v`, `verbose_status` JSON's `action`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::New => "new",
            FileStatus::Changed => "modified",
            FileStatus::Unmodified => "unchanged",
        }
    }
}

type FileCallback = Box<dyn Fn(FileStatus, &std::path::Path, u64) + Send + Sync>;

/// The per-file report of [`Progress`]: a callback with each file's status, path and size,
/// called from the thread that assembles trees, in walk order.
#[derive(Default)]
pub struct FileReport(Option<FileCallback>);

impl FileReport {
    pub fn new(f: impl Fn(FileStatus, &std::path::Path, u64) + Send + Sync + 'static) -> Self {
        FileReport(Some(Box::new(f)))
    }

    pub(crate) fn report(&self, status: FileStatus, path: &std::path::Path, size: u64) {
        if let Some(f) = &self.0 {
            f(status, path, size);
        }
    }
}

impl std::fmt::Debug for FileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "FileReport(set)" } else { "FileReport(unset)" })
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    files_new: AtomicU64,
    files_changed: AtomicU64,
    files_unmodified: AtomicU64,
    dirs_new: AtomicU64,
    dirs_changed: AtomicU64,
    dirs_unmodified: AtomicU64,
    bytes: AtomicU64,
}

pub struct BackupOutcome {
    pub tree: TreeId,
    pub summary: Summary,
    /// Where the time went, per pipeline stage.
    pub stages: StageReport,
    /// Every pack is stored and indexed: the snapshot may be stored now.
    pub flushed: IndexFlushed,
}

/// Shared state of one backup run: counters, warnings, first fatal error, cancel flag.
pub(crate) struct Run<'a> {
    pub progress: &'a Progress,
    pub counters: Counters,
    pub warn: &'a (dyn Fn(String) + Sync),
    pub cancel: AtomicBool,
    pub fatal: Mutex<Option<Error>>,
}

impl Run<'_> {
    pub fn warning(&self, msg: String) {
        self.progress.errors.fetch_add(1, Ordering::Relaxed);
        (self.warn)(msg);
    }

    pub fn fail(&self, e: Error) {
        self.cancel.store(true, Ordering::SeqCst);
        let mut f = self.fatal.lock().ignore_poison();
        if f.is_none() {
            *f = Some(e);
        }
    }

    pub fn cancelled(&self) -> bool {
        if crate::platform::interrupted() && !self.cancel.load(Ordering::Relaxed) {
            self.fail(crate::platform::interrupted_error());
        }
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Is this an error about the source file (a warning) rather than about the repository?
pub(crate) fn is_source_error(e: &Error) -> bool {
    matches!(e.kind, Kind::Io | Kind::NotFound)
}

/// Run a backup; returns the root tree and the summary. Writes packs and index files (not the
/// snapshot: the caller does that last).
pub fn backup(
    repo: Arc<Repository>,
    source: Source,
    opts: &BackupOptions,
    progress: &Progress,
    warn: &(dyn Fn(String) + Sync),
) -> Result<BackupOutcome> {
    let start = crate::platform::now_rfc3339();
    let saver = BlobSaver::new(repo.clone(), opts.compression, opts.seal_workers, opts.uploaders, opts.dry_run)?;
    let run =
        Run { progress, counters: Counters::default(), warn, cancel: AtomicBool::new(false), fatal: Mutex::new(None) };
    let tree = match source {
        Source::Paths(paths) if !opts.scan_ahead => walker::run(&repo, &saver, &run, paths, opts),
        Source::Paths(paths) => {
            // the scan ahead counts beside the walk and stops when the walk is done
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                let scanned = paths.clone();
                let stop = &stop;
                s.spawn(move || scan::scan(&scanned, opts, progress, stop));
                let tree = walker::run(&repo, &saver, &run, paths, opts);
                stop.store(true, Ordering::Relaxed);
                tree
            })
        }
        Source::Stream { name, reader } => backup_stream(&saver, &run, name, reader),
    };
    let tree = match (tree, run.fatal.lock().ignore_poison().take()) {
        (_, Some(e)) | (Err(e), None) => return Err(e),
        (Ok(t), None) => t,
    };
    let clock = saver.clock().clone();
    let (saved, flushed) = saver.finish()?;
    progress.bytes_added.fetch_max(saved.data_added, Ordering::Relaxed);
    progress.bytes_stored.fetch_max(saved.data_added_packed, Ordering::Relaxed);
    let stages = clock.report();
    let c = &run.counters;
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let summary = Summary {
        backup_start: start,
        backup_end: crate::platform::now_rfc3339(),
        files_new: l(&c.files_new),
        files_changed: l(&c.files_changed),
        files_unmodified: l(&c.files_unmodified),
        dirs_new: l(&c.dirs_new),
        dirs_changed: l(&c.dirs_changed),
        dirs_unmodified: l(&c.dirs_unmodified),
        data_blobs: saved.data_blobs,
        tree_blobs: saved.tree_blobs,
        data_added: saved.data_added,
        data_added_packed: saved.data_added_packed,
        total_files_processed: l(&c.files_new) + l(&c.files_changed) + l(&c.files_unmodified),
        total_bytes_processed: l(&c.bytes),
        errors: l(&progress.errors),
    };
    Ok(BackupOutcome { tree, summary, stages, flushed })
}

fn backup_stream(
    saver: &BlobSaver,
    run: &Run<'_>,
    name: String,
    mut reader: Box<dyn std::io::Read + Send>,
) -> Result<TreeId> {
    let mut node = Node::new(name.into_bytes(), NodeKind::File);
    if !crate::format::tree::valid_name(&node.name) {
        return Err(Error::usage(format!("invalid --stdin-filename {:?}", node.name_lossy())));
    }
    let now = chrono::Utc::now();
    let now = crate::format::tree::Time::new(now.timestamp(), i64::from(now.timestamp_subsec_nanos()));
    node.mode = 0o644;
    node.uid = nix::unistd::getuid().as_raw();
    node.gid = nix::unistd::getgid().as_raw();
    node.user = crate::platform::username();
    (node.mtime, node.ctime) = (now, now);
    let mut content = vec![];
    let chunker = saver.repo().chunker().clone();
    let size = chunker.split_reader(&mut reader, &mut vec![], |chunk| {
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        run.progress.bytes_done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        content.push(saver.save_slice(BlobType::Data, chunk)?.0);
        run.progress.note_saved(saver.stats());
        Ok(())
    })?;
    node.size = size;
    saver.set_content(&mut node, content)?;
    run.counters.files_new.fetch_add(1, Ordering::Relaxed);
    run.counters.bytes.fetch_add(size, Ordering::Relaxed);
    run.progress.files_done.fetch_add(1, Ordering::Relaxed);
    saver.save_tree(Tree { nodes: vec![node] })
}
