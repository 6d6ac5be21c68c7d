//! Walking, copying and measuring directory trees, with std only.
//!
//! [`walk`] lists a tree in a fixed order: depth first, the entries of each directory sorted
//! by name. That is also the order of `Path`'s component-wise comparison, so two walks can be
//! merged in one pass (the restore check) and "every 100th file" means the same files on every
//! machine.

use std::fs::FileType;
use std::path::{Path, PathBuf};

use crate::cmd::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Kind {
    fn of(t: FileType) -> Kind {
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

pub struct Entry {
    /// Path relative to the walked root.
    pub rel: PathBuf,
    pub kind: Kind,
    /// Size in bytes (of the link itself for symlinks).
    pub len: u64,
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p.display().to_string(), e)
}

/// Every entry below `root` (not `root` itself), depth first, sorted by name.
pub fn walk(root: &Path) -> Result<Vec<Entry>> {
    let mut out = vec![];
    walk_into(root, Path::new(""), &mut out)?;
    Ok(out)
}

fn walk_into(root: &Path, rel: &Path, out: &mut Vec<Entry>) -> Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io(&dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io(&dir))?;
    names.sort();
    for name in names {
        let rel = rel.join(name);
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        let kind = Kind::of(meta.file_type());
        out.push(Entry { rel: rel.clone(), kind, len: meta.len() });
        if kind == Kind::Dir {
            walk_into(root, &rel, out)?;
        }
    }
    Ok(())
}

/// Counts of a tree: regular files, directories, symlinks and the bytes of the regular files.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
}

pub fn count(root: &Path) -> Result<Counts> {
    let mut c = Counts::default();
    for e in walk(root)? {
        match e.kind {
            Kind::File => (c.files, c.bytes) = (c.files + 1, c.bytes + e.len),
            Kind::Dir => c.dirs += 1,
            Kind::Symlink => c.symlinks += 1,
            Kind::Other => {}
        }
    }
    Ok(c)
}

/// The repository size: the sum of the sizes of all files below `root` (as `du -sb` without
/// the directories themselves).
pub fn size(root: &Path) -> Result<u64> {
    Ok(walk(root)?.iter().filter(|e| e.kind != Kind::Dir).map(|e| e.len).sum())
}

/// Copy the tree `from` to `to` (which must not exist): directories, regular files (with
/// their permissions) and symlinks, in walk order, up to `max_files` regular files and
/// skipping those that would take the total past `max_bytes`.
pub fn copy_tree(from: &Path, to: &Path, max_files: u64, max_bytes: u64) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    let (mut files, mut bytes) = (0u64, 0u64);
    for e in walk(from)? {
        if files >= max_files {
            break;
        }
        let (src, dst) = (from.join(&e.rel), to.join(&e.rel));
        match e.kind {
            Kind::Dir => std::fs::create_dir_all(&dst).map_err(io(&dst))?,
            Kind::Symlink => {
                let target = std::fs::read_link(&src).map_err(io(&src))?;
                std::os::unix::fs::symlink(target, &dst).map_err(io(&dst))?;
            }
            Kind::File if bytes + e.len <= max_bytes => {
                std::fs::copy(&src, &dst).map_err(io(&dst))?;
                (files, bytes) = (files + 1, bytes + e.len);
            }
            Kind::File | Kind::Other => {}
        }
    }
    Ok(())
}

/// Bring a tree into the caches: stat every entry and read every regular file, so each timed
/// step starts from the same warm page, inode and dentry caches whatever ran before it (a
/// restore of 200,000 files, or another corpus, evicts part of them).
pub fn warm(root: &Path) -> Result<()> {
    for e in walk(root)?.iter().filter(|e| e.kind == Kind::File) {
        let path = root.join(&e.rel);
        let mut f = std::fs::File::open(&path).map_err(io(&path))?;
        std::io::copy(&mut f, &mut std::io::sink()).map_err(io(&path))?;
    }
    Ok(())
}
