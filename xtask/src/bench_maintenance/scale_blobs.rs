//! `bench-maintenance --scale-blobs N`: prune and check on a repository of about N data blobs
//! made without N files on disk.
//!
//! The repository is initialised with FastCDC's smallest sizes (`--chunker-params 64,256,1024`:
//! about 310 bytes per chunk on random bytes, measured) and fed one pseudo-random stream per
//! snapshot through `backup --stdin-from-command`, the generator being this xtask binary's
//! hidden `gen-stream` task. The first snapshot's stream is N × 310 bytes: its first half from
//! seed 1, its second half from seed 2; the second snapshot's stream keeps the first half and
//! draws a new second half from seed 3, so after `forget --keep-last 1` about N/2 of the 1.5 N
//! data blobs are unused (chunk boundaries resynchronise a few chunks after the seam). Then,
//! each under `/usr/bin/time -v`: the default two-phase prune (the state before it is set aside,
//! pack files as hard links since packs are never written in place, and put back after it), `prune --instant-delete --max-unused 0`,
//! `check` and `check --read-data-subset 1%`.

use std::io::Write;
use std::path::Path;

use super::{arca_cmd, copy_dir_linking, timed, Row};
use crate::cmd::{Error, Result};

/// Mean chunk length of FastCDC with `--chunker-params 64,256,1024` on random bytes
/// (2,560,000 bytes gave 8,260 chunks).
pub const BYTES_PER_BLOB: u64 = 310;

pub fn run(arca: &Path, dir: &Path, blobs: u64) -> Result<Vec<Row>> {
    let repo = dir.join("blobs-repo");
    let cache = dir.join("blobs-cache");
    let me = std::env::current_exe().map_err(|e| Error::io("locating the xtask binary for gen-stream", e))?;
    let me = me.to_str().ok_or_else(|| Error::Usage("the xtask binary's path is not UTF-8".into()))?.to_string();
    let bytes = (blobs * BYTES_PER_BLOB).to_string();
    let mut rows = vec![];
    let mut step = |name: &str, repo: &Path, cache: &Path, args: &[&str]| -> Result<String> {
        let (wall, rss, out) = timed(arca_cmd(arca, repo, cache, args), &format!("arca {name} ({blobs} blobs)"))?;
        rows.push(Row { tool: "arca", step: name.to_string(), wall, rss_kib: rss });
        Ok(out)
    };
    let stream = |seeds: &'static str| -> Vec<String> {
        ["backup", "-q", "--stdin-filename", "stream", "--stdin-from-command", "--"]
            .iter()
            .map(|s| s.to_string())
            .chain([me.clone(), "gen-stream".into(), "--bytes".into(), bytes.clone(), "--seeds".into(), seeds.into()])
            .collect()
    };
    step("init --chunker-params 64,256,1024", &repo, &cache, &["init", "--chunker-params", "64,256,1024"])?;
    let first = stream("1,2");
    step("backup (stream 1,2)", &repo, &cache, &first.iter().map(String::as_str).collect::<Vec<_>>())?;
    let stats = step("stats --mode raw-data", &repo, &cache, &["stats", "--mode", "raw-data"])?;
    if let Some(line) = stats.lines().find(|l| l.contains("Total Blob Count")) {
        eprintln!("first snapshot: {}", line.trim());
    }
    let second = stream("1,3");
    step("backup (stream 1,3: half shared)", &repo, &cache, &second.iter().map(String::as_str).collect::<Vec<_>>())?;
    step("forget --keep-last 1", &repo, &cache, &["forget", "--keep-last", "1"])?;
    // the two-phase run marks and repacks; the state before it is set aside (pack files as
    // hard links) and put back, so the instant run starts from the same state at the same
    // path (the kernel keyring's cached key is per repository: no second Argon2id)
    let aside = dir.join("blobs-repo-aside");
    let aside_cache = dir.join("blobs-cache-aside");
    copy_dir_linking(&repo, &aside, true)?;
    copy_dir_linking(&cache, &aside_cache, false)?;
    step("prune (two-phase: mark)", &repo, &cache, &["prune", "-q"])?;
    for (from, to) in [(&aside, &repo), (&aside_cache, &cache)] {
        std::fs::remove_dir_all(to).map_err(|e| Error::io(format!("removing {}", to.display()), e))?;
        std::fs::rename(from, to).map_err(|e| Error::io(format!("putting back {}", to.display()), e))?;
    }
    step(
        "prune --instant-delete --max-unused 0",
        &repo,
        &cache,
        &["prune", "-q", "--instant-delete", "--max-unused", "0"],
    )?;
    step("check", &repo, &cache, &["check", "-q"])?;
    step("check --read-data-subset 1%", &repo, &cache, &["check", "-q", "--read-data-subset", "1%"])?;
    Ok(rows)
}

/// `xtask gen-stream --bytes B --seeds A,B`: write B deterministic pseudo-random bytes to
/// standard output, the first half drawn from seed A and the rest from seed B (splitmix64;
/// incompressible for zstd, and a 64-bit generator does not repeat within any size we write).
pub fn gen_stream(args: &[String]) -> Result<()> {
    let mut bytes: Option<u64> = None;
    let mut seeds: Option<(u64, u64)> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bytes" => bytes = it.next().and_then(|v| super::parse_count(v)),
            "--seeds" => {
                seeds = it.next().and_then(|v| {
                    let (a, b) = v.split_once(',')?;
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
            }
            other => return Err(Error::Usage(format!("gen-stream: unexpected argument {other:?}"))),
        }
    }
    let (Some(bytes), Some((a, b))) = (bytes, seeds) else {
        return Err(Error::Usage("gen-stream needs --bytes B and --seeds A,B".into()));
    };
    let half = bytes / 2;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_random(&mut out, a, half)?;
    write_random(&mut out, b, bytes - half)?;
    out.flush().map_err(|e| Error::io("gen-stream: flushing standard output", e))
}

fn write_random(out: &mut impl Write, seed: u64, mut len: u64) -> Result<()> {
    // distinct seeds start far apart in the splitmix64 sequence
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xD1B5_4A32_D192_ED03;
    let mut buf = vec![0u8; 1 << 20];
    while len > 0 {
        for word in buf.chunks_exact_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            word.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        let n = usize::try_from(len.min(buf.len() as u64)).unwrap_or(buf.len());
        out.write_all(&buf[..n]).map_err(|e| Error::io("gen-stream: writing standard output", e))?;
        len -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::write_random;

    #[test]
    fn streams_are_deterministic_and_seeds_differ() {
        let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
        write_random(&mut a, 1, 3_000_000).unwrap();
        write_random(&mut b, 1, 3_000_000).unwrap();
        write_random(&mut c, 2, 3_000_000).unwrap();
        assert_eq!(a.len(), 3_000_000);
        assert_eq!(a, b);
        assert_ne!(a[..64], c[..64]);
        // the buffer refill continues the sequence instead of repeating the first MiB
        assert_ne!(a[..4096], a[1 << 20..(1 << 20) + 4096]);
    }
}
