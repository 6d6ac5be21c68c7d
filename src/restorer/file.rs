//! The overwrite policy for one file, and verifying a restored file.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::Overwrite;
use crate::error::{Error, Kind, Result};
use crate::format::tree::Node;
use crate::repo::Repository;

/// Does the overwrite policy let a restore replace `m`, what is at an entry's name?
pub(super) fn should_replace(m: &nix::sys::stat::FileStat, node: &Node, policy: Overwrite) -> bool {
    let mtime = crate::format::tree::Time::new(m.st_mtime, m.st_mtime_nsec);
    let is_file = (m.st_mode & nix::libc::S_IFMT) == nix::libc::S_IFREG;
    match policy {
        Overwrite::Always => true,
        Overwrite::Never => false,
        Overwrite::IfNewer => node.mtime > mtime,
        Overwrite::IfChanged => !(is_file && m.st_size as u64 == node.size && mtime == node.mtime),
    }
}

/// The length of a node's inline content (format 4), 0 for a file with blobs.
pub(super) fn inline_len(node: &Node) -> u64 {
    node.inline.as_ref().map_or(0, |b| b.len() as u64)
}

/// Write a node's inline content (format 4) at the start of its new file; nothing for a file
/// with blobs, which the pack-by-pack fetch writes. The tree's decoder checked that the
/// bytes are exactly `size` many.
pub(super) fn write_inline(f: &File, node: &Node) -> std::io::Result<()> {
    match &node.inline {
        Some(b) => f.write_all_at(b, 0),
        None => Ok(()),
    }
}

/// Re-read a restored file, through the descriptor it was written by, and check every chunk
/// against its blob id (inline content against the node's bytes).
pub(super) fn verify_file(repo: &Repository, f: &File, path: &std::path::Path, node: &Node) -> Result<()> {
    if let Some(want) = &node.inline {
        let mut got = vec![0u8; want.len() + 1];
        let mut n = 0;
        while n < got.len() {
            match f.read_at(&mut got[n..], n as u64).map_err(|e| Error::io(path.display(), e))? {
                0 => break,
                r => n += r,
            }
        }
        if n != want.len() || got[..n] != want[..] {
            return Err(Error::corrupt("content differs from the inline content of the snapshot"));
        }
        return Ok(());
    }
    let content = repo.file_content(node)?;
    let mut buf = vec![];
    let mut at = 0u64;
    for id in &content {
        let len = repo
            .index()?
            .get(id)
            .map(|l| l.entry.raw_length)
            .ok_or_else(|| Error::new(Kind::NotFound, format!("blob {id} missing")))?;
        buf.resize(len as usize, 0);
        f.read_exact_at(&mut buf, at).map_err(|e| Error::io(path.display(), e))?;
        at += len as u64;
        if repo.blob_id(crate::format::BlobType::Data, &buf) != *id {
            return Err(Error::corrupt(format!("content differs from blob {}", id.short())));
        }
    }
    let mut rest = [0u8; 1];
    if f.read_at(&mut rest, at).map_err(|e| Error::io(path.display(), e))? != 0 {
        return Err(Error::corrupt("file is longer than in the snapshot"));
    }
    Ok(())
}
