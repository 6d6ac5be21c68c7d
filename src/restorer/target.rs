//! The target of a restore, reached only through directory descriptors.
//!
//! The threat: a local user who owns part of the target (root restoring `/home/alice`, or
//! `--target /`) swaps a restored directory for a symlink while the restore runs, hoping that
//! root then writes, chmods, chowns or deletes through it, outside the target. Checking a path
//! and then using it loses that race, however often it is checked.
//!
//! So the target is opened once, and every directory below it is opened relative to its parent's
//! descriptor, one component at a time, with `O_NOFOLLOW|O_DIRECTORY` (or in one
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` call where the kernel has it, Linux ≥ 5.6).
//! Files, links and nodes are then created, linked, changed and removed with the `*at` calls
//! relative to those descriptors; a symlink found on the way is refused, never followed. A
//! directory swapped away after it was opened keeps receiving its entries (they go into the
//! directory restore made, wherever it was moved), and a name swapped for a symlink makes the
//! next open of that name fail: nothing lands outside.
//!
//! Directories restore creates are made `0700` and get their stored mode in the final pass (as
//! GNU tar does), so nobody else can add or swap entries in them while they fill. The
//! descriptors of recently used directories are kept in a small bounded cache, so the files of
//! one directory cost one `openat` each and no lookups of their ancestors.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;

use crate::error::{Error, Kind, Result};
use crate::util::sync::IgnorePoison;

/// Directory descriptors cached at most (each costs one open descriptor).
const MAX_CACHED: usize = 128;

/// How restore opens a directory: never through a symlink, never for writing.
fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

pub(super) struct Target {
    root: Arc<OwnedFd>,
    path: PathBuf,
    cache: Mutex<HashMap<PathBuf, Arc<OwnedFd>>>,
    /// Cleared when the kernel says it has no `openat2`.
    openat2: AtomicBool,
}

impl Target {
    /// Open the target directory, creating it (and its parents) when absent. The target
    /// itself may be a symlink: the user named it.
    pub(super) fn open(path: &Path) -> Result<Target> {
        match path.symlink_metadata() {
            Ok(m) if m.is_dir() || m.file_type().is_symlink() => {}
            Ok(_) => return Err(Error::new(Kind::Usage, format!("{} exists and is not a directory", path.display()))),
            Err(_) => std::fs::create_dir_all(path).map_err(|e| Error::io(path.display(), e))?,
        }
        let root = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::io(path.display(), e.into()))?;
        Ok(Target {
            root: Arc::new(root),
            path: path.to_path_buf(),
            cache: Mutex::new(HashMap::new()),
            openat2: AtomicBool::new(true),
        })
    }

    /// The target directory if it is there (a dry run looks, never makes anything).
    pub(super) fn open_existing(path: &Path) -> Result<Option<Target>> {
        match path.symlink_metadata() {
            Ok(m) if m.is_dir() || m.file_type().is_symlink() => Target::open(path).map(Some),
            Ok(_) => Err(Error::new(Kind::Usage, format!("{} exists and is not a directory", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path.display(), e)),
        }
    }

    /// The full path of `rel`, for messages.
    pub(super) fn full(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// The directory `rel` of the target, made (mode 0700) with its missing ancestors.
    pub(super) fn dir(&self, rel: &Path) -> Result<Arc<OwnedFd>> {
        self.reach(rel, true)
    }

    /// The directory `rel` of the target if it is there, is a real directory and every
    /// directory on the way is one; never creates anything.
    pub(super) fn existing_dir(&self, rel: &Path) -> Result<Arc<OwnedFd>> {
        self.reach(rel, false)
    }

    /// The parent directory of the entry `rel`, made when absent, and the entry's name.
    pub(super) fn parent<'r>(&self, rel: &'r Path) -> Result<(Arc<OwnedFd>, &'r OsStr)> {
        let name = rel
            .file_name()
            .ok_or_else(|| Error::new(Kind::Corrupt, format!("{}: not a name in the target", rel.display())))?;
        let dir = self.dir(rel.parent().unwrap_or(Path::new("")))?;
        Ok((dir, name))
    }

    fn cached(&self, rel: &Path) -> Option<Arc<OwnedFd>> {
        self.cache.lock().ignore_poison().get(rel).cloned()
    }

    fn remember(&self, rel: &Path, fd: &Arc<OwnedFd>) {
        let mut cache = self.cache.lock().ignore_poison();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(rel.to_path_buf(), fd.clone());
    }

    fn reach(&self, rel: &Path, make: bool) -> Result<Arc<OwnedFd>> {
        if rel.as_os_str().is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(fd) = self.cached(rel) {
            return Ok(fd);
        }
        check_relative(rel)?;
        // one call for the whole path where the kernel walks it for us, refusing symlinks
        if self.openat2.load(Ordering::Relaxed) {
            let how = OpenHow::new().flags(dir_flags()).resolve(
                ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
            match nix::fcntl::openat2(self.root.as_fd(), rel, how) {
                Ok(fd) => {
                    let fd = Arc::new(fd);
                    self.remember(rel, &fd);
                    return Ok(fd);
                }
                Err(Errno::ENOSYS) | Err(Errno::EPERM) => self.openat2.store(false, Ordering::Relaxed),
                // absent, or something on the way is not a directory: the walk below says which
                Err(_) => {}
            }
        }
        let parent = self.reach(rel.parent().unwrap_or(Path::new("")), make)?;
        let name = rel.file_name().unwrap_or_default();
        let fd = Arc::new(self.open_child(&parent, rel, name, make)?);
        self.remember(rel, &fd);
        Ok(fd)
    }

    /// Open (making it when `make`) the directory `name` in `parent`, which is `rel` in the target.
    fn open_child(&self, parent: &OwnedFd, rel: &Path, name: &OsStr, make: bool) -> Result<OwnedFd> {
        let refuse = || {
            Error::new(
                Kind::Usage,
                format!(
                    "refusing to restore through {}: not a directory (a symlink or a file)",
                    self.full(rel).display()
                ),
            )
            .hint("remove it from the target, or restore into an empty directory")
        };
        let io = |e: Errno| Error::io(self.full(rel).display(), e.into());
        for _ in 0..2 {
            match nix::fcntl::openat(parent.as_fd(), name, dir_flags(), Mode::empty()) {
                Ok(fd) => return Ok(fd),
                Err(Errno::ENOENT) if make => match nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::S_IRWXU) {
                    // made, or another thread made it first: open it (a swap in between fails the open)
                    Ok(()) | Err(Errno::EEXIST) => continue,
                    Err(e) => return Err(io(e)),
                },
                Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => return Err(refuse()),
                Err(e) => return Err(io(e)),
            }
        }
        Err(refuse())
    }
}

/// `rel` must be a plain relative path of names (tree names are checked when decoded; this
/// keeps a bug elsewhere from escaping the target).
fn check_relative(rel: &Path) -> Result<()> {
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(())
    } else {
        Err(Error::new(Kind::Corrupt, format!("{} is outside the target", rel.display())))
    }
}

/// What is at `name` in `dir`, without following a symlink; `None` when nothing is.
pub(super) fn stat_at(dir: &OwnedFd, name: &OsStr) -> std::io::Result<Option<nix::sys::stat::FileStat>> {
    match nix::sys::stat::fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Remove whatever is at `name` in `dir`: a file, link or node, or a directory with everything
/// in it, walked by descriptor (a symlink inside is removed, never followed).
pub(super) fn remove_at(dir: &OwnedFd, name: &OsStr) -> std::io::Result<()> {
    match nix::unistd::unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EISDIR) | Err(Errno::EPERM) => {
            let sub = nix::fcntl::openat(dir.as_fd(), name, dir_flags(), Mode::empty())?;
            for child in entries(&sub)? {
                remove_at(&sub, &child)?;
            }
            match nix::unistd::unlinkat(dir.as_fd(), name, UnlinkatFlags::RemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The names in the directory `dir` (without `.` and `..`), read through a descriptor.
pub(super) fn entries(dir: &OwnedFd) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut d = nix::dir::Dir::openat(dir.as_fd(), ".", dir_flags(), Mode::empty())?;
    let mut names = vec![];
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_made_private_and_a_symlink_on_the_way_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let target = Target::open(&t.path().join("target")).unwrap();
        target.dir(Path::new("a/b/c")).unwrap();
        let m = std::fs::metadata(t.path().join("target/a/b/c")).unwrap();
        assert!(m.is_dir());
        assert_eq!(m.permissions().mode() & 0o777, 0o700);
        assert!(target.existing_dir(Path::new("a/b/d")).is_err(), "existing_dir never creates");
        assert!(!t.path().join("target/a/b/d").exists());

        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, t.path().join("target/link")).unwrap();
        let err = target.dir(Path::new("link/x")).unwrap_err();
        assert_eq!(err.kind, Kind::Usage, "{}", err.message);
        assert!(err.message.contains("link"), "{}", err.message);
        assert!(target.parent(Path::new("link/file")).is_err());
        std::fs::write(t.path().join("target/plain"), b"x").unwrap();
        assert!(target.dir(Path::new("plain/sub")).is_err());
        assert!(target.dir(Path::new("../escape")).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing was made outside");
    }

    #[test]
    fn a_cached_directory_swapped_for_a_symlink_keeps_its_own_entries() {
        let t = tempfile::tempdir().unwrap();
        let target = Target::open(&t.path().join("target")).unwrap();
        let (d, _) = target.parent(Path::new("d/file")).unwrap();
        let sentinel = t.path().join("sentinel");
        std::fs::create_dir(&sentinel).unwrap();
        std::fs::rename(t.path().join("target/d"), t.path().join("target/moved")).unwrap();
        std::os::unix::fs::symlink(&sentinel, t.path().join("target/d")).unwrap();
        // the cached descriptor still names the directory restore made
        let (again, name) = target.parent(Path::new("d/file")).unwrap();
        nix::fcntl::openat(again.as_fd(), name, OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_EXCL, Mode::S_IRUSR)
            .unwrap();
        assert!(t.path().join("target/moved/file").exists());
        assert_eq!(std::fs::read_dir(&sentinel).unwrap().count(), 0);
        drop(d);
        // a fresh lookup refuses the symlink
        let fresh = Target::open(&t.path().join("target")).unwrap();
        assert!(fresh.existing_dir(Path::new("d")).is_err());
    }

    #[test]
    fn remove_at_deletes_a_tree_without_following_its_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"k").unwrap();
        let root = t.path().join("target");
        std::fs::create_dir_all(root.join("x/y")).unwrap();
        std::fs::write(root.join("x/y/f"), b"f").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("x/link")).unwrap();
        let target = Target::open(&root).unwrap();
        remove_at(&target.existing_dir(Path::new("")).unwrap(), OsStr::new("x")).unwrap();
        assert!(!root.join("x").exists());
        assert!(outside.join("keep").exists());
        assert!(remove_at(&target.existing_dir(Path::new("")).unwrap(), OsStr::new("absent")).is_ok());
    }
}
