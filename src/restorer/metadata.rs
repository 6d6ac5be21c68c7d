//! File metadata onto restored entries, always through a descriptor or relative to the
//! descriptor of the parent directory without following a symlink (`target.rs` says why):
//! regular files and directories by `fchown`, `fsetxattr`, `fchmod`, `futimens` on their
//! own descriptor; symlinks, fifos and device nodes by `fchownat`, `fchmodat` and `utimensat`
//! with `AT_SYMLINK_NOFOLLOW`, and `lsetxattr` under `/proc/self/fd/<parent>/`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Mutex;

use nix::fcntl::AtFlags;
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

use super::RestoreOptions;
use crate::format::tree::{Node, NodeKind};
use crate::util::sync::IgnorePoison;

/// Create a fifo or device node `name` in `dir`, private (0600) until its metadata is applied.
pub fn create_special(dir: &OwnedFd, name: &OsStr, node: &Node) -> nix::Result<()> {
    let kind = match node.kind {
        NodeKind::Fifo => SFlag::S_IFIFO,
        NodeKind::Chardev => SFlag::S_IFCHR,
        NodeKind::Blockdev => SFlag::S_IFBLK,
        _ => return Ok(()),
    };
    nix::sys::stat::mknodat(dir.as_fd(), name, kind, Mode::S_IRUSR | Mode::S_IWUSR, node.rdev as nix::libc::dev_t)
}

/// The permission bits a restore gives `node`: setuid and setgid dropped with `--no-setuid`.
fn mode_of(node: &Node, opts: &RestoreOptions) -> Mode {
    let mut bits = node.mode & 0o7777;
    if opts.no_setuid {
        bits &= !0o6000;
    }
    Mode::from_bits_truncate(bits)
}

/// The owner to give `node`: only as root, and not with `--no-owner`. Whether arca runs as
/// root is asked once (a `geteuid` per restored file showed in the syscall count).
fn owner_wanted(node: &Node, opts: &RestoreOptions) -> Option<(nix::unistd::Uid, nix::unistd::Gid)> {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if opts.no_owner || !*ROOT.get_or_init(crate::platform::is_root) {
        return None;
    }
    let (uid, gid) = owner_of(node);
    Some((nix::unistd::Uid::from_raw(uid), nix::unistd::Gid::from_raw(gid)))
}

fn times(node: &Node) -> (TimeSpec, TimeSpec) {
    let ts = |t: crate::format::tree::Time| TimeSpec::new(t.secs, i64::from(t.nanos));
    (ts(if node.atime.is_zero() { node.mtime } else { node.atime }), ts(node.mtime))
}

/// Collects the first failure as a warning text (restore goes on).
struct Warn<'a> {
    what: &'a dyn std::fmt::Display,
    first: Option<String>,
}

impl Warn<'_> {
    fn note(&mut self, step: &str, e: &dyn std::fmt::Display) {
        if self.first.is_none() {
            self.first = Some(format!("{}: {step}: {e}", self.what));
        }
    }

    fn done(self) -> std::result::Result<(), String> {
        self.first.map_or(Ok(()), Err)
    }
}

/// Owner (as root), xattrs, mode and times onto a regular file or directory restore opened.
/// Chown comes before chmod: a chown clears setuid and setgid.
pub fn apply_to_fd(
    file: &File,
    node: &Node,
    opts: &RestoreOptions,
    what: &dyn std::fmt::Display,
) -> std::result::Result<(), String> {
    let mut warn = Warn { what, first: None };
    if let Some((uid, gid)) = owner_wanted(node, opts) {
        if let Err(e) = nix::unistd::fchown(file.as_fd(), Some(uid), Some(gid)) {
            warn.note("chown", &e);
        }
    }
    for x in node.xattrs.iter().filter(|x| opts.xattrs.wants(&x.name)) {
        if let Err(e) = xattr::FileExt::set_xattr(file, OsStr::from_bytes(&x.name), &x.value) {
            warn.note("setting extended attribute", &e);
        }
    }
    if let Err(e) = nix::sys::stat::fchmod(file.as_fd(), mode_of(node, opts)) {
        warn.note("chmod", &e);
    }
    let (atime, mtime) = times(node);
    if let Err(e) = nix::sys::stat::futimens(file.as_fd(), &atime, &mtime) {
        warn.note("setting times", &e);
    }
    warn.done()
}

/// Owner, xattrs, mode (not for symlinks) and times onto the symlink, fifo or device node
/// `name` in `dir`, never following it.
pub fn apply_at(
    dir: &OwnedFd,
    name: &OsStr,
    node: &Node,
    opts: &RestoreOptions,
    what: &dyn std::fmt::Display,
) -> std::result::Result<(), String> {
    let mut warn = Warn { what, first: None };
    if let Some((uid, gid)) = owner_wanted(node, opts) {
        if let Err(e) = nix::unistd::fchownat(dir.as_fd(), name, Some(uid), Some(gid), AtFlags::AT_SYMLINK_NOFOLLOW) {
            warn.note("chown", &e);
        }
    }
    if node.xattrs.iter().any(|x| opts.xattrs.wants(&x.name)) {
        // the parent by its descriptor, the last component not followed (lsetxattr)
        let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
        path.extend_from_slice(name.as_bytes());
        let path = std::path::PathBuf::from(std::ffi::OsString::from_vec(path));
        for x in node.xattrs.iter().filter(|x| opts.xattrs.wants(&x.name)) {
            if let Err(e) = xattr::set(&path, OsStr::from_bytes(&x.name), &x.value) {
                warn.note("setting extended attribute", &e);
            }
        }
    }
    if node.kind != NodeKind::Symlink {
        if let Err(e) = nix::sys::stat::fchmodat(dir.as_fd(), name, mode_of(node, opts), FchmodatFlags::NoFollowSymlink)
        {
            warn.note("chmod", &e);
        }
    }
    let (atime, mtime) = times(node);
    if let Err(e) = nix::sys::stat::utimensat(dir.as_fd(), name, &atime, &mtime, UtimensatFlags::NoFollowSymlink) {
        warn.note("setting times", &e);
    }
    warn.done()
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
        let mut names = self.0.lock().ignore_poison();
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
