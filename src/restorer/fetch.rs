//! Restoring the regular files of a batch pack by pack.
//!
//! Each file is created first (at its full size with `--sparse`, so that a hole can end it;
//! otherwise its writes give it its size). Then every blob the files need
//! is sorted by pack and offset, runs of them are read with one ranged read each (adjacent
//! blobs, or blobs with a small gap between them, up to [`MAX_READ`]), and each blob is written
//! at its offsets in every file that holds it. Compared with fetching file by file this makes
//! far fewer and larger requests, which is what remote storage rewards, and a blob that several
//! files share is read and decrypted once.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use rayon::prelude::*;

use super::target::{remove_at, stat_at, Target};
use super::{RestoreOptions, RestoreProgress};
use crate::error::{Error, Kind, Result};
use crate::format::pack::OpenedUnit;
use crate::format::tree::Node;
use crate::repo::{pack_path, BlobLocation, Repository};
use crate::util::sync::IgnorePoison;

/// Largest single read: large enough that remote requests are few, small enough that the
/// reads in flight (one per restore thread) stay within a few tens of MiB and spread over the
/// threads (a 16 MiB pack is read in two or more pieces).
const MAX_READ: u64 = 8 * 1024 * 1024;
/// Blobs closer than this in a pack are read together, gap included: one request costs more
/// than reading this much more.
const MAX_GAP: u64 = 256 * 1024;
/// Files restored together (a batch is restored in groups of this many). Every sealed unit
/// that holds blobs of a group's files is read and opened once for that group: small files
/// share a unit (a group of up to 4 MiB holds ~1,800 files of 2 KiB), so with groups of 256
/// files each unit was read, authenticated and decompressed up to seven times. The files of
/// a whole batch stay open until their metadata is applied, so this costs no descriptors.
const FILES_AT_ONCE: usize = super::BATCH;
/// Units of one read opened by one task at least: small enough that the blobs of a run of
/// small files spread over the threads, large enough that handing them out costs little.
const UNITS_PER_TASK: usize = 8;

pub(super) enum Outcome {
    /// Written; the file is still open (read and write), for its metadata and `--verify`.
    Restored(File),
    /// The overwrite policy kept an existing file.
    Skipped,
    Failed(String),
}

/// A file created at its size, with where each of its blobs is stored; `None` when the
/// overwrite policy keeps the existing file.
type Prepared = Option<(File, Vec<BlobLocation>)>;

/// One blob to put into one file.
struct Piece {
    loc: BlobLocation,
    file: usize,
    offset: u64,
}

/// Why nothing more can be written into the target: its file system is full (ENOSPC,
/// EDQUOT) or read-only (EROFS). Every later file would fail the same way, so the restore
/// stops at the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unwritable {
    Full,
    ReadOnly,
}

/// The first error that made the target unwritable, with the message it came with.
pub(super) type Stop = OnceLock<(Unwritable, String)>;

pub(super) fn unwritable(e: &std::io::Error) -> Option<Unwritable> {
    use nix::errno::Errno;
    match e.raw_os_error().map(Errno::from_raw)? {
        Errno::ENOSPC | Errno::EDQUOT => Some(Unwritable::Full),
        Errno::EROFS => Some(Unwritable::ReadOnly),
        _ => None,
    }
}

pub(super) fn error_unwritable(e: &Error) -> Option<Unwritable> {
    e.source.as_deref().and_then(|s| s.downcast_ref::<std::io::Error>()).and_then(unwritable)
}

/// Restore `files` (paths relative to the target); one outcome per file, in order, for the
/// files attempted. Once a write finds the target full or read-only, `stop` holds why and
/// no further file or read is started (every one would fail the same way).
pub(super) fn restore_files(
    repo: &Repository,
    files: &[(PathBuf, &Node)],
    target: &Target,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
    stop: &Stop,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(files.len());
    for group in files.chunks(FILES_AT_ONCE) {
        if crate::platform::interrupted() || stop.get().is_some() {
            break;
        }
        out.extend(restore_group(repo, group, target, opts, progress, stop));
    }
    out
}

fn restore_group(
    repo: &Repository,
    files: &[(PathBuf, &Node)],
    target: &Target,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
    stop: &Stop,
) -> Vec<Outcome> {
    let prepared: Vec<Result<Prepared>> =
        files.par_iter().map(|(rel, node)| prepare(repo, rel, node, target, opts, progress)).collect();
    let mut handles: Vec<Option<File>> = Vec::with_capacity(files.len());
    let failures: Vec<Mutex<Option<String>>> = (0..files.len()).map(|_| Mutex::new(None)).collect();
    let mut skipped = vec![false; files.len()];
    let mut pieces = vec![];
    for (i, p) in prepared.into_iter().enumerate() {
        match p {
            Ok(Some((f, locs))) => {
                let mut offset = 0;
                for loc in locs {
                    let len = loc.entry.raw_length as u64;
                    pieces.push(Piece { loc, file: i, offset });
                    offset += len;
                }
                handles.push(Some(f));
            }
            Ok(None) => {
                skipped[i] = true;
                handles.push(None);
            }
            Err(e) => {
                if let Some(u) = error_unwritable(&e) {
                    let _ = stop.set((u, e.message.clone()));
                }
                *failures[i].lock().ignore_poison() = Some(e.message);
                handles.push(None);
            }
        }
    }
    pieces.sort_by_key(|a| (a.loc.pack, a.loc.entry.offset, a.loc.entry.group_offset, a.file));
    let reads = group_reads(&pieces);
    let fail = |file: usize, msg: String| {
        let mut f = failures[file].lock().ignore_poison();
        if f.is_none() {
            *f = Some(msg);
        }
    };
    let sink = Sink { handles: &handles, opts, progress, fail: &fail, stop };
    reads.par_iter().for_each(|run| {
        let run = &pieces[run.clone()];
        // a file whose reads are skipped is not whole: never reported restored (its metadata
        // would be applied, and `--overwrite if-changed` would keep its holes on the next run)
        let stopped = if crate::platform::interrupted() {
            Some("not written: interrupted")
        } else if stop.get().is_some() {
            Some("not written: the target cannot be written")
        } else {
            None
        };
        if let Some(why) = stopped {
            for p in run {
                fail(p.file, why.into());
            }
            return;
        }
        if let Err(e) = fetch_run(repo, run, &sink) {
            for p in run {
                fail(p.file, e.message.clone());
            }
        }
    });
    handles
        .into_iter()
        .enumerate()
        .map(|(i, handle)| match (failures[i].lock().ignore_poison().take(), handle) {
            (Some(msg), _) => Outcome::Failed(msg),
            (None, _) if skipped[i] => Outcome::Skipped,
            (None, Some(f)) => Outcome::Restored(f),
            (None, None) => Outcome::Failed("not written".into()),
        })
        .collect()
}

/// Create the file, and find where its blobs are. `None`: keep the existing file (overwrite
/// policy). The file is made with `O_CREAT|O_EXCL|O_NOFOLLOW` in its parent's descriptor:
/// whatever appears at its name in between is never opened. Into an empty target (the usual
/// restore) that create is the only call: what is at the name is looked at only when the
/// create finds something there (`EEXIST`), and the file gets its size from its writes, so it
/// is truncated to its size only where holes may end it (`--sparse`).
fn prepare(
    repo: &Repository,
    rel: &Path,
    node: &Node,
    target: &Target,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
) -> Result<Prepared> {
    let full = || target.full(rel).display().to_string();
    let (dir, name) = target.parent(rel)?;
    let located = locate(repo, node);
    let create = || {
        nix::fcntl::openat(
            dir.as_fd(),
            name,
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
    };
    // content that cannot be located fails the file without creating it, after the
    // overwrite policy had its say about what is there (kept, or removed)
    let first = match &located {
        Ok(_) => create(),
        Err(_) => Err(nix::errno::Errno::EEXIST),
    };
    let fd = match first {
        Ok(fd) => fd,
        Err(nix::errno::Errno::EEXIST) => {
            if let Some(existing) = stat_at(&dir, name).map_err(|e| Error::io(full(), e))? {
                if !super::file::should_replace(&existing, node, opts.overwrite) {
                    return Ok(None);
                }
                remove_at(&dir, name).map_err(|e| Error::io(full(), e))?;
                progress.files_overwritten.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if located.is_err() {
                return located.map(|_| None);
            }
            create().map_err(|e| Error::io(full(), e.into()))?
        }
        Err(e) => return Err(Error::io(full(), e.into())),
    };
    let (locs, size) = located?;
    let f = File::from(fd);
    if opts.sparse && size > 0 {
        f.set_len(size).map_err(|e| Error::io(full(), e))?;
    }
    // inline content (format 4) is written here; blobs by the pack-by-pack fetch
    super::file::write_inline(&f, node).map_err(|e| Error::io(full(), e))?;
    progress.bytes_done.fetch_add(super::file::inline_len(node), std::sync::atomic::Ordering::Relaxed);
    Ok(Some((f, locs)))
}

/// Where each blob of `node`'s content is stored, and the size they add up to (which must be
/// the node's).
fn locate(repo: &Repository, node: &Node) -> Result<(Vec<BlobLocation>, u64)> {
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
    let size: u64 = locs.iter().map(|l| l.entry.raw_length as u64).sum::<u64>() + super::file::inline_len(node);
    if size != node.size {
        return Err(Error::corrupt(format!("the content adds up to {size} bytes, the snapshot records {}", node.size)));
    }
    Ok((locs, size))
}

/// Split the sorted pieces into runs, each read with one request.
fn group_reads(pieces: &[Piece]) -> Vec<std::ops::Range<usize>> {
    let mut runs = vec![];
    let mut start = 0;
    for i in 1..=pieces.len() {
        let split = i == pieces.len() || {
            let (first, prev, next) = (&pieces[start].loc, &pieces[i - 1].loc, &pieces[i].loc);
            let prev_end = prev.entry.offset as u64 + prev.entry.length as u64;
            let next_end = next.entry.offset as u64 + next.entry.length as u64;
            next.pack != first.pack
                || (next.entry.offset as u64) > prev_end + MAX_GAP
                || next_end - first.entry.offset as u64 > MAX_READ
        };
        if split {
            runs.push(start..i);
            start = i;
        }
    }
    runs
}

/// Read one run and write each of its blobs wherever it goes. A blob that fails to decrypt
/// fails only the files that hold it.
fn fetch_run(repo: &Repository, run: &[Piece], sink: &Sink<'_>) -> Result<()> {
    let first = &run[0].loc;
    let start = first.entry.offset as u64;
    let end = run.iter().map(|p| p.loc.entry.offset as u64 + p.loc.entry.length as u64).max().unwrap_or(start);
    // named by id: the read spells its path once, and this run again only for a message
    let pack = &first.pack;
    let bytes = match repo.read_pack_range(pack, start, end - start) {
        Ok(b) => b,
        Err(e) if e.kind == Kind::NotFound => {
            from_elsewhere(repo, run, &format!("{}: {}", pack_path(pack), e.message), sink);
            return Ok(());
        }
        Err(e) => return Err(e.context("reading pack")),
    };
    // the pieces of one sealed unit (a blob, or a group) are next to each other; the units
    // are opened on every thread (one run can hold the blobs of hundreds of small files,
    // which a single thread would otherwise decrypt, decompress and write alone)
    let mut units = vec![];
    let mut i = 0;
    while i < run.len() {
        let mut j = i + 1;
        while j < run.len() && run[j].loc.entry.same_unit(&run[i].loc.entry) {
            j += 1;
        }
        units.push(i..j);
        i = j;
    }
    units.into_par_iter().with_min_len(UNITS_PER_TASK).for_each(|unit| {
        let pieces = &run[unit];
        let entry = &pieces[0].loc.entry;
        let o = (entry.offset as u64 - start) as usize;
        let need = pieces.iter().map(|p| p.loc.entry.plain_end()).max().unwrap_or(0);
        match bytes.get(o..o + entry.length as usize).map(|sealed| repo.open_unit(entry, sealed, need)) {
            Some(Ok(unit)) => put_blobs(repo, &unit, pieces, pack, sink),
            Some(Err(e)) => from_elsewhere(repo, pieces, &format!("{}: {}", pack_path(pack), e.message), sink),
            None => from_elsewhere(repo, pieces, &format!("{}: shorter than its index says", pack_path(pack)), sink),
        }
    });
    Ok(())
}

/// Where the blobs read go: the files being restored, and who hears of progress and failures.
struct Sink<'a> {
    handles: &'a [Option<File>],
    opts: &'a RestoreOptions,
    progress: &'a RestoreProgress,
    fail: &'a (dyn Fn(usize, String) + Sync),
    /// Set by the first write that finds the target full or read-only.
    stop: &'a Stop,
}

impl Sink<'_> {
    fn write_failed(&self, file: usize, e: std::io::Error) {
        if let Some(u) = unwritable(&e) {
            let _ = self.stop.set((u, format!("writing: {e}")));
        }
        (self.fail)(file, format!("writing: {e}"));
    }
}

/// Write the blobs of one opened unit into the files that hold them; each blob is verified
/// once, however many files hold it (pieces of one blob are next to each other).
fn put_blobs(repo: &Repository, unit: &OpenedUnit, pieces: &[Piece], pack: &crate::id::PackId, sink: &Sink<'_>) {
    let Sink { handles, opts, progress, .. } = sink;
    let mut i = 0;
    while i < pieces.len() {
        let mut j = i + 1;
        while j < pieces.len() && pieces[j].loc.entry.id == pieces[i].loc.entry.id {
            j += 1;
        }
        match repo.unit_blob(unit, &pieces[i].loc.entry) {
            Ok(plain) => {
                let hole = opts.sparse && plain.iter().all(|&b| b == 0);
                for p in &pieces[i..j] {
                    let Some(f) = &handles[p.file] else { continue };
                    if !hole {
                        if let Err(e) = f.write_all_at(plain, p.offset) {
                            sink.write_failed(p.file, e);
                        }
                    }
                    progress.bytes_done.fetch_add(plain.len() as u64, Ordering::Relaxed);
                }
            }
            Err(e) => from_elsewhere(repo, &pieces[i..j], &format!("{}: {}", pack_path(pack), e.message), sink),
        }
        i = j;
    }
}

/// Blobs whose unit could not be read, opened or verified where `pieces` locate them (`why`
/// says so): each is read from the other locations the index holds (format-spec/v3.md
/// §11.4, warning about the bad one) and written wherever it goes; a file fails only when no
/// location serves its blob.
fn from_elsewhere(repo: &Repository, pieces: &[Piece], why: &str, sink: &Sink<'_>) {
    let mut i = 0;
    while i < pieces.len() {
        let mut j = i + 1;
        while j < pieces.len() && pieces[j].loc.entry.id == pieces[i].loc.entry.id {
            j += 1;
        }
        let loc = &pieces[i].loc;
        tracing::warn!("data blob {}: {why}; trying its other locations", loc.entry.id);
        match repo.read_blob_except(crate::format::BlobType::Data, &loc.entry.id, Some(&loc.pack)) {
            Ok(plain) => {
                for p in &pieces[i..j] {
                    let Some(f) = &sink.handles[p.file] else { continue };
                    if let Err(e) = f.write_all_at(&plain, p.offset) {
                        sink.write_failed(p.file, e);
                    }
                    sink.progress.bytes_done.fetch_add(plain.len() as u64, Ordering::Relaxed);
                }
            }
            Err(e) => {
                for p in &pieces[i..j] {
                    (sink.fail)(p.file, format!("{why} ({})", e.message));
                }
            }
        }
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::PackEntry;
    use crate::format::BlobType;
    use crate::id::{BlobId, PackId};

    fn piece(pack: u8, offset: u32, length: u32) -> Piece {
        let entry = PackEntry {
            blob_type: BlobType::Data,
            id: BlobId([0; 32]),
            offset,
            length,
            raw_length: length,
            group_offset: None,
        };
        Piece { loc: BlobLocation { pack: PackId([pack; 32]), entry }, file: 0, offset: 0 }
    }

    #[test]
    fn reads_merge_close_blobs_of_one_pack_and_split_at_gaps_packs_and_size() {
        let mb = 1024 * 1024;
        let pieces = vec![
            piece(1, 0, 100),
            piece(1, 100, 100),         // adjacent
            piece(1, 100, 100),         // the same blob again (another file)
            piece(1, 300, 100),         // a small gap
            piece(1, 300 + mb, 100),    // a gap above MAX_GAP
            piece(2, 0, 100),           // another pack
            piece(2, 100, 7 * mb),      // still within MAX_READ
            piece(2, 100 + 7 * mb, mb), // would pass MAX_READ
        ];
        assert_eq!(group_reads(&pieces), vec![0..4, 4..5, 5..7, 7..8]);
        assert!(group_reads(&[]).is_empty());
    }
}
