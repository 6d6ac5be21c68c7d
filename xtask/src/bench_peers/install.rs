//! Installing the peers, pinned, outside the repository.
//!
//! restic and borgbackup are the distribution's packages (whatever version apt gives; the
//! report records it), rustic and bupstash are built from crates.io at pinned versions with
//! `cargo install --locked --root <data>/peers` (bupstash links libsodium, so it needs
//! `libsodium-dev` and `pkg-config`; each build takes 10–20 minutes on 2 cores). `time` gives
//! `/usr/bin/time`. Only what `--tools` selects is installed, and nothing already present.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools::{Adapter, Tool};
use crate::cmd::{self, Result};

/// A crate built with `cargo install`: (crate, pinned version, binary).
const RUSTIC: (&str, &str, &str) = ("rustic-rs", "0.11.4", "rustic");
const BUPSTASH: (&str, &str, &str) = ("bupstash", "0.12.0", "bupstash");

/// Install what `tools` need; returns an adapter per tool, in the given order.
pub fn install(tools: &[Tool], arca: &Path, data: &Path) -> Result<Vec<Adapter>> {
    let root = data.join("peers");
    let mut apt = vec![];
    if !Path::new("/usr/bin/time").exists() {
        apt.push("time");
    }
    for &tool in tools {
        match tool {
            Tool::Restic if !runs("restic", "version") => apt.push("restic"),
            Tool::Borg if !runs("borg", "--version") => apt.push("borgbackup"),
            Tool::Bupstash if !built(&root, BUPSTASH) => apt.extend(["libsodium-dev", "pkg-config"]),
            _ => {}
        }
    }
    if !apt.is_empty() {
        eprintln!("installing with apt: {}", apt.join(" "));
        cmd::apt_install(&apt)?;
    }
    for &tool in tools {
        match tool {
            Tool::Rustic => cargo_install(&root, RUSTIC)?,
            Tool::Bupstash => cargo_install(&root, BUPSTASH)?,
            _ => {}
        }
    }
    Ok(tools.iter().map(|&t| Adapter::new(t, program(t, arca, &root))).collect())
}

fn program(tool: Tool, arca: &Path, root: &Path) -> PathBuf {
    match tool {
        Tool::Arca => arca.to_path_buf(),
        Tool::Restic => "restic".into(),
        Tool::Borg => "borg".into(),
        Tool::Rustic => root.join("bin").join(RUSTIC.2),
        Tool::Bupstash => root.join("bin").join(BUPSTASH.2),
    }
}

/// How a tool was installed, for the report.
pub fn provenance(tool: Tool) -> String {
    let deb = |package: &str| {
        let v = cmd::stdout(Command::new("dpkg-query").args(["-W", "-f", "${Version}", package]));
        format!("Debian package {package} {}", v.unwrap_or_else(|| "(version unknown)".into()))
    };
    let krate = |(name, version, _): (&str, &str, &str)| format!("`cargo install --locked {name}@{version}`");
    match tool {
        Tool::Arca => {
            let mut git = Command::new("git");
            git.arg("-C").arg(cmd::project_root()).args(["describe", "--always", "--dirty"]);
            let commit = cmd::stdout(&mut git).unwrap_or_else(|| "unknown".into());
            format!("this checkout ({commit}), `cargo build --release`")
        }
        Tool::Restic => deb("restic"),
        Tool::Borg => deb("borgbackup"),
        Tool::Rustic => krate(RUSTIC),
        Tool::Bupstash => krate(BUPSTASH),
    }
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// Whether `root/bin` holds the crate's binary at the pinned version (cargo's own record).
fn built(root: &Path, (name, version, bin): (&str, &str, &str)) -> bool {
    let record = std::fs::read_to_string(root.join(".crates.toml")).unwrap_or_default();
    root.join("bin").join(bin).exists() && record.contains(&format!("\"{name} {version} "))
}

fn cargo_install(root: &Path, krate: (&str, &str, &str)) -> Result<()> {
    if built(root, krate) {
        return Ok(());
    }
    let (name, version, _) = krate;
    eprintln!("building {name} {version} with cargo install (10–20 minutes on 2 cores)");
    let mut c = cmd::cargo();
    c.args(["install", "--locked", "--version", version, "--root"]).arg(root).arg(name);
    // outside the checkout, so this project's .cargo/config.toml does not apply
    std::fs::create_dir_all(root).map_err(|e| cmd::Error::io(root.display().to_string(), e))?;
    cmd::run(c, root)
}
