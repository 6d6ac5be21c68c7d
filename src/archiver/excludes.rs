//! What a backup leaves out: paths matching the exclude [`Patterns`], directories holding a
//! marker file (`--exclude-if-present NAME[:HEADER]`, `--exclude-caches` for a CACHEDIR.TAG
//! with its signature) and files larger than a limit (`--exclude-larger-than`).
//!
//! Only the patterns are a pure function of the path; markers and sizes are decided while the
//! walker looks at live files, so they live here, with the archiver. A marker is read only if
//! it is a regular file: never through a symlink, never waiting on a FIFO another user planted.

use std::path::Path;

use crate::patterns::Patterns;

/// The name of a cache directory's tag file (<https://bford.info/cachedir/>).
pub const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
/// The first bytes a CACHEDIR.TAG must hold to count.
pub const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// Backup's exclude set: patterns, marker files and a size limit.
#[derive(Default, Clone)]
pub struct BackupExcludes {
    patterns: Patterns,
    /// `NAME` or `NAME:HEADER`: skip a directory containing NAME (starting with HEADER).
    if_present: Vec<(String, Option<Vec<u8>>)>,
    /// Skip files larger than this many bytes.
    pub larger_than: Option<u64>,
}

impl BackupExcludes {
    /// Leave out what `patterns` match; no markers, no size limit yet.
    pub fn new(patterns: Patterns) -> Self {
        BackupExcludes { patterns, if_present: vec![], larger_than: None }
    }

    /// Skip directories holding a CACHEDIR.TAG that starts with its signature.
    pub fn exclude_caches(&mut self) {
        self.if_present.push((CACHEDIR_TAG.into(), Some(CACHEDIR_SIGNATURE.to_vec())));
    }

    /// Skip directories holding `NAME`, or with `NAME:HEADER` a regular file `NAME` that
    /// starts with HEADER.
    pub fn exclude_if_present(&mut self, spec: &str) {
        match spec.split_once(':') {
            Some((name, header)) => self.if_present.push((name.into(), Some(header.as_bytes().to_vec()))),
            None => self.if_present.push((spec.into(), None)),
        }
    }

    /// Does an exclude pattern match the absolute path `path`?
    pub fn matches_path(&self, path: &Path) -> bool {
        self.patterns.matches_path(path)
    }

    /// Should a file of `size` bytes be skipped?
    pub fn too_large(&self, size: u64) -> bool {
        self.larger_than.is_some_and(|l| size > l)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_need_their_header_in_a_regular_file_and_sizes_are_strict() {
        let d = tempfile::tempdir().unwrap();
        let (tagged, fake, linked, plain) =
            (d.path().join("t"), d.path().join("f"), d.path().join("l"), d.path().join("p"));
        for p in [&tagged, &fake, &linked, &plain] {
            std::fs::create_dir(p).unwrap();
        }
        let mut sig = CACHEDIR_SIGNATURE.to_vec();
        sig.extend_from_slice(b"\n# a cache\n");
        std::fs::write(tagged.join(CACHEDIR_TAG), &sig).unwrap();
        std::fs::write(fake.join(CACHEDIR_TAG), b"Signature: not the one").unwrap();
        // a symlink to a real tag does not count: the tag must be the directory's own file
        std::os::unix::fs::symlink(tagged.join(CACHEDIR_TAG), linked.join(CACHEDIR_TAG)).unwrap();
        std::fs::write(plain.join(".nobackup"), b"").unwrap();

        let mut ex = BackupExcludes::new(Patterns::new(&["*.tmp".into()], &[]).unwrap());
        assert!(!ex.dir_has_marker(&tagged), "no markers asked for yet");
        ex.exclude_caches();
        assert!(ex.dir_has_marker(&tagged));
        assert!(!ex.dir_has_marker(&fake));
        assert!(!ex.dir_has_marker(&linked));
        assert!(!ex.dir_has_marker(&plain));
        ex.exclude_if_present(".nobackup");
        assert!(ex.dir_has_marker(&plain));

        assert!(ex.matches_path(Path::new("/a/b.tmp")) && !ex.matches_path(Path::new("/a/b.txt")));
        assert!(!ex.too_large(u64::MAX), "no limit by default");
        ex.larger_than = Some(10);
        assert!(!ex.too_large(10) && ex.too_large(11));
    }
}
