//! File metadata onto restored files: special files, owner, mode, xattrs, times.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sys::stat::{Mode, SFlag};
use nix::sys::time::TimeSpec;

use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};

/// Create a fifo or device node (sockets can't be recreated meaningfully and are skipped).
pub fn create_special(path: &Path, node: &Node) -> Result<()> {
    let mode = Mode::from_bits_truncate(node.mode & 0o7777);
    let kind = match node.kind {
        NodeKind::Fifo => SFlag::S_IFIFO,
        NodeKind::Chardev => SFlag::S_IFCHR,
        NodeKind::Blockdev => SFlag::S_IFBLK,
        _ => return Ok(()),
    };
    nix::sys::stat::mknod(path, kind, mode, node.rdev as nix::libc::dev_t)
        .map_err(|e| Error::io(path.display(), std::io::Error::from(e)))
}

/// Apply owner (as root), mode, xattrs and times. Symlinks get owner, xattrs and times only.
/// Returns the first failure as a warning text (restore goes on).
pub fn apply_metadata(path: &Path, node: &Node) -> std::result::Result<(), String> {
    let mut warn = None;
    let mut note = |what: &str, e: &dyn std::fmt::Display| {
        if warn.is_none() {
            warn = Some(format!("{}: {what}: {e}", path.display()));
        }
    };
    let symlink = node.kind == NodeKind::Symlink;
    if crate::platform::is_root() {
        let (uid, gid) = owner_of(node);
        if let Err(e) = nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            note("chown", &e);
        }
    }
    for x in &node.xattrs {
        if let Err(e) = xattr::set(path, OsStr::from_bytes(&x.name), &x.value) {
            note("setting extended attribute", &e);
        }
    }
    if !symlink {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(node.mode & 0o7777)) {
            note("chmod", &e);
        }
    }
    let ts = |t: i64| TimeSpec::new(t.div_euclid(1_000_000_000), t.rem_euclid(1_000_000_000));
    if let Err(e) = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &ts(if node.atime == 0 { node.mtime } else { node.atime }),
        &ts(node.mtime),
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    ) {
        note("setting times", &e);
    }
    match warn {
        Some(w) => Err(w),
        None => Ok(()),
    }
}

/// Owner ids for restore: by name when the name exists here, else the stored number.
fn owner_of(node: &Node) -> (u32, u32) {
    let uid = (!node.user.is_empty())
        .then(|| nix::unistd::User::from_name(&node.user).ok().flatten().map(|u| u.uid.as_raw()))
        .flatten()
        .unwrap_or(node.uid);
    let gid = (!node.group.is_empty())
        .then(|| nix::unistd::Group::from_name(&node.group).ok().flatten().map(|g| g.gid.as_raw()))
        .flatten()
        .unwrap_or(node.gid);
    (uid, gid)
}
