//! Deterministic inputs shared by the benchmarks: random bytes (incompressible, never
//! deduplicated) and text-like bytes (compress a few times over).
#![allow(dead_code)]

pub const MIB: usize = 1024 * 1024;

/// xorshift64: fast, deterministic, good enough to defeat compression and dedup.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    pub fn id(&mut self) -> [u8; 32] {
        let mut id = [0u8; 32];
        for c in id.chunks_exact_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        id
    }
}

/// Text-like bytes: words from a small vocabulary, compressing a few times over with zstd.
pub fn text(n: usize, rng: &mut XorShift) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "backup",
        "repository",
        "snapshot",
        "of",
        "and",
        "pack",
        "blob",
        "index",
        "tree",
        "to",
        "a",
        "deduplicated",
        "encrypted",
        "chunk",
        "file",
        "directory",
        "restore",
        "in",
        "is",
        "with",
        "key",
        "data",
        "lock",
        "config",
        "prune",
        "check",
        "hash",
        "seal",
        "open",
        "compress",
        "zstd",
        "node",
    ];
    let mut out = Vec::with_capacity(n + 32);
    while out.len() < n {
        let r = rng.next();
        out.extend_from_slice(WORDS[(r % WORDS.len() as u64) as usize].as_bytes());
        out.push(if r >> 60 == 0 { b'\n' } else { b' ' });
    }
    out.truncate(n);
    out
}
