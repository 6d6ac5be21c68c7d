//! `cargo xtask ci`: the checks a change must pass, cheapest first, so a formatting slip is
//! reported in a second rather than after the test suite.

use std::time::Instant;

use crate::cmd::{self, Result};
use crate::layers;
use crate::servers::Servers;

pub fn run() -> Result<()> {
    let root = cmd::project_root();
    let started = Instant::now();
    let took = |step: &str, since: Instant| eprintln!("ci: {step} took {:.0} s", since.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut fmt = cmd::cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    cmd::run(fmt, &root)?;
    let mut clippy = cmd::cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    cmd::run(clippy, &root)?;
    eprintln!("$ cargo xtask layers");
    layers::run(&root)?;
    took("formatting, lints and layers", t);

    // Real storage servers for the backend suites; a server that is missing fails the run.
    let t = Instant::now();
    let servers = Servers::start(&root)?;
    took("starting the storage servers", t);
    let t = Instant::now();
    let mut test = cmd::cargo();
    test.args(["test", "--workspace"]).env("ARCA_TEST_REQUIRE_SERVERS", "1");
    servers.apply(&mut test);
    cmd::run(test, &root)?;
    drop(servers);
    took("the tests", t);

    eprintln!("ci: all steps passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
