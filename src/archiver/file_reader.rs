//! Reading one file: open, read in buffered blocks, chunk, hand each chunk to the blob saver,
//! and check that the file did not change while it was read.
//!
//! The reader reads what the walker saw, not whatever the path names by then: it opens the
//! name relative to the walker's descriptor of its directory with `O_NOFOLLOW | O_NONBLOCK`
//! (so a symlink swapped in fails to open instead of being followed, and a FIFO swapped in
//! opens without waiting for a writer), `fstat`s the descriptor and requires a regular file
//! with the (device, inode) the walker's `lstat` saw. Anything else is a counted warning,
//! "replaced during backup", and nothing is stored under that name. `O_NOATIME` is asked for
//! and dropped where the kernel refuses it (`EPERM`: not the file's owner).
//!
//! A regular file of 1 to [`INLINE_MAX`] bytes (by the walker's `lstat`) in a repository of
//! format 4 or later is stored inline, in its tree node (format-spec/v4.md §13.5): at most
//! `INLINE_MAX + 1` bytes are read; if more arrive (the file grew since it was listed), what
//! was read and the rest are chunked as any file, so a file is stored whole.
//!
//! Files are read, not mapped: a file truncated by another process while mapped kills the
//! reader with SIGBUS, and a backup tool reads files that are being written (logs,
//! databases). Buffered reads cost one copy, which measured below the hashing cost.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::stat::{FileStat, Mode};

use crate::error::{Error, Kind, Result};
use crate::format::tree::INLINE_FORMAT;
use crate::format::BlobType;
use crate::id::BlobId;
use crate::repo::stage_clock::Stage;
use crate::repo::BlobSaver;

/// Files of at most this many bytes are stored inline (format 4). Chosen by measurement
/// (format-spec/v4.md, "Choosing the threshold"): a blob costs about 140 bytes beyond its
/// content (seal, pack header and index entries, its id in the node), so below this a file's
/// blob costs more than the file; a tree re-stored after a change carries its inline bytes
/// again, at most this much per entry.
pub const INLINE_MAX: usize = 128;

pub struct FileContent {
    pub content: Vec<BlobId>,
    /// The whole content of a small file (see [`INLINE_MAX`]); `content` is then empty.
    pub inline: Option<Vec<u8>>,
    pub size: u64,
    /// Set when size or times changed while reading.
    pub changed_while_reading: bool,
}

/// A reader that counts the time spent in `read` calls.
struct TimedRead<R> {
    inner: R,
    spent: Duration,
}

impl<R: Read> Read for TimedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let t = Instant::now();
        let r = self.inner.read(buf);
        self.spent += t.elapsed();
        r
    }
}

/// A file the walker chose: where it is, and which inode it was.
pub struct Walked {
    /// The walker's descriptor of the file's directory; `None` for a source named on the
    /// command line, opened by its path.
    pub dir: Option<Arc<OwnedFd>>,
    /// The name in `dir` (unused when `dir` is `None`).
    pub name: Vec<u8>,
    /// The full path, for messages and the test hook.
    pub path: PathBuf,
    pub device: u64,
    pub inode: u64,
    /// The size the walker's `lstat` saw: a file of at most [`INLINE_MAX`] bytes then is read
    /// for inline storage (format 4).
    pub size: u64,
}

fn replaced(path: &Path, now: &str) -> Error {
    Error::new(Kind::Io, format!("{}: replaced during backup ({now}); not saved", path.display()))
        .hint("another process swapped the file between listing and reading; back up again")
}

fn kind_of(st: &FileStat) -> &'static str {
    match st.st_mode & nix::libc::S_IFMT {
        nix::libc::S_IFDIR => "now a directory",
        nix::libc::S_IFIFO => "now a FIFO",
        nix::libc::S_IFSOCK => "now a socket",
        nix::libc::S_IFCHR | nix::libc::S_IFBLK => "now a device",
        _ => "now another file",
    }
}

/// Open what the walker saw: `O_NOFOLLOW | O_NONBLOCK`, `fstat`, require a regular file with
/// the walker's (device, inode), then clear `O_NONBLOCK` for the reads. Returns the file and
/// its `fstat`.
pub fn open_walked(w: &Walked) -> Result<(File, FileStat)> {
    let base = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let open = |flags: OFlag| match &w.dir {
        Some(dir) => nix::fcntl::openat(dir, w.name.as_slice(), flags, Mode::empty()),
        None => nix::fcntl::open(w.path.as_path(), flags, Mode::empty()),
    };
    let fd = match open(base | OFlag::O_NOATIME) {
        Err(Errno::EPERM) => open(base),
        r => r,
    };
    let fd = match fd {
        Ok(fd) => fd,
        Err(Errno::ELOOP) => return Err(replaced(&w.path, "now a symlink")),
        Err(Errno::ENXIO) => return Err(replaced(&w.path, "now a socket")),
        Err(e) => return Err(Error::io(w.path.display(), e.into())),
    };
    let st = nix::sys::stat::fstat(&fd).map_err(|e| Error::io(w.path.display(), e.into()))?;
    if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
        return Err(replaced(&w.path, kind_of(&st)));
    }
    if st.st_dev != w.device || st.st_ino != w.inode {
        return Err(replaced(&w.path, "now another file"));
    }
    let flags = nix::fcntl::fcntl(&fd, FcntlArg::F_GETFL).map_err(|e| Error::io(w.path.display(), e.into()))?;
    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&fd, FcntlArg::F_SETFL(flags)).map_err(|e| Error::io(w.path.display(), e.into()))?;
    Ok((File::from(fd), st))
}

pub fn read_file(w: &Walked, saver: &BlobSaver, scratch: &mut Vec<u8>, on_bytes: &dyn Fn(u64)) -> Result<FileContent> {
    let path = w.path.as_path();
    let clock = saver.clock();
    let started = Instant::now();
    let (file, before) = open_walked(w)?;
    let opened = started.elapsed();
    let mut file = TimedRead { inner: file, spent: Duration::ZERO };
    let mut head = Vec::new();
    if saver.repo().config().version >= INLINE_FORMAT && w.size <= INLINE_MAX as u64 {
        (&mut file).take(INLINE_MAX as u64 + 1).read_to_end(&mut head).map_err(|e| Error::io(path.display(), e))?;
        if head.len() <= INLINE_MAX {
            clock.add_busy(Stage::Read, opened + file.spent);
            let size = head.len() as u64;
            on_bytes(size);
            let changed = changed_since(&file.inner, &before, size, path)?;
            let inline = (!head.is_empty()).then_some(head);
            return Ok(FileContent { content: vec![], inline, size, changed_while_reading: changed });
        }
    }
    // a small file that grew past the threshold: what was read comes first
    let mut file = std::io::Cursor::new(head).chain(file);
    let chunker = saver.repo().chunker().clone();
    let mut content = vec![];
    // time in `save` is the hash stage's and waiting for the sealers: not chunking
    let mut saving = Duration::ZERO;
    let save = |chunk: &[u8]| -> Result<()> {
        if crate::platform::interrupted() {
            return Err(crate::platform::interrupted_error());
        }
        let t = Instant::now();
        let len = chunk.len() as u64;
        let (id, _) = saver.save_slice(BlobType::Data, chunk)?;
        content.push(id);
        on_bytes(len);
        saving += t.elapsed();
        Ok(())
    };
    let split = Instant::now();
    let size = chunker.split_reader(&mut file, scratch, save).map_err(|e| match e.kind {
        Kind::Io | Kind::NotFound => e.context_object(path.display()),
        _ => e,
    })?;
    let (_, file) = file.into_inner();
    clock.add_busy(Stage::Chunk, split.elapsed().saturating_sub(file.spent + saving));
    clock.add_busy(Stage::Read, opened + file.spent);
    let changed = changed_since(&file.inner, &before, size, path)?;
    Ok(FileContent { content, inline: None, size, changed_while_reading: changed })
}

/// Did the file change while it was read: its size or mtime now differ from the `fstat` at
/// open, or `read` bytes were read where it now has another size?
fn changed_since(file: &File, before: &FileStat, read: u64, path: &Path) -> Result<bool> {
    let after = file.metadata().map_err(|e| Error::io(path.display(), e))?;
    Ok(after.len() != u64::try_from(before.st_size).unwrap_or(u64::MAX)
        || after.mtime() != before.st_mtime
        || after.mtime_nsec() != before.st_mtime_nsec
        || after.len() != read)
}
