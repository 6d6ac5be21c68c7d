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

/// Run `command` with its output captured; a failure becomes [`Error::Failed`] carrying its
/// stderr, so only failures are shown.
pub fn quiet(mut command: Command, what: &str) -> Result<()> {
    let out = command.output().map_err(|e| Error::io(format!("running {what}"), e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Failed { what: format!("{what}: {}", err.trim()), code: 1 });
    }
    Ok(())
}

/// The trimmed stdout of `command`, if it ran and succeeded (for version strings and the like).
pub fn stdout(command: &mut Command) -> Option<String> {
    let out = command.output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Install Debian packages with apt-get, non-interactively; when that fails, refresh the
/// package lists once and try again.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "-qq"]).args(packages).env("DEBIAN_FRONTEND", "noninteractive");
        quiet(c, &format!("apt-get install {}", packages.join(" ")))
    };
    install().or_else(|_| {
        let mut update = Command::new("apt-get");
        update.args(["update", "-qq"]);
        quiet(update, "apt-get update")?;
        install()
    })
}

/// Today's date as YYYY-MM-DD (local time), for the names of results files.
pub fn today() -> String {
    let out = Command::new("date").arg("+%Y-%m-%d").output().ok();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
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
