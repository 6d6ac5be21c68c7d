//! The one place arca maps a file into memory (the only `unsafe` call of the cache): the
//! blob index table, read-only. `cargo xtask layers` keeps memmap2 in this file.

/// The first `len` bytes of a mapping: the table without its MAC trailer.
pub struct Prefix {
    map: memmap2::Mmap,
    len: usize,
}

impl Prefix {
    /// `len` is at most the mapping's length (the caller took it from there).
    pub fn new(map: memmap2::Mmap, len: usize) -> Prefix {
        let len = len.min(map.len());
        Prefix { map, len }
    }
}

impl AsRef<[u8]> for Prefix {
    fn as_ref(&self) -> &[u8] {
        &self.map[..self.len]
    }
}

/// Map a cache file read-only. Mapping is `unsafe` because the file could change underneath;
/// arca only ever replaces cache files by rename (the mapping keeps the old inode), and the
/// table's contents are validated before use.
#[allow(unsafe_code)]
pub fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: read-only mapping of a file arca replaces only by rename, never in place.
    unsafe { memmap2::Mmap::map(file) }
}
