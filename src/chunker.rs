//! Content-defined chunking: FastCDC v2020 with a gear table derived from the repository's
//! chunker key, so chunk boundaries are secret and don't fingerprint files.
//!
//! The gear table is the first 2048 bytes of BLAKE3's XOF keyed with the chunker key over
//! the input `"arca v1 gear table"`, read as 256 little-endian u64. Normalisation level 1.

use std::io::Read;

use fastcdc::v2020::{cut_gear, select_masks, Normalization};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Chunk size bounds, a repository parameter stored in `config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl ChunkerParams {
    pub const DEFAULT: ChunkerParams = ChunkerParams { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 };

    /// FastCDC's own bounds, plus evenness (release builds of fastcdc don't check it).
    pub fn validate(&self) -> Result<()> {
        use fastcdc::v2020::{AVERAGE_MAX, AVERAGE_MIN, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN};
        let (min, avg, max) = (self.min as usize, self.avg as usize, self.max as usize);
        let ok = (MINIMUM_MIN..=MINIMUM_MAX).contains(&min)
            && (AVERAGE_MIN..=AVERAGE_MAX).contains(&avg)
            && (MAXIMUM_MIN..=MAXIMUM_MAX).contains(&max)
            && min <= avg
            && avg <= max
            && min % 2 == 0
            && avg % 2 == 0
            && max % 2 == 0;
        if ok {
            Ok(())
        } else {
            Err(Error::corrupt(format!("invalid chunker parameters {self:?}")))
        }
    }
}

/// The first read of a stream asks for this much (the buffer's smallest size).
const FIRST_READ: usize = 64 * 1024;

pub struct Chunker {
    params: ChunkerParams,
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
    masks: (u64, u64, u64, u64),
}

impl Chunker {
    pub fn new(key: &[u8; 32], params: ChunkerParams) -> Result<Self> {
        params.validate()?;
        let mut bytes = [0u8; 2048];
        blake3::Hasher::new_keyed(key).update(b"arca v1 gear table").finalize_xof().fill(&mut bytes);
        let mut gear = Box::new([0u64; 256]);
        let mut gear_ls = Box::new([0u64; 256]);
        for (i, c) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            gear[i] = u64::from_le_bytes(w);
            gear_ls[i] = gear[i] << 1;
        }
        let (mask_s, mask_l) = select_masks(params.avg as usize, Normalization::Level1);
        Ok(Chunker { params, gear, gear_ls, masks: (mask_s, mask_l, mask_s << 1, mask_l << 1) })
    }

    pub fn params(&self) -> ChunkerParams {
        self.params
    }

    /// Length of the first chunk of `data`. `data` must hold at least `max` bytes unless it
    /// is the end of the stream.
    pub fn cut(&self, data: &[u8]) -> usize {
        let p = self.params;
        if data.len() <= p.min as usize {
            return data.len();
        }
        let (m_s, m_l, m_s_ls, m_l_ls) = self.masks;
        let (_, n) = cut_gear(
            data,
            p.min as usize,
            p.avg as usize,
            p.max as usize,
            m_s,
            m_l,
            m_s_ls,
            m_l_ls,
            &self.gear[..],
            &self.gear_ls[..],
        );
        n.max(1)
    }

    /// Split a whole in-memory buffer; calls `f` with each chunk in order.
    pub fn split_slice<'a>(&self, mut data: &'a [u8], mut f: impl FnMut(&'a [u8]) -> Result<()>) -> Result<()> {
        while !data.is_empty() {
            let n = self.cut(data);
            let (chunk, rest) = data.split_at(n);
            f(chunk)?;
            data = rest;
        }
        Ok(())
    }

    /// Split a stream; calls `f` with each chunk in order. `scratch` is a reusable buffer that
    /// grows by doubling up to `2 * max` bytes as the stream needs it, so a reader of small
    /// files never touches more memory than its largest file (the 16 MiB of a full buffer only
    /// for files over 8 MiB), and reading many files allocates nothing new.
    pub fn split_reader(
        &self,
        r: &mut dyn Read,
        scratch: &mut Vec<u8>,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        let max = self.params.max as usize;
        let buf = scratch;
        let (mut start, mut end, mut eof, mut total) = (0usize, 0usize, false, 0u64);
        loop {
            while !eof && end - start < max {
                if end == buf.len() {
                    if buf.len() < 2 * max {
                        buf.resize((buf.len() * 2).max(FIRST_READ).min(2 * max), 0);
                    } else {
                        // full at 2 * max with less than max unconsumed: start > max
                        buf.copy_within(start..end, 0);
                        end -= start;
                        start = 0;
                    }
                }
                match r.read(&mut buf[end..]) {
                    Ok(0) => eof = true,
                    Ok(n) => end += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if start == end {
                return Ok(total);
            }
            let n = self.cut(&buf[start..end]);
            f(&buf[start..start + n])?;
            start += n;
            total += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ChunkerParams {
        ChunkerParams { min: 2048, avg: 8192, max: 32768 }
    }

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn slice_and_reader_agree() {
        let c = Chunker::new(&[1; 32], small()).unwrap();
        let d = data(500_000, 3);
        let mut a = vec![];
        c.split_slice(&d, |ch| {
            a.push(ch.to_vec());
            Ok(())
        })
        .unwrap();
        let mut b = vec![];
        c.split_reader(&mut &d[..], &mut vec![], |ch| {
            b.push(ch.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.concat(), d);
    }

    /// Hands out at most `step` bytes per read, as pipes and network streams do.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_growing_buffer_cuts_where_a_whole_slice_would_at_any_length_and_read_size() {
        for params in [small(), ChunkerParams { min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 }] {
            let c = Chunker::new(&[7; 32], params).unwrap();
            let max = params.max as usize;
            // one scratch for every stream, as a reader thread keeps it across files
            let mut scratch = vec![];
            for len in [0, 1, 1000, max - 1, max, max + 1, 2 * max + 3, 5 * max + 17] {
                let d = data(len, len as u64 + 1);
                let mut want = vec![];
                c.split_slice(&d, |ch| {
                    want.push(ch.to_vec());
                    Ok(())
                })
                .unwrap();
                for step in [1000, 65_536, usize::MAX] {
                    let mut got = vec![];
                    let n = c
                        .split_reader(&mut Trickle { data: &d, step }, &mut scratch, |ch| {
                            got.push(ch.to_vec());
                            Ok(())
                        })
                        .unwrap();
                    assert_eq!((n, &got), (len as u64, &want), "length {len}, reads of {step}");
                    assert!(scratch.len() <= 2 * max);
                }
            }
        }
    }

    #[test]
    fn a_small_stream_leaves_the_buffer_small() {
        let c = Chunker::new(&[7; 32], ChunkerParams::DEFAULT).unwrap();
        let mut scratch = vec![];
        c.split_reader(&mut &data(10_000, 1)[..], &mut scratch, |_| Ok(())).unwrap();
        assert_eq!(scratch.len(), FIRST_READ);
    }
}
