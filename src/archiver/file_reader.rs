//! Reading one file: open, read in buffered blocks, chunk, hand each chunk to the blob saver,
//! and check that the file did not change while it was read.
//!
//! Files are read, not mapped: a file truncated by another process while mapped kills the
//! reader with SIGBUS, and a backup tool reads files that are being written (logs,
//! databases). Buffered reads cost one copy, which measured below the hashing cost.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::format::BlobType;
use crate::id::BlobId;
use crate::repo::stage_clock::Stage;
use crate::repo::BlobSaver;

pub struct FileContent {
    pub content: Vec<BlobId>,
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

pub fn read_file(path: &Path, saver: &BlobSaver, scratch: &mut Vec<u8>, on_bytes: &dyn Fn(u64)) -> Result<FileContent> {
    let clock = saver.clock();
    let started = Instant::now();
    let file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let before = file.metadata().map_err(|e| Error::io(path.display(), e))?;
    let opened = started.elapsed();
    let mut file = TimedRead { inner: file, spent: Duration::ZERO };
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
        Kind::Io | Kind::NotFound => e.context(path.display()),
        _ => e,
    })?;
    clock.add_busy(Stage::Chunk, split.elapsed().saturating_sub(file.spent + saving));
    clock.add_busy(Stage::Read, opened + file.spent);
    let file = file.inner;
    let after = file.metadata().map_err(|e| Error::io(path.display(), e))?;
    let changed = after.len() != before.len()
        || after.mtime() != before.mtime()
        || after.mtime_nsec() != before.mtime_nsec()
        || after.len() != size;
    Ok(FileContent { content, size, changed_while_reading: changed })
}
