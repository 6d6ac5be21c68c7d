//! The `[notify]` section of a profile, and the notifier it makes:
//!
//! ```toml
//! [notify]
//! on = ["failure", "warning", "stale"]   # the default; add "success" to hear of every run
//! stale-after = "26h"                    # `arca status --notify`: a source with no newer snapshot
//! attempts = 3                           # per channel, with retry-delay doubling between them
//! timeout = "10s"                        # per attempt
//! retry-delay = "1s"
//!
//! [[notify.webhook]]
//! url = "https://ntfy.sh/my-backups"     # masked by `config show`: URLs carry tokens
//! preset = "ntfy"                        # generic (JSON), ntfy, slack, discord, healthchecks
//! headers = { Authorization = "Bearer ${NTFY_TOKEN}" }
//!
//! [[notify.email]]
//! host = "smtp.example.org"
//! tls = "starttls"                       # starttls (587), tls (465), none (25)
//! user = "arca@example.org"
//! password-file = "~/.config/arca/smtp-password"   # or password-env = "SMTP_PASSWORD"
//! from = "arca@example.org"
//! to = ["me@example.org"]
//!
//! [[notify.command]]
//! run = "logger -t arca \"$ARCA_NOTIFY_TITLE\""
//! ```
//!
//! Each channel may have its own `on`. A value that cannot work (an unknown preset, a URL that
//! is not http(s), a bad address) is an error before the job runs, like any profile error; what
//! can only fail at send time (a password file that went missing) is a failed delivery.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::profile::expand_tilde;
use crate::automation::notify::{
    Channel, CommandChannel, Email, EventKind, Notifier, Preset, Retry, Route, SmtpPassword, SmtpTls, Webhook,
    DEFAULT_ON,
};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NotifySection {
    pub on: Option<Vec<String>>,
    pub stale_after: Option<String>,
    pub attempts: Option<u32>,
    pub timeout: Option<String>,
    pub retry_delay: Option<String>,
    #[serde(default)]
    pub webhook: Vec<WebhookSection>,
    #[serde(default)]
    pub email: Vec<EmailSection>,
    #[serde(default)]
    pub command: Vec<CommandSection>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WebhookSection {
    pub url: String,
    pub preset: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// healthchecks: ping `URL/<exit code>` instead of `URL` and `URL/fail`.
    pub exit_code: Option<bool>,
    pub on: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EmailSection {
    pub host: String,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub on: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommandSection {
    pub run: String,
    pub on: Option<Vec<String>>,
}

fn duration(key: &str, v: &Option<String>, default: std::time::Duration) -> Result<std::time::Duration> {
    match v {
        None => Ok(default),
        Some(t) => humantime::parse_duration(t)
            .map_err(|e| Error::usage(format!("[notify] {key} {t:?}: {e}")).hint("use e.g. 30s, 5m or 26h")),
    }
}

fn events(on: &Option<Vec<String>>) -> Result<Option<std::collections::BTreeSet<EventKind>>> {
    on.as_ref().map(|list| list.iter().map(|e| EventKind::parse(e)).collect()).transpose()
}

impl NotifySection {
    pub fn is_empty(&self) -> bool {
        self.webhook.is_empty() && self.email.is_empty() && self.command.is_empty()
    }

    /// `stale-after` as a duration, if set.
    pub fn stale_after(&self) -> Result<Option<std::time::Duration>> {
        self.stale_after.as_ref().map(|_| duration("stale-after", &self.stale_after, Default::default())).transpose()
    }

    /// The notifier this section describes (checked whole).
    pub fn notifier(&self) -> Result<Notifier> {
        let d = Retry::default();
        let retry = Retry {
            attempts: self.attempts.unwrap_or(d.attempts),
            timeout: duration("timeout", &self.timeout, d.timeout)?,
            delay: duration("retry-delay", &self.retry_delay, d.delay)?,
        }
        .checked()?;
        self.stale_after()?;
        let mut routes = vec![];
        for w in &self.webhook {
            let preset = Preset::parse(w.preset.as_deref().unwrap_or("generic"))?;
            let headers = w.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let hook = Webhook::new(&w.url, preset, headers, w.exit_code.unwrap_or(false))?;
            routes.push(Route { channel: Channel::Webhook(hook), on: events(&w.on)? });
        }
        for e in &self.email {
            let tls = SmtpTls::parse(e.tls.as_deref().unwrap_or("starttls"))?;
            let password = match (&e.password_file, &e.password_env) {
                (Some(f), None) => Some(SmtpPassword::File(expand_tilde(f))),
                (None, Some(v)) => Some(SmtpPassword::Env(v.clone())),
                (None, None) => None,
                (Some(_), Some(_)) => {
                    return Err(Error::usage("[[notify.email]] gives both password-file and password-env")
                        .hint("keep one of them"))
                }
            };
            let login = match (&e.user, password) {
                (Some(u), Some(p)) => Some((u.clone(), p)),
                (None, None) => None,
                _ => {
                    return Err(Error::usage("[[notify.email]] needs user and a password together")
                        .hint("give user with password-file or password-env, or neither"))
                }
            };
            let email = Email::new(&e.host, e.port, tls, login, &e.from, &e.to)?;
            routes.push(Route { channel: Channel::Email(email), on: events(&e.on)? });
        }
        for c in &self.command {
            routes.push(Route { channel: Channel::Command(CommandChannel::new(&c.run)?), on: events(&c.on)? });
        }
        let on = events(&self.on)?.unwrap_or_else(|| DEFAULT_ON.iter().copied().collect());
        Ok(Notifier { routes, on, retry, host: crate::automation::notify::host_name() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Result<Notifier> {
        let t: toml::Table = text.parse().unwrap();
        NotifySection::deserialize(toml::Value::Table(t)).unwrap().notifier()
    }

    #[test]
    fn a_section_makes_its_channels_and_mistakes_are_named_before_any_job_runs() {
        let n = section(
            "on = [\"failure\", \"success\"]\nattempts = 2\ntimeout = \"3s\"\n\
             [[webhook]]\nurl = \"http://127.0.0.1:9/hook\"\npreset = \"ntfy\"\n\
             [[email]]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"a@b.org\"\nto = [\"c@d.org\"]\n\
             [[command]]\nrun = \"true\"\non = [\"stale\"]\n",
        )
        .unwrap();
        assert_eq!(n.routes.len(), 3);
        assert_eq!(n.retry.attempts, 2);
        assert!(n.on.contains(&EventKind::Success) && !n.on.contains(&EventKind::Warning));
        for (bad, says) in [
            ("[[webhook]]\nurl = \"ftp://x\"", "url"),
            ("[[webhook]]\nurl = \"http://x\"\npreset = \"pager\"", "preset"),
            ("on = [\"always\"]", "unknown event"),
            ("attempts = 100", "attempts"),
            ("timeout = \"soon\"", "timeout"),
            ("stale-after = \"a while\"", "stale-after"),
            ("[[email]]\nhost = \"h\"\nfrom = \"not an address\"\nto = [\"c@d.org\"]", "from"),
            ("[[email]]\nhost = \"h\"\nfrom = \"a@b.org\"\nto = []", "recipient"),
            ("[[email]]\nhost = \"h\"\nuser = \"u\"\nfrom = \"a@b.org\"\nto = [\"c@d.org\"]", "user and a password"),
            ("[[email]]\nhost = \"h\"\ntls = \"ssl3\"\nfrom = \"a@b.org\"\nto = [\"c@d.org\"]", "tls"),
        ] {
            let e = section(bad).err().unwrap_or_else(|| panic!("{bad} was accepted"));
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }
}
