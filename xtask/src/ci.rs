//! `cargo xtask ci`: the checks a change must pass, cheapest first, so a formatting slip is
//! reported in a second rather than after the test suite.

use crate::cmd::{self, Result};
use crate::layers;

pub fn run() -> Result<()> {
    let root = cmd::project_root();

    let mut fmt = cmd::cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    cmd::run(fmt, &root)?;

    let mut clippy = cmd::cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    cmd::run(clippy, &root)?;

    eprintln!("$ cargo xtask layers");
    layers::run(&root)?;

    let mut test = cmd::cargo();
    test.args(["test", "--workspace"]);
    cmd::run(test, &root)?;

    eprintln!("ci: all steps passed");
    Ok(())
}
