//! Path patterns (excludes and includes) with restic's semantics: a pattern that starts with `/` is matched against
//! the whole absolute path; any other pattern against every path suffix (so `*.o` excludes
//! such files anywhere, `build/tmp` any `.../build/tmp`). `*` doesn't cross `/`, `**` does.
//! Excluding a directory excludes everything below it.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};

pub const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
pub const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

#[derive(Default, Clone)]
pub struct Excludes {
    set: Option<GlobSet>,
    /// `NAME` or `NAME:HEADER`: skip a directory containing NAME (starting with HEADER).
    if_present: Vec<(String, Option<Vec<u8>>)>,
    pub larger_than: Option<u64>,
}

impl Excludes {
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
        Ok(Excludes { set, if_present: vec![], larger_than: None })
    }

    pub fn exclude_caches(&mut self) {
        self.if_present.push((CACHEDIR_TAG.into(), Some(CACHEDIR_SIGNATURE.to_vec())));
    }

    pub fn exclude_if_present(&mut self, spec: &str) {
        match spec.split_once(':') {
            Some((name, header)) => self.if_present.push((name.into(), Some(header.as_bytes().to_vec()))),
            None => self.if_present.push((spec.into(), None)),
        }
    }

    pub fn matches_path(&self, path: &Path) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(path))
    }

    /// Should the directory at `dir` be skipped because of a marker file?
    pub fn dir_has_marker(&self, dir: &Path) -> bool {
        self.if_present.iter().any(|(name, header)| {
            let f = dir.join(name);
            match header {
                None => f.symlink_metadata().is_ok(),
                Some(h) => {
                    use std::io::Read;
                    let mut buf = vec![0u8; h.len()];
                    use std::os::unix::fs::OpenOptionsExt;
                    // a marker must be a regular file: never follow a symlink, never wait on a FIFO
                    std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
                        .open(&f)
                        .and_then(|mut file| {
                            if !file.metadata()?.is_file() {
                                return Err(std::io::Error::other("not a regular file"));
                            }
                            file.read_exact(&mut buf)
                        })
                        .is_ok()
                        && &buf == h
                }
            }
        })
    }
}

/// Read patterns from a file (one per line, `#` comments, blank lines ignored).
pub fn read_pattern_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
}

/// Patterns given directly plus those in pattern files (`--exclude` with `--exclude-file`,
/// and the case-insensitive pair), as one [`Excludes`]; also returns every pattern used.
pub fn from_flags_and_files(
    patterns: &[String],
    ipatterns: &[String],
    files: &[std::path::PathBuf],
    ifiles: &[std::path::PathBuf],
) -> Result<(Excludes, Vec<String>)> {
    let mut pats = patterns.to_vec();
    let mut ipats = ipatterns.to_vec();
    for f in files {
        pats.extend(read_pattern_file(f)?);
    }
    for f in ifiles {
        ipats.extend(read_pattern_file(f)?);
    }
    let ex = Excludes::new(&pats, &ipats)?;
    pats.extend(ipats);
    Ok((ex, pats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_semantics() {
        let e = Excludes::new(&["*.o".into(), "/tmp/x".into(), "build/cache".into()], &["*.ISO".into()]).unwrap();
        assert!(e.matches_path(Path::new("/home/a/b.o")));
        assert!(!e.matches_path(Path::new("/home/a/b.oo")));
        assert!(e.matches_path(Path::new("/tmp/x")));
        assert!(!e.matches_path(Path::new("/home/tmp/x")));
        assert!(e.matches_path(Path::new("/p/build/cache")));
        assert!(e.matches_path(Path::new("/p/disk.iso")));
        assert!(!Excludes::new(&[], &[]).unwrap().matches_path(Path::new("/a")));
    }
}
