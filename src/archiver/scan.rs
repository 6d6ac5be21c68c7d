//! The scan ahead: a second, cheap walk of the sources beside the backup's own, which only
//! counts the files and bytes the backup will see, so progress can say "of how many" (restic's
//! scanner does the same).
//!
//! It applies the walker's rules for what is left out (exclude patterns, marker files, size
//! limit, `--one-file-system`), counts regular files and their sizes as `lstat` gives them,
//! and keeps nothing else: memory is one open directory listing per level of the current path,
//! whatever the tree's size. It reads no file and follows no symlink. It stops as soon as the
//! backup ends (the `stop` flag), so a backup never waits for its scan; the totals are marked
//! final only when the scan saw everything. The numbers are a forecast, not a record: an entry
//! it cannot read is skipped without a warning (the walker reports it), and a tree that
//! changes during the backup makes them differ from what the backup stores.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{BackupOptions, Progress};

/// The sources the walker visits: cleaned, sorted, and without those below another source.
pub(super) fn roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut cleaned: Vec<PathBuf> = paths.iter().map(|p| super::walker::clean(p)).collect();
    cleaned.sort();
    cleaned.dedup();
    let mut out: Vec<PathBuf> = vec![];
    for p in cleaned {
        if !out.iter().any(|root| p.starts_with(root)) {
            out.push(p);
        }
    }
    out
}

/// Count what a backup of `paths` will see into `progress.total_files`/`total_bytes`, until
/// done or `stop` is set; at the end of a complete scan set `progress.scan_finished`.
pub fn scan(paths: &[PathBuf], opts: &BackupOptions, progress: &Progress, stop: &AtomicBool) {
    let stopped = || stop.load(Ordering::Relaxed) || crate::platform::interrupted();
    for root in roots(paths) {
        let Ok(m) = root.symlink_metadata() else { continue };
        let dev = m.dev();
        if !count(&root, &m, true, dev, opts, progress) {
            continue;
        }
        // one open listing per level below the source
        let mut stack: Vec<(PathBuf, std::fs::ReadDir)> = match std::fs::read_dir(&root) {
            Ok(rd) => vec![(root.clone(), rd)],
            Err(_) => continue,
        };
        while let Some((dir, listing)) = stack.last_mut() {
            if stopped() {
                return;
            }
            let Some(entry) = listing.next() else {
                stack.pop();
                continue;
            };
            let Ok(entry) = entry else { continue };
            let path = dir.join(entry.file_name());
            // `DirEntry::metadata` does not follow a symlink
            let Ok(m) = entry.metadata() else { continue };
            if count(&path, &m, false, dev, opts, progress) {
                if let Ok(rd) = std::fs::read_dir(&path) {
                    stack.push((path, rd));
                }
            }
        }
    }
    if !stopped() {
        progress.scan_finished.store(true, Ordering::Release);
    }
}

/// Count one entry by the walker's rules; true if it is a directory the walk enters.
fn count(path: &Path, m: &std::fs::Metadata, is_source: bool, dev: u64, opts: &BackupOptions, p: &Progress) -> bool {
    let ex = &opts.excludes;
    if ex.matches_path(path) {
        return false;
    }
    let kind = m.file_type();
    if kind.is_dir() {
        if ex.dir_has_marker(path) {
            return false;
        }
        return !(opts.one_file_system && !is_source && m.dev() != dev);
    }
    if kind.is_file() && !ex.too_large(m.len()) {
        p.total_files.fetch_add(1, Ordering::Relaxed);
        p.total_bytes.fetch_add(m.len(), Ordering::Relaxed);
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::archiver::BackupExcludes;
    use crate::patterns::Patterns;

    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        std::fs::create_dir_all(r.join("a/b/c")).unwrap();
        std::fs::create_dir_all(r.join("skip")).unwrap();
        std::fs::create_dir_all(r.join("cache")).unwrap();
        std::fs::write(r.join("top.txt"), vec![1u8; 100]).unwrap();
        std::fs::write(r.join("a/one"), vec![2u8; 1000]).unwrap();
        std::fs::write(r.join("a/b/two.log"), vec![3u8; 10]).unwrap();
        std::fs::write(r.join("a/b/c/big"), vec![4u8; 50_000]).unwrap();
        std::fs::write(r.join("skip/hidden"), vec![5u8; 7]).unwrap();
        std::fs::write(r.join("cache/blob"), vec![6u8; 9]).unwrap();
        std::fs::write(r.join("cache/.nobackup"), b"").unwrap();
        // a symlink to a directory is a leaf: neither followed nor counted as a file
        std::os::unix::fs::symlink(r.join("a"), r.join("link")).unwrap();
        tmp
    }

    fn totals(opts: &BackupOptions, paths: &[PathBuf]) -> (u64, u64, bool) {
        let p = Progress::default();
        scan(paths, opts, &p, &AtomicBool::new(false));
        (
            p.total_files.load(Ordering::Relaxed),
            p.total_bytes.load(Ordering::Relaxed),
            p.scan_finished.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn counts_every_regular_file_and_its_bytes_exactly() {
        let t = tree();
        let (files, bytes, finished) = totals(&BackupOptions::default(), &[t.path().to_path_buf()]);
        assert_eq!((files, bytes, finished), (7, 100 + 1000 + 10 + 50_000 + 7 + 9, true));
    }

    #[test]
    fn nested_and_repeated_sources_are_counted_once() {
        let t = tree();
        let r = t.path();
        let paths = [r.join("a"), r.join("a/b"), r.join("a/./b/../b"), r.join("top.txt"), r.join("a")];
        assert_eq!(totals(&BackupOptions::default(), &paths), (4, 1000 + 10 + 50_000 + 100, true));
    }

    #[test]
    fn excludes_markers_and_size_limits_are_respected() {
        let t = tree();
        let pat = Patterns::new(&["*.log".to_string(), format!("{}/skip", t.path().display())], &[]).unwrap();
        let mut ex = BackupExcludes::new(pat);
        ex.exclude_if_present(".nobackup");
        ex.larger_than = Some(20_000);
        let opts = BackupOptions { excludes: ex, ..Default::default() };
        // left: top.txt (100) and a/one (1000)
        assert_eq!(totals(&opts, &[t.path().to_path_buf()]), (2, 1100, true));
    }

    #[test]
    fn stops_at_once_when_the_backup_ends_and_says_the_totals_are_not_final() {
        let t = tree();
        let p = Progress::default();
        scan(&[t.path().to_path_buf()], &BackupOptions::default(), &p, &AtomicBool::new(true));
        assert!(!p.scan_finished.load(Ordering::Relaxed));
        // the root's listing is opened, but no entry of it is looked at
        assert_eq!(p.total_files.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_missing_source_is_skipped_and_the_rest_counted() {
        let t = tree();
        let paths = [t.path().join("nothing-here"), t.path().join("top.txt")];
        assert_eq!(totals(&BackupOptions::default(), &paths), (1, 100, true));
    }
}
