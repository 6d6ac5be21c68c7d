//! `cargo xtask torture [--trials N] [--seed S]`: the long run of the crash-consistency suite
//! (`tests/it/crash.rs`): N kills at random moments of each of backup, prune, repair, copy and
//! key rotate (default 200), then the stop-at-every-write suite (`crash_points.rs`), the
//! fault-injection and hostile-repository suites, the concurrency suite with N rounds of
//! clients killed at random while others run, and N random operation programs checked against
//! the repository model (`model_ops.rs`). The seed (default: the time) is printed so a
//! failing run can be replayed exactly.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::bench_remote::number;
use crate::cmd::{self, Error, Result};

pub fn run(args: &[String]) -> Result<()> {
    let mut trials = 200u64;
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--trials" => trials = number(it.next(), "--trials")?,
            "--seed" => seed = number(it.next(), "--seed")?,
            other => return Err(Error::Usage(format!("torture: unexpected argument {other:?}"))),
        }
    }
    eprintln!("torture: {trials} trials per command, seed {seed} (replay with --seed {seed})");
    let root = cmd::project_root();
    for suite in ["crash", "crash_points", "faults", "hostile", "concurrency", "model_ops"] {
        // every suite is a module of the one integration binary `it` (tests/it/main.rs)
        let mut c = cmd::cargo();
        let filter = format!("{suite}::");
        c.args(["test", "--test", "it", "--", &filter, "--nocapture", "--test-threads", "2"])
            .env("ARCA_TORTURE_TRIALS", trials.to_string())
            .env("ARCA_TORTURE_SEED", seed.to_string());
        cmd::run(c, &root)?;
    }
    eprintln!("torture: {trials} trials per command passed (seed {seed})");
    Ok(())
}
