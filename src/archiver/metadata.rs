//! File metadata: from `lstat` into a tree node.

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
