//! The directories of a restore's target: every one on the way to a restored entry must be a
//! real directory (created when absent), never a symlink or a file, so nothing is written
//! outside the target.
//!
//! A restore checks each directory once: [`KnownDirs`] remembers the ones it has checked or
//! made, so the files of a directory cost no `stat` of its ancestors (a deep path otherwise
//! costs one lookup per component per file, the larger part of restoring small files).
//! The set is bounded; when full it starts again, which costs only repeated checks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::error::{Error, Kind, Result};

/// Directories remembered at most; about 100 bytes each.
const MAX_KNOWN: usize = 65_536;

#[derive(Default)]
pub(super) struct KnownDirs {
    known: RwLock<HashSet<PathBuf>>,
}

impl KnownDirs {
    fn contains(&self, dir: &Path) -> bool {
        self.known.read().unwrap_or_else(|p| p.into_inner()).contains(dir)
    }

    fn insert(&self, dir: &Path) {
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(dir.to_path_buf());
    }

    /// Every ancestor of `path` below `target` must be a real directory; absent ones are made.
    pub(super) fn ensure_parent(&self, target: &Path, path: &Path) -> Result<()> {
        let Ok(rel) = path.strip_prefix(target) else {
            return Err(Error::new(Kind::Corrupt, format!("{} is outside the target", path.display())));
        };
        if path.parent().is_some_and(|p| self.contains(p)) {
            return Ok(());
        }
        let mut cur = target.to_path_buf();
        let comps: Vec<_> = rel.components().collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur.push(c);
            if self.contains(&cur) {
                continue;
            }
            match cur.symlink_metadata() {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::new(
                        Kind::Usage,
                        format!("refusing to restore through {}: not a directory", cur.display()),
                    )
                    .hint("remove it from the target, or restore into an empty directory"))
                }
                Err(_) => match std::fs::create_dir(&cur) {
                    Ok(()) => {}
                    // another writer made it first: fine if it is a real directory
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => ensure_real_dir(target, &cur)?,
                    Err(e) => return Err(Error::io(cur.display(), e)),
                },
            }
            self.insert(&cur);
        }
        Ok(())
    }

    /// Make the directory `dir` of the target (and its ancestors), unless this restore has.
    pub(super) fn make_dir(&self, target: &Path, dir: &Path) -> Result<()> {
        if self.contains(dir) {
            return Ok(());
        }
        self.ensure_parent(target, dir)?;
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => ensure_real_dir(target, dir)?,
            Err(e) => return Err(Error::io(dir.display(), e)),
        }
        self.insert(dir);
        Ok(())
    }
}

/// `dir` must be a real directory (or absent, then created), never a symlink.
pub(super) fn ensure_real_dir(target: &Path, dir: &Path) -> Result<()> {
    match dir.symlink_metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() && dir != target => {
            Err(Error::new(Kind::Usage, format!("refusing to restore through the symlink {}", dir.display()))
                .hint("remove the symlink from the target, or restore into an empty directory"))
        }
        Ok(m) if m.file_type().is_symlink() => Ok(()), // the target itself may be a symlink the user chose
        Ok(_) => Err(Error::new(Kind::Usage, format!("{} exists and is not a directory", dir.display()))),
        Err(_) => std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_made_once_and_a_symlink_on_the_way_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path();
        let dirs = KnownDirs::default();
        dirs.ensure_parent(target, &target.join("a/b/c/file")).unwrap();
        assert!(target.join("a/b/c").is_dir());
        assert!(dirs.contains(&target.join("a/b/c")));
        dirs.make_dir(target, &target.join("a/b/d")).unwrap();
        assert!(target.join("a/b/d").is_dir());

        std::os::unix::fs::symlink("/", target.join("link")).unwrap();
        let err = dirs.ensure_parent(target, &target.join("link/x/file")).unwrap_err();
        assert_eq!(err.kind, Kind::Usage, "{}", err.message);
        std::fs::write(target.join("plain"), b"x").unwrap();
        assert!(dirs.make_dir(target, &target.join("plain/sub")).is_err());
        assert!(dirs.ensure_parent(&target.join("a"), &target.join("elsewhere/f")).is_err());
    }

    #[test]
    fn a_full_set_starts_again() {
        let dirs = KnownDirs::default();
        for i in 0..MAX_KNOWN + 10 {
            dirs.insert(Path::new(&format!("/t/{i}")));
        }
        assert!(dirs.known.read().unwrap().len() <= MAX_KNOWN);
        assert!(dirs.contains(Path::new(&format!("/t/{}", MAX_KNOWN + 9))));
    }
}
