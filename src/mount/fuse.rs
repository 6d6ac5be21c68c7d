//! The FUSE adapter: fuser's callbacks translated to [`Vfs`] calls, and [`mount`], which
//! starts fuser's session from plain options. The only file that uses fuser (the crate table
//! of `cargo xtask layers`), so the command line mounts without knowing fuser's types.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig,
    LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyXattr, Request,
};

use super::vfs::{Attr, Fail, Vfs};
use crate::error::{Error, Kind, Result};
use crate::format::tree::NodeKind;

/// Snapshots never change; namespace directories change when snapshots appear.
const TTL: Duration = Duration::from_secs(60);

pub struct Fuse(pub Arc<Vfs>);

/// How to mount, in plain types.
#[derive(Clone, Debug)]
pub struct MountOptions {
    /// The file system's name in the mount table (`arca:LOCATION`).
    pub fs_name: String,
    /// Let users other than the one mounting see the files (`allow_other`).
    pub allow_other: bool,
    /// Threads serving requests (at least one).
    pub threads: usize,
}

/// A mounted file system, served by fuser's threads until [`unmount`](Self::unmount) or an
/// external unmount (then drop it).
pub struct Mounted {
    session: fuser::BackgroundSession,
    target: PathBuf,
}

/// Mount `vfs` read-only on `target` (no devices, no set-uid, permissions checked by the
/// kernel from the modes shown) and serve it in the background.
pub fn mount(vfs: Arc<Vfs>, target: &Path, o: &MountOptions) -> Result<Mounted> {
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::FSName(o.fs_name.clone()),
        fuser::MountOption::Subtype("arca".into()),
        fuser::MountOption::RO,
        fuser::MountOption::NoDev,
        fuser::MountOption::NoSuid,
        fuser::MountOption::DefaultPermissions,
    ];
    if o.allow_other {
        config.acl = fuser::SessionACL::All;
    }
    config.n_threads = Some(o.threads.max(1));
    let session = fuser::spawn_mount(Fuse(vfs), target, &config)
        .map_err(|e| Error::new(Kind::Io, format!("mounting on {}: {e}", target.display())))?;
    Ok(Mounted { session, target: target.to_path_buf() })
}

impl Mounted {
    /// Unmount and wait for the serving threads to finish.
    pub fn unmount(self) -> Result<()> {
        let target = self.target;
        self.session
            .umount_and_join()
            .map_err(|e| Error::new(Kind::Io, format!("unmounting {}: {e}", target.display())))
    }
}

fn errno(f: Fail) -> Errno {
    match f {
        Fail::NotFound => Errno::ENOENT,
        Fail::NotDir => Errno::ENOTDIR,
        Fail::Invalid => Errno::EINVAL,
        Fail::Range => Errno::ERANGE,
        Fail::NoData => Errno::ENODATA,
        Fail::Io => Errno::EIO,
    }
}

fn kind(k: NodeKind) -> FileType {
    match k {
        NodeKind::File => FileType::RegularFile,
        NodeKind::Dir => FileType::Directory,
        NodeKind::Symlink => FileType::Symlink,
        NodeKind::Chardev => FileType::CharDevice,
        NodeKind::Blockdev => FileType::BlockDevice,
        NodeKind::Fifo => FileType::NamedPipe,
        NodeKind::Socket => FileType::Socket,
    }
}

fn time(t: crate::format::tree::Time) -> SystemTime {
    t.to_system_time()
}

fn attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: time(a.atime),
        mtime: time(a.mtime),
        ctime: time(a.ctime),
        crtime: time(a.ctime),
        kind: kind(a.kind),
        perm: a.perm as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev as u32,
        blksize: 4096,
        flags: 0,
    }
}

/// An xattr reply: the size when asked for it, the bytes when they fit.
fn xattr_reply(data: Vec<u8>, size: u32, reply: ReplyXattr) {
    if size == 0 {
        reply.size(data.len() as u32);
    } else if data.len() > size as usize {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(&data);
    }
}

impl Filesystem for Fuse {
    /// READDIRPLUS: `ls -l` gets names and attributes in one round trip per directory
    /// instead of one lookup per entry (round trips dominate on small files).
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.add_capabilities(InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.0.lookup(parent.0, name.as_bytes()) {
            Ok(a) => reply.entry(&TTL, &attr(&a), Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.0.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.0.getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &attr(&a)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.0.readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.0.open(ino.0) {
            // content never changes: the kernel may keep its page cache across opens
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.0.read(fh.0, offset, size) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.0.release(fh.0);
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.0.opendir(ino.0) {
            // a snapshot's directories never change: the kernel may keep their listings
            Ok((fh, true)) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR),
            Ok((fh, false)) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.0.releasedir(fh.0);
        reply.ok();
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let entries = match self.0.listing(ino.0, fh.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(e)),
        };
        let dots = [(ino.0, NodeKind::Dir, b".".to_vec()), (ino.0, NodeKind::Dir, b"..".to_vec())];
        let all = dots.iter().chain(entries.iter());
        for (i, (child, k, name)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*child), i as u64 + 1, kind(*k), OsStr::from_bytes(name)) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let (entries, me) = match (self.0.listing(ino.0, fh.0), self.0.getattr(ino.0)) {
            (Ok(e), Ok(a)) => (e, a),
            (Err(e), _) | (_, Err(e)) => return reply.error(errno(e)),
        };
        let dots = [(b".".to_vec(), me.clone()), (b"..".to_vec(), me)];
        for i in offset as usize..entries.len() + 2 {
            let (entry_name, a, counted) = if i < 2 {
                (dots[i].0.clone(), dots[i].1.clone(), false)
            } else {
                let n = &entries[i - 2].2;
                // each entry handed over counts as a lookup the kernel will forget
                match self.0.lookup(ino.0, n) {
                    Ok(a) => (n.clone(), a, true),
                    Err(e) => return reply.error(errno(e)),
                }
            };
            if reply.add(INodeNo(a.ino), i as u64 + 1, OsStr::from_bytes(&entry_name), &TTL, &attr(&a), Generation(0)) {
                if counted {
                    self.0.forget(a.ino, 1); // did not fit: not handed over
                }
                break;
            }
        }
        reply.ok();
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.0.getxattr(ino.0, name.as_bytes()) {
            Ok(v) => xattr_reply(v, size, reply),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.0.listxattr(ino.0) {
            Ok(v) => xattr_reply(v, size, reply),
            Err(e) => reply.error(errno(e)),
        }
    }
}
