//! Path patterns with restic's semantics, as a pure matcher: a pattern that starts with `/` is
//! matched against the whole absolute path; any other pattern against every path suffix (so
//! `*.o` matches such files anywhere, `build/tmp` any `.../build/tmp`). `*` doesn't cross `/`,
//! `**` does. Excluding a directory excludes everything below it (the walkers stop there).
//!
//! [`Patterns`] only matches paths: it touches no file system. Restore and rewrite take it for
//! their includes and excludes; backup wraps it in the archiver's exclude set, which adds what
//! only a walk of live files can decide (marker files, sizes: `archiver::excludes`).

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};

/// A set of restic patterns, some matched case-insensitively; empty matches nothing.
#[derive(Default, Clone)]
pub struct Patterns {
    set: Option<GlobSet>,
}

impl Patterns {
    /// `patterns` matched as written, `ipatterns` case-insensitively. Blank lines and `#`
    /// comments are skipped; a trailing `/` is ignored.
    pub fn new(patterns: &[String], ipatterns: &[String]) -> Result<Self> {
        let mut b = GlobSetBuilder::new();
        let mut any = false;
        for (list, ci) in [(patterns, false), (ipatterns, true)] {
            for p in list.iter().map(|p| p.trim()).filter(|p| !p.is_empty() && !p.starts_with('#')) {
                let full = if p.starts_with('/') {
                    p.trim_end_matches('/').to_string()
                } else {
                    format!("**/{}", p.trim_end_matches('/'))
                };
                let g = GlobBuilder::new(&full)
                    .literal_separator(true)
                    .case_insensitive(ci)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| Error::usage(format!("invalid exclude pattern {p:?}: {e}")))?;
                b.add(g);
                any = true;
            }
        }
        let set = if any { Some(b.build().map_err(|e| Error::usage(format!("exclude patterns: {e}")))?) } else { None };
        Ok(Patterns { set })
    }

    /// Does any pattern match the absolute path `path`?
    pub fn matches_path(&self, path: &Path) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(path))
    }
}

/// Read patterns from a file (one per line, `#` comments, blank lines ignored).
pub fn read_pattern_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
}

/// Patterns given directly plus those in pattern files (`--exclude` with `--exclude-file`,
/// and the case-insensitive pair), as one [`Patterns`]; also returns every pattern used.
pub fn from_flags_and_files(
    patterns: &[String],
    ipatterns: &[String],
    files: &[std::path::PathBuf],
    ifiles: &[std::path::PathBuf],
) -> Result<(Patterns, Vec<String>)> {
    let mut pats = patterns.to_vec();
    let mut ipats = ipatterns.to_vec();
    for f in files {
        pats.extend(read_pattern_file(f)?);
    }
    for f in ifiles {
        ipats.extend(read_pattern_file(f)?);
    }
    let ex = Patterns::new(&pats, &ipats)?;
    pats.extend(ipats);
    Ok((ex, pats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_semantics() {
        let e = Patterns::new(&["*.o".into(), "/tmp/x".into(), "build/cache".into()], &["*.ISO".into()]).unwrap();
        assert!(e.matches_path(Path::new("/home/a/b.o")));
        assert!(!e.matches_path(Path::new("/home/a/b.oo")));
        assert!(e.matches_path(Path::new("/tmp/x")));
        assert!(!e.matches_path(Path::new("/home/tmp/x")));
        assert!(e.matches_path(Path::new("/p/build/cache")));
        assert!(e.matches_path(Path::new("/p/disk.iso")));
        assert!(!Patterns::new(&[], &[]).unwrap().matches_path(Path::new("/a")));
    }
}
