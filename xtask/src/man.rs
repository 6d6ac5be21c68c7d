//! `cargo xtask man [DIR]`: build arca and write its man pages (default `target/man`), from the
//! same clap definitions as `--help`.

use std::path::PathBuf;

use crate::cmd::{self, Error, Result};

pub fn run(args: &[String]) -> Result<()> {
    let root = cmd::project_root();
    let dir = match args {
        [] => root.join("target/man"),
        [d] => PathBuf::from(d),
        _ => return Err(Error::Usage("man: at most one directory".into())),
    };
    let mut c = cmd::cargo();
    c.args(["run", "--quiet", "--bin", "arca", "--", "generate", "--man"]).arg(&dir);
    cmd::run(c, &root)?;
    eprintln!("try: man -l {}", dir.join("arca-backup.1").display());
    Ok(())
}
