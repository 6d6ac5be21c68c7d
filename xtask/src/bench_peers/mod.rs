//! `cargo xtask bench [--quick] [--reps N] [--tools LIST] [--corpora LIST] [--million]
//! [--data DIR] [--out FILE] [--timeout S]`: arca side by side with restic, borg, rustic and
//! bupstash, on the same corpora, on the same machine, in the same run.
//!
//! - The peers are installed pinned, outside the checkout (`install.rs`), and each runs at its
//!   documented defaults with encryption on (`tools.rs`); arca is this checkout's release build.
//! - The corpora are built once, deterministically, under `<data>/corpora` (`corpora.rs`,
//!   `generate.rs`): a Linux source tree, the Rust toolchain's libraries, a 2 GiB file with an
//!   edited variant, 200,000 small files and, with `--million`, a million tiny ones (first
//!   backup only: the memory scan). `--quick` uses small variants of each.
//! - Every rep of every tool on every corpus runs the steps of `steps.rs` in a fresh repository:
//!   first backup, unchanged re-backup, backup after a 1% change, repository sizes, a full
//!   restore, verified (`verify.rs`), each step timed by `/usr/bin/time` (`measure.rs`).
//! - Reps are the outer loop, tools the inner one; the report (`report.rs`) gives medians and
//!   arca's ratio to the best peer taken per rep. Every sample also goes to a TSV as it is
//!   taken, beside the Markdown file.
//!
//! Defaults: 3 reps (1 with `--quick`), all tools, corpora src, bin, big and many, data in
//! `$ARCA_BENCH_DATA` or `~/.cache/arca-bench`, results in `benches/results/peers-<date>.md`,
//! a step timeout of 1800 s.

mod corpora;
mod files;
mod generate;
mod install;
mod limits;
mod measure;
mod report;
mod steps;
mod tools;
mod verify;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corpora::{Corpus, Kind};
use tools::Tool;

use crate::bench_remote::number;
use crate::cmd::{self, Error, Result};

struct Options {
    quick: bool,
    reps: usize,
    tools: Vec<Tool>,
    corpora: Vec<Kind>,
    data: PathBuf,
    out: PathBuf,
    timeout: Duration,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/tmp".into());
        let data = std::env::var_os("ARCA_BENCH_DATA").map_or_else(|| home.join(".cache/arca-bench"), PathBuf::from);
        let out = cmd::project_root().join("benches/results").join(format!("peers-{}.md", cmd::today()));
        let mut o = Options {
            quick: false,
            reps: 0,
            tools: Tool::ALL.to_vec(),
            corpora: Kind::DEFAULT.to_vec(),
            data,
            out,
            timeout: Duration::from_secs(1800),
        };
        let mut million = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--million" => million = true,
                "--reps" => o.reps = number(it.next(), "--reps")?.max(1) as usize,
                "--timeout" => o.timeout = Duration::from_secs(number(it.next(), "--timeout")?),
                "--tools" => o.tools = list(it.next(), "--tools", Tool::parse)?,
                "--corpora" => o.corpora = list(it.next(), "--corpora", Kind::parse)?,
                "--data" => o.data = path(it.next(), "--data")?,
                "--out" => o.out = path(it.next(), "--out")?,
                other => return Err(Error::Usage(format!("bench: unexpected argument {other:?}"))),
            }
        }
        if million && !o.corpora.contains(&Kind::Million) {
            o.corpora.push(Kind::Million);
        }
        if o.reps == 0 {
            o.reps = if o.quick { 1 } else { 3 };
        }
        Ok(o)
    }
}

/// A comma-separated list of names, each known to `parse`, without repeats.
fn list<T: PartialEq>(v: Option<&String>, flag: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>> {
    let v = v.ok_or_else(|| Error::Usage(format!("{flag} needs a comma-separated list")))?;
    let mut out = vec![];
    for name in v.split(',').filter(|n| !n.is_empty()) {
        let item = parse(name).ok_or_else(|| Error::Usage(format!("{flag}: unknown name {name:?}")))?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(format!("{flag} needs at least one name")));
    }
    Ok(out)
}

fn path(v: Option<&String>, flag: &str) -> Result<PathBuf> {
    let p = PathBuf::from(v.ok_or_else(|| Error::Usage(format!("{flag} needs a path")))?);
    Ok(std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p))
}

pub use limits::stat_walk_main;

pub fn run(args: &[String]) -> Result<()> {
    let o = Options::parse(args)?;
    let started = Instant::now();
    let adapters = ready_tools(&o)?;
    let versions: Vec<_> = adapters.iter().map(|a| (a.tool, a.version(), install::provenance(a.tool))).collect();
    for (tool, version, provenance) in &versions {
        eprintln!("{}: {version} ({provenance})", tool.name());
    }
    let corpora = o.corpora.iter().map(|&k| Corpus::prepare(k, &o.data, o.quick)).collect::<Result<Vec<_>>>()?;
    let stem = o.out.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    let ctx = steps::Context {
        work: o.data.join("work"),
        logs: o.data.join("logs").join(&stem),
        timeout: o.timeout,
        started,
        reps: o.reps,
    };
    let tsv = o.out.with_extension("tsv");
    let samples = measure_all(&ctx, &adapters, &corpora, &tsv)?;

    let header = report::Header {
        date: cmd::today(),
        command: std::iter::once("cargo xtask bench")
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        reps: o.reps,
        timeout_s: o.timeout.as_secs(),
        tsv: tsv.clone(),
        logs: ctx.logs.clone(),
        tools: versions,
    };
    let md = report::markdown(&header, &corpora, &samples);
    std::fs::write(&o.out, &md).map_err(|e| Error::io(o.out.display().to_string(), e))?;
    println!("{md}");
    eprintln!("written to {} and {} in {:.0} s", o.out.display(), tsv.display(), started.elapsed().as_secs_f64());
    Ok(())
}

/// arca built, the selected peers installed: one adapter per tool.
fn ready_tools(o: &Options) -> Result<Vec<tools::Adapter>> {
    let root = cmd::project_root();
    let mut build = cmd::cargo();
    build.args(["build", "--release", "--bin", "arca"]);
    cmd::run(build, &root)?;
    install::install(&o.tools, &root.join("target/release/arca"), &o.data)
}

/// Every rep of every corpus and tool, reps outermost, each rep's samples appended to the TSV
/// at `tsv` as soon as they are taken.
fn measure_all(
    ctx: &steps::Context,
    adapters: &[tools::Adapter],
    corpora: &[Corpus],
    tsv: &Path,
) -> Result<Vec<steps::Sample>> {
    fresh_dir(&ctx.work)?;
    fresh_dir(&ctx.logs)?;
    if let Some(dir) = tsv.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    }
    let mut tsv = report::Tsv::create(tsv)?;
    let mut samples = vec![];
    for rep in 1..=ctx.reps {
        for corpus in corpora {
            for adapter in adapters {
                let taken = steps::run(ctx, adapter, corpus, rep)?;
                tsv.append(&taken)?;
                samples.extend(taken);
            }
            if let Some(arca) = adapters.iter().find(|a| a.tool == tools::Tool::Arca) {
                let taken = limits::run(ctx, arca, corpus, rep)?;
                tsv.append(&taken)?;
                samples.extend(taken);
            }
        }
    }
    Ok(samples)
}

fn fresh_dir(dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))
}
