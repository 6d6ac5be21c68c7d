//! Email over SMTP with `lettre`: STARTTLS (required, port 587 by default), implicit TLS
//! (`tls`, port 465) or none (port 25; for a relay on this machine), rustls on aws-lc-rs with
//! the web PKI's roots for the TLS (builds with the `remote` feature). With a `user`, it logs
//! in with the password from a file (its first line) or an environment variable, read at
//! send time and never shown: a missing password is a failed delivery, not a failed job.
//!
//! The subject is the title (`arca backup of laptop on host: failure`), the body the text.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
#[cfg(feature = "remote")]
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use zeroize::Zeroizing;

use super::{message, Attempt, Event};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    StartTls,
    Tls,
    None,
}

impl SmtpTls {
    pub fn parse(s: &str) -> Result<SmtpTls> {
        match s {
            "starttls" => Ok(SmtpTls::StartTls),
            "tls" => Ok(SmtpTls::Tls),
            "none" => Ok(SmtpTls::None),
            _ => Err(Error::usage(format!("[[notify.email]] tls {s:?} is not known"))
                .hint("use starttls (port 587), tls (port 465) or none (a relay on this machine)")),
        }
    }

    fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// Where the SMTP password comes from.
#[derive(Clone, Debug)]
pub enum SmtpPassword {
    File(PathBuf),
    Env(String),
}

impl SmtpPassword {
    fn read(&self) -> std::result::Result<Zeroizing<String>, Attempt> {
        match self {
            SmtpPassword::File(f) => {
                let text = Zeroizing::new(std::fs::read_to_string(f).map_err(|e| {
                    Attempt::permanent(format!("the password file {} could not be read: {e}", f.display()))
                })?);
                Ok(Zeroizing::new(text.lines().next().unwrap_or_default().to_string()))
            }
            SmtpPassword::Env(var) => std::env::var(var)
                .map(Zeroizing::new)
                .map_err(|_| Attempt::permanent(format!("the password variable {var} is not set"))),
        }
    }
}

pub struct Email {
    host: String,
    port: u16,
    tls: SmtpTls,
    login: Option<(String, SmtpPassword)>,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
}

impl Email {
    pub fn new(
        host: &str,
        port: Option<u16>,
        tls: SmtpTls,
        login: Option<(String, SmtpPassword)>,
        from: &str,
        to: &[String],
    ) -> Result<Email> {
        let address = |a: &str, key: &str| {
            a.parse::<lettre::message::Mailbox>().map_err(|e| {
                Error::usage(format!("[[notify.email]] {key} {a:?}: {e}")).hint("give an address like arca@example.org")
            })
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(Error::usage(format!("[[notify.email]] host {host:?} is not a host name")));
        }
        if tls != SmtpTls::None && !cfg!(feature = "remote") {
            return Err(Error::usage("[[notify.email]] tls: this build of arca has no TLS (built without `remote`)")
                .hint("use tls = \"none\" for a relay on this machine"));
        }
        if to.is_empty() {
            return Err(Error::usage("[[notify.email]] to: no recipient"));
        }
        Ok(Email {
            host: host.to_string(),
            port: port.unwrap_or(tls.default_port()),
            tls,
            login,
            from: address(from, "from")?,
            to: to.iter().map(|t| address(t, "to")).collect::<Result<_>>()?,
        })
    }

    pub fn describe(&self) -> String {
        format!("email via {}:{}", self.host, self.port)
    }

    #[cfg(feature = "remote")]
    fn tls(&self) -> std::result::Result<Tls, Attempt> {
        let params = || {
            TlsParameters::new_rustls(self.host.clone())
                .map_err(|e| Attempt::permanent(format!("TLS setup for {}: {e}", self.host)))
        };
        Ok(match self.tls {
            SmtpTls::StartTls => Tls::Required(params()?),
            SmtpTls::Tls => Tls::Wrapper(params()?),
            SmtpTls::None => Tls::None,
        })
    }

    pub(super) fn send(&self, event: &Event, host: &str, timeout: Duration) -> std::result::Result<(), Attempt> {
        let mut msg = Message::builder().from(self.from.clone()).subject(message::title(event, host));
        for to in &self.to {
            msg = msg.to(to.clone());
        }
        let msg = msg
            .header(ContentType::TEXT_PLAIN)
            .body(message::text(event, host))
            .map_err(|e| Attempt::permanent(format!("the message could not be made: {e}")))?;
        let mut mailer = SmtpTransport::builder_dangerous(self.host.as_str()).port(self.port).timeout(Some(timeout));
        #[cfg(feature = "remote")]
        {
            mailer = mailer.tls(self.tls()?);
        }
        #[cfg(not(feature = "remote"))]
        if self.tls != SmtpTls::None {
            return Err(Attempt::permanent("this build of arca has no TLS"));
        }
        if let Some((user, password)) = &self.login {
            let password = password.read()?;
            mailer = mailer.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        mailer.build().send(&msg).map(|_| ()).map_err(|e| {
            // a refusal (5xx: bad login, unknown recipient) will not change; the rest may
            let permanent = e.is_permanent();
            Attempt { reason: format!("SMTP: {e}"), permanent }
        })
    }
}
