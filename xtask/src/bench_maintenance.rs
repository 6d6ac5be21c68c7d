//! `cargo xtask bench-maintenance [--files N] [--quick] [--arca-only] [--dir DIR]`: prune and check on a
//! repository of N blobs (default 1,000,000), for arca and, when installed, restic, on the
//! same data.
//!
//! The generator writes N small files with distinct contents (one blob each in both tools)
//! in directories of 1,000, backs them up, deletes every other file, backs up again and
//! forgets the first snapshot, so half the data blobs are unused. Then each step runs under
//! `/usr/bin/time -v`: arca `prune --instant-delete --max-unused 0` (restic's `prune
//! --max-unused 0` deletes at once too), arca's default two-phase prune (marking only) on a
//! copy of the state, and `check`. Wall time and peak RSS per step are printed as a Markdown
//! table. Page cache warm; one repetition (these are minutes-long steps).
//!
//! At scale (`benches/results/scale-*.md`), arca only, with the release binary already built
//! (`--arca PATH`, default `target/release/arca`; nothing is built, so a long run holds no
//! cargo lock):
//!
//! - `--scale-blobs N` (`10M`, `3M`, `500k` or a number): prune and check on a repository of
//!   about N data blobs made from a generated stream, not from N files (`scale_blobs.rs`);
//! - `--scale-files N [--reps R]`: the first and R unchanged re-backups (default 3) of a
//!   generated tree of N tiny files in a loop-mounted ext4 image (`scale_files.rs`).

mod scale_blobs;
mod scale_files;

pub use scale_blobs::gen_stream;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::cmd::{self, Error, Result};

const PASSWORD: &str = "bench";

pub fn run(args: &[String]) -> Result<()> {
    let mut files: u64 = 1_000_000;
    let mut dir = cmd::project_root().join("target/bench-maintenance");
    let mut peers = true;
    let mut scale_blobs: Option<u64> = None;
    let mut scale_files: Option<u64> = None;
    let mut reps: usize = 3;
    let mut arca: Option<PathBuf> = None;
    let count = |flag: &str, v: Option<&String>| {
        v.and_then(|v| parse_count(v))
            .ok_or_else(|| Error::Usage(format!("{flag} needs a count (10M, 500k, 1_000_000)")))
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => files = 50_000,
            "--arca-only" => peers = false,
            "--files" => {
                files = it
                    .next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .ok_or_else(|| Error::Usage("--files needs a number".into()))?
            }
            "--scale-blobs" => scale_blobs = Some(count("--scale-blobs", it.next())?),
            "--scale-files" => scale_files = Some(count("--scale-files", it.next())?),
            "--reps" => reps = usize::try_from(count("--reps", it.next())?).unwrap_or(1),
            "--arca" => {
                arca = Some(PathBuf::from(it.next().ok_or_else(|| Error::Usage("--arca needs a path".into()))?))
            }
            "--dir" => dir = PathBuf::from(it.next().ok_or_else(|| Error::Usage("--dir needs a path".into()))?),
            other => return Err(Error::Usage(format!("bench-maintenance: unexpected argument {other:?}"))),
        }
    }
    if scale_blobs.is_some() || scale_files.is_some() {
        return scale(arca, &dir, scale_blobs, scale_files, reps);
    }
    let root = cmd::project_root();
    let mut build = cmd::cargo();
    build.args(["build", "--release", "--bin", "arca"]);
    cmd::run(build, &root)?;
    let arca = root.join("target/release/arca");
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("src");
    eprintln!("generating {files} files in {}", src.display());
    generate(&src, files)?;

    let mut rows = vec![];
    rows.extend(bench_arca(&arca, &dir, &src, files)?);
    if peers && which("restic") {
        generate(&src, files)?; // the first tool's run deleted half
        rows.extend(bench_restic(&dir, &src, files)?);
    } else {
        eprintln!("note: restic is not installed; only arca ran");
    }
    println!("\n{files} files (one data blob each), half unused after the forget; page cache warm, 1 run\n");
    println!("| tool | step | wall s | peak RSS MiB |");
    println!("|---|---|---:|---:|");
    for r in rows {
        println!("| {} | {} | {:.2} | {:.0} |", r.tool, r.step, r.wall, r.rss_kib as f64 / 1024.0);
    }
    Ok(())
}

/// The scale runs: one table per run, the rows prefixed with the size.
fn scale(arca: Option<PathBuf>, dir: &Path, blobs: Option<u64>, files: Option<u64>, reps: usize) -> Result<()> {
    let arca = arca.unwrap_or_else(|| cmd::project_root().join("target/release/arca"));
    if !arca.is_file() {
        return Err(Error::Usage(format!(
            "{} does not exist: build it first (`cargo build --release --bin arca`) or pass --arca PATH",
            arca.display()
        )));
    }
    let _ = std::fs::remove_dir_all(dir);
    let mut tables = vec![];
    if let Some(n) = blobs {
        tables.push((format!("blobs, about {n} in the first snapshot"), scale_blobs::run(&arca, dir, n)));
    }
    if let Some(n) = files {
        tables.push((format!("files, {n} tiny"), scale_files::run(&arca, dir, n, reps)));
    }
    let _ = std::fs::remove_dir_all(dir);
    for (what, rows) in tables {
        let rows = rows?;
        println!("\n{what}; page cache warm\n");
        println!("| step | wall s | peak RSS MiB |");
        println!("|---|---:|---:|");
        for r in rows {
            println!("| {} | {:.2} | {:.0} |", r.step, r.wall, r.rss_kib as f64 / 1024.0);
        }
    }
    Ok(())
}

/// `10M`, `3m`, `500k`, `1_000_000`.
fn parse_count(v: &str) -> Option<u64> {
    let v = v.replace('_', "");
    let (digits, mult) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1_000),
        b'm' | b'M' => (&v[..v.len() - 1], 1_000_000),
        _ => (&v[..], 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

struct Row {
    tool: &'static str,
    step: String,
    wall: f64,
    rss_kib: u64,
}

fn which(program: &str) -> bool {
    Command::new(program).arg("version").output().is_ok_and(|o| o.status.success())
}

/// N files of distinct content, 1,000 per directory.
fn generate(src: &Path, files: u64) -> Result<()> {
    let _ = std::fs::remove_dir_all(src);
    for i in 0..files {
        let d = src.join(format!("d{:05}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display().to_string(), e))?;
        }
        let p = d.join(format!("f{i:07}"));
        let body = format!("file {i} {}\n", "x".repeat((i % 97) as usize + 32));
        std::fs::write(&p, body).map_err(|e| Error::io(p.display().to_string(), e))?;
    }
    Ok(())
}

fn remove_every_other(src: &Path, files: u64) -> Result<()> {
    for i in (0..files).step_by(2) {
        let p = src.join(format!("d{:05}", i / 1000)).join(format!("f{i:07}"));
        std::fs::remove_file(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
    }
    Ok(())
}

/// Run under `/usr/bin/time -v`; returns wall seconds and peak RSS (KiB).
fn timed(c: Command, what: &str) -> Result<(f64, u64, String)> {
    let mut t = Command::new("/usr/bin/time");
    t.arg("-v").arg(c.get_program()).args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = t.output().map_err(|e| Error::io(format!("running {what}"), e))?;
    let wall = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(Error::Failed {
            what: format!("{what}: {}", err.lines().rev().take(12).collect::<Vec<_>>().join(" / ")),
            code: 1,
        });
    }
    let rss = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    eprintln!("{what}: {wall:.2} s, {} MiB", rss / 1024);
    Ok((wall, rss, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn arca_cmd(arca: &Path, repo: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(arca);
    c.args(args).env("ARCA_REPOSITORY", repo).env("ARCA_PASSWORD", PASSWORD).env("ARCA_CACHE_DIR", cache);
    c
}

fn bench_arca(arca: &Path, dir: &Path, src: &Path, files: u64) -> Result<Vec<Row>> {
    let repo = dir.join("arca-repo");
    let cache = dir.join("arca-cache");
    let s = src.to_str().unwrap_or_default();
    let mut rows = vec![];
    let mut step = |name: &str, args: &[&str]| -> Result<String> {
        let (wall, rss, out) = timed(arca_cmd(arca, &repo, &cache, args), &format!("arca {name}"))?;
        rows.push(Row { tool: "arca", step: name.to_string(), wall, rss_kib: rss });
        Ok(out)
    };
    step("init", &["init"])?;
    step("backup", &["backup", "-q", s])?;
    remove_every_other(src, files)?;
    step("backup (half deleted)", &["backup", "-q", s])?;
    step("forget", &["forget", "--keep-last", "1"])?;
    // the two-phase run marks; measure it on a copy so the instant run starts from the same state
    let copy = dir.join("arca-repo-copy");
    copy_dir_linking(&repo, &copy, false)?;
    step("prune (two-phase: mark)", &["prune", "-q"])?;
    std::fs::remove_dir_all(&repo).map_err(|e| Error::io("removing the marked copy", e))?;
    std::fs::rename(&copy, &repo).map_err(|e| Error::io("restoring the copy", e))?;
    step("prune --instant-delete --max-unused 0", &["prune", "-q", "--instant-delete", "--max-unused", "0"])?;
    step("check", &["check", "-q"])?;
    Ok(rows)
}

fn bench_restic(dir: &Path, src: &Path, files: u64) -> Result<Vec<Row>> {
    let repo = dir.join("restic-repo");
    let cache = dir.join("restic-cache");
    let s = src.to_str().unwrap_or_default();
    let mut rows = vec![];
    let mut step = |name: &str, args: &[&str]| -> Result<()> {
        let mut c = Command::new("restic");
        c.args(args).env("RESTIC_REPOSITORY", &repo).env("RESTIC_PASSWORD", PASSWORD).env("RESTIC_CACHE_DIR", &cache);
        let (wall, rss, _) = timed(c, &format!("restic {name}"))?;
        rows.push(Row { tool: "restic", step: name.to_string(), wall, rss_kib: rss });
        Ok(())
    };
    step("init", &["init"])?;
    step("backup", &["backup", "-q", s])?;
    remove_every_other(src, files)?;
    step("backup (half deleted)", &["backup", "-q", s])?;
    step("forget", &["forget", "--keep-last", "1"])?;
    step("prune --max-unused 0", &["prune", "-q", "--max-unused", "0"])?;
    step("check", &["check", "-q"])?;
    Ok(rows)
}

/// Copy a directory tree; with `link_packs`, the files under its top-level `data/` (pack
/// files, which arca never writes in place) are hard links instead of copies.
fn copy_dir_linking(from: &Path, to: &Path, link_packs: bool) -> Result<()> {
    copy_tree(from, to, link_packs, false)
}

/// `link_data_below`: this is the top level and `data/` below it is to be linked.
fn copy_tree(from: &Path, to: &Path, link_data_below: bool, in_data: bool) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to.display().to_string(), e))?;
    for e in std::fs::read_dir(from).map_err(|e| Error::io(from.display().to_string(), e))? {
        let e = e.map_err(|e| Error::io(from.display().to_string(), e))?;
        let t = to.join(e.file_name());
        if e.file_type().map_err(|e| Error::io(t.display().to_string(), e))?.is_dir() {
            let data = in_data || (link_data_below && e.file_name() == "data");
            copy_tree(&e.path(), &t, false, data)?;
        } else if in_data {
            std::fs::hard_link(e.path(), &t).map_err(|e| Error::io(t.display().to_string(), e))?;
        } else {
            std::fs::copy(e.path(), &t).map_err(|e| Error::io(t.display().to_string(), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_take_suffixes() {
        assert_eq!(parse_count("10M"), Some(10_000_000));
        assert_eq!(parse_count("500k"), Some(500_000));
        assert_eq!(parse_count("1_000_000"), Some(1_000_000));
        assert_eq!(parse_count("M"), None);
        assert_eq!(parse_count("x1"), None);
    }
}
