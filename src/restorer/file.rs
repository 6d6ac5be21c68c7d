//! Writing and verifying one regular file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::{Overwrite, RestoreOptions, RestoreProgress};
use crate::error::{Error, Kind, Result};
use crate::format::tree::Node;
use crate::repo::{pack_path, BlobLocation, Repository};

/// Largest single read that merges consecutive blobs of one pack.
const MAX_MERGED_READ: u64 = 32 * 1024 * 1024;

fn should_write(path: &Path, node: &Node, policy: Overwrite) -> bool {
    let Ok(m) = path.symlink_metadata() else { return true };
    use std::os::unix::fs::MetadataExt;
    let mtime = m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec());
    match policy {
        Overwrite::Always => true,
        Overwrite::Never => false,
        Overwrite::IfNewer => node.mtime > mtime,
        Overwrite::IfChanged => !(m.is_file() && m.len() == node.size && mtime == node.mtime),
    }
}

/// Restore one file. Returns false when the overwrite policy kept an existing file.
pub(super) fn restore_file(
    repo: &Repository,
    path: &Path,
    node: &Node,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
) -> Result<bool> {
    super::ensure_parent(&opts.target, path)?;
    if !should_write(path, node, opts.overwrite) {
        return Ok(false);
    }
    super::remove_existing(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path.display(), e))?;
    let content = repo.file_content(node)?;
    let locs = {
        let idx = repo.index()?;
        content
            .iter()
            .map(|id| {
                idx.get(id)
                    .ok_or_else(|| Error::new(Kind::NotFound, format!("data blob {id} is missing from the index")))
            })
            .collect::<Result<Vec<BlobLocation>>>()?
    };
    let mut pos = 0u64;
    let mut i = 0;
    while i < locs.len() {
        // merge a run of blobs stored back to back in one pack
        let mut j = i + 1;
        while j < locs.len()
            && locs[j].pack == locs[i].pack
            && locs[j].entry.offset == locs[j - 1].entry.offset + locs[j - 1].entry.length
            && (locs[j].entry.offset + locs[j].entry.length - locs[i].entry.offset) as u64 <= MAX_MERGED_READ
        {
            j += 1;
        }
        let start = locs[i].entry.offset as u64;
        let end = (locs[j - 1].entry.offset + locs[j - 1].entry.length) as u64;
        let pack = pack_path(&locs[i].pack);
        let bytes =
            repo.backend().read_range(&pack, start, end - start).map_err(|e| Error::from(e).context("reading pack"))?;
        for loc in &locs[i..j] {
            let o = (loc.entry.offset as u64 - start) as usize;
            let plain =
                crate::format::pack::open_blob(repo.keys(), &loc.entry, &bytes[o..o + loc.entry.length as usize])?;
            if opts.sparse && plain.iter().all(|&b| b == 0) {
                f.seek(SeekFrom::Current(plain.len() as i64)).map_err(|e| Error::io(path.display(), e))?;
            } else {
                f.write_all(&plain).map_err(|e| Error::io(path.display(), e))?;
            }
            pos += plain.len() as u64;
            progress.bytes_done.fetch_add(plain.len() as u64, Ordering::Relaxed);
        }
        i = j;
    }
    f.set_len(pos).map_err(|e| Error::io(path.display(), e))?;
    if pos != node.size {
        return Err(Error::corrupt(format!("restored {pos} bytes, the snapshot records {}", node.size)));
    }
    Ok(true)
}

/// Re-read a restored file and check every chunk against its blob id.
pub(super) fn verify_file(repo: &Repository, path: &Path, node: &Node) -> Result<()> {
    let content = repo.file_content(node)?;
    let mut f = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let mut buf = vec![];
    for id in &content {
        let len = repo
            .index()?
            .get(id)
            .map(|l| l.entry.raw_length)
            .ok_or_else(|| Error::new(Kind::NotFound, format!("blob {id} missing")))?;
        buf.resize(len as usize, 0);
        f.read_exact(&mut buf).map_err(|e| Error::io(path.display(), e))?;
        if crate::format::BlobType::Data.id(repo.keys(), &buf) != *id {
            return Err(Error::corrupt(format!("content differs from blob {}", id.short())));
        }
    }
    let mut rest = [0u8; 1];
    if f.read(&mut rest).map_err(|e| Error::io(path.display(), e))? != 0 {
        return Err(Error::corrupt("file is longer than in the snapshot"));
    }
    Ok(())
}
