//! Webhooks, with `ureq` (HTTPS through rustls on aws-lc-rs with the web PKI's roots, in builds
//! with the `remote` feature):
//!
//! - `generic`: `POST` the JSON summary (`Content-Type: application/json`).
//! - `ntfy`: `POST` the text; `Title`, `Priority` (high for a failure or a stale source, low
//!   for a success) and `Tags` headers.
//! - `slack` / `discord`: `POST {"text": …}` / `{"content": …}` (what their incoming webhooks
//!   and the services compatible with them take).
//! - `healthchecks`: `POST` the text to `URL/start` before the run, to `URL` after a success
//!   or warning and to `URL/fail` after a failure; with `exit-code = true`, `URL/<exit code>`
//!   instead (healthchecks.io's own style). Stale sources are its own business, not sent.
//!
//! A 2xx answer is delivered; a 4xx (other than 408 and 429) is a refusal that is not retried;
//! anything else (a 5xx, a timeout, a refused connection) is tried again. Redirects are not
//! followed (a webhook that moved should be updated, and a POST is not replayed elsewhere).

use std::time::Duration;

use super::{message, Attempt, Event};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Generic,
    Ntfy,
    Slack,
    Discord,
    Healthchecks,
}

impl Preset {
    const ALL: &[(&str, Preset)] = &[
        ("generic", Preset::Generic),
        ("ntfy", Preset::Ntfy),
        ("slack", Preset::Slack),
        ("discord", Preset::Discord),
        ("healthchecks", Preset::Healthchecks),
    ];

    pub fn parse(s: &str) -> Result<Preset> {
        Preset::ALL.iter().find(|(n, _)| *n == s).map(|(_, p)| *p).ok_or_else(|| {
            Error::usage(format!("[[notify.webhook]] preset {s:?} is not known"))
                .hint("use generic, ntfy, slack, discord or healthchecks")
        })
    }

    fn as_str(self) -> &'static str {
        Preset::ALL.iter().find(|(_, p)| *p == self).map_or("generic", |(n, _)| n)
    }
}

/// One POST: its URL, headers and body.
type Post = (String, Vec<(&'static str, String)>, Vec<u8>);

pub struct Webhook {
    url: String,
    pub preset: Preset,
    /// Extra headers (an `Authorization` for ntfy, say); their values are never shown.
    headers: Vec<(String, String)>,
    /// healthchecks: append the exit code instead of `/fail`.
    exit_code: bool,
}

impl Webhook {
    /// A webhook to `url` (http or https; checked here, so a typo fails before any job runs).
    pub fn new(url: &str, preset: Preset, headers: Vec<(String, String)>, exit_code: bool) -> Result<Webhook> {
        let bad =
            |why: &str| Error::usage(format!("[[notify.webhook]] url: {why}")).hint("give an http:// or https:// URL");
        let uri: ureq::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") if cfg!(feature = "remote") => {}
            Some("https") => return Err(bad("this build of arca has no TLS (built without the `remote` feature)")),
            _ => return Err(bad("only http and https")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        for (name, value) in &headers {
            let ok = ureq::http::HeaderName::try_from(name.as_str()).is_ok()
                && ureq::http::HeaderValue::try_from(value.as_str()).is_ok();
            if !ok {
                return Err(Error::usage(format!("[[notify.webhook]] headers: {name:?} is not a valid header")));
            }
        }
        Ok(Webhook { url: url.trim_end_matches('/').to_string(), preset, headers, exit_code })
    }

    pub fn describe(&self) -> String {
        let host = self
            .url
            .parse::<ureq::http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.as_str().rsplit('@').next().unwrap_or_default().to_string()))
            .unwrap_or_default();
        format!("webhook ({}) to {host}", self.preset.as_str())
    }

    fn agent(timeout: Duration) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("arca/{}", env!("CARGO_PKG_VERSION")));
        #[cfg(feature = "remote")]
        let config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::Rustls)
                .root_certs(ureq::tls::RootCerts::WebPki)
                .unversioned_rustls_crypto_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .build(),
        );
        config.build().into()
    }

    /// The address, headers and body of `event` for this preset (`None`: it sends nothing).
    fn request(&self, event: &Event, host: &str) -> Option<Post> {
        let text = message::text(event, host);
        let json = |v: serde_json::Value| serde_json::to_vec(&v).unwrap_or_default();
        let ctype_json = ("Content-Type", "application/json".to_string());
        let ctype_text = ("Content-Type", "text/plain; charset=utf-8".to_string());
        Some(match self.preset {
            Preset::Generic => (self.url.clone(), vec![ctype_json], json(message::json(event, host))),
            Preset::Slack => (self.url.clone(), vec![ctype_json], json(serde_json::json!({ "text": text }))),
            Preset::Discord => {
                // Discord refuses content past 2,000 characters
                let content: String = text.chars().take(1900).collect();
                (self.url.clone(), vec![ctype_json], json(serde_json::json!({ "content": content })))
            }
            Preset::Ntfy => {
                let (priority, tags) = match event.kind() {
                    Some(super::EventKind::Success) => ("low", "white_check_mark"),
                    Some(super::EventKind::Warning) => ("default", "warning"),
                    _ => ("high", "rotating_light"),
                };
                // header values must be visible ASCII: a title with other characters is cut
                let title: String =
                    message::title(event, host).chars().map(|c| if c.is_ascii_graphic() { c } else { ' ' }).collect();
                let headers = vec![
                    ctype_text,
                    ("Title", title),
                    ("Priority", priority.to_string()),
                    ("Tags", format!("arca,{tags}")),
                ];
                (self.url.clone(), headers, text.into_bytes())
            }
            Preset::Healthchecks => {
                let suffix = match event {
                    Event::Start { .. } => "/start".to_string(),
                    Event::Stale(_) => return None,
                    Event::Finished(r) if self.exit_code => format!("/{}", r.exit_code),
                    Event::Finished(r) if r.outcome.as_str() == "success" || r.outcome.as_str() == "warning" => {
                        String::new()
                    }
                    Event::Finished(_) => "/fail".to_string(),
                };
                (format!("{}{suffix}", self.url), vec![ctype_text], text.into_bytes())
            }
        })
    }

    pub(super) fn send(&self, event: &Event, host: &str, timeout: Duration) -> std::result::Result<(), Attempt> {
        let Some((url, headers, body)) = self.request(event, host) else { return Ok(()) };
        let mut req = Self::agent(timeout).post(&url);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        // the URL may hold the token: an error that quotes it is cut to what it says after it
        let hide = |e: String| e.replace(&url, "<url>").replace(&self.url, "<url>");
        match req.send(&body[..]) {
            Ok(res) => {
                let status = res.status().as_u16();
                match status {
                    200..=299 => Ok(()),
                    408 | 429 => Err(Attempt::retry(format!("the server answered {status}"))),
                    300..=499 => Err(Attempt::permanent(format!("the server refused it: HTTP {status}"))),
                    _ => Err(Attempt::retry(format!("the server answered {status}"))),
                }
            }
            Err(ureq::Error::Timeout(_)) => Err(Attempt::retry(format!("no answer within {timeout:?}"))),
            Err(e) => Err(Attempt::retry(hide(e.to_string()))),
        }
    }
}
