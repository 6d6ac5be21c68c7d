//! What a notification says, the same on every channel: a one-line title, a few lines of text,
//! and a JSON summary (the generic webhook's body and the command's `ARCA_NOTIFY_JSON`).

use serde::Serialize;

use super::Event;
use crate::cache::runs::RunRecord;

/// A source whose newest snapshot is older than the profile's `stale-after`.
#[derive(Clone, Debug, Serialize)]
pub struct StaleSource {
    pub profile: String,
    /// The backup source (a path as the snapshots list it).
    pub source: String,
    /// When its newest snapshot was taken (RFC 3339); `None`: it has none.
    pub newest_snapshot: Option<String>,
    pub age_seconds: Option<u64>,
    pub stale_after_seconds: u64,
    pub repository: String,
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn human_age(seconds: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(seconds)).to_string()
}

pub fn title(event: &Event, host: &str) -> String {
    match event {
        Event::Start { profile, job } => format!("arca {job} of {profile} on {host}: started"),
        Event::Finished(r) => format!("arca {} of {} on {host}: {}", r.job, r.profile, r.outcome.as_str()),
        Event::Stale(s) => format!("arca {} on {host}: {} is stale", s.profile, s.source),
    }
}

pub fn text(event: &Event, host: &str) -> String {
    let mut lines = vec![title(event, host)];
    match event {
        Event::Start { .. } => {}
        Event::Finished(r) => {
            lines.push(format!(
                "exit code {} after {:.1}s (started {}, {})",
                r.exit_code,
                r.duration_ms as f64 / 1000.0,
                r.started,
                r.trigger
            ));
            if let Some(e) = &r.error {
                lines.push(format!("error: {e}"));
            }
            if let Some(id) = &r.snapshot_id {
                lines.push(format!("snapshot {}", &id[..8.min(id.len())]));
            }
            if let (Some(new), Some(changed), Some(unmodified)) = (r.files_new, r.files_changed, r.files_unmodified) {
                lines.push(format!("files: {new} new, {changed} changed, {unmodified} unmodified"));
            }
            if let (Some(added), Some(stored)) = (r.data_added, r.data_added_packed) {
                lines.push(format!("added {} ({} stored)", human_bytes(added), human_bytes(stored)));
            }
            if let Some(n) = r.source_errors.filter(|n| *n > 0) {
                lines.push(format!("{n} files or directories could not be read"));
            }
            lines.push(format!("repository {}", r.repository));
        }
        Event::Stale(s) => {
            lines.push(match (&s.newest_snapshot, s.age_seconds) {
                (Some(t), Some(age)) => format!("newest snapshot {t}, {} old", human_age(age)),
                _ => "no snapshot of it yet".to_string(),
            });
            lines.push(format!("stale after {}", human_age(s.stale_after_seconds)));
            lines.push(format!("repository {}", s.repository));
        }
    }
    lines.join("\n")
}

#[derive(Serialize)]
struct Summary<'a, T: Serialize> {
    event: &'a str,
    host: &'a str,
    title: String,
    message: String,
    #[serde(flatten)]
    details: T,
}

/// The JSON summary: `event` (`start`, `success`, `warning`, `failure`, `stale`), `host`,
/// `title`, `message`, and the run record's fields (or the stale source's).
pub fn json(event: &Event, host: &str) -> serde_json::Value {
    let name = event.kind().map_or("start", |k| k.as_str());
    let (title, message) = (title(event, host), text(event, host));
    let value = match event {
        Event::Start { profile, job } => serde_json::to_value(Summary {
            event: name,
            host,
            title,
            message,
            details: serde_json::json!({ "profile": profile, "job": job }),
        }),
        Event::Finished(r) => {
            serde_json::to_value(Summary { event: name, host, title, message, details: *r as &RunRecord })
        }
        Event::Stale(s) => serde_json::to_value(Summary { event: name, host, title, message, details: s }),
    };
    value.unwrap_or_default()
}
