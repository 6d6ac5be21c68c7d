//! Restore: plan, then write in parallel, then apply metadata.
//!
//! 1. Walk the snapshot tree (filtered by include/exclude) and create directories, symlinks
//!    and special files in walk order; collect the regular files.
//! 2. Write the files on a thread pool. Each file's blobs are fetched with ranged reads,
//!    consecutive blobs of one pack in one read; runs of zeros become holes with `sparse`.
//! 3. Recreate hardlinks (same device and inode in the snapshot), then apply directory
//!    metadata deepest first, so writing into a directory doesn't change its restored mtime.
//!
//! Never writes outside the target, even while another local user who owns part of it swaps
//! directories for symlinks: tree names were validated when decoded (no `/`, `..`, NUL,
//! empty), and the target is reached only through directory descriptors, never through a
//! path that could be swapped between a check and its use (`target.rs`). Directories are
//! made `0700` and get their stored mode in the final pass. `--no-owner`, `--no-special` and
//! `--no-setuid` restore snapshots one does not trust without their owners, device nodes and
//! fifos, or setuid/setgid bits.

mod fetch;
mod file;
mod metadata;
mod target;

use crate::util::words::count as counted;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::TreeId;
use crate::patterns::Patterns;
use crate::repo::Repository;
use metadata::{apply_at, apply_to_fd, create_special};
use target::{entries, remove_at, stat_at, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    Always,
    IfChanged,
    IfNewer,
    Never,
}

impl Overwrite {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "always" => Overwrite::Always,
            "if-changed" => Overwrite::IfChanged,
            "if-newer" => Overwrite::IfNewer,
            "never" => Overwrite::Never,
            _ => {
                return Err(Error::usage(format!(
                    "invalid --overwrite {s:?}: use always, if-changed, if-newer or never"
                )))
            }
        })
    }
}

pub struct RestoreOptions {
    pub target: PathBuf,
    pub includes: Option<Patterns>,
    pub excludes: Patterns,
    pub overwrite: Overwrite,
    pub delete: bool,
    pub verify: bool,
    pub dry_run: bool,
    pub sparse: bool,
    pub concurrency: usize,
    /// Leave owners as the restoring user (no chown even as root).
    pub no_owner: bool,
    /// Skip device nodes and fifos.
    pub no_special: bool,
    /// Drop setuid and setgid bits.
    pub no_setuid: bool,
    /// Which extended attributes are written (default: all).
    pub xattrs: XattrSelect,
}

/// Which extended attributes restore writes: restic 0.17's `--include-xattr` (only those
/// matching) or `--exclude-xattr` (all but those matching), glob patterns (`*`, `?`, `[..]`)
/// on the whole attribute name; the two don't mix. Default: all of them.
#[derive(Default, Clone, Debug)]
pub enum XattrSelect {
    #[default]
    All,
    Only(globset::GlobSet),
    AllBut(globset::GlobSet),
}

impl XattrSelect {
    pub fn new(include: &[String], exclude: &[String]) -> Result<XattrSelect> {
        if !include.is_empty() && !exclude.is_empty() {
            return Err(Error::usage("--include-xattr and --exclude-xattr can't be used together")
                .hint("name the attributes to keep with --include-xattr, or those to leave out with --exclude-xattr"));
        }
        let set = |list: &[String], flag: &str| -> Result<globset::GlobSet> {
            let mut b = globset::GlobSetBuilder::new();
            for p in list {
                let g = globset::GlobBuilder::new(p)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| Error::usage(format!("invalid {flag} pattern {p:?}: {e}")))?;
                b.add(g);
            }
            b.build().map_err(|e| Error::usage(format!("{flag} patterns: {e}")))
        };
        Ok(if !include.is_empty() {
            XattrSelect::Only(set(include, "--include-xattr")?)
        } else if !exclude.is_empty() {
            XattrSelect::AllBut(set(exclude, "--exclude-xattr")?)
        } else {
            XattrSelect::All
        })
    }

    /// Is the attribute `name` restored?
    pub fn wants(&self, name: &[u8]) -> bool {
        let name = Path::new(std::ffi::OsStr::from_bytes(name));
        match self {
            XattrSelect::All => true,
            XattrSelect::Only(set) => set.is_match(name),
            XattrSelect::AllBut(set) => !set.is_match(name),
        }
    }
}

/// What a restore did (or, in a dry run, would do). The JSON is restic 0.18's restore
/// summary (`total_files`, `files_restored`, `files_skipped`, `files_deleted`, `total_bytes`,
/// `bytes_restored`, `bytes_skipped`) plus arca's own figures under names restic does not use.
#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct RestoreSummary {
    /// Files, links and special files selected: restored, kept or overwritten.
    pub total_files: u64,
    pub files_restored: u64,
    /// Kept as they were (the overwrite policy, `--no-special`).
    pub files_skipped: u64,
    pub files_deleted: u64,
    pub total_bytes: u64,
    pub bytes_restored: u64,
    pub bytes_skipped: u64,
    /// Of `files_restored`: entries that replaced something already in the target.
    pub files_overwritten: u64,
    pub dirs_restored: u64,
    pub files_verified: u64,
    pub errors: u64,
    /// What `--delete` removed (or would remove), relative to the target.
    #[serde(skip)]
    pub deleted: Vec<PathBuf>,
}

/// Live counters for progress displays. The totals are counted from the plan (a walk of the
/// selected trees before anything is written) and final once `totals_known` is set; files
/// and bytes the overwrite policy keeps count as skipped, a hardlink made as a file restored.
#[derive(Default)]
pub struct RestoreProgress {
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    pub files_skipped: AtomicU64,
    pub bytes_skipped: AtomicU64,
    pub errors: AtomicU64,
    pub total_files: AtomicU64,
    pub total_bytes: AtomicU64,
    pub totals_known: std::sync::atomic::AtomicBool,
    /// Entries that replaced something already in the target.
    pub files_overwritten: AtomicU64,
}

struct Plan {
    /// Every selected directory, in walk order (parents first).
    dirs: Vec<(PathBuf, Node)>,
    /// Files, symlinks and special files found and not yet written.
    batch: Vec<(PathBuf, Node)>,
    /// Relative paths of everything selected, kept only for `--delete`.
    keep: std::collections::HashSet<PathBuf>,
    /// Directories whose tree could not be read: restored empty, reported as errors.
    unreadable: Vec<String>,
}

/// Restore the tree `root`, found at snapshot path `root_path` (`/` for a whole snapshot),
/// so that `target/x` is `root_path/x`.
pub fn restore(
    repo: &Repository,
    root: &TreeId,
    root_path: &Path,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
    warn: &(dyn Fn(String) + Sync),
) -> Result<RestoreSummary> {
    repo.load_index()?;
    let target = if opts.dry_run { None } else { Some(Target::open(&opts.target).map_err(target_error)?) };
    // a dry run of `--delete` lists what it would remove from the target as it is
    let peek = if opts.dry_run && opts.delete { Target::open_existing(&opts.target)? } else { None };
    // reaching a deep directory holds a descriptor per level on the way
    crate::platform::raise_open_file_limit();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.concurrency.max(1))
        .build()
        .map_err(|e| Error::new(Kind::Other, format!("thread pool: {e}")))?;
    let mut writer = Writer {
        repo,
        opts,
        progress,
        warn,
        pool,
        target,
        hardlinks: HashMap::new(),
        later_links: vec![],
        summary: RestoreSummary::default(),
        stop: Default::default(),
        not_restored: 0,
    };
    let mut plan = Plan { dirs: vec![], batch: vec![], keep: Default::default(), unreadable: vec![] };
    let tree = repo.load_tree(root)?;
    let mut linked = std::collections::HashSet::new();
    count(repo, &tree, root_path, false, opts, &mut linked, progress)?;
    drop(linked);
    progress.totals_known.store(true, Ordering::Release);
    let walked = walk(repo, tree, root_path, root_path, false, opts, &mut plan, &mut |batch| writer.flush(batch));
    let flushed = walked.and_then(|_| writer.flush(std::mem::take(&mut plan.batch)));
    flushed.map_err(|e| writer.stopped(e))?;
    let Writer { mut summary, later_links, target, .. } = writer;
    let warn_count = |msg: String| {
        progress.errors.fetch_add(1, Ordering::Relaxed);
        warn(msg);
    };
    for msg in std::mem::take(&mut plan.unreadable) {
        warn_count(msg);
    }
    summary.dirs_restored = plan.dirs.len() as u64;
    if let Some(target) = &target {
        // directories not made yet (empty ones, those holding only hardlinks)
        for (rel, _) in &plan.dirs {
            target.dir(rel)?;
        }
        for (first, rel) in &later_links {
            match link(target, first, rel) {
                Ok(()) => {
                    summary.files_restored += 1;
                    progress.files_done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => warn_count(format!(
                    "{}: linking to {}: {}",
                    target.full(rel).display(),
                    target.full(first).display(),
                    e.message
                )),
            }
        }
        if opts.delete {
            delete_extra(target, &plan, false, &mut summary.deleted, &warn_count);
        }
        // directory metadata last, deepest first, each through its own descriptor
        for (rel, node) in plan.dirs.iter().rev() {
            let full = target.full(rel);
            let r = target.existing_dir(rel).map_err(|e| e.message).and_then(|fd| {
                let dir = std::fs::File::from(fd.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?);
                apply_to_fd(&dir, node, opts, &full.display())
            });
            if let Err(w) = r {
                warn_count(w);
            }
        }
    }
    if let Some(target) = &peek {
        delete_extra(target, &plan, true, &mut summary.deleted, &warn_count);
    }
    summary.files_deleted = summary.deleted.len() as u64;
    summary.files_overwritten = progress.files_overwritten.load(Ordering::Relaxed);
    summary.total_files = summary.files_restored + summary.files_skipped;
    summary.total_bytes = summary.bytes_restored + summary.bytes_skipped;
    summary.errors = progress.errors.load(Ordering::Relaxed);
    Ok(summary)
}

/// What to do about a target that is full or read-only.
fn unwritable_hint(how: fetch::Unwritable) -> &'static str {
    match how {
        fetch::Unwritable::Full => {
            "free space on the target's file system (or restore into another --target), then run the same restore again"
        }
        fetch::Unwritable::ReadOnly => {
            "the target's file system is mounted read-only: remount it read-write, or restore into another --target"
        }
    }
}

/// The target could not be opened or made: say so in a restore's words when its file
/// system is full or read-only.
fn target_error(e: Error) -> Error {
    match fetch::error_unwritable(&e) {
        Some(how) => e.operation(crate::error::Operation::Writing).hint(unwritable_hint(how)),
        None => e,
    }
}

/// Files are restored in batches of this many entries as the walk finds them, so memory
/// holds one batch and the list of directories, not every file of the snapshot.
const BATCH: usize = 4096;

/// Writes batches of planned entries; keeps the totals and the hardlinks to make at the end.
struct Writer<'a> {
    repo: &'a Repository,
    opts: &'a RestoreOptions,
    progress: &'a RestoreProgress,
    warn: &'a (dyn Fn(String) + Sync),
    pool: rayon::ThreadPool,
    /// The target, opened once (`None` in a dry run, which touches nothing).
    target: Option<Target>,
    /// First restored path of each hardlinked inode.
    hardlinks: HashMap<(u64, u64), PathBuf>,
    later_links: Vec<(PathBuf, PathBuf)>,
    summary: RestoreSummary,
    /// Why the target cannot be written, once a write found it full or read-only: the
    /// restore stops there.
    stop: fetch::Stop,
    /// Files that failed once the target was found full or the user interrupted (counted,
    /// not warned about one by one).
    not_restored: u64,
}

impl Writer<'_> {
    fn warn_count(&self, msg: String) {
        self.progress.errors.fetch_add(1, Ordering::Relaxed);
        (self.warn)(msg);
    }

    /// Why the restore stopped, in a restore's words. A full target ends it with one error
    /// saying what was restored and what not, instead of a warning for every file that
    /// cannot be written (format-spec §18.6); an interruption says what the target holds and
    /// how to finish (the generic message speaks of a backup's stored data).
    fn stopped(&self, e: Error) -> Error {
        let target = self.opts.target.display();
        let s = &self.summary;
        if e.kind == Kind::Interrupted {
            return Error::new(
                Kind::Interrupted,
                format!(
                    "restore interrupted: {} ({} bytes) restored whole into {target} so far, {} left incomplete and \
                     the rest of the snapshot not restored; directory metadata not applied",
                    counted(s.files_restored, "file"),
                    s.bytes_restored,
                    counted(self.not_restored, "file")
                ),
            )
            .object(target)
            .hint(
                "the repository is unchanged; run the same restore again to finish (with `--overwrite if-changed` \
                 the files already restored whole are kept, not written again)",
            );
        }
        let stop = self.stop.get().cloned().or_else(|| fetch::error_unwritable(&e).map(|u| (u, e.message.clone())));
        let Some((how, why)) = stop else { return e };
        let what = match how {
            fetch::Unwritable::Full => "is full",
            fetch::Unwritable::ReadOnly => "is on a read-only file system",
        };
        Error::new(
            Kind::Io,
            format!(
                "the restore target {target} {what} ({why}): stopped at the first such error; restored {} ({} \
                 bytes) whole, {} not restored and the rest of the snapshot not attempted; directory metadata not \
                 applied",
                counted(s.files_restored, "file"),
                s.bytes_restored,
                counted(self.not_restored, "file")
            ),
        )
        .object(target)
        .operation(crate::error::Operation::Writing)
        .hint(unwritable_hint(how))
    }

    fn flush(&mut self, batch: Vec<(PathBuf, Node)>) -> Result<()> {
        let (opts, progress) = (self.opts, self.progress);
        let mut files = vec![];
        for (rel, node) in batch {
            if node.kind != NodeKind::File {
                if let Some(target) = &self.target {
                    if !self.special(target, &rel, &node)? {
                        self.summary.files_skipped += 1;
                    }
                }
                continue;
            }
            if node.links > 1 && node.inode != 0 {
                let key = (node.device, node.inode);
                if let Some(first) = self.hardlinks.get(&key) {
                    self.later_links.push((first.clone(), rel));
                    if opts.dry_run {
                        progress.files_done.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                self.hardlinks.insert(key, rel.clone());
            }
            files.push((rel, node));
        }
        let skipped = AtomicU64::new(0);
        let skipped_bytes = AtomicU64::new(0);
        let restored = AtomicU64::new(0);
        let bytes = AtomicU64::new(0);
        let verified = AtomicU64::new(0);
        let not_written = AtomicU64::new(0);
        if opts.dry_run {
            let size = files.iter().fold(0u64, |sum, (_, n)| sum.saturating_add(n.size));
            restored.fetch_add(files.len() as u64, Ordering::Relaxed);
            bytes.fetch_add(size, Ordering::Relaxed);
            progress.files_done.fetch_add(files.len() as u64, Ordering::Relaxed);
            progress.bytes_done.fetch_add(size, Ordering::Relaxed);
            files.clear();
        }
        let this = &*self;
        if let Some(target) = &this.target {
            this.pool.install(|| {
                let rels: Vec<(PathBuf, &Node)> = files.iter().map(|(rel, node)| (rel.clone(), node)).collect();
                let outcomes = fetch::restore_files(this.repo, &rels, target, opts, progress, &this.stop);
                rels.par_iter().zip(outcomes).for_each(|((rel, node), outcome)| {
                    let path = target.full(rel);
                    match outcome {
                        fetch::Outcome::Restored(file) => {
                            restored.fetch_add(1, Ordering::Relaxed);
                            bytes.fetch_add(node.size, Ordering::Relaxed);
                            progress.files_done.fetch_add(1, Ordering::Relaxed);
                            if let Err(w) = apply_to_fd(&file, node, opts, &path.display()) {
                                this.warn_count(w);
                            }
                            if opts.verify {
                                match file::verify_file(this.repo, &file, &path, node) {
                                    Ok(()) => {
                                        verified.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Err(e) => this.warn_count(format!("verify {}: {}", path.display(), e.message)),
                                }
                            }
                        }
                        fetch::Outcome::Skipped => {
                            skipped.fetch_add(1, Ordering::Relaxed);
                            skipped_bytes.fetch_add(node.size, Ordering::Relaxed);
                            progress.files_skipped.fetch_add(1, Ordering::Relaxed);
                            progress.bytes_skipped.fetch_add(node.size, Ordering::Relaxed);
                        }
                        // once the target is full (or the user interrupted) every file fails
                        // alike: counted, not listed
                        fetch::Outcome::Failed(_) if this.stop.get().is_some() || crate::platform::interrupted() => {
                            not_written.fetch_add(1, Ordering::Relaxed);
                        }
                        fetch::Outcome::Failed(msg) => this.warn_count(format!("{}: {msg}", path.display())),
                    }
                })
            });
        }
        self.summary.files_restored += restored.load(Ordering::Relaxed);
        self.summary.files_skipped += skipped.load(Ordering::Relaxed);
        self.summary.bytes_restored += bytes.load(Ordering::Relaxed);
        self.summary.bytes_skipped += skipped_bytes.load(Ordering::Relaxed);
        self.summary.files_verified += verified.load(Ordering::Relaxed);
        self.not_restored += not_written.load(Ordering::Relaxed);
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        if self.stop.get().is_some() {
            return Err(Error::new(Kind::Io, "the restore target cannot be written"));
        }
        Ok(())
    }

    /// A symlink, fifo or device node, made in its parent's descriptor. Returns false when
    /// it was skipped (`--no-special`, or the overwrite policy keeps what is there).
    fn special(&self, target: &Target, rel: &Path, node: &Node) -> Result<bool> {
        if self.opts.no_special && node.kind != NodeKind::Symlink {
            return Ok(false);
        }
        let path = target.full(rel);
        let (dir, name) = target.parent(rel)?;
        let r = match stat_at(&dir, name) {
            Ok(Some(existing)) if !file::should_replace(&existing, node, self.opts.overwrite) => {
                return Ok(false);
            }
            Ok(Some(_)) => {
                self.progress.files_overwritten.fetch_add(1, Ordering::Relaxed);
                remove_at(&dir, name).map_err(|e| Error::io(path.display(), e))
            }
            Ok(None) => Ok(()),
            Err(e) => Err(Error::io(path.display(), e)),
        }
        .and_then(|()| match node.kind {
            NodeKind::Symlink => {
                let t: &[u8] = node.link_target.as_deref().map_or(&[], |v| v.as_slice());
                nix::unistd::symlinkat(std::ffi::OsStr::from_bytes(t), dir.as_fd(), name)
                    .map_err(|e| Error::io(path.display(), e.into()))
            }
            _ => create_special(&dir, name, node).map_err(|e| Error::io(path.display(), e.into())),
        });
        match r {
            Ok(()) => {
                if let Err(w) = apply_at(&dir, name, node, self.opts, &path.display()) {
                    self.warn_count(w);
                }
            }
            Err(e) => self.warn_count(e.message),
        }
        Ok(true)
    }
}

fn selected(opts: &RestoreOptions, path: &Path, ancestor_included: bool) -> (bool, bool) {
    if opts.excludes.matches_path(path) {
        return (false, false);
    }
    let included = ancestor_included || opts.includes.as_ref().is_none_or(|i| i.matches_path(path));
    (included, true)
}

/// Plan the subtree at snapshot path `at`, handing files and links to `flush` in batches.
/// Returns whether anything below was selected. A subdirectory whose tree cannot be read is
/// planned empty and reported; the rest of the snapshot is restored.
#[allow(clippy::too_many_arguments)]
fn walk(
    repo: &Repository,
    tree: Tree,
    base: &Path,
    at: &Path,
    included: bool,
    opts: &RestoreOptions,
    plan: &mut Plan,
    flush: &mut dyn FnMut(Vec<(PathBuf, Node)>) -> Result<()>,
) -> Result<bool> {
    let mut any = false;
    for node in tree.nodes {
        let spath = at.join(std::ffi::OsStr::from_bytes(&node.name));
        let (inc, descend) = selected(opts, &spath, included);
        let rel = spath.strip_prefix(base).unwrap_or(&spath).to_path_buf();
        match node.kind {
            NodeKind::Dir if descend => {
                let sub = node.subtree.ok_or_else(|| Error::corrupt("directory without subtree"))?;
                crate::format::tree::check_depth(spath.components().count(), &spath.display())?;
                let tree = match repo.load_tree(&sub) {
                    Ok(t) => t,
                    Err(e) if matches!(e.kind, Kind::Corrupt | Kind::NotFound | Kind::Unsupported) => {
                        plan.unreadable.push(format!("{}: directory unreadable: {}", spath.display(), e.message));
                        Tree::default()
                    }
                    Err(e) => return Err(e),
                };
                let idx = plan.dirs.len();
                plan.dirs.push((rel.clone(), node));
                if walk(repo, tree, base, &spath, inc, opts, plan, flush)? || inc {
                    any = true;
                    if opts.delete {
                        plan.keep.insert(rel);
                    }
                } else {
                    plan.dirs.truncate(idx);
                }
            }
            // sockets belong to a running process; like restic, restore skips them
            NodeKind::Dir | NodeKind::Socket => {}
            _ if inc => {
                if opts.delete {
                    plan.keep.insert(rel.clone());
                }
                plan.batch.push((rel, node));
                any = true;
                if plan.batch.len() >= BATCH {
                    flush(std::mem::take(&mut plan.batch))?;
                }
            }
            _ => {}
        }
    }
    Ok(any)
}

/// Count what [`walk`] will select below `tree` (at snapshot path `at`) into the progress
/// totals: every regular file, and its bytes once per hardlinked inode (later links are made,
/// not written). Trees that cannot be read count as empty; `walk` reports them.
fn count(
    repo: &Repository,
    tree: &Tree,
    at: &Path,
    included: bool,
    opts: &RestoreOptions,
    linked: &mut std::collections::HashSet<(u64, u64)>,
    progress: &RestoreProgress,
) -> Result<()> {
    for node in &tree.nodes {
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        let spath = at.join(std::ffi::OsStr::from_bytes(&node.name));
        let (inc, descend) = selected(opts, &spath, included);
        match node.kind {
            NodeKind::Dir if descend => {
                let Some(sub) = node.subtree else { continue };
                crate::format::tree::check_depth(spath.components().count(), &spath.display())?;
                match repo.load_tree(&sub) {
                    Ok(t) => count(repo, &t, &spath, inc, opts, linked, progress)?,
                    Err(e) if matches!(e.kind, Kind::Corrupt | Kind::NotFound | Kind::Unsupported) => {}
                    Err(e) => return Err(e),
                }
            }
            NodeKind::File if inc => {
                progress.total_files.fetch_add(1, Ordering::Relaxed);
                if node.links <= 1 || node.inode == 0 || linked.insert((node.device, node.inode)) {
                    progress.total_bytes.fetch_add(node.size, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Hard-link `rel` to the restored `first`, both reached through their parents' descriptors
/// (`linkat` without `AT_SYMLINK_FOLLOW`: a symlink at `first` is linked, never followed).
fn link(target: &Target, first: &Path, rel: &Path) -> Result<()> {
    let (src_dir, src_name) = target.parent(first)?;
    let (dst_dir, dst_name) = target.parent(rel)?;
    remove_at(&dst_dir, dst_name).map_err(|e| Error::io(target.full(rel).display(), e))?;
    nix::unistd::linkat(src_dir.as_fd(), src_name, dst_dir.as_fd(), dst_name, nix::fcntl::AtFlags::empty())
        .map_err(|e| Error::io(target.full(rel).display(), e.into()))
}

/// Remove what is in restored directories of the target but not in the snapshot, adding each
/// to `deleted` (`dry_run`: only list it). Each directory is listed through its descriptor and
/// entries are removed with `unlinkat`; a directory that is no longer a real one (swapped for
/// a symlink) is reported and left alone. In a dry run, a directory the restore would make
/// holds nothing to remove.
fn delete_extra(target: &Target, plan: &Plan, dry_run: bool, deleted: &mut Vec<PathBuf>, warn: &dyn Fn(String)) {
    let root = PathBuf::new();
    for rel in std::iter::once(&root).chain(plan.dirs.iter().map(|(r, _)| r)) {
        let fd = target.existing_dir(rel);
        if dry_run && fd.as_ref().is_err_and(|e| e.kind == Kind::NotFound) {
            continue;
        }
        let listed = fd.map_err(|e| e.message).and_then(|fd| {
            let names = entries(&fd).map_err(|e| format!("{}: listing: {e}", target.full(rel).display()))?;
            Ok((fd, names))
        });
        let (fd, names) = match listed {
            Ok(l) => l,
            Err(msg) => {
                warn(msg);
                continue;
            }
        };
        for name in names {
            let child = rel.join(&name);
            if !plan.keep.contains(&child) {
                match if dry_run { Ok(()) } else { remove_at(&fd, &name) } {
                    Ok(()) => deleted.push(child),
                    Err(e) => warn(format!("{}: deleting: {e}", target.full(&child).display())),
                }
            }
        }
    }
}
