//! A file of a snapshot read from any byte on, one blob at a time: what a download with an
//! HTTP range (`arca serve`) needs, without reading the blobs before the range. The blob
//! holding a byte is found from the plaintext lengths the index records, as the mount's reads
//! find it; the lengths must add up to the size the snapshot records, or the file is damaged.

use crate::error::{Error, Kind, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::format::BlobType;
use crate::id::BlobId;
use crate::repo::Repository;

/// The regular file at `path` (absolute) in `snap`: `NotFound` if nothing is there, `Usage`
/// for a directory, a symlink or a special file (never followed).
pub fn file_at(repo: &Repository, snap: &Snapshot, path: &str) -> Result<Node> {
    let node = repo
        .find_path(&snap.tree, path)?
        .ok_or_else(|| Error::new(Kind::NotFound, format!("{path}: no such file in the snapshot")))?;
    match node.kind {
        NodeKind::File => Ok(node),
        NodeKind::Dir => Err(Error::usage(format!("{path} is a directory")).hint("list it instead (the tree route)")),
        _ => Err(Error::usage(format!("{path} is not a regular file"))
            .hint("only regular files can be downloaded; symlinks are not followed")),
    }
}

/// A file's blobs and where each ends in its content (or its inline content, format 4).
pub struct FileLayout {
    blobs: Vec<BlobId>,
    ends: Vec<u64>,
    inline: Option<Vec<u8>>,
}

impl FileLayout {
    pub fn new(repo: &Repository, node: &Node) -> Result<FileLayout> {
        if let Some(b) = &node.inline {
            return Ok(FileLayout { blobs: vec![], ends: vec![b.len() as u64], inline: Some(b.to_vec()) });
        }
        let blobs = repo.file_content(node)?;
        let idx = repo.index()?;
        let mut ends = Vec::with_capacity(blobs.len());
        let mut end = 0u64;
        for id in &blobs {
            let loc = idx.get(id).ok_or_else(|| Error::corrupt(format!("data blob {id} is not in the index")))?;
            end += loc.entry.raw_length as u64;
            ends.push(end);
        }
        drop(idx);
        if end != node.size {
            return Err(Error::corrupt(format!(
                "{}: {end} bytes of content, the snapshot says {}",
                node.name_lossy(),
                node.size
            )));
        }
        Ok(FileLayout { blobs, ends, inline: None })
    }

    pub fn size(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Bytes `start..end` (clamped to the size), in pieces of at most one blob, through
    /// `emit`; stops early, without error, when `emit` returns false (the reader went away).
    pub fn read(&self, repo: &Repository, start: u64, end: u64, emit: &mut dyn FnMut(Vec<u8>) -> bool) -> Result<()> {
        let end = end.min(self.size());
        if let Some(b) = &self.inline {
            if start < end {
                emit(b[start as usize..end as usize].to_vec());
            }
            return Ok(());
        }
        let mut pos = start;
        let mut i = self.ends.partition_point(|e| *e <= start);
        while pos < end {
            let first = if i == 0 { 0 } else { self.ends[i - 1] };
            let mut blob = repo.read_blob(BlobType::Data, &self.blobs[i])?;
            let to = (end.min(self.ends[i]) - first) as usize;
            let from = (pos - first) as usize;
            if blob.len() < to {
                return Err(Error::corrupt(format!("data blob {} is shorter than the index says", self.blobs[i])));
            }
            blob.truncate(to);
            let piece = if from == 0 { blob } else { blob[from..].to_vec() };
            if !emit(piece) {
                return Ok(());
            }
            pos = first + to as u64;
            i += 1;
        }
        Ok(())
    }
}
