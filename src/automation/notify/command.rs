//! A command channel: `sh -c COMMAND`, run as the hooks are (stdin closed, its own process
//! group killed at the timeout, its output passed on to stderr as `[notify] …`, no
//! `ARCA_PASSWORD` in its environment), with the notification in variables:
//! `ARCA_NOTIFY_EVENT` (start, success, warning, failure, stale), `ARCA_NOTIFY_TITLE`,
//! `ARCA_NOTIFY_TEXT`, `ARCA_NOTIFY_JSON` (the webhook's JSON summary), `ARCA_PROFILE`, and
//! for a run `ARCA_COMMAND`, `ARCA_EXIT_CODE`, `ARCA_ERROR`, `ARCA_SNAPSHOT_ID`; for a stale
//! source `ARCA_SOURCE`. A non-zero exit is a failed delivery (and retried).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{message, Attempt, Event};

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
        let mut child = crate::platform::without_secrets(&mut Command::new("sh"))
            .args(["-c", &self.run])
            .envs(Self::env(event, host))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| Attempt::permanent(format!("could not start: {e}")))?;
        let relays: Vec<_> = [child.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>)]
            .into_iter()
            .chain([child.stderr.take().map(|e| Box::new(e) as Box<dyn std::io::Read + Send>)])
            .flatten()
            .map(|pipe| {
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                        eprintln!("[notify] {line}");
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let group = nix::unistd::Pid::from_raw(child.id() as i32);
                    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(Attempt::retry(format!("timed out after {timeout:?}")));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => break Err(Attempt::retry(format!("could not be waited for: {e}"))),
            }
        };
        for r in relays {
            let _ = r.join();
        }
        match status?.code() {
            Some(0) => Ok(()),
            Some(c) => Err(Attempt::retry(format!("exit code {c}"))),
            None => Err(Attempt::retry("killed by a signal")),
        }
    }
}
