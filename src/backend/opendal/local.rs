//! What a local repository directory must look like before arca writes into it or cleans
//! it up (format-spec §3). Another local user who can write into the repository root could
//! replace `data/` or `.arca-tmp` with a symbolic link to a directory of theirs or of the
//! victim's: arca would then store objects there, or delete the victim's files while
//! removing "stale temporary files". So:
//!
//! - the top-level directories (`data`, `index`, `keys`, `snapshots`, `locks`, `.arca-tmp`)
//!   must be real directories, never symbolic links (checked with `lstat` on open), and so
//!   must every directory a write goes through (`data/<hh>` too, before each write);
//! - `.arca-tmp` must also belong to the user running arca; it is opened with `O_NOFOLLOW`
//!   and only names of arca's own temporary files (`<object name>.<8 letters or digits>`)
//!   are removed from it, with `unlinkat` relative to that descriptor, after an `fstatat`
//!   that does not follow links says they are regular files;
//! - directories arca creates are 0700 and every stored file is made 0600 once written (its
//!   temporary file lies in the 0700 `.arca-tmp` until then), whatever the umask.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::error::{Error, Kind, Result};

/// Where writes in progress live (OpenDAL's `atomic_write_dir`).
pub const TEMP_DIR: &str = ".arca-tmp";
/// The directories of a repository, each of which must be a real directory.
const TOP_DIRS: [&str; 6] = ["data", "index", "keys", "snapshots", "locks", TEMP_DIR];

fn refused(path: &Path, why: &str) -> Error {
    Error::new(Kind::Backend, format!("{}: {why}; arca refuses to use it", path.display())).hint(
        "a repository's directories must be real directories (not symbolic links) and .arca-tmp must be yours: \
         check who replaced it, then move it away",
    )
}

/// Create the repository root 0700 if it is missing (OpenDAL would create it with the
/// umask's mode); its parents get the usual mode.
pub fn create_root(root: &Path) -> Result<()> {
    if let Ok(meta) = std::fs::metadata(root) {
        if !meta.is_dir() {
            return Err(Error::usage(format!(
                "{} is a file, not a repository: a local repository is a directory",
                root.display()
            ))
            .object(root.display())
            .hint("check -r/--repo and ARCA_REPOSITORY: name the repository's directory (or a new path for one)"));
        }
    }
    if std::fs::symlink_metadata(root).is_ok() {
        return Ok(());
    }
    // a file on the way (`-r notes.txt/repo`): name it rather than "File exists"
    if let Some(file) = root.ancestors().skip(1).find(|a| std::fs::metadata(a).is_ok_and(|m| !m.is_dir())) {
        return Err(Error::usage(format!(
            "{} is a file, not a directory: no repository can be made at {}",
            file.display(),
            root.display()
        ))
        .object(root.display())
        .hint("check -r/--repo and ARCA_REPOSITORY: name the repository's directory (or a new path for one)"));
    }
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent).map_err(|e| local_error(parent, e))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(root) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(local_error(root, e)),
        _ => Ok(()),
    }
}

/// An error creating the repository's directory, with a hint where one helps (a read-only
/// file system, a full disk, a path through a file).
fn local_error(path: &Path, e: std::io::Error) -> Error {
    let hint = match e.raw_os_error().map(nix::errno::Errno::from_raw) {
        Some(nix::errno::Errno::EROFS) => Some(READ_ONLY_HINT),
        Some(nix::errno::Errno::ENOSPC | nix::errno::Errno::EDQUOT) => {
            Some("the file system is full: free space there, or choose another location")
        }
        Some(nix::errno::Errno::ENOTDIR) => Some("a part of this path is a file, not a directory: check -r/--repo"),
        _ => None,
    };
    let err = Error::io(path.display(), e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// What to do about a repository on a read-only file system.
pub const READ_ONLY_HINT: &str = "the file system is read-only: commands that write (backup, forget, prune, \
     repair, and those that take a lock) cannot run there; remount it read-write, or copy the repository to writable \
     storage";

/// Check the top-level directories that exist (a new repository has none yet).
pub fn check_layout(root: &Path) -> Result<()> {
    for name in TOP_DIRS {
        let p = root.join(name);
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(p.display(), e)),
        };
        if meta.file_type().is_symlink() {
            return Err(refused(&p, "is a symbolic link"));
        }
        if !meta.is_dir() {
            return Err(refused(&p, "is not a directory"));
        }
        if name == TEMP_DIR && meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(refused(&p, &format!("belongs to uid {}, not to the user running arca", meta.uid())));
        }
    }
    Ok(())
}

/// Open `.arca-tmp` without following a link, and only if it is a directory of ours.
fn open_temp_dir(root: &Path) -> Option<OwnedFd> {
    let rootfd = openat(nix::fcntl::AT_FDCWD, root, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).ok()?;
    let fd = openat(
        rootfd.as_fd(),
        TEMP_DIR,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::empty(),
    )
    .ok()?;
    let st = fstat(fd.as_fd()).ok()?;
    if st.st_uid != nix::unistd::geteuid().as_raw() {
        tracing::warn!("{}: not owned by this user; leaving its files alone", root.join(TEMP_DIR).display());
        return None;
    }
    // an older arca made it with the umask's mode: what is in it is sealed, but its names
    // and sizes are nobody else's business
    if st.st_mode & 0o077 != 0 {
        let _ = nix::sys::stat::fchmod(fd.as_fd(), Mode::S_IRWXU);
    }
    Some(fd)
}

/// Is `name` one of the temporary names OpenDAL gives arca's writes: an object's name (64
/// lowercase hex digits, or `config`), a dot and 8 letters or digits?
pub fn is_temp_name(name: &[u8]) -> bool {
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else { return false };
    let (object, suffix) = (&name[..dot], &name[dot + 1..]);
    let object_ok = object == b"config"
        || (object.len() == 64 && object.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)));
    object_ok && suffix.len() == 8 && suffix.iter().all(|b| b.is_ascii_alphanumeric())
}

/// Remove arca's temporary files in `.arca-tmp` for which `pick(name, age)` holds.
pub fn remove_temp_files(root: &Path, pick: impl Fn(&str, std::time::Duration) -> bool) {
    let Some(fd) = open_temp_dir(root) else { return };
    // the names come from a listing by path; every decision and removal is made through the
    // descriptor checked above, so a directory swapped in meanwhile loses nothing
    let Ok(entries) = std::fs::read_dir(root.join(TEMP_DIR)) else { return };
    let now = std::time::SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        if !is_temp_name(name.as_bytes()) {
            continue;
        }
        let Ok(st) = fstatat(fd.as_fd(), name.as_os_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
            continue;
        }
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(st.st_mtime.max(0) as u64);
        let age = now.duration_since(mtime).unwrap_or_default();
        if pick(&name.to_string_lossy(), age) {
            let _ = unlinkat(fd.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// Temporary files older than a day are left by a crash (a write in progress renames its
/// file within seconds); remove them so they don't accumulate.
pub fn remove_stale_temp_files(root: &Path) {
    let day = std::time::Duration::from_secs(24 * 3600);
    remove_temp_files(root, |_, age| age > day);
}

/// Before writing `path`: none of its directories (`data`, `data/<hh>`) may be a symbolic
/// link, and missing ones (the root included) are created 0700, `.arca-tmp` among them.
pub fn prepare_write(root: &Path, path: &str) -> std::io::Result<()> {
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true).mode(0o700);
    if let Some((parent, _)) = path.rsplit_once('/') {
        let mut at = root.to_path_buf();
        for component in parent.split('/') {
            at.push(component);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link; arca refuses to write through it",
                    at.display()
                )));
            }
        }
        dirs.create(root.join(parent))?;
    }
    let temp = root.join(TEMP_DIR);
    dirs.create(&temp)?;
    let m = std::fs::symlink_metadata(&temp)?;
    if m.file_type().is_symlink() || m.uid() != nix::unistd::geteuid().as_raw() {
        return Err(std::io::Error::other(format!("{} is not a directory of this user", temp.display())));
    }
    Ok(())
}

/// After writing `path`: make it readable by its owner only (the file, not a link).
pub fn make_private(root: &Path, path: &str) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(root.join(OsStr::new(path)))?;
    if f.metadata()?.permissions().mode() & 0o777 != 0o600 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_arca_temporary_names_are_recognised() {
        let hex = "ab".repeat(32);
        assert!(is_temp_name(format!("{hex}.Ab3dE9xZ").as_bytes()));
        assert!(is_temp_name(b"config.abcdEFGH"));
        for other in [
            "notes.txt".to_string(),
            format!("{hex}.abc"),
            format!("{hex}.abcdefg!"),
            format!("{}.abcdefgh", "AB".repeat(32)),
            "config".to_string(),
            ".abcdefgh".to_string(),
        ] {
            assert!(!is_temp_name(other.as_bytes()), "{other}");
        }
    }
}
