//! `cargo xtask compat`: regenerate the README's restic-compatibility table from arca's clap
//! definitions (the test `cli::restic_compat::readme_table_is_generated_from_the_code`,
//! which writes the table when `ARCA_COMPAT_WRITE` is set and fails on a stale one otherwise).

use crate::cmd::{self, Error, Result};

pub fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        return Err(Error::Usage("compat takes no arguments".into()));
    }
    let root = cmd::project_root();
    let mut c = cmd::cargo();
    c.args(["test", "--quiet", "--lib", "cli::restic_compat::", "--", "--nocapture"]).env("ARCA_COMPAT_WRITE", "1");
    cmd::run(c, &root)
}
