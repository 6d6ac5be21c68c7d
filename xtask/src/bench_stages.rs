//! `cargo xtask bench-stages [--quick] [FILTER]`: run the criterion benchmarks of each stage
//! (`benches/stages.rs`) and of the whole pipeline (`benches/pipeline.rs`, which also prints
//! where its time went per stage and the bound its stages set).
//!
//! `--quick` uses criterion's quick mode (sample until the estimate is stable, at most the
//! measurement time), so a full pass takes well under two minutes. The side-by-side comparison
//! with the peer tools is `cargo xtask bench` (`bench_peers/`).

use crate::cmd::{self, Error, Result};

pub fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut filter = None;
    for a in args {
        match a.as_str() {
            "--quick" => quick = true,
            f if !f.starts_with('-') && filter.is_none() => filter = Some(f.to_string()),
            other => return Err(Error::Usage(format!("bench-stages: unexpected argument {other:?}"))),
        }
    }

    let mut bench = cmd::cargo();
    bench.args(["bench", "--package", "arca", "--bench", "stages", "--bench", "pipeline", "--"]);
    if quick {
        bench.arg("--quick");
    }
    if let Some(f) = filter {
        bench.arg(f);
    }
    cmd::run(bench, &cmd::project_root())
}
