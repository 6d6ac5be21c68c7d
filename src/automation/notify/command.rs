//! A command channel: `sh -c COMMAND`, run as the hooks are, by the same
//! [`crate::platform::process::run_shell`] (stdin closed, its own process group killed at the
//! timeout, its output passed on to stderr as `[notify] …`, no `ARCA_PASSWORD` in its
//! environment), with the notification in variables:
//! `ARCA_NOTIFY_EVENT` (start, success, warning, failure, stale), `ARCA_NOTIFY_TITLE`,
//! `ARCA_NOTIFY_TEXT`, `ARCA_NOTIFY_JSON` (the webhook's JSON summary), `ARCA_PROFILE`, and
//! for a run `ARCA_COMMAND`, `ARCA_EXIT_CODE`, `ARCA_ERROR`, `ARCA_SNAPSHOT_ID`; for a stale
//! source `ARCA_SOURCE`. A non-zero exit is a failed delivery (and retried).

use std::time::Duration;

use super::{message, Attempt, Event};
use crate::platform::process::{run_shell, ShellFailure};

pub struct CommandChannel {
    run: String,
}

impl CommandChannel {
    pub fn new(run: &str) -> crate::error::Result<CommandChannel> {
        if run.trim().is_empty() {
            return Err(crate::error::Error::usage("[[notify.command]] run: empty command"));
        }
        Ok(CommandChannel { run: run.to_string() })
    }

    pub fn describe(&self) -> String {
        // the first word only: the rest may carry a token
        format!("command `{}`", self.run.split_whitespace().next().unwrap_or_default())
    }

    fn env(event: &Event, host: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("ARCA_NOTIFY_EVENT", event.kind().map_or("start", |k| k.as_str()).to_string()),
            ("ARCA_NOTIFY_TITLE", message::title(event, host)),
            ("ARCA_NOTIFY_TEXT", message::text(event, host)),
            ("ARCA_NOTIFY_JSON", message::json(event, host).to_string()),
        ];
        match event {
            Event::Start { profile, job } => {
                env.extend([("ARCA_PROFILE", profile.to_string()), ("ARCA_COMMAND", job.to_string())])
            }
            Event::Finished(r) => {
                env.extend([
                    ("ARCA_PROFILE", r.profile.clone()),
                    ("ARCA_COMMAND", r.job.clone()),
                    ("ARCA_EXIT_CODE", r.exit_code.to_string()),
                    ("ARCA_SNAPSHOT_ID", r.snapshot_id.clone().unwrap_or_default()),
                ]);
                if let Some(e) = &r.error {
                    env.push(("ARCA_ERROR", e.clone()));
                }
            }
            Event::Stale(s) => env.extend([("ARCA_PROFILE", s.profile.clone()), ("ARCA_SOURCE", s.source.clone())]),
        }
        env
    }

    pub(super) fn send(&self, event: &Event, host: &str, timeout: Duration) -> std::result::Result<(), Attempt> {
        match run_shell(&self.run, Self::env(event, host), "notify", timeout) {
            Ok(s) => match s.code() {
                Some(0) => Ok(()),
                Some(c) => Err(Attempt::retry(format!("exit code {c}"))),
                None => Err(Attempt::retry("killed by a signal")),
            },
            Err(ShellFailure::Start(e)) => Err(Attempt::permanent(format!("could not start: {e}"))),
            Err(ShellFailure::TimedOut) => Err(Attempt::retry(format!("timed out after {timeout:?}"))),
            Err(ShellFailure::Wait(e)) => Err(Attempt::retry(format!("could not be waited for: {e}"))),
        }
    }
}
