//! A cache directory private to the user, checked as OpenSSH's StrictModes checks `~/.ssh`.
//!
//! The cache holds what a later run trusts (after authentication) and where it writes; if
//! another local user could rename, replace or plant entries in it, or in any directory above
//! it, they could make arca write where they choose or fill its disk. So:
//! - no component of the path is a symlink (each is `lstat`ed);
//! - every ancestor is owned by the user or by root, and is writable by group or others only
//!   when its sticky bit is set (as `/tmp` is: others can't rename what they don't own there);
//! - the directory itself is owned by the user and not writable by group or others; when
//!   absent it is made with mode 0700.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Make `dir` (mode 0700) if absent, then check it and every directory above it. The error
/// says which component failed and why.
pub(super) fn make(dir: &Path) -> Result<(), String> {
    if !dir.is_absolute() {
        return Err(format!("{} is not an absolute path", dir.display()));
    }
    let uid = nix::unistd::geteuid().as_raw();
    let mut at = PathBuf::from("/");
    for c in dir.components() {
        let name = match c {
            Component::RootDir => continue,
            Component::Normal(name) => name,
            _ => return Err(format!("{}: use a path without `.` or `..`", dir.display())),
        };
        at.push(name);
        let m = match at.symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&at)
                    .or_else(|e| if e.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
                    .map_err(|e| format!("{}: {e}", at.display()))?;
                at.symlink_metadata().map_err(|e| format!("{}: {e}", at.display()))?
            }
            Err(e) => return Err(format!("{}: {e}", at.display())),
        };
        if m.file_type().is_symlink() {
            return Err(format!("{} is a symlink (give --cache-dir a path without symlinks)", at.display()));
        }
        if !m.is_dir() {
            return Err(format!("{} is not a directory", at.display()));
        }
        let own = at == dir;
        let others_write = m.mode() & 0o022 != 0;
        if own {
            if m.uid() != uid {
                return Err(format!("{} is owned by uid {}, not by you (uid {uid})", at.display(), m.uid()));
            }
            if others_write {
                return Err(format!("{} is writable by group or others (mode {:o})", at.display(), m.mode() & 0o7777));
            }
        } else {
            if m.uid() != uid && m.uid() != 0 {
                return Err(format!("{} is owned by uid {}, neither you nor root", at.display(), m.uid()));
            }
            if others_write && m.mode() & 0o1000 == 0 {
                return Err(format!(
                    "{} is writable by group or others and not sticky (mode {:o})",
                    at.display(),
                    m.mode() & 0o7777
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_directory_is_made_and_accepted() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        make(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        make(&dir).unwrap();
    }

    #[test]
    fn symlinks_and_writable_directories_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, t.path().join("link")).unwrap();
        let err = make(&t.path().join("link/cache")).unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        assert!(!real.join("cache").exists(), "nothing made through the symlink");

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(make(&open).unwrap_err().contains("writable"));
        assert!(make(&open.join("below")).unwrap_err().contains("not sticky"));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        make(&open.join("below")).unwrap();
    }
}
