//! Restore: plan, then write in parallel, then apply metadata.
//!
//! 1. Walk the snapshot tree (filtered by include/exclude) and create directories, symlinks
//!    and special files in walk order; collect the regular files.
//! 2. Write the files on a thread pool. Each file's blobs are fetched with ranged reads,
//!    consecutive blobs of one pack in one read; runs of zeros become holes with `sparse`.
//! 3. Recreate hardlinks (same device and inode in the snapshot), then apply directory
//!    metadata deepest first, so writing into a directory doesn't change its restored mtime.
//!
//! Never writes outside the target: tree names were validated when decoded (no `/`, `..`,
//! NUL, empty), and every directory on the way is checked to be a real directory, not a
//! symlink, before anything is created inside it.

mod dirs;
mod fetch;
mod file;
mod metadata;

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::TreeId;
use crate::patterns::Excludes;
use crate::repo::Repository;
use dirs::{ensure_real_dir, KnownDirs};
use metadata::{apply_metadata, create_special};

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
    pub includes: Option<Excludes>,
    pub excludes: Excludes,
    pub overwrite: Overwrite,
    pub delete: bool,
    pub verify: bool,
    pub dry_run: bool,
    pub sparse: bool,
    pub concurrency: usize,
}

#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct RestoreSummary {
    pub files_restored: u64,
    pub files_skipped: u64,
    pub dirs_restored: u64,
    pub bytes_restored: u64,
    pub files_deleted: u64,
    pub files_verified: u64,
    pub errors: u64,
}

#[derive(Default)]
pub struct RestoreProgress {
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    pub errors: AtomicU64,
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
    let target = &opts.target;
    if !opts.dry_run {
        ensure_real_dir(target, target)?;
    }
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
        dirs: KnownDirs::default(),
        hardlinks: HashMap::new(),
        later_links: vec![],
        summary: RestoreSummary::default(),
    };
    let mut plan = Plan { dirs: vec![], batch: vec![], keep: Default::default(), unreadable: vec![] };
    let tree = repo.load_tree(root)?;
    walk(repo, tree, root_path, root_path, false, opts, &mut plan, &mut |batch| writer.flush(batch))?;
    let rest = std::mem::take(&mut plan.batch);
    writer.flush(rest)?;
    let Writer { mut summary, later_links, dirs, .. } = writer;
    let warn_count = |msg: String| {
        progress.errors.fetch_add(1, Ordering::Relaxed);
        warn(msg);
    };
    for msg in std::mem::take(&mut plan.unreadable) {
        warn_count(msg);
    }
    summary.dirs_restored = plan.dirs.len() as u64;
    if !opts.dry_run {
        // directories not made yet (empty ones, those holding only hardlinks)
        for (rel, _) in &plan.dirs {
            dirs.make_dir(target, &target.join(rel))?;
        }
        for (first, rel) in &later_links {
            let (src, dst) = (target.join(first), target.join(rel));
            remove_existing(&dst);
            match std::fs::hard_link(&src, &dst) {
                Ok(()) => summary.files_restored += 1,
                Err(e) => warn_count(format!("{}: linking to {}: {e}", dst.display(), src.display())),
            }
        }
        if opts.delete {
            summary.files_deleted = delete_extra(target, &plan)?;
        }
        // directory metadata last, deepest first
        for (rel, node) in plan.dirs.iter().rev() {
            if let Err(w) = apply_metadata(&target.join(rel), node) {
                warn_count(w);
            }
        }
    }
    summary.errors = progress.errors.load(Ordering::Relaxed);
    Ok(summary)
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
    /// Directories of the target checked or made so far.
    dirs: KnownDirs,
    /// First restored path of each hardlinked inode.
    hardlinks: HashMap<(u64, u64), PathBuf>,
    later_links: Vec<(PathBuf, PathBuf)>,
    summary: RestoreSummary,
}

impl Writer<'_> {
    fn warn_count(&self, msg: String) {
        self.progress.errors.fetch_add(1, Ordering::Relaxed);
        (self.warn)(msg);
    }

    fn flush(&mut self, batch: Vec<(PathBuf, Node)>) -> Result<()> {
        let (target, opts, progress) = (&self.opts.target, self.opts, self.progress);
        let mut files = vec![];
        for (rel, node) in batch {
            if node.kind != NodeKind::File {
                if !opts.dry_run {
                    self.special(&rel, &node)?;
                }
                continue;
            }
            if node.links > 1 && node.inode != 0 {
                let key = (node.device, node.inode);
                if let Some(first) = self.hardlinks.get(&key) {
                    self.later_links.push((first.clone(), rel));
                    continue;
                }
                self.hardlinks.insert(key, rel.clone());
            }
            files.push((rel, node));
        }
        let skipped = AtomicU64::new(0);
        let restored = AtomicU64::new(0);
        let bytes = AtomicU64::new(0);
        let verified = AtomicU64::new(0);
        if opts.dry_run {
            restored.fetch_add(files.len() as u64, Ordering::Relaxed);
            bytes.fetch_add(files.iter().fold(0u64, |sum, (_, n)| sum.saturating_add(n.size)), Ordering::Relaxed);
            progress.files_done.fetch_add(files.len() as u64, Ordering::Relaxed);
            files.clear();
        }
        let this = &*self;
        this.pool.install(|| {
            let paths: Vec<(PathBuf, &Node)> = files.iter().map(|(rel, node)| (target.join(rel), node)).collect();
            let outcomes = fetch::restore_files(this.repo, &paths, &this.dirs, opts, progress);
            paths.par_iter().zip(outcomes).for_each(|((path, node), outcome)| {
                match outcome {
                    fetch::Outcome::Restored => {
                        restored.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(node.size, Ordering::Relaxed);
                        if let Err(w) = apply_metadata(path, node) {
                            this.warn_count(w);
                        }
                        if opts.verify {
                            match file::verify_file(this.repo, path, node) {
                                Ok(()) => {
                                    verified.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => this.warn_count(format!("verify {}: {}", path.display(), e.message)),
                            }
                        }
                    }
                    fetch::Outcome::Skipped => {
                        skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    fetch::Outcome::Failed(msg) => this.warn_count(format!("{}: {msg}", path.display())),
                }
                progress.files_done.fetch_add(1, Ordering::Relaxed);
            })
        });
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        self.summary.files_restored += restored.load(Ordering::Relaxed);
        self.summary.files_skipped += skipped.load(Ordering::Relaxed);
        self.summary.bytes_restored += bytes.load(Ordering::Relaxed);
        self.summary.files_verified += verified.load(Ordering::Relaxed);
        Ok(())
    }

    /// A symlink, fifo or device node.
    fn special(&self, rel: &Path, node: &Node) -> Result<()> {
        let path = self.opts.target.join(rel);
        self.dirs.ensure_parent(&self.opts.target, &path)?;
        let r = match node.kind {
            NodeKind::Symlink => {
                remove_existing(&path);
                let t = node.link_target.as_deref().map(|b| b.to_vec()).unwrap_or_default();
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&t), &path)
                    .map_err(|e| Error::io(path.display(), e))
            }
            _ => {
                remove_existing(&path);
                create_special(&path, node)
            }
        };
        match r {
            Ok(()) => {
                if let Err(w) = apply_metadata(&path, node) {
                    self.warn_count(w);
                }
            }
            Err(e) => self.warn_count(e.message),
        }
        Ok(())
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

fn remove_existing(path: &Path) {
    if let Ok(m) = path.symlink_metadata() {
        if m.is_dir() {
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Remove what is in restored directories of the target but not in the snapshot.
fn delete_extra(target: &Path, plan: &Plan) -> Result<u64> {
    let mut n = 0;
    let root = PathBuf::new();
    for rel in std::iter::once(&root).chain(plan.dirs.iter().map(|(r, _)| r)) {
        let dir = target.join(rel);
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let child = rel.join(e.file_name());
            if !plan.keep.contains(&child) {
                remove_existing(&e.path());
                n += 1;
            }
        }
    }
    Ok(n)
}
