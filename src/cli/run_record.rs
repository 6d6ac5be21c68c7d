//! What `run_with_profile` does around every job a profile drives (`arca -P p backup|forget|
//! prune|check|copy`, however it was started): it saves the run record
//! ([`crate::cache::runs`]) in the profile set's job state directory and, with
//! `--metrics-file`/`[metrics] file`, rewrites the metrics file from every profile set's
//! records. A failure of either is a warning: the job's own outcome and exit code stand.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::args::Command;
use super::output::Out;
use super::settings::Settings;
use crate::cache::runs::{self, Outcome, RunRecord};
use crate::error::Result;

/// The job a command is, if it is one that leaves a run record.
pub(super) fn job_of(cmd: &Command) -> Option<&'static str> {
    Some(match cmd {
        Command::Backup(_) => "backup",
        Command::Forget(_) => "forget",
        Command::Prune(_) => "prune",
        Command::Check(_) => "check",
        Command::Copy(_) => "copy",
        _ => return None,
    })
}

/// The root under which job state lives: the cache root, or the default one when `--no-cache`
/// set the repository caches aside (job state is not a repository cache).
pub(super) fn state_root(s: &Settings) -> Option<PathBuf> {
    s.cache_root.clone().or_else(crate::cache::Cache::default_root)
}

/// The job state directory of the profile set `profiles`.
pub(super) fn state_dir(s: &Settings, profiles: &[String]) -> Result<PathBuf> {
    let root = state_root(s).ok_or_else(|| {
        crate::error::Error::usage("no cache directory for the job state (no home directory?)")
            .hint("give --cache-dir or ARCA_CACHE_DIR")
    })?;
    crate::cache::job_state::profile_dir(&root, profiles)
}

/// What started this run: `ARCA_TRIGGER` as the daemon, a timer or the watcher set it.
fn trigger() -> String {
    match std::env::var("ARCA_TRIGGER").as_deref() {
        Ok(t @ ("schedule" | "daemon" | "watch")) => t.to_string(),
        _ => "manual".to_string(),
    }
}

/// A job under way: started before its hooks, finished after them.
pub(super) struct Run {
    pub job: &'static str,
    pub profiles: Vec<String>,
    started: chrono::DateTime<chrono::Local>,
    clock: Instant,
}

impl Run {
    pub fn begin(job: &'static str, profiles: &[String]) -> Run {
        Run { job, profiles: profiles.to_vec(), started: chrono::Local::now(), clock: Instant::now() }
    }

    /// The record of this run, from its exit code, its error and the command's figures.
    pub fn record(&self, s: &Settings, code: u8, error: Option<&str>) -> RunRecord {
        let facts = s.facts();
        let fact = |k: &str| facts.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let number = |k: &str| fact(k).and_then(|v| v.parse::<u64>().ok());
        RunRecord {
            profile: self.profiles.join(","),
            job: self.job.to_string(),
            started: self.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            duration_ms: self.clock.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
            exit_code: code,
            outcome: Outcome::from_exit_code(code),
            error: error.map(|e| RunRecord::error_line(&masked_userinfo(e))),
            trigger: trigger(),
            snapshot_id: fact("ARCA_SNAPSHOT_ID")
                .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_string),
            files_new: number("ARCA_FILES_NEW"),
            files_changed: number("ARCA_FILES_CHANGED"),
            files_unmodified: number("ARCA_FILES_UNMODIFIED"),
            data_added: number("ARCA_DATA_ADDED"),
            data_added_packed: number("ARCA_DATA_ADDED_PACKED"),
            total_bytes: number("ARCA_TOTAL_BYTES"),
            source_errors: number("ARCA_SOURCE_ERRORS"),
            changed_paths: number("ARCA_CHANGED_PATHS"),
            repository: masked_userinfo(&s.location.to_string()),
        }
    }

    /// Save `record` in the profile set's state directory; a failure is a warning.
    pub fn save(&self, s: &Settings, out: Out, record: &RunRecord) {
        if let Err(e) = state_dir(s, &self.profiles).and_then(|dir| runs::save(&dir, record)) {
            out.warning("run record", &format!("the {} run was not recorded for `arca status`: {e}", self.job));
        }
    }
}

/// Rewrite the metrics file from the records of every profile set under the job state root;
/// a failure is a warning.
pub(super) fn write_metrics(s: &Settings, out: Out, path: &Path) {
    let dirs = state_root(s).map(|root| runs::profile_dirs(&root)).unwrap_or_default();
    let text = crate::automation::metrics::render(&dirs);
    if let Err(e) = crate::automation::metrics::write_file(path, &text) {
        out.warning("metrics", &e.to_string());
    }
}

/// `scheme://user:password@host` with the password as `*****` (a WebDAV endpoint, a webhook
/// URL in an error message).
pub(super) fn masked_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c == '/' || c.is_whitespace()).unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":*****");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            masked_userinfo("webdav:https://me:hunter2@dav.example/x failed; see http://a:b@c"),
            "webdav:https://me:*****@dav.example/x failed; see http://a:*****@c"
        );
        assert_eq!(masked_userinfo("s3:bucket/x"), "s3:bucket/x");
        assert_eq!(masked_userinfo("https://host:8080/p@q"), "https://host:8080/p@q");
    }
}
