//! Timing one step, and the statistics of the report.
//!
//! A step runs as `/usr/bin/time -f '%e %U %S %M' timeout --kill-after=30 S <tool> ...`, after
//! an untimed `sync` so it does not pay for the previous step's writeback. GNU time reports the
//! wall, user and system seconds of the whole process tree and the peak RSS of its largest
//! process (from `wait4`), which for a Python tool (borg) or a multi-process one is the figure
//! that matters. The tool's output goes to a log file; stdin is closed, so a tool that wants to
//! prompt fails instead of hanging.
//!
//! Statistics: medians over reps (the mean of the middle two for an even count), and ratios of
//! arca to the best peer taken within each rep, before the median: a rep in which the machine was
//! busy slows every tool of that rep alike, so its ratio stays honest.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{Error, Result};

/// What `/usr/bin/time` measured.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub wall: f64,
    pub user: f64,
    pub sys: f64,
    pub rss_kib: u64,
}

impl Usage {
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }
}

#[derive(Clone, Debug)]
pub enum Outcome {
    /// A timed step that succeeded.
    Ran(Usage),
    /// A size in bytes.
    Size(u64),
    /// A restore compared with its source: the number of differences (0: identical).
    Verified(u64),
    /// The step failed or timed out; why ("exit 1", "timed out after 1800 s").
    Failed(String),
    /// An earlier step of the same rep failed.
    NotRun,
}

/// Run `command` (program, arguments, environment and directory are taken from it) under
/// `/usr/bin/time` and `timeout`, its output appended to `log`.
pub fn timed(command: &Command, limit: Duration, log: &Path) -> Result<Outcome> {
    let _ = Command::new("sync").status();
    let stats = log.with_extension("time");
    let mut t = Command::new("/usr/bin/time");
    t.args(["-f", "%e %U %S %M", "-o"])
        .arg(&stats)
        .args(["timeout", "--kill-after=30"])
        .arg(limit.as_secs().to_string())
        .arg(command.get_program())
        .args(command.get_args());
    for (k, v) in command.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        t.current_dir(dir);
    }
    let out =
        File::options().create(true).append(true).open(log).map_err(|e| Error::io(log.display().to_string(), e))?;
    let err = out.try_clone().map_err(|e| Error::io(log.display().to_string(), e))?;
    let start = Instant::now();
    let status =
        t.stdin(Stdio::null()).stdout(out).stderr(err).status().map_err(|e| Error::io("running /usr/bin/time", e))?;
    let elapsed = start.elapsed();
    let usage = read_usage(&stats);
    let _ = std::fs::remove_file(&stats);
    Ok(match (status.code(), usage) {
        _ if elapsed >= limit => Outcome::Failed(format!("timed out after {} s", limit.as_secs())),
        (Some(0), Some(u)) => Outcome::Ran(u),
        (Some(0), None) => Outcome::Failed("no figures from /usr/bin/time".into()),
        (Some(code), _) => Outcome::Failed(format!("exit {code}")),
        (None, _) => Outcome::Failed("killed by a signal".into()),
    })
}

/// The figures of GNU time's `-o` file: its last line (a failed command's exit status
/// comes on a line before it).
fn read_usage(path: &Path) -> Option<Usage> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut f = text.lines().rev().find(|l| !l.trim().is_empty())?.split_whitespace();
    let mut number = || f.next()?.parse::<f64>().ok();
    Some(Usage { wall: number()?, user: number()?, sys: number()?, rss_kib: number()? as u64 })
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The median over reps of `ours / best of theirs`, where each item is one rep's figure for
/// arca and the figures of the peers in the same rep (missing where a step failed).
pub fn ratio_median(reps: &[(Option<f64>, Vec<f64>)]) -> Option<f64> {
    let ratios: Vec<f64> = reps
        .iter()
        .filter_map(|(ours, theirs)| {
            let best = theirs.iter().copied().min_by(f64::total_cmp)?;
            Some(ours.as_ref()? / best).filter(|r| r.is_finite())
        })
        .collect();
    median(&ratios)
}
