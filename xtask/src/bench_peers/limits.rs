//! The limits of three steps on this machine, measured in the same run as the tools (issue 24:
//! a step is met when arca is within 1.15× of its limit, where being twice as fast as the
//! fastest peer is not possible):
//!
//! | step | limit | how |
//! |---|---|---|
//! | first backup | the pipeline's stage bound, plus the walk | an untimed `arca backup -v` of the corpus into a scratch repository prints where its time went per stage; the CPU stages' busy seconds (read, chunk, hash, compress, encrypt, pack, trees: not walk, not upload) over the cores, plus the stat walk below |
//! | unchanged re-backup | the stat calls alone, plus one key unlock | `xtask stat-walk` (std's `read_dir` and `DirEntry::metadata`: `getdents64` and one `statx`/`fstatat` relative to the directory per entry, one thread) of the corpus, plus `arca --no-key-cache cat config` (one Argon2id unlock with the repository's parameters, and the process around it) |
//! | full restore | `cp -a` of the corpus into the same file system | `cp -a SOURCE/. DIR`, into a fresh directory beside the tools' restores, removed after |
//!
//! Each is a [`Sample`] of [`Who::Limit`], timed by `/usr/bin/time` like a
//! tool's step; a sum of two parts adds their wall and CPU seconds and keeps the larger peak
//! RSS. The report shows the limit's wall seconds and arca's per-rep ratio to it.

use std::path::Path;
use std::process::Command;

use super::corpora::Corpus;
use super::measure::{self, Outcome, Usage};
use super::steps::{Context, Sample, Step, Who};
use super::tools::{Adapter, Repo};
use crate::cmd::{Error, Result};

/// The CPU stages of arca's pipeline report (`src/repo/stage_clock.rs`): everything but the
/// walk (measured apart, as the stat walk) and the upload (storage, not CPU).
const CPU_STAGES: [&str; 7] = ["read", "chunk", "hash", "compress", "encrypt", "pack", "trees"];

/// Measure the limits of `corpus` for rep `rep`, with arca's `adapter` for the unlock and the
/// stage report.
pub fn run(ctx: &Context, arca: &Adapter, corpus: &Corpus, rep: usize) -> Result<Vec<Sample>> {
    let work = ctx.work.join(format!("limit-{}-{rep}", corpus.name()));
    let repo = Repo { work: work.clone() };
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(repo.aux()).map_err(|e| Error::io(work.display().to_string(), e))?;
    let log = |what: &str| ctx.logs.join(format!("limit-{}-{rep}-{what}.log", corpus.name()));
    let sample = |step: Step, outcome: Outcome, note: String| {
        progress(ctx, corpus, rep, step, &outcome, &note);
        Sample { rep, corpus: corpus.name(), tool: Who::Limit, step, outcome, note }
    };
    let mut samples = vec![];

    super::files::warm(&corpus.root)?;
    let walk = stat_walk(ctx, &corpus.root, &log("stat-walk"))?;
    let untimed = |c: Command, what: &str| measure::timed(&c, ctx.timeout, &log(what));
    let init = untimed(arca.init(&repo), "init")?;
    let unlock = match init {
        Outcome::Ran(_) => {
            let mut c = arca.command(&repo);
            c.args(["--no-key-cache", "cat", "config"]);
            measure::timed(&c, ctx.timeout, &log("unlock"))?
        }
        other => other,
    };
    // the first backup: the stage report of an untimed run, plus the walk
    let mut backup = arca.command(&repo);
    backup.current_dir(&corpus.root).args(["backup", "-v", "."]);
    let first = match (untimed(backup, "backup")?, &walk) {
        (Outcome::Ran(_), Outcome::Ran(w)) => match stage_bound(&log("backup")) {
            Some((busy, cores)) => {
                let note = format!("CPU stages {busy:.2} busy s / {cores} cores + stat walk {:.2} s", w.wall);
                let u = Usage { wall: busy / cores as f64 + w.wall, user: busy + w.user, sys: w.sys, rss_kib: 0 };
                (Outcome::Ran(u), note)
            }
            None => {
                (Outcome::Failed("no stage report in the backup's output".into()), log("backup").display().to_string())
            }
        },
        (Outcome::Ran(_), other) => (other.clone(), String::new()),
        (other, _) => (other, String::new()),
    };
    samples.push(sample(Step::First, first.0, first.1));
    let unchanged = match (&walk, &unlock) {
        (Outcome::Ran(w), Outcome::Ran(u)) => (
            Outcome::Ran(Usage {
                wall: w.wall + u.wall,
                user: w.user + u.user,
                sys: w.sys + u.sys,
                rss_kib: w.rss_kib.max(u.rss_kib),
            }),
            format!("stat walk {:.2} s + one unlock {:.2} s", w.wall, u.wall),
        ),
        (Outcome::Ran(_), other) | (other, _) => (other.clone(), String::new()),
    };
    samples.push(sample(Step::Unchanged, unchanged.0, unchanged.1));
    if !corpus.first_backup_only() {
        let target = work.join("copy");
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(corpus.root.join(".")).arg(&target);
        let copied = measure::timed(&cp, ctx.timeout, &log("cp"))?;
        samples.push(sample(Step::Restore, copied, "cp -a".into()));
    }
    std::fs::remove_dir_all(&work).map_err(|e| Error::io(work.display().to_string(), e))?;
    Ok(samples)
}

/// `xtask stat-walk ROOT` under `/usr/bin/time`.
fn stat_walk(ctx: &Context, root: &Path, log: &Path) -> Result<Outcome> {
    let exe = std::env::current_exe().map_err(|e| Error::io("the xtask binary", e))?;
    let mut c = Command::new(exe);
    c.arg("stat-walk").arg(root);
    measure::timed(&c, ctx.timeout, log)
}

/// The busy seconds of the CPU stages in the stage report that `arca backup -v` wrote to
/// `log`, and the cores of this machine.
fn stage_bound(log: &Path) -> Option<(f64, usize)> {
    let text = std::fs::read_to_string(log).ok()?;
    let table = text.split("pipeline stages over").nth(1)?;
    let mut busy = 0.0;
    let mut seen = 0;
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [stage, _threads, busy_s, ..] = f[..] {
            if CPU_STAGES.contains(&stage) {
                busy += busy_s.parse::<f64>().ok()?;
                seen += 1;
            }
        }
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (seen > 0).then_some((busy, cores))
}

/// `xtask stat-walk ROOT`: every entry under ROOT listed and `lstat`ed relative to its
/// directory, one thread, nothing else; prints the count.
pub fn stat_walk_main(args: &[String]) -> Result<()> {
    let [root] = args else { return Err(Error::Usage("stat-walk needs one directory".into())) };
    let mut stack = vec![std::path::PathBuf::from(root)];
    let mut entries = 0u64;
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        for e in rd {
            let e = e.map_err(|e| Error::io(dir.display().to_string(), e))?;
            let m = e.metadata().map_err(|err| Error::io(e.path().display().to_string(), err))?;
            entries += 1;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    println!("{entries} entries");
    Ok(())
}

fn progress(ctx: &Context, corpus: &Corpus, rep: usize, step: Step, outcome: &Outcome, note: &str) {
    let what = match outcome {
        Outcome::Ran(u) => format!("{:.2} s ({note})", u.wall),
        Outcome::Failed(why) => format!("FAILED ({why}) {note}"),
        _ => String::new(),
    };
    eprintln!(
        "[{:>6.0} s] rep {rep}/{} {} limit: {}: {what}",
        ctx.started.elapsed().as_secs_f64(),
        ctx.reps,
        corpus.name(),
        step.label()
    );
}
