//! `arca mount`: the snapshots as a read-only file system, served for as long as the caller
//! waits. [`mount`] takes a read lock, builds the virtual tree (`mount::vfs`) and mounts it
//! through the FUSE adapter (`mount::fuse`); [`Serving::serve`] keeps the lock fresh until an
//! interrupt (Ctrl-C, SIGTERM) or an unmount from outside, then unmounts and releases the lock.
//! A face renders between the two: where the file system is and how to stop it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Kind, Result};
use crate::mount::fuse::{self, MountOptions};
use crate::mount::vfs::{Vfs, VfsOptions};
use crate::repo::{LockGuard, Repository};

/// How often the serving loop looks for an interrupt or an external unmount, and refreshes
/// the lock when it is due.
const POLL: Duration = Duration::from_millis(200);

/// What `arca mount` was asked.
pub struct MountCommand {
    /// An existing directory (made absolute by [`mountpoint`]).
    pub target: PathBuf,
    pub vfs: VfsOptions,
    /// Let users other than the one mounting see the files.
    pub allow_other: bool,
    /// Threads serving requests.
    pub threads: usize,
}

/// How the serving ended.
#[derive(Debug, Clone, Serialize)]
pub struct MountReport {
    pub mountpoint: String,
    /// Unmounted from outside (`umount`), rather than stopped by an interrupt.
    pub unmounted_outside: bool,
}

/// Is FUSE usable here? A clear error when it is not, naming what to do.
pub fn fuse_available() -> Result<()> {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::new(Kind::Usage, "FUSE is not available: /dev/fuse does not exist")
                .hint("load the fuse module (modprobe fuse) or install fuse3; in a container, pass --device /dev/fuse"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::new(Kind::Usage, "not permitted to use /dev/fuse")
                .hint("run as root, or install fuse3 so that fusermount3 can mount for you"))
        }
        Err(e) => Err(Error::io("/dev/fuse", e)),
    }
}

/// The checks before anything is opened: `path` made absolute, an existing directory, and
/// FUSE usable.
pub fn mountpoint(path: &Path) -> Result<PathBuf> {
    let target = std::path::absolute(path).map_err(|e| Error::io(path.display(), e))?;
    if !target.is_dir() {
        return Err(Error::usage(format!("mount point {} is not a directory", target.display()))
            .hint("create it first: mkdir -p MOUNTPOINT"));
    }
    fuse_available()?;
    Ok(target)
}

/// Is `path` a mount point now (per /proc/self/mountinfo)? Without that file, assumed so.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return true };
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines().any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

/// A mounted repository, holding its read lock. Dropped without [`serve`](Self::serve), it
/// unmounts, then releases the lock (fields drop in order).
pub struct Serving {
    session: fuse::Mounted,
    lock: LockGuard,
    target: PathBuf,
}

/// Lock `repo` for reading and mount its snapshots on `c.target`.
pub fn mount(repo: Arc<Repository>, c: MountCommand) -> Result<Serving> {
    let target = mountpoint(&c.target)?;
    let lock = repo.lock_read("mount")?;
    let fs_name = format!("arca:{}", repo.location());
    let vfs = Arc::new(Vfs::new(repo, c.vfs)?);
    let options = MountOptions { fs_name, allow_other: c.allow_other, threads: c.threads };
    let session = fuse::mount(vfs, &target, &options)?;
    Ok(Serving { session, lock, target })
}

impl Serving {
    /// Where the file system is mounted.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Serve until interrupted or unmounted from outside, keeping the lock fresh; then
    /// unmount (if still mounted) and release the lock. A lock that cannot be kept fresh
    /// stops the serving with its error, after unmounting.
    pub fn serve(self) -> Result<MountReport> {
        let Serving { session, lock, target } = self;
        while !crate::platform::interrupted() && is_mounted(&target) {
            std::thread::sleep(POLL);
            if let Err(e) = lock.ensure_fresh() {
                drop(session);
                return Err(e);
            }
        }
        let unmounted_outside = !is_mounted(&target);
        if unmounted_outside {
            drop(session);
        } else {
            session.unmount()?;
        }
        drop(lock);
        Ok(MountReport { mountpoint: target.display().to_string(), unmounted_outside })
    }
}
