//! Deterministic generators for the synthetic corpora: the same bytes on every machine and
//! every run, from SplitMix64 streams seeded by position, so a quick corpus is a prefix of the
//! full one and nothing depends on the order in which files are written.
//!
//! - `big`: 1 MiB blocks, each either text-like (words from a small vocabulary, compressible
//!   about 3–4×) or random (incompressible), 60/40; the last 1/32 of the file repeats its
//!   first blocks, so there is duplicate data inside one file.
//! - `big2`: a copy of `big` with about 1% of its bytes edited at scattered offsets: overwrites,
//!   insertions and deletions of 16–200 KiB, so everything after an insertion or deletion
//!   shifts (fixed-size chunking would lose all dedup after the first edit; content-defined
//!   chunking should only store the chunks around each edit).
//! - `many`: small files of 512–4096 bytes, even ones text-like, odd ones random, 50 per
//!   directory in three levels.
//! - `tiny`: files holding their own number, 1,000 per directory (the memory scan).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::cmd::{Error, Result};

const MIB: u64 = 1 << 20;

const WORDS: [&str; 32] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "backup",
    "chunk",
    "index",
    "tree",
    "blob",
    "pack",
    "snapshot",
    "restore",
    "prune",
    "verify",
    "encrypt",
    "compress",
    "dedup",
    "window",
    "hash",
    "rolling",
    "offset",
    "length",
    "buffer",
    "stream",
    "writer",
    "reader",
    "config",
    "repository",
    "the",
    "of",
    "and",
    "42",
];

/// SplitMix64: tiny, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed_0fa2_ca00)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let n = c.len();
            c.copy_from_slice(&self.next().to_le_bytes()[..n]);
        }
    }

    fn text(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            let r = self.next();
            out.extend_from_slice(WORDS[(r % 32) as usize].as_bytes());
            out.push(if r >> 60 == 0 { b'\n' } else { b' ' });
        }
        out.truncate(len);
        out
    }
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p.display().to_string(), e)
}

/// Block `i` of the big file: text-like or random, decided by the block's own stream.
fn big_block(i: u64) -> Vec<u8> {
    let mut rng = Rng::new(0xb16 ^ (i << 8));
    if rng.next() % 10 < 6 {
        rng.text(MIB as usize)
    } else {
        let mut b = vec![0u8; MIB as usize];
        rng.fill(&mut b);
        b
    }
}

/// `len` bytes (whole MiB) of big-file content at `path`.
pub fn big(path: &Path, len: u64) -> Result<()> {
    let blocks = len / MIB;
    let repeated = blocks / 32;
    let mut w = BufWriter::with_capacity(4 << 20, File::create(path).map_err(io(path))?);
    for i in 0..blocks {
        let source = if i < blocks - repeated { i } else { i - (blocks - repeated) };
        w.write_all(&big_block(source)).map_err(io(path))?;
    }
    w.flush().map_err(io(path))
}

/// What `big2` did, for the corpus description.
pub struct Edits {
    pub applied: u64,
    pub bytes: u64,
}

/// `to` = `from` with about 1% of its bytes edited: one edit per 10 MiB on average.
pub fn big2(from: &Path, to: &Path) -> Result<Edits> {
    let size = std::fs::metadata(from).map_err(io(from))?.len();
    let mut rng = Rng::new(20240601);
    let count = (size / (10 * MIB)).max(8);
    let mut offsets: Vec<u64> = (0..count).map(|_| rng.next() % (size - MIB)).collect();
    offsets.sort_unstable();
    let mut r = BufReader::with_capacity(4 << 20, File::open(from).map_err(io(from))?);
    let mut w = BufWriter::with_capacity(4 << 20, File::create(to).map_err(io(to))?);
    let (mut pos, mut edits) = (0u64, Edits { applied: 0, bytes: 0 });
    for off in offsets {
        if off < pos {
            continue; // inside the span the previous edit consumed
        }
        copy(&mut r, &mut w, off - pos, from)?;
        let len = rng.between(16 << 10, 200 << 10);
        let kind = rng.next() % 3;
        let mut fresh = vec![0u8; len as usize];
        rng.fill(&mut fresh);
        if kind != 2 {
            w.write_all(&fresh).map_err(io(to))?; // overwrite or insert
        }
        let consumed = if kind == 1 { 0 } else { len }; // insert consumes nothing
        copy(&mut r, &mut std::io::sink(), consumed, from)?;
        pos = off + consumed;
        edits.applied += 1;
        edits.bytes += len;
    }
    std::io::copy(&mut r, &mut w).map_err(io(to))?;
    w.flush().map_err(io(to))?;
    Ok(edits)
}

fn copy(r: &mut impl Read, w: &mut impl Write, n: u64, p: &Path) -> Result<()> {
    let copied = std::io::copy(&mut r.take(n), w).map_err(io(p))?;
    if copied != n {
        return Err(Error::Check(format!("{}: shorter than expected", p.display())));
    }
    Ok(())
}

/// `count` small files under `root`, 50 per directory, in three levels of directories.
pub fn many(root: &Path, count: u64) -> Result<()> {
    for i in 0..count {
        let leaf = i / 50;
        let dir = root.join(format!("d{:02}/e{:02}/f{:02}", leaf / 200, (leaf / 10) % 20, leaf % 10));
        if i.is_multiple_of(50) {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        let mut rng = Rng::new(0x3a7 ^ (i << 4));
        let size = rng.between(512, 4096) as usize;
        let (body, ext) = if i.is_multiple_of(2) {
            (rng.text(size), "txt")
        } else {
            let mut b = vec![0u8; size];
            rng.fill(&mut b);
            (b, "bin")
        };
        let p = dir.join(format!("file{:03}.{ext}", i % 50));
        std::fs::write(&p, body).map_err(io(&p))?;
    }
    Ok(())
}

/// `count` tiny files under `root`, 1,000 per directory, each holding its own number.
pub fn tiny(root: &Path, count: u64) -> Result<()> {
    for i in 0..count {
        let dir = root.join(format!("d{:04}", i / 1000));
        if i.is_multiple_of(1000) {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        let p = dir.join(format!("f{i:07}"));
        std::fs::write(&p, format!("{i}\n")).map_err(io(&p))?;
    }
    Ok(())
}
