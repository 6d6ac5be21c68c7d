//! The caches under one cache root, one directory per repository (named by its id): listing
//! them with their size and when they were last used, and removing old ones (`arca cache`,
//! restic's). A cache is marked used each time a repository opens it ([`super::Cache::open`]
//! sets its directory's modification time), so its age is the time since its last use.
//! Only directories named by a repository id (64 hex digits) count; symbolic links and other
//! files are never followed or removed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::id::RepoId;

/// One repository's cache directory.
#[derive(Debug, Clone)]
pub struct CacheDir {
    pub repo: RepoId,
    pub path: PathBuf,
    pub last_used: SystemTime,
    /// Bytes of the files in it (`None` when not counted).
    pub size: Option<u64>,
}

/// The caches under `root` (none when `root` does not exist), sorted by repository id.
pub fn list(root: &Path, with_size: bool) -> Result<Vec<CacheDir>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(root.display(), e)),
    };
    let mut out = vec![];
    for e in entries {
        let e = e.map_err(|e| Error::io(root.display(), e))?;
        let Some(repo) = e.file_name().to_str().and_then(RepoId::from_hex) else { continue };
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(path.display(), e))?;
        if !meta.is_dir() {
            continue;
        }
        let last_used = meta.modified().map_err(|e| Error::io(path.display(), e))?;
        let size = if with_size { Some(size_of(&path)) } else { None };
        out.push(CacheDir { repo, path, last_used, size });
    }
    out.sort_by_key(|c| c.repo.to_hex());
    Ok(out)
}

/// Bytes of the regular files below `dir` (symbolic links not followed; unreadable parts
/// count as nothing).
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Remove one cache directory found by [`list`].
pub fn remove(c: &CacheDir) -> Result<()> {
    std::fs::remove_dir_all(&c.path).map_err(|e| Error::io(c.path.display(), e))
}
