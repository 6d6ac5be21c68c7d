//! Hooks: shell commands a profile runs around `backup`, `forget`, `prune` and `check`.
//!
//! - `run-before`: before the command; if one fails (non-zero exit, or its timeout), the
//!   command does not run and arca exits 1.
//! - `run-after`: after the command succeeded (exit 0, or 3 for a backup that could not read
//!   some files).
//! - `run-failed`: after the command (or a `run-before` hook) failed.
//! - `run-finally`: always, last.
//!
//! Each runs as `sh -c COMMAND` with stdin closed, its output passed on to arca's stderr line
//! by line as `[run-after] …`, and these variables: `ARCA_HOOK` (the phase), `ARCA_COMMAND`,
//! `ARCA_PROFILE`, `ARCA_REPOSITORY`, and after the command `ARCA_EXIT_CODE`, `ARCA_ERROR` (on
//! failure) and the command's figures (backup: `ARCA_SNAPSHOT_ID`, `ARCA_FILES_NEW`,
//! `ARCA_FILES_CHANGED`, `ARCA_FILES_UNMODIFIED`, `ARCA_DATA_ADDED`, `ARCA_DATA_ADDED_PACKED`, `ARCA_TOTAL_BYTES`,
//! `ARCA_SOURCE_ERRORS`). Never `ARCA_PASSWORD` (or `ARCA_FROM_PASSWORD`): those are removed
//! from a hook's environment. A hook that outlives `hook-timeout` (default 10 minutes) is killed
//! and counts as failed. A failing after, failed or finally hook is reported as a warning and
//! does not change the exit code.

use std::time::Duration;

use super::profile::Hooks;
use crate::error::{Error, Result};
use crate::platform::process::{run_shell, ShellFailure};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub struct HookRunner {
    hooks: Hooks,
    timeout: Duration,
    base_env: Vec<(String, String)>,
}

impl HookRunner {
    pub fn new(hooks: Hooks, command: &str, profile: &str, repository: &str) -> Result<HookRunner> {
        let timeout = match &hooks.hook_timeout {
            Some(t) => humantime::parse_duration(t)
                .map_err(|e| Error::usage(format!("hook-timeout {t:?}: {e}")).hint("use e.g. 30s, 5m or 1h"))?,
            None => DEFAULT_TIMEOUT,
        };
        let base_env = vec![
            ("ARCA_COMMAND".to_string(), command.to_string()),
            ("ARCA_PROFILE".to_string(), profile.to_string()),
            ("ARCA_REPOSITORY".to_string(), repository.to_string()),
        ];
        Ok(HookRunner { hooks, timeout, base_env })
    }

    /// Run the `run-before` hooks; the first failure stops them and is returned.
    pub fn before(&self) -> Result<()> {
        for cmd in &self.hooks.run_before {
            self.run_one("run-before", cmd, &[]).map_err(|why| {
                Error::new(crate::error::Kind::Other, format!("run-before hook `{cmd}` {why}; the command did not run"))
            })?;
        }
        Ok(())
    }

    /// After the command: `run-after` or `run-failed`, then `run-finally`. Failures are warnings.
    pub fn after(&self, code: u8, error: Option<&str>, facts: &[(String, String)]) {
        let mut env: Vec<(String, String)> = facts.to_vec();
        env.push(("ARCA_EXIT_CODE".into(), code.to_string()));
        if let Some(e) = error {
            env.push(("ARCA_ERROR".into(), e.to_string()));
        }
        let ok = code == super::exit::OK || code == super::exit::PARTIAL;
        let (phase, cmds) =
            if ok { ("run-after", &self.hooks.run_after) } else { ("run-failed", &self.hooks.run_failed) };
        for (phase, cmds) in [(phase, cmds), ("run-finally", &self.hooks.run_finally)] {
            for cmd in cmds {
                if let Err(why) = self.run_one(phase, cmd, &env) {
                    tracing::warn!("{phase} hook `{cmd}` {why}");
                }
            }
        }
    }

    /// Run one hook; `Err` says how it failed.
    fn run_one(&self, phase: &str, cmd: &str, extra: &[(String, String)]) -> std::result::Result<(), String> {
        let env = self.base_env.iter().chain(extra).cloned().chain([("ARCA_HOOK".to_string(), phase.to_string())]);
        match run_shell(cmd, env, phase, self.timeout) {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(match s.code() {
                Some(c) => format!("failed (exit code {c})"),
                None => "was killed by a signal".into(),
            }),
            Err(ShellFailure::Start(e)) => Err(format!("could not start: {e}")),
            Err(ShellFailure::TimedOut) => Err(format!("timed out after {}", humantime::format_duration(self.timeout))),
            Err(ShellFailure::Wait(e)) => Err(format!("could not be waited for: {e}")),
        }
    }
}
