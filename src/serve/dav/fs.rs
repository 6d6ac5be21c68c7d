//! The mount's virtual tree (`mount::vfs`) as a dav-server file system, read-only.
//!
//! Paths are resolved from the root one name at a time with the mount's own lookups, so a
//! path reaches only what `arca mount` shows; every inode a resolution holds is forgotten
//! when it is done. Only directories and regular files are visible: symlinks (the
//! snapshots' own and `latest`), devices, FIFOs and sockets are neither listed nor served,
//! so no link is ever followed. File content comes through the mount's reader (its blob
//! cache and readahead), one bounded read per call, never the whole file. Every call into
//! the tree runs on tokio's blocking pool: it reads the repository.

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, FsError, FsFuture, FsResult, FsStream, OpenOptions, ReadDirMeta,
};
use futures_util::{future, stream, FutureExt};

use crate::format::tree::NodeKind;
use crate::mount::vfs::{Attr, Fail, Vfs, ROOT};

/// The largest single read handed to the mount's reader.
const MAX_READ: usize = 1 << 20;

#[derive(Clone)]
pub struct TreeFs {
    vfs: Arc<Vfs>,
}

impl TreeFs {
    pub fn new(vfs: Arc<Vfs>) -> TreeFs {
        TreeFs { vfs }
    }
}

/// Inodes looked up while resolving a path, forgotten again on drop.
struct Held<'a> {
    vfs: &'a Vfs,
    inos: Vec<u64>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for ino in self.inos.iter().rev() {
            self.vfs.forget(*ino, 1);
        }
    }
}

fn fail(f: Fail) -> FsError {
    match f {
        Fail::NotFound | Fail::NotDir | Fail::NoData => FsError::NotFound,
        Fail::Invalid => FsError::Forbidden,
        Fail::Range | Fail::Io => FsError::GeneralFailure,
    }
}

/// Only directories and regular files are part of the view.
fn visible(kind: NodeKind) -> bool {
    matches!(kind, NodeKind::Dir | NodeKind::File)
}

/// Resolve `path` (raw bytes below the prefix) name by name from the root. A name that is
/// empty of meaning (`.`, `..`) or holds a NUL is refused, not interpreted, whatever the
/// HTTP layer did before; a name below anything but a directory is not found.
fn resolve<'a>(vfs: &'a Vfs, path: &[u8]) -> FsResult<(Attr, Held<'a>)> {
    let mut held = Held { vfs, inos: vec![] };
    let mut attr = vfs.getattr(ROOT).map_err(fail)?;
    for name in path.split(|b| *b == b'/').filter(|n| !n.is_empty()) {
        if name == b"." || name == b".." || name.contains(&0) {
            return Err(FsError::Forbidden);
        }
        if attr.kind != NodeKind::Dir {
            return Err(FsError::NotFound);
        }
        attr = vfs.lookup(attr.ino, name).map_err(fail)?;
        held.inos.push(attr.ino);
    }
    if !visible(attr.kind) {
        return Err(FsError::NotFound);
    }
    Ok((attr, held))
}

/// Run a call into the tree on the blocking pool.
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> FsResult<T> + Send + 'static,
) -> impl std::future::Future<Output = FsResult<T>> + Send {
    tokio::task::spawn_blocking(f).map(|r| r.unwrap_or(Err(FsError::GeneralFailure)))
}

#[derive(Clone, Debug)]
struct Meta {
    size: u64,
    mtime: SystemTime,
    dir: bool,
    exec: bool,
}

impl Meta {
    fn of(a: &Attr) -> Meta {
        Meta {
            size: if a.kind == NodeKind::File { a.size } else { 0 },
            mtime: a.mtime.to_system_time(),
            dir: a.kind == NodeKind::Dir,
            exec: a.perm & 0o111 != 0,
        }
    }
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.size
    }
    fn modified(&self) -> FsResult<SystemTime> {
        Ok(self.mtime)
    }
    fn is_dir(&self) -> bool {
        self.dir
    }
    fn executable(&self) -> FsResult<bool> {
        Ok(self.exec)
    }
}

struct Entry {
    name: Vec<u8>,
    meta: Meta,
}

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.name.clone()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        Box::pin(future::ready(Ok(Box::new(self.meta.clone()) as Box<dyn DavMetaData>)))
    }
}

/// An open file: a handle of the mount's reader and a position.
struct File {
    vfs: Arc<Vfs>,
    fh: u64,
    pos: u64,
    meta: Meta,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").field("fh", &self.fh).field("pos", &self.pos).finish()
    }
}

impl Drop for File {
    fn drop(&mut self) {
        self.vfs.release(self.fh);
    }
}

impl DavFile for File {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        Box::pin(future::ready(Ok(Box::new(self.meta.clone()) as Box<dyn DavMetaData>)))
    }

    fn write_buf(&mut self, _buf: Box<dyn bytes::Buf + Send>) -> FsFuture<'_, ()> {
        Box::pin(future::ready(Err(FsError::Forbidden)))
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        Box::pin(future::ready(Err(FsError::Forbidden)))
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        let (vfs, fh, pos) = (self.vfs.clone(), self.fh, self.pos);
        let size = count.min(MAX_READ) as u32;
        Box::pin(async move {
            let data = blocking(move || vfs.read(fh, pos, size).map_err(fail)).await?;
            self.pos += data.len() as u64;
            Ok(Bytes::from(data))
        })
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let to = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.meta.size.checked_add_signed(d),
        };
        Box::pin(future::ready(match to {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(FsError::GeneralFailure),
        }))
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        Box::pin(future::ready(Ok(())))
    }
}

impl DavFileSystem for TreeFs {
    fn open<'a>(&'a self, path: &'a DavPath, options: OpenOptions) -> FsFuture<'a, Box<dyn DavFile>> {
        if options.write || options.append || options.truncate || options.create || options.create_new {
            return Box::pin(future::ready(Err(FsError::Forbidden)));
        }
        let (vfs, path) = (self.vfs.clone(), path.as_bytes().to_vec());
        Box::pin(blocking(move || {
            let (attr, held) = resolve(&vfs, &path)?;
            if attr.kind != NodeKind::File {
                return Err(FsError::Forbidden);
            }
            let fh = vfs.open(attr.ino).map_err(fail)?;
            drop(held);
            Ok(Box::new(File { vfs: vfs.clone(), fh, pos: 0, meta: Meta::of(&attr) }) as Box<dyn DavFile>)
        }))
    }

    fn read_dir<'a>(&'a self, path: &'a DavPath, _meta: ReadDirMeta) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        let (vfs, path) = (self.vfs.clone(), path.as_bytes().to_vec());
        Box::pin(blocking(move || {
            let (dir, _held) = resolve(&vfs, &path)?;
            if dir.kind != NodeKind::Dir {
                return Err(FsError::Forbidden);
            }
            let mut entries: Vec<FsResult<Box<dyn DavDirEntry>>> = vec![];
            for (_, kind, name) in vfs.readdir(dir.ino).map_err(fail)? {
                if !visible(kind) {
                    continue;
                }
                let attr = vfs.lookup(dir.ino, &name).map_err(fail)?;
                vfs.forget(attr.ino, 1);
                entries.push(Ok(Box::new(Entry { name, meta: Meta::of(&attr) })));
            }
            Ok(Box::pin(stream::iter(entries)) as FsStream<Box<dyn DavDirEntry>>)
        }))
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        let (vfs, path) = (self.vfs.clone(), path.as_bytes().to_vec());
        Box::pin(blocking(move || {
            let (attr, _held) = resolve(&vfs, &path)?;
            Ok(Box::new(Meta::of(&attr)) as Box<dyn DavMetaData>)
        }))
    }
}
