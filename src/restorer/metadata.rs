//! File metadata onto restored files: special files, owner, mode, xattrs, times.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

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
    let ts = |t: crate::format::tree::Time| TimeSpec::new(t.secs, i64::from(t.nanos));
    if let Err(e) = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &ts(if node.atime.is_zero() { node.mtime } else { node.atime }),
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
    static USERS: Names = Names::new();
    static GROUPS: Names = Names::new();
    let uid = USERS
        .id(&node.user, |name| nix::unistd::User::from_name(name).ok().flatten().map(|u| u.uid.as_raw()))
        .unwrap_or(node.uid);
    let gid = GROUPS
        .id(&node.group, |name| nix::unistd::Group::from_name(name).ok().flatten().map(|g| g.gid.as_raw()))
        .unwrap_or(node.gid);
    (uid, gid)
}

/// User or group names looked up once per process: each lookup reads `/etc/passwd` or
/// `/etc/group` (or asks NSS), which for small files costs more than writing them.
struct Names(Mutex<Option<HashMap<String, Option<u32>>>>);

impl Names {
    const fn new() -> Names {
        Names(Mutex::new(None))
    }

    fn id(&self, name: &str, look_up: impl FnOnce(&str) -> Option<u32>) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        let mut names = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let names = names.get_or_insert_with(HashMap::new);
        if let Some(&id) = names.get(name) {
            return id;
        }
        let id = look_up(name);
        names.insert(name.to_string(), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_looked_up_once() {
        let names = Names::new();
        let mut calls = 0;
        assert_eq!(
            names.id("alice", |_| {
                calls += 1;
                Some(7)
            }),
            Some(7)
        );
        assert_eq!(
            names.id("alice", |_| {
                calls += 1;
                Some(8)
            }),
            Some(7)
        );
        assert_eq!(names.id("nobody-here", |_| None), None);
        assert_eq!(names.id("", |_| Some(1)), None);
        assert_eq!(calls, 1);
    }
}
