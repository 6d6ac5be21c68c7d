//! The fanotify backend of `arca watch`: one filesystem mark (`FAN_MARK_FILESYSTEM`) per file
//! system holding a watched path, in a group that reports each event's directory as a file
//! handle and the entry's name (`FAN_REPORT_DFID_NAME`). No watch per directory: no limit to
//! raise, and a directory created or moved in is covered from its first event, with no race
//! between its appearance and a watch being added to it.
//!
//! Each event's directory handle is opened with `open_by_handle_at(2)` against a descriptor on
//! that file system, and its path read from `/proc/self/fd`; the event's path is that
//! directory joined with the name (`.` for the directory itself). The mark sees the whole file
//! system: only paths at or below a watched path are kept, written under the watched path as
//! the user named it (a watched path reached through a symlink is matched by its canonical
//! form), so the change list names what the backup walks.
//!
//! When the handle no longer opens (`ESTALE`, `ENOENT`) or opens a directory with no links
//! left, the directory has been removed since the event. Its event is dropped, and that is
//! correct: removing (or moving away) a directory is itself an event, `FAN_DELETE` or
//! `FAN_MOVED_FROM` in its parent, queued after every event inside it, and it names the
//! directory, whose whole subtree the change-list backup then walks (or finds gone). If that
//! parent is gone too, the same holds one level up, up to a directory that still exists; if
//! events were lost, the queue reports `FAN_Q_OVERFLOW`. Any other failure (an event that does
//! not parse, a handle that fails otherwise, a path that cannot be read) is a
//! [`Change::Failed`], and the next backup walks everything, as after an overflow.
//!
//! One group is made per file system (by device number), so a handle is always opened against
//! the file system it came from: handles of two file systems of the same type could otherwise
//! name different files. The events are read by one thread that polls the groups.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::fcntl::{OFlag, AT_FDCWD};
use nix::libc;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};
use nix::sys::stat::Mode;

use super::fanotify_events::{self, MAX_HANDLE_BYTES};
use super::Change;
use crate::error::{Error, Kind, Result};

/// `CAP_DAC_READ_SEARCH` (open_by_handle_at) and `CAP_SYS_ADMIN` (fanotify in file-handle mode).
const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_ADMIN: u32 = 21;

/// How often the reader looks whether the watch was stopped.
const POLL_MS: u16 = 100;

/// A running fanotify watch; dropping it stops its reader.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

/// One group: its file system's marks, and a descriptor on that file system to open handles.
struct Group {
    fan: Fanotify,
    mount: OwnedFd,
}

/// A watched path as named, and its canonical form (what `/proc/self/fd` shows).
struct Root {
    given: PathBuf,
    canonical: PathBuf,
}

impl Watcher {
    /// Mark the file systems of `paths` and start reading; an error says why fanotify cannot
    /// be used here (no privilege, an old kernel, a file system without file handles).
    pub fn start(paths: &[PathBuf], tx: Sender<Change>) -> Result<Watcher> {
        for (cap, name) in [(CAP_SYS_ADMIN, "CAP_SYS_ADMIN"), (CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH")] {
            if !has_capability(cap)? {
                return Err(unavailable(format!("the process lacks {name} (fanotify with file handles needs root)")));
            }
        }
        let mut groups: Vec<(u64, Group)> = vec![];
        let mut roots = vec![];
        for p in paths {
            let meta = std::fs::metadata(p).map_err(|e| Error::io(p.display(), e))?;
            let canonical = std::fs::canonicalize(p).map_err(|e| Error::io(p.display(), e))?;
            roots.push(Root { given: p.clone(), canonical });
            if groups.iter().any(|(dev, _)| *dev == meta.dev()) {
                continue;
            }
            groups.push((meta.dev(), Group::new(p)?));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let groups: Vec<Group> = groups.into_iter().map(|(_, g)| g).collect();
        let reader = std::thread::Builder::new()
            .name("fanotify".into())
            .spawn(move || read_loop(&groups, &roots, &tx, &flag))
            .map_err(|e| Error::io("the fanotify reader thread", e))?;
        Ok(Watcher { stop, reader: Some(reader) })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Group {
    /// A group with a filesystem mark on the file system holding `path`.
    fn new(path: &Path) -> Result<Group> {
        let flags = InitFlags::FAN_CLASS_NOTIF
            | InitFlags::FAN_CLOEXEC
            | InitFlags::FAN_NONBLOCK
            | InitFlags::from_bits_retain(libc::FAN_REPORT_DFID_NAME);
        let fan = Fanotify::init(flags, EventFFlags::O_RDONLY | EventFFlags::O_CLOEXEC).map_err(|e| match e {
            Errno::EINVAL => unavailable("the kernel does not report directory handles with names (FAN_REPORT_DFID_NAME needs Linux 5.9 or later)".into()),
            Errno::EPERM => unavailable("fanotify_init was refused: permission denied (needs CAP_SYS_ADMIN)".into()),
            e => unavailable(format!("fanotify_init: {}", e.desc())),
        })?;
        let mask = MaskFlags::FAN_CREATE
            | MaskFlags::FAN_DELETE
            | MaskFlags::FAN_MODIFY
            | MaskFlags::FAN_CLOSE_WRITE
            | MaskFlags::FAN_ATTRIB
            | MaskFlags::FAN_MOVED_FROM
            | MaskFlags::FAN_MOVED_TO
            | MaskFlags::FAN_DELETE_SELF
            | MaskFlags::FAN_MOVE_SELF
            | MaskFlags::FAN_ONDIR;
        fan.mark(MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_FILESYSTEM, mask, AT_FDCWD, Some(path)).map_err(
            |e| {
                let why = match e {
                    Errno::EXDEV | Errno::EOPNOTSUPP | Errno::ENODEV => {
                        "its file system has no file handles for fanotify"
                    }
                    e => e.desc(),
                };
                unavailable(format!("marking the file system of {}: {why}", path.display()))
            },
        )?;
        // open_by_handle_at refuses an O_PATH descriptor (EBADF): open the directory for reading
        let dir = match std::fs::metadata(path) {
            Ok(m) if !m.is_dir() => path.parent().unwrap_or(path),
            _ => path,
        };
        let mount = nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::io(dir.display(), std::io::Error::from(e)))?;
        Ok(Group { fan, mount })
    }
}

fn unavailable(why: String) -> Error {
    Error::new(Kind::Unsupported, why)
}

/// Does the process hold `cap` in its effective set (`CapEff` of `/proc/self/status`)?
fn has_capability(cap: u32) -> Result<bool> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| Error::io("/proc/self/status", e))?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(str::trim).unwrap_or("0");
    let bits = u64::from_str_radix(hex, 16)
        .map_err(|_| Error::new(Kind::Io, format!("/proc/self/status: CapEff {hex:?} is not hexadecimal")))?;
    Ok(bits & (1 << cap) != 0)
}

/// Read every group until stopped (or until the watch loop is gone), sending one
/// [`Change`] per read.
fn read_loop(groups: &[Group], roots: &[Root], tx: &Sender<Change>, stop: &AtomicBool) {
    // large enough for hundreds of events per read; the kernel returns whole events only
    let mut buf = vec![0u8; 64 << 10];
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<PollFd> = groups.iter().map(|g| PollFd::new(g.fan.as_fd(), PollFlags::POLLIN)).collect();
        match nix::poll::poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Change::Failed(format!("polling the fanotify groups: {}", e.desc())));
                return;
            }
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        for (g, _) in groups.iter().zip(ready).filter(|(_, r)| *r) {
            loop {
                let n = match nix::unistd::read(g.fan.as_fd(), &mut buf) {
                    Ok(0) | Err(Errno::EAGAIN) => break,
                    Ok(n) => n,
                    Err(Errno::EINTR) => continue,
                    Err(e) => {
                        let _ = tx.send(Change::Failed(format!("reading fanotify events: {}", e.desc())));
                        return;
                    }
                };
                for change in changes(&buf[..n], g.mount.as_fd(), roots) {
                    if tx.send(change).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// The changes of one read: an overflow, a failure, the kept paths.
fn changes(buf: &[u8], mount: BorrowedFd<'_>, roots: &[Root]) -> Vec<Change> {
    let events = match fanotify_events::parse(buf) {
        Ok(e) => e,
        Err(e) => return vec![Change::Failed(format!("a fanotify event does not parse: {e}"))],
    };
    let mut out = vec![];
    let mut paths = vec![];
    let mut failed = None;
    // a read often names one directory many times: open its handle once (a rename between
    // two events of one read is itself an event naming the moved directory)
    let mut dirs: HashMap<(i32, &[u8]), Resolved> = HashMap::new();
    for ev in events {
        // `ev.fd` is FAN_NOFD: a group in file-handle mode is never given descriptors
        if ev.mask & libc::FAN_Q_OVERFLOW != 0 {
            out.push(Change::Overflow);
            continue;
        }
        if ev.records.is_empty() {
            out.push(Change::Failed(format!("a fanotify event (mask {:#x}) without a file handle", ev.mask)));
            continue;
        }
        for r in ev.records {
            let dir = dirs.entry((r.handle_type, r.handle)).or_insert_with(|| resolve(mount, r.handle_type, r.handle));
            let dir = match dir {
                Resolved::Path(p) => p,
                Resolved::Gone => continue,
                Resolved::Failed(e) => {
                    failed.get_or_insert_with(|| e.clone());
                    continue;
                }
            };
            let path = match r.name {
                Some(n) if n != b"." => dir.join(OsStr::from_bytes(n)),
                _ => dir.clone(),
            };
            if let Some(p) = under_roots(&path, roots) {
                paths.push(p);
            }
        }
    }
    out.extend(failed.map(Change::Failed));
    if !paths.is_empty() {
        paths.sort();
        paths.dedup();
        out.push(Change::Paths(paths));
    }
    out
}

/// What a file handle names now.
#[derive(Debug, Clone)]
enum Resolved {
    Path(PathBuf),
    /// Removed since the event (see the module documentation for why that may be dropped).
    Gone,
    Failed(String),
}

fn resolve(mount: BorrowedFd<'_>, handle_type: i32, handle: &[u8]) -> Resolved {
    let fd = match open_by_handle(mount, handle_type, handle) {
        Ok(fd) => fd,
        Err(Errno::ESTALE | Errno::ENOENT) => return Resolved::Gone,
        Err(e) => return Resolved::Failed(format!("opening a directory by its file handle: {}", e.desc())),
    };
    match nix::sys::stat::fstat(&fd) {
        Ok(st) if st.st_nlink == 0 => return Resolved::Gone,
        Ok(_) => {}
        Err(e) => return Resolved::Failed(format!("fstat of a directory opened by handle: {}", e.desc())),
    }
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    match std::fs::read_link(&link) {
        Ok(p) if p.is_absolute() => Resolved::Path(p),
        Ok(p) => Resolved::Failed(format!("{link} names {}, not an absolute path", p.display())),
        Err(e) => Resolved::Failed(format!("reading {link}: {e}")),
    }
}

/// `path` (canonical) under the watched path that holds it, as the user named that path.
fn under_roots(path: &Path, roots: &[Root]) -> Option<PathBuf> {
    roots.iter().find_map(|r| {
        let rest = path.strip_prefix(&r.canonical).ok()?;
        Some(if rest.as_os_str().is_empty() { r.given.clone() } else { r.given.join(rest) })
    })
}

/// `open_by_handle_at(2)` with `O_PATH`: nothing is read through the descriptor, it only names
/// the directory. Neither nix nor rustix wraps this call, hence the one unsafe block.
#[allow(unsafe_code)]
fn open_by_handle(mount: BorrowedFd<'_>, handle_type: i32, handle: &[u8]) -> nix::Result<OwnedFd> {
    if handle.len() > MAX_HANDLE_BYTES {
        return Err(Errno::EINVAL);
    }
    // struct file_handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[]; },
    // built in 4-byte words so it is aligned as the struct is
    let mut words = vec![0u32; 2 + handle.len().div_ceil(4)];
    words[0] = u32::try_from(handle.len()).map_err(|_| Errno::EINVAL)?;
    words[1] = u32::from_ne_bytes(handle_type.to_ne_bytes());
    for (w, chunk) in words[2..].iter_mut().zip(handle.chunks(4)) {
        let mut b = [0u8; 4];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u32::from_ne_bytes(b);
    }
    // SAFETY: `words` is a valid, aligned `struct file_handle` whose `handle_bytes` matches the
    // bytes that follow it, alive for the call; the kernel only reads it. The result is a new
    // descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount.as_raw_fd(),
            words.as_mut_ptr(),
            libc::O_PATH | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    let fd = RawFd::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the descriptor was just returned by the kernel and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_paths_at_or_below_a_watched_path_are_kept_as_the_user_named_it() {
        let roots = [
            Root { given: "/home/me/link".into(), canonical: "/data/me".into() },
            Root { given: "/srv".into(), canonical: "/srv".into() },
        ];
        assert_eq!(under_roots(Path::new("/data/me/a/b"), &roots), Some("/home/me/link/a/b".into()));
        assert_eq!(under_roots(Path::new("/data/me"), &roots), Some("/home/me/link".into()));
        assert_eq!(under_roots(Path::new("/data/meat"), &roots), None, "a sibling sharing a prefix");
        assert_eq!(under_roots(Path::new("/data"), &roots), None, "a parent");
        assert_eq!(under_roots(Path::new("/srv/x"), &roots), Some("/srv/x".into()));
    }

    #[test]
    fn a_handle_of_a_removed_directory_is_gone_and_a_live_one_names_its_path() {
        if !has_capability(CAP_DAC_READ_SEARCH).unwrap() {
            eprintln!("skipped: open_by_handle_at needs CAP_DAC_READ_SEARCH");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let (handle_type, handle) = name_to_handle(&sub);
        let mount = nix::fcntl::open(dir.path(), OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let canonical = std::fs::canonicalize(&sub).unwrap();
        match resolve(mount.as_fd(), handle_type, &handle) {
            Resolved::Path(p) => assert_eq!(p, canonical),
            other => panic!("{other:?}"),
        }
        std::fs::rename(&sub, dir.path().join("moved")).unwrap();
        match resolve(mount.as_fd(), handle_type, &handle) {
            Resolved::Path(p) => assert_eq!(p, canonical.with_file_name("moved")),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir(dir.path().join("moved")).unwrap();
        assert!(matches!(resolve(mount.as_fd(), handle_type, &handle), Resolved::Gone));
    }

    /// `name_to_handle_at(2)`, for the test only.
    #[allow(unsafe_code)]
    fn name_to_handle(p: &Path) -> (i32, Vec<u8>) {
        let mut words = vec![0u32; 2 + MAX_HANDLE_BYTES / 4];
        words[0] = MAX_HANDLE_BYTES as u32;
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
        let mut mount_id: libc::c_int = 0;
        // SAFETY: a buffer of MAX_HANDLE_SZ with handle_bytes set, a NUL-terminated path.
        let r = unsafe {
            libc::syscall(libc::SYS_name_to_handle_at, libc::AT_FDCWD, c.as_ptr(), words.as_mut_ptr(), &mut mount_id, 0)
        };
        assert_eq!(r, 0, "{}", Errno::last());
        let bytes: Vec<u8> = words[2..].iter().flat_map(|w| w.to_ne_bytes()).take(words[0] as usize).collect();
        (words[1] as i32, bytes)
    }
}
