//! `arca dump`: one file's content to a writer, or a directory as a tar or zip archive.
//!
//! tar carries everything a tree holds: long and non-UTF-8 names (GNU long-name records),
//! mode, owner ids and names, times to the nanosecond and xattrs (PAX records
//! `mtime`/`atime`/`SCHILY.xattr.*`), hard links, symlinks, devices and fifos. Entries are
//! named by their path in the snapshot without the leading `/`, as restic does. zip holds
//! names (as UTF-8), permissions, times to two seconds and symlinks; sockets, devices and
//! fifos are left out of both where the format has no place for them.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::tree::{Node, NodeKind, Time};
use crate::format::BlobType;
use crate::id::{BlobId, TreeId};
use crate::repo::Repository;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    Tar,
    Zip,
}

impl std::str::FromStr for Archive {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tar" => Ok(Archive::Tar),
            "zip" => Ok(Archive::Zip),
            _ => Err(Error::usage(format!("unknown archive format {s:?}")).hint("use tar or zip")),
        }
    }
}

/// A file's content as a stream, one blob at a time.
pub struct ContentReader<'a> {
    repo: &'a Repository,
    ids: std::vec::IntoIter<BlobId>,
    buf: Vec<u8>,
    pos: usize,
}

impl<'a> ContentReader<'a> {
    pub fn new(repo: &'a Repository, node: &Node) -> Result<Self> {
        if let Some(b) = &node.inline {
            // stored in the node (format 4): the whole content, no blobs
            return Ok(ContentReader { repo, ids: Vec::new().into_iter(), buf: b.to_vec(), pos: 0 });
        }
        Ok(ContentReader { repo, ids: repo.file_content(node)?.into_iter(), buf: vec![], pos: 0 })
    }
}

impl Read for ContentReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let Some(id) = self.ids.next() else { return Ok(0) };
            self.buf = self.repo.read_blob(BlobType::Data, &id).map_err(std::io::Error::other)?;
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Write one file's content; checks that it has the size the snapshot recorded.
pub fn dump_file(repo: &Repository, node: &Node, out: &mut dyn Write) -> Result<u64> {
    let n = std::io::copy(&mut ContentReader::new(repo, node)?, out).map_err(|e| io_error("writing the file", e))?;
    if n != node.size {
        return Err(Error::corrupt(format!(
            "{}: {n} bytes of content, the snapshot says {}",
            node.name_lossy(),
            node.size
        )));
    }
    Ok(n)
}

/// An I/O error while writing: the repository's own error when reading content failed,
/// else what was being written and why.
fn io_error(what: &str, e: std::io::Error) -> Error {
    let shown = e.to_string();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(err)) => *err,
        _ => Error::new(Kind::Io, format!("{what}: {shown}")),
    }
}

/// What a dump wrote.
#[derive(Debug, Default, serde::Serialize)]
pub struct DumpStats {
    pub files: u64,
    pub dirs: u64,
    pub others: u64,
    pub bytes: u64,
    /// Nodes the archive format has no place for (sockets; devices and fifos in zip).
    pub skipped: Vec<String>,
}

/// Dump a directory as an archive: `path` is where it is in the snapshot, `top` its node
/// (none for a snapshot's root), `tree` its content.
pub fn dump_dir(
    repo: &Repository,
    path: &Path,
    top: Option<&Node>,
    tree: &TreeId,
    format: Archive,
    out: &mut dyn Write,
) -> Result<DumpStats> {
    let mut st = DumpStats::default();
    let base = path.strip_prefix("/").unwrap_or(path).to_path_buf();
    match format {
        Archive::Tar => {
            let mut w = TarWriter { b: tar::Builder::new(out), links: HashMap::new() };
            w.b.mode(tar::HeaderMode::Complete);
            if let Some(n) = top {
                w.add(repo, &base, n, &mut st)?;
            }
            walk(repo, &base, tree, &mut |p, n| w.add(repo, p, n, &mut st))?;
            w.b.finish().map_err(|e| io_error("finishing the tar archive", e))?;
        }
        Archive::Zip => {
            let mut z = zip::ZipWriter::new_stream(out);
            if let Some(n) = top {
                zip_add(repo, &mut z, &base, n, &mut st)?;
            }
            walk(repo, &base, tree, &mut |p, n| zip_add(repo, &mut z, p, n, &mut st))?;
            z.finish().map_err(|e| Error::new(Kind::Io, format!("finishing the zip archive: {e}")))?;
        }
    }
    Ok(st)
}

/// Depth first, parents before children, in tree order.
fn walk(repo: &Repository, dir: &Path, tree: &TreeId, f: &mut dyn FnMut(&Path, &Node) -> Result<()>) -> Result<()> {
    for n in repo.load_tree(tree).ctx_object(dir.display())?.nodes {
        let p = dir.join(OsStr::from_bytes(&n.name));
        f(&p, &n)?;
        if let (NodeKind::Dir, Some(sub)) = (n.kind, &n.subtree) {
            crate::format::tree::check_depth(p.components().count(), &p.display())?;
            walk(repo, &p, sub, f)?;
        }
    }
    Ok(())
}

struct TarWriter<'w> {
    b: tar::Builder<&'w mut dyn Write>,
    /// Files with several links: (device, inode) → the path stored first.
    links: HashMap<(u64, u64), PathBuf>,
}

/// Seconds for the tar header's own field (which holds no time before 1970; the PAX record
/// holds the exact time).
fn secs(t: Time) -> u64 {
    t.secs.max(0) as u64
}

/// A PAX time record: a decimal number of seconds, negative before 1970 (-1.25 is a quarter
/// of a second after -2 s, so the fraction counts back from the second above).
fn pax_time(t: Time) -> String {
    match (t.secs < 0, t.nanos) {
        (true, n) if n > 0 => format!("-{}.{:09}", -(t.secs + 1), 1_000_000_000 - n),
        _ => format!("{}.{:09}", t.secs, t.nanos),
    }
}

impl TarWriter<'_> {
    fn add(&mut self, repo: &Repository, path: &Path, n: &Node, st: &mut DumpStats) -> Result<()> {
        let err = |e: std::io::Error| io_error(&format!("adding {} to the tar archive", path.display()), e);
        let mut h = tar::Header::new_gnu();
        h.set_mode(n.mode);
        h.set_uid(n.uid as u64);
        h.set_gid(n.gid as u64);
        h.set_mtime(secs(n.mtime));
        // names longer than the header's field are left out rather than cut
        let _ = h.set_username(&n.user);
        let _ = h.set_groupname(&n.group);
        h.set_size(0);
        let mut pax: Vec<(String, Vec<u8>)> = vec![("mtime".into(), pax_time(n.mtime).into_bytes())];
        if !n.atime.is_zero() {
            pax.push(("atime".into(), pax_time(n.atime).into_bytes()));
        }
        for x in &n.xattrs {
            pax.push((format!("SCHILY.xattr.{}", String::from_utf8_lossy(&x.name)), x.value.to_vec()));
        }
        self.b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).map_err(err)?;
        match n.kind {
            NodeKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                self.b.append_data(&mut h, path, std::io::empty()).map_err(err)?;
                st.dirs += 1;
            }
            NodeKind::File => {
                if n.links > 1 {
                    if let Some(first) = self.links.get(&(n.device, n.inode)) {
                        h.set_entry_type(tar::EntryType::Link);
                        self.b.append_link(&mut h, path, first).map_err(err)?;
                        st.files += 1;
                        return Ok(());
                    }
                    self.links.insert((n.device, n.inode), path.to_path_buf());
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(n.size);
                let mut r = ContentReader::new(repo, n)?;
                self.b.append_data(&mut h, path, &mut r).map_err(err)?;
                if r.ids.len() > 0 || r.pos != r.buf.len() {
                    return Err(Error::corrupt(format!("{}: more content than its size", path.display())));
                }
                st.files += 1;
                st.bytes = st.bytes.saturating_add(n.size);
            }
            NodeKind::Symlink => {
                h.set_entry_type(tar::EntryType::Symlink);
                let target = n.link_target.as_deref().map(|t| OsStr::from_bytes(t)).unwrap_or_default();
                self.b.append_link(&mut h, path, target).map_err(err)?;
                st.others += 1;
            }
            NodeKind::Chardev | NodeKind::Blockdev | NodeKind::Fifo => {
                h.set_entry_type(match n.kind {
                    NodeKind::Chardev => tar::EntryType::Char,
                    NodeKind::Blockdev => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                let rdev = n.rdev as nix::libc::dev_t;
                h.set_device_major(nix::libc::major(rdev)).map_err(err)?;
                h.set_device_minor(nix::libc::minor(rdev)).map_err(err)?;
                self.b.append_data(&mut h, path, std::io::empty()).map_err(err)?;
                st.others += 1;
            }
            NodeKind::Socket => st.skipped.push(path.display().to_string()),
        }
        Ok(())
    }
}

fn zip_add<W: Write>(
    repo: &Repository,
    z: &mut zip::ZipWriter<zip::write::StreamWriter<W>>,
    path: &Path,
    n: &Node,
    st: &mut DumpStats,
) -> Result<()> {
    let err =
        |e: zip::result::ZipError| Error::new(Kind::Io, format!("adding {} to the zip archive: {e}", path.display()));
    let name = path.to_string_lossy().into_owned();
    let mut opts =
        zip::write::SimpleFileOptions::default().unix_permissions(n.mode).large_file(n.size >= u32::MAX as u64);
    if let Some(t) = zip_time(n.mtime) {
        opts = opts.last_modified_time(t);
    }
    match n.kind {
        NodeKind::Dir => {
            z.add_directory(name, opts).map_err(err)?;
            st.dirs += 1;
        }
        NodeKind::File => {
            let opts = opts.compression_method(zip::CompressionMethod::Deflated);
            z.start_file(name, opts).map_err(err)?;
            st.bytes += dump_file(repo, n, z).ctx_object(path.display())?;
            st.files += 1;
        }
        NodeKind::Symlink => {
            let target = n.link_target.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
            z.add_symlink(name, target, opts).map_err(err)?;
            st.others += 1;
        }
        _ => st.skipped.push(path.display().to_string()),
    }
    Ok(())
}

/// A zip (DOS) time in UTC: 1980 to 2107, two-second steps.
fn zip_time(t: Time) -> Option<zip::DateTime> {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp(t.secs, 0)?;
    zip::DateTime::from_date_and_time(
        u16::try_from(t.year()).ok()?,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .ok()
}

/// `arca dump SNAPSHOT PATH`: the file at `path` as itself, a directory (or the whole snapshot
/// for `/`) as an archive, into `out`; the repository is locked for reading meanwhile.
/// `to_terminal`: `out` is a terminal, which gets a file but never an archive.
pub fn run(
    repo: &Repository,
    selector: &str,
    filter: &super::Filter,
    path: &str,
    format: Archive,
    out: &mut dyn Write,
    to_terminal: bool,
) -> Result<DumpStats> {
    let _lock = repo.lock_read("dump")?;
    let (id, snap) = super::select(repo, selector, filter)?;
    let found = repo.find_path(&snap.tree, path)?;
    if to_terminal && found.as_ref().is_none_or(|n| n.kind == NodeKind::Dir) {
        return Err(Error::usage(format!(
            "{path} in snapshot {} is a directory: refusing to write a {} archive to a terminal",
            id.short(),
            match format {
                Archive::Tar => "tar",
                Archive::Zip => "zip",
            }
        ))
        .hint("write it to a file with `--target FILE`, or pipe it: `arca dump … | tar -t`"));
    }
    match found {
        Some(n) if n.kind == NodeKind::File => {
            dump_file(repo, &n, out)?;
            Ok(DumpStats::default())
        }
        Some(n) if n.kind == NodeKind::Dir => {
            let tree = n.subtree.ok_or_else(|| Error::corrupt(format!("{path}: a directory without a tree")))?;
            dump_dir(repo, std::path::Path::new(path), Some(&n), &tree, format, out)
        }
        None => dump_dir(repo, std::path::Path::new("/"), None, &snap.tree, format, out),
        Some(n) => Err(Error::usage(format!(
            "{path} in snapshot {} is a {}: dump writes files and directories",
            id.short(),
            n.kind.as_str()
        ))),
    }
}
