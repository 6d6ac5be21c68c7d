//! The overwrite policy for one file, and verifying a restored file.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::Overwrite;
use crate::error::{Error, Kind, Result};
use crate::format::tree::Node;
use crate::repo::Repository;

/// Does the overwrite policy let a restore replace `m`, what is at a file's path?
pub(super) fn should_replace(m: &std::fs::Metadata, node: &Node, policy: Overwrite) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mtime = crate::format::tree::Time::new(m.mtime(), m.mtime_nsec());
    match policy {
        Overwrite::Always => true,
        Overwrite::Never => false,
        Overwrite::IfNewer => node.mtime > mtime,
        Overwrite::IfChanged => !(m.is_file() && m.len() == node.size && mtime == node.mtime),
    }
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
