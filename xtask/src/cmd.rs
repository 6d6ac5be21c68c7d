//! Running child processes and the one error type of xtask.
//!
//! A failed step keeps the child's exit code, so `cargo xtask ci` exits with the code of the
//! first step that failed and scripts can tell "clippy failed" from "tests failed" if they care.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug)]
pub enum Error {
    /// Bad command line.
    Usage(String),
    /// A child process ran and failed.
    Failed { what: String, code: u8 },
    /// A child process could not be started, or a file could not be read.
    Io { what: String, source: std::io::Error },
    /// A check found problems (already printed).
    Check(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed { code, .. } => *code,
            Error::Io { .. } | Error::Check(_) => 1,
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Check(m) => f.write_str(m),
            Error::Failed { what, code } => write!(f, "`{what}` failed (exit code {code})"),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The workspace root: xtask lives in `<root>/xtask`.
pub fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The cargo that runs us (cargo sets `$CARGO`), so toolchain overrides carry through.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Run `command` in `dir`, echoing it first; a non-zero exit becomes [`Error::Failed`].
pub fn run(mut command: Command, dir: &Path) -> Result<()> {
    let shown = display(&command);
    eprintln!("$ {shown}");
    let status = command.current_dir(dir).status().map_err(|e| Error::io(format!("starting `{shown}`"), e))?;
    if status.success() {
        Ok(())
    } else {
        // Killed by a signal has no code; report it as a plain failure.
        let code = status.code().and_then(|c| u8::try_from(c).ok()).filter(|&c| c != 0).unwrap_or(1);
        Err(Error::Failed { what: shown, code })
    }
}

fn display(command: &Command) -> String {
    let program = if command.get_program() == std::env::var_os("CARGO").unwrap_or_default().as_os_str() {
        OsStr::new("cargo")
    } else {
        command.get_program()
    };
    let mut parts: Vec<String> = command
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    parts.push(program.to_string_lossy().into_owned());
    parts.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}
