//! `arca completion SHELL` and `arca generate --man DIR`: shell completions and man pages
//! made from the clap definitions, so they never drift from the real flags.

use std::path::Path;

use clap::CommandFactory;

use super::args::Cli;
use super::exit;
use crate::error::{Error, Result};

pub fn completion(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut buf = vec![];
    clap_complete::generate(shell, &mut cmd, "arca", &mut buf);
    // a closed pipe (`| head`) is not an error worth reporting
    let _ = std::io::Write::write_all(&mut std::io::stdout(), &buf);
    Ok(exit::OK)
}

/// `arca.1`, and `arca-COMMAND.1` for every command (`arca-key-add.1` for nested ones).
pub fn man_pages(dir: &Path) -> Result<u8> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = 0;
    write_page(dir, &cmd, "arca", &mut written)?;
    eprintln!("wrote {written} man pages to {}", dir.display());
    Ok(exit::OK)
}

fn write_page(dir: &Path, cmd: &clap::Command, name: &str, written: &mut usize) -> Result<()> {
    let page = cmd.clone().name(name.to_string()).bin_name(name.replace('-', " "));
    let mut buf = vec![];
    clap_mangen::Man::new(page).render(&mut buf).map_err(|e| Error::io(name, e))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).map_err(|e| Error::io(path.display(), e))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_page(dir, sub, &format!("{name}-{}", sub.get_name()), written)?;
    }
    Ok(())
}
