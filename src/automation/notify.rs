//! Notifications: after a job a profile drove, and when a source's newest snapshot grows
//! older than the profile's `stale-after`, tell someone, by a webhook (generic JSON, ntfy,
//! Slack, Discord, healthchecks-style pings), by email over SMTP, or by running a command.
//!
//! Which events go out is the profile's `on` list (per channel if it has its own): `success`
//! (exit 0), `warning` (exit 3: the snapshot exists but some sources could not be read),
//! `failure` (any other exit, interruption included) and `stale`. A healthchecks channel is
//! the exception: it pings `/start` before every run and success or `/fail` after it whatever
//! `on` says, because such a service alerts on the pings that do not come.
//!
//! Every delivery is bounded: each attempt has a timeout, a failed attempt is retried after a
//! delay that doubles (`attempts`, `timeout`, `retry-delay`), the channels are served in
//! parallel, and a channel that still fails is returned as a [`Failed`] for the caller to warn
//! about, naming the channel and the reason. Nothing here changes a job's exit code, and the
//! longest a job can be held up is one channel's budget: attempts × timeout plus the delays.
//! Secrets (a webhook's URL, which often holds its token; header values; the SMTP password)
//! are never in a message: channels are named by kind and host only.

mod command;
mod email;
mod message;
mod webhook;

use std::collections::BTreeSet;
use std::time::Duration;

pub use command::CommandChannel;
pub use email::{Email, SmtpPassword, SmtpTls};
pub use message::StaleSource;
pub use webhook::{Preset, Webhook};

use crate::cache::runs::{Outcome, RunRecord};
use crate::error::{Error, Result};

/// What happened, as `on` lists name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    Success,
    Warning,
    Failure,
    Stale,
}

impl EventKind {
    pub const ALL: &[(&str, EventKind)] = &[
        ("success", EventKind::Success),
        ("warning", EventKind::Warning),
        ("failure", EventKind::Failure),
        ("stale", EventKind::Stale),
    ];

    pub fn parse(s: &str) -> Result<EventKind> {
        EventKind::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k).ok_or_else(|| {
            Error::usage(format!("[notify] on: unknown event {s:?}")).hint("use success, warning, failure or stale")
        })
    }

    pub fn as_str(self) -> &'static str {
        EventKind::ALL.iter().find(|(_, k)| *k == self).map_or("failure", |(n, _)| n)
    }

    fn of(outcome: Outcome) -> EventKind {
        match outcome {
            Outcome::Success => EventKind::Success,
            Outcome::Warning => EventKind::Warning,
            Outcome::Failure | Outcome::Interrupted => EventKind::Failure,
        }
    }
}

/// The events a profile notifies about when it says nothing: the ones someone must act on.
pub const DEFAULT_ON: &[EventKind] = &[EventKind::Warning, EventKind::Failure, EventKind::Stale];

/// What a notification is about.
pub enum Event<'a> {
    /// A job is starting (only healthchecks-style channels hear of it).
    Start { profile: &'a str, job: &'a str },
    /// A job ended; its record holds the figures.
    Finished(&'a RunRecord),
    /// A source's newest snapshot is older than `stale-after` (or it has none).
    Stale(&'a StaleSource),
}

impl Event<'_> {
    fn kind(&self) -> Option<EventKind> {
        match self {
            Event::Start { .. } => None,
            Event::Finished(r) => Some(EventKind::of(r.outcome)),
            Event::Stale(_) => Some(EventKind::Stale),
        }
    }
}

/// How hard one channel tries.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Per attempt.
    pub timeout: Duration,
    /// Before the second attempt; doubled before each later one.
    pub delay: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { attempts: 3, timeout: Duration::from_secs(10), delay: Duration::from_secs(1) }
    }
}

/// The bounds a profile may set: enough for a slow server, never an unbounded wait.
pub const MAX_ATTEMPTS: u32 = 10;
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
pub const MAX_DELAY: Duration = Duration::from_secs(60);

impl Retry {
    pub fn checked(self) -> Result<Retry> {
        let bad = |what: String| Err(Error::usage(format!("[notify] {what}")));
        if self.attempts == 0 || self.attempts > MAX_ATTEMPTS {
            return bad(format!("attempts = {}: give 1 to {MAX_ATTEMPTS}", self.attempts));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return bad(format!("timeout {:?}: give more than 0 and at most 5m", self.timeout));
        }
        if self.delay > MAX_DELAY {
            return bad(format!("retry-delay {:?}: give at most 1m", self.delay));
        }
        Ok(self)
    }

    /// The longest one channel can take (all attempts time out).
    pub fn budget(&self) -> Duration {
        let delays: Duration = (0..self.attempts.saturating_sub(1)).map(|i| self.delay * 2u32.pow(i)).sum();
        self.timeout * self.attempts + delays
    }
}

/// How one channel delivers.
pub enum Channel {
    Webhook(Webhook),
    Email(Email),
    Command(CommandChannel),
}

impl Channel {
    /// The channel as warnings name it: its kind and host, never its URL or password.
    pub fn describe(&self) -> String {
        match self {
            Channel::Webhook(w) => w.describe(),
            Channel::Email(e) => e.describe(),
            Channel::Command(c) => c.describe(),
        }
    }

    fn send(&self, event: &Event, host: &str, timeout: Duration) -> std::result::Result<(), Attempt> {
        match self {
            Channel::Webhook(w) => w.send(event, host, timeout),
            Channel::Email(e) => e.send(event, host, timeout),
            Channel::Command(c) => c.send(event, host, timeout),
        }
    }

    fn hears(&self, event: &Event, on: &BTreeSet<EventKind>) -> bool {
        match (self, event) {
            (Channel::Webhook(w), Event::Start { .. } | Event::Finished(_)) if w.preset == Preset::Healthchecks => true,
            (Channel::Webhook(w), Event::Stale(_)) if w.preset == Preset::Healthchecks => false,
            (_, e) => e.kind().is_some_and(|k| on.contains(&k)),
        }
    }
}

/// Why one attempt failed, and whether another could succeed.
#[derive(Debug)]
pub struct Attempt {
    pub reason: String,
    /// A refusal that will not change (a 4xx answer, a bad address): no retry.
    pub permanent: bool,
}

impl Attempt {
    fn retry(reason: impl Into<String>) -> Attempt {
        Attempt { reason: reason.into(), permanent: false }
    }

    fn permanent(reason: impl Into<String>) -> Attempt {
        Attempt { reason: reason.into(), permanent: true }
    }
}

/// A channel and the events it hears (`None`: the profile's).
pub struct Route {
    pub channel: Channel,
    pub on: Option<BTreeSet<EventKind>>,
}

/// A notification that did not get through.
#[derive(Debug)]
pub struct Failed {
    pub channel: String,
    pub reason: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "notification by {} failed: {}", self.channel, self.reason)
    }
}

/// A profile's notifications.
pub struct Notifier {
    pub routes: Vec<Route>,
    pub on: BTreeSet<EventKind>,
    pub retry: Retry,
    /// This machine's name, in every message.
    pub host: String,
}

impl Notifier {
    /// Tell every channel that hears `event`, in parallel, each within its retry budget; the
    /// channels that failed are returned.
    pub fn send(&self, event: &Event) -> Vec<Failed> {
        let routes: Vec<&Route> =
            self.routes.iter().filter(|r| r.channel.hears(event, r.on.as_ref().unwrap_or(&self.on))).collect();
        std::thread::scope(|scope| {
            let running: Vec<_> = routes.iter().map(|r| scope.spawn(|| self.deliver(&r.channel, event))).collect();
            running
                .into_iter()
                .zip(&routes)
                .filter_map(|(t, r)| match t.join() {
                    Ok(result) => result.err(),
                    Err(_) => Some(Failed { channel: r.channel.describe(), reason: "it panicked".into() }),
                })
                .collect()
        })
    }

    fn deliver(&self, channel: &Channel, event: &Event) -> std::result::Result<(), Failed> {
        let mut delay = self.retry.delay;
        let mut attempt = 1;
        loop {
            match channel.send(event, &self.host, self.retry.timeout) {
                Ok(()) => return Ok(()),
                Err(a) if a.permanent || attempt >= self.retry.attempts => {
                    let tries = if attempt == 1 { "1 attempt".to_string() } else { format!("{attempt} attempts") };
                    return Err(Failed { channel: channel.describe(), reason: format!("{} ({tries})", a.reason) });
                }
                Err(a) => {
                    tracing::debug!("notification by {}: {}; trying again in {delay:?}", channel.describe(), a.reason);
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(MAX_DELAY);
                    attempt += 1;
                }
            }
        }
    }
}

/// This machine's host name (for the messages).
pub fn host_name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown host".into())
}

#[cfg(test)]
mod tests;
