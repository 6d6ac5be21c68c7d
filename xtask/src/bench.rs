//! `cargo xtask bench [--quick] [FILTER]`: run the criterion stage benchmarks.
//!
//! `--quick` uses criterion's quick mode (sample until the estimate is stable, at most the
//! measurement time), so a full pass takes well under two minutes. A side-by-side comparison
//! with peer tools is planned but not implemented; the task says so instead of printing
//! made-up numbers.

use crate::cmd::{self, Error, Result};

pub fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut filter = None;
    for a in args {
        match a.as_str() {
            "--quick" => quick = true,
            f if !f.starts_with('-') && filter.is_none() => filter = Some(f.to_string()),
            other => return Err(Error::Usage(format!("bench: unexpected argument {other:?}"))),
        }
    }

    let mut bench = cmd::cargo();
    bench.args(["bench", "--package", "arca", "--bench", "stages", "--"]);
    if quick {
        bench.arg("--quick");
    }
    if let Some(f) = filter {
        bench.arg(f);
    }
    cmd::run(bench, &cmd::project_root())?;

    eprintln!("note: the side-by-side comparison with peer tools is not implemented yet; only arca's stages ran");
    Ok(())
}
