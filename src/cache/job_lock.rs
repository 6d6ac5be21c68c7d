//! The "another instance is already running" guard of the jobs a profile drives: an exclusive
//! `flock` on `<profile_dir>/<job>.lock`, held for the whole run (hooks included), with the
//! holder's pid written inside for the message of the run that finds it held.
//!
//! The lock dies with its process (the kernel drops a `flock` when the descriptor closes, even
//! on SIGKILL), so a crashed run never leaves a stale lock to clean up. The file is opened
//! `O_NOFOLLOW` (a planted symlink is refused, never followed), created 0600, must be a regular
//! file owned by this user, and is opened close-on-exec so a hook or a child never inherits
//! the lock and keeps it after arca ended. The pid inside is only ever shown, never signalled.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Kind, Result};

/// A held job lock; released when dropped.
#[derive(Debug)]
pub struct JobLock {
    _file: Flock<File>,
    path: PathBuf,
}

impl JobLock {
    /// Take the lock of `job` in `dir` without waiting: `None` when another process holds it.
    pub fn try_acquire(dir: &Path, job: &str) -> Result<Option<JobLock>> {
        let path = lock_path(dir, job)?;
        let file = open(&path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut locked) => {
                let pid = format!("{}\n", std::process::id());
                locked
                    .set_len(0)
                    .and_then(|()| locked.rewind())
                    .and_then(|()| locked.write_all(pid.as_bytes()))
                    .map_err(|e| Error::io(path.display(), e))?;
                Ok(Some(JobLock { _file: locked, path }))
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(Error::io(path.display(), std::io::Error::from(errno))),
        }
    }

    /// The pid written into `job`'s lock by its holder (`None`: no lock file, or no pid in it).
    pub fn holder(dir: &Path, job: &str) -> Option<u32> {
        let mut text = String::new();
        open(&lock_path(dir, job).ok()?).ok()?.take(32).read_to_string(&mut text).ok()?;
        text.trim().parse().ok().filter(|&p| p > 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn lock_path(dir: &Path, job: &str) -> Result<PathBuf> {
    if job.is_empty() || !job.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return Err(Error::internal(format!("job lock for {job:?}: not a job name")));
    }
    Ok(dir.join(format!("{job}.lock")))
}

fn open(path: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            Error::io(path.display(), e).hint("the job lock must be a regular file; remove what is there instead")
        })?;
    let meta = file.metadata().map_err(|e| Error::io(path.display(), e))?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(Error::new(Kind::Io, format!("job lock {}: not a regular file of this user", path.display()))
            .hint("remove it; arca makes it again"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_its_pid_inside_and_free_again_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let first = JobLock::try_acquire(tmp.path(), "backup").unwrap().expect("free at first");
        assert!(JobLock::try_acquire(tmp.path(), "backup").unwrap().is_none(), "held: a second open is refused");
        assert!(JobLock::try_acquire(tmp.path(), "check").unwrap().is_some(), "other jobs have their own lock");
        assert_eq!(JobLock::holder(tmp.path(), "backup"), Some(std::process::id()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(first.path()).unwrap().permissions().mode() & 0o777, 0o600);
        drop(first);
        assert!(JobLock::try_acquire(tmp.path(), "backup").unwrap().is_some(), "released on drop");
    }

    #[test]
    fn a_planted_symlink_or_fifo_is_refused_and_a_bad_job_name_never_makes_a_path() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join("backup.lock")).unwrap();
        let e = JobLock::try_acquire(tmp.path(), "backup").unwrap_err();
        assert!(e.to_string().contains("backup.lock"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep", "the symlink's target is untouched");
        nix::unistd::mkfifo(&tmp.path().join("check.lock"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = JobLock::try_acquire(tmp.path(), "check").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(JobLock::try_acquire(tmp.path(), "../x").is_err());
    }
}
