//! `cargo xtask fuzz [--seconds N] [TARGET...]`: run the cargo-fuzz targets of `fuzz/`.
//!
//! cargo-fuzz needs unstable compiler flags (`-Zsanitizer`, coverage instrumentation); on a
//! stable toolchain `RUSTC_BOOTSTRAP=1` unlocks them, so no nightly is required. The targets
//! are built once together (shared dependencies compile once), then each runs for N seconds.
//! Every target runs even after one fails, so one pass reports all crashing targets; crash
//! inputs land in `fuzz/artifacts/<target>/`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cmd::{self, Error, Result};

const DEFAULT_SECONDS: u64 = 10;

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().ok_or_else(|| Error::Usage("--seconds needs a value".into()))?;
                seconds = v.parse().map_err(|_| Error::Usage(format!("--seconds: {v:?} is not a whole number")))?;
            }
            t if !t.starts_with('-') => targets.push(t.to_string()),
            other => return Err(Error::Usage(format!("fuzz: unexpected argument {other:?}"))),
        }
    }

    let fuzz_dir = cmd::project_root().join("fuzz");
    let known = list_targets(&fuzz_dir)?;
    if targets.is_empty() {
        targets = known;
    } else if let Some(t) = targets.iter().find(|t| !known.contains(t)) {
        return Err(Error::Usage(format!("unknown fuzz target {t:?}; known: {}", known.join(", "))));
    }

    ensure_cargo_fuzz()?;
    cmd::run(cargo_fuzz(&["build"]), &fuzz_dir)?;

    let max_time = format!("-max_total_time={seconds}");
    let mut failed = Vec::new();
    for t in &targets {
        if let Err(e) = cmd::run(cargo_fuzz(&["run", t, "--", &max_time]), &fuzz_dir) {
            eprintln!("fuzz target {t}: {e}");
            failed.push(t.as_str());
        }
    }
    if failed.is_empty() {
        eprintln!("fuzz: {} targets ran {seconds} s each without a crash", targets.len());
        Ok(())
    } else {
        Err(Error::Check(format!("fuzz targets failed: {} (inputs in fuzz/artifacts/)", failed.join(", "))))
    }
}

/// `cargo fuzz <args>` with the stable-toolchain unlock.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut c = cmd::cargo();
    c.arg("fuzz").args(args).env("RUSTC_BOOTSTRAP", "1");
    c
}

/// Target names: the files of `fuzz/fuzz_targets/`, sorted.
fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?.path();
        if path.extension().is_some_and(|x| x == "rs") {
            if let Some(stem) = path.file_stem() {
                names.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = cmd::cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing; installing it (a few minutes)");
    let mut install = cmd::cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    cmd::run(install, &cmd::project_root())
}
