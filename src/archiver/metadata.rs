//! File metadata: from `lstat` (or `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`) into a tree node.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_bytes::ByteBuf;

use crate::format::tree::{Node, NodeKind, Time, Xattr};

/// A node from `lstat` metadata (content, subtree and xattrs are filled in by the caller).
pub fn node_from_metadata(name: &[u8], m: &std::fs::Metadata) -> Node {
    let ft = m.file_type();
    let kind = if ft.is_dir() {
        NodeKind::Dir
    } else if ft.is_symlink() {
        NodeKind::Symlink
    } else if ft.is_char_device() {
        NodeKind::Chardev
    } else if ft.is_block_device() {
        NodeKind::Blockdev
    } else if ft.is_fifo() {
        NodeKind::Fifo
    } else if ft.is_socket() {
        NodeKind::Socket
    } else {
        NodeKind::File
    };
    let mut n = Node::new(name.to_vec(), kind);
    n.mode = m.mode() & 0o7777;
    n.uid = m.uid();
    n.gid = m.gid();
    n.user = crate::platform::user_name(n.uid).unwrap_or_default();
    n.group = crate::platform::group_name(n.gid).unwrap_or_default();
    n.mtime = Time::new(m.mtime(), m.mtime_nsec());
    n.atime = Time::new(m.atime(), m.atime_nsec());
    n.ctime = Time::new(m.ctime(), m.ctime_nsec());
    n.inode = m.ino();
    n.device = m.dev();
    n.links = m.nlink();
    if kind == NodeKind::File {
        n.size = m.len();
    }
    if matches!(kind, NodeKind::Chardev | NodeKind::Blockdev) {
        n.rdev = m.rdev();
    }
    n
}

/// A node from a `stat` buffer (`fstatat` relative to a directory descriptor, `fstat`).
pub fn node_from_stat(name: &[u8], st: &nix::sys::stat::FileStat) -> Node {
    use nix::libc;
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => NodeKind::Dir,
        libc::S_IFLNK => NodeKind::Symlink,
        libc::S_IFCHR => NodeKind::Chardev,
        libc::S_IFBLK => NodeKind::Blockdev,
        libc::S_IFIFO => NodeKind::Fifo,
        libc::S_IFSOCK => NodeKind::Socket,
        _ => NodeKind::File,
    };
    let mut n = Node::new(name.to_vec(), kind);
    n.mode = st.st_mode & 0o7777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.user = crate::platform::user_name(n.uid).unwrap_or_default();
    n.group = crate::platform::group_name(n.gid).unwrap_or_default();
    n.mtime = Time::new(st.st_mtime, st.st_mtime_nsec);
    n.atime = Time::new(st.st_atime, st.st_atime_nsec);
    n.ctime = Time::new(st.st_ctime, st.st_ctime_nsec);
    n.inode = st.st_ino;
    n.device = st.st_dev;
    #[allow(clippy::useless_conversion)] // `st_nlink` is a u64 on x86-64 but a u32 on aarch64
    {
        n.links = u64::from(st.st_nlink);
    }
    if kind == NodeKind::File {
        n.size = u64::try_from(st.st_size).unwrap_or(0);
    }
    if matches!(kind, NodeKind::Chardev | NodeKind::Blockdev) {
        n.rdev = st.st_rdev;
    }
    n
}

/// Extended attributes of a path, without following symlinks. Unsupported → empty.
pub fn read_xattrs(path: &Path) -> std::io::Result<Vec<Xattr>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTSUP) => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut out = vec![];
    for name in names {
        if let Some(value) = xattr::get(path, &name)? {
            out.push(Xattr { name: ByteBuf::from(name.as_bytes().to_vec()), value: ByteBuf::from(value) });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
