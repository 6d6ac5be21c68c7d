//! `arca [-P profile]... status [--json] [--notify]`: how the jobs of a profile set are doing;
//! without `-P`, of every profile set that has run a job (`overview`).
//!
//! For each job (backup, forget, prune, check, copy): its last run from the run records (when,
//! outcome, exit code, duration, data added) and its next scheduled run from the profile's
//! `[schedule.<job>]` calendars. For each backup source: the newest snapshot that holds it and
//! its age (this opens the repository, as `snapshots` does, to read the snapshot list), stale
//! when older than `[notify] stale-after` (else `[serve] stale-after`). Warnings: a last run
//! that failed, was interrupted or ended with a warning, a stale source or one with no
//! snapshot, a backup that never ran, a repository that could not be read.
//!
//! Exit code: 0 when there is no warning, 4 (`exit::STATUS_WARNINGS`) when there is one, so a monitor
//! can run `arca -P p status -q || alert`; 1 as usual when status itself cannot run.
//!
//! `--notify` sends the profile's stale notification (`on` includes `stale`, the default) for
//! each source that became stale, once per stale episode: the sources already told about are
//! kept in the job state directory (`stale-notified.json`) until they are fresh again; one
//! whose notification failed is tried again next time. The daemon runs it every 15 minutes.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::automation_args::StatusArgs;
use super::output::{bytes, Out};
use super::settings::Settings;
use crate::automation::notify::{Event, StaleSource};
use crate::cache::runs::{self, Outcome, RunRecord};
use crate::error::{Error, Result};

const STALE_STATE: &str = "stale-notified.json";

#[derive(Serialize)]
struct JobStatus {
    job: &'static str,
    last_run: Option<RunRecord>,
    /// The schedule's calendars as written, and the next elapse (RFC 3339).
    schedule: Vec<String>,
    next_run: Option<String>,
}

#[derive(Serialize)]
struct SourceStatus {
    path: String,
    newest_snapshot: Option<String>,
    snapshot_id: Option<String>,
    age_seconds: Option<u64>,
    stale: bool,
}

#[derive(Serialize)]
struct Status {
    profile: String,
    repository: String,
    stale_after_seconds: Option<u64>,
    jobs: Vec<JobStatus>,
    sources: Vec<SourceStatus>,
    warnings: Vec<String>,
}

pub fn status(s: &Settings, out: Out, a: StatusArgs) -> Result<u8> {
    let Some(loaded) = s.profile.as_ref() else { return overview(s, out, &a) };
    let dir = super::run_record::state_dir(s, &loaded.names)?;
    let notify = &loaded.profile.notify;
    let stale_after = match notify.stale_after()? {
        Some(d) => Some(d),
        None => loaded
            .profile
            .serve
            .stale_after
            .as_deref()
            .map(|t| humantime::parse_duration(t).map_err(|e| Error::usage(format!("[serve] stale-after {t:?}: {e}"))))
            .transpose()?,
    };
    let now = chrono::Local::now();
    let mut warnings = vec![];
    let jobs: Vec<JobStatus> = runs::JOBS
        .iter()
        .map(|job| {
            let last_run = runs::last(&dir, job);
            let scheduled: Vec<_> = loaded.schedule.iter().filter(|j| j.job.name() == *job).collect();
            match &last_run {
                Some(r) if r.outcome != Outcome::Success => warnings.push(format!(
                    "the last {job} ({}) ended in {} (exit code {}){}",
                    r.started,
                    r.outcome.as_str(),
                    r.exit_code,
                    r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                )),
                None if *job == "backup" || !scheduled.is_empty() => {
                    warnings.push(format!("{job} has never run for this profile"))
                }
                _ => {}
            }
            JobStatus {
                job,
                last_run,
                schedule: scheduled.iter().flat_map(|j| j.calendar_text.clone()).collect(),
                next_run: scheduled.iter().filter_map(|j| j.next_after(now)).min().map(|t| t.to_rfc3339()),
            }
        })
        .collect();
    let sources = sources(s, loaded, stale_after, &mut warnings);
    let status = Status {
        profile: loaded.names.join(","),
        repository: super::run_record::masked_userinfo(&s.location.to_string()),
        stale_after_seconds: stale_after.map(|d| d.as_secs()),
        jobs,
        sources,
        warnings,
    };
    if a.notify && !notify.is_empty() {
        notify_stale(&dir, out, &status, notify)?;
    }
    if out.json {
        out.json_line(&status);
    } else {
        out.text(render(&status));
    }
    Ok(if status.warnings.is_empty() { super::exit::OK } else { super::exit::STATUS_WARNINGS })
}

/// The newest snapshot of each `[backup] sources` path (none given: of each snapshot path).
fn sources(
    s: &Settings,
    loaded: &super::profile::Loaded,
    stale_after: Option<std::time::Duration>,
    warnings: &mut Vec<String>,
) -> Vec<SourceStatus> {
    let list = s.open().and_then(|repo| {
        let query =
            crate::commands::snapshots::Query { filter: Default::default(), ids: vec![], latest: None, group_by: None };
        crate::commands::snapshots::run(&repo, &query)
    });
    let snapshots: Vec<_> = match list {
        Ok(groups) => groups.into_iter().flat_map(|g| g.snapshots).collect(),
        Err(e) => {
            warnings.push(format!("the snapshots could not be read: {e}"));
            return vec![];
        }
    };
    let wanted: Vec<String> = match &loaded.profile.backup.sources {
        Some(list) => list
            .iter()
            .map(|p| {
                let p = super::profile::expand_tilde(p);
                std::path::absolute(&p).unwrap_or(p).display().to_string()
            })
            .collect(),
        None => snapshots.iter().flat_map(|s| s.paths.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
    };
    let now = chrono::Utc::now();
    wanted
        .into_iter()
        .map(|path| {
            let newest = snapshots
                .iter()
                .filter(|s| s.paths.contains(&path))
                .filter_map(|s| Some((chrono::DateTime::parse_from_rfc3339(&s.time).ok()?, s)))
                .max_by_key(|(t, _)| *t);
            let age = newest.map(|(t, _)| (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0) as u64);
            let stale = match (age, stale_after) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(age), Some(limit)) => age > limit.as_secs(),
            };
            if stale {
                warnings.push(match age {
                    Some(a) => format!("{path}: the newest snapshot is {} old", human_age(a)),
                    None => format!("{path}: no snapshot holds it"),
                });
            }
            SourceStatus {
                path,
                newest_snapshot: newest.map(|(_, s)| s.time.clone()),
                snapshot_id: newest.map(|(_, s)| s.id.to_hex()),
                age_seconds: age,
                stale,
            }
        })
        .collect()
}

fn human_age(seconds: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(seconds)).to_string()
}

/// Tell about each source that became stale since the last look; forget the ones that are
/// fresh again.
fn notify_stale(dir: &Path, out: Out, status: &Status, section: &super::profile_notify::NotifySection) -> Result<()> {
    let notifier = section.notifier()?;
    let before: BTreeSet<String> = runs::read_bounded(&dir.join(STALE_STATE), 64 * 1024)
        .and_then(|b| serde_json::from_slice::<BTreeSet<String>>(&b).ok())
        .unwrap_or_default();
    let mut now = BTreeSet::new();
    for source in status.sources.iter().filter(|s| s.stale) {
        if before.contains(&source.path) {
            now.insert(source.path.clone());
            continue;
        }
        let event = StaleSource {
            profile: status.profile.clone(),
            source: source.path.clone(),
            newest_snapshot: source.newest_snapshot.clone(),
            age_seconds: source.age_seconds,
            stale_after_seconds: status.stale_after_seconds.unwrap_or_default(),
            repository: status.repository.clone(),
        };
        let failed = notifier.send(&Event::Stale(&event));
        for f in &failed {
            out.warning("notify", &f.to_string());
        }
        if failed.is_empty() {
            now.insert(source.path.clone());
        }
    }
    if now != before {
        let bytes = serde_json::to_vec(&now).map_err(|e| Error::new(crate::error::Kind::Internal, e.to_string()))?;
        runs::write_atomic(&dir.join(STALE_STATE), &bytes)?;
    }
    Ok(())
}

/// `arca status` without `-P`: the status of every profile set that has job state under the
/// cache root, each from `arca -P NAME… status` run as a child (its profiles loaded as that
/// command loads them). A set is found by its directory, whose key is its names joined by `+`;
/// a set named by a path (its key carries a hash) cannot be named back and is listed as such.
/// JSON: an array of the sets' objects. Exit code: 4 when any set has a warning, 1 when one
/// could not be shown.
fn overview(s: &Settings, out: Out, a: &StatusArgs) -> Result<u8> {
    use crate::cache::job_state::profile_key;
    let root = super::run_record::state_root(s).ok_or_else(|| {
        Error::usage("no cache directory for the job state (no home directory?)").hint("give --cache-dir or -P NAME")
    })?;
    let exe = std::env::current_exe().map_err(|e| Error::io("the arca executable", e))?;
    let (mut code, mut sets, mut texts) = (super::exit::OK, vec![], vec![]);
    let dirs = runs::profile_dirs(&root);
    for (key, _) in &dirs {
        let names: Vec<String> = key.split('+').map(str::to_string).collect();
        if key == "default" {
            continue; // no profile: `arca watch` without -P keeps its change lists there
        }
        if profile_key(&names) != *key {
            out.warning(
                "status",
                &format!("job state {key:?} belongs to a profile given by path: show it with -P PATH"),
            );
            continue;
        }
        let mut cmd = std::process::Command::new(&exe);
        for n in &names {
            cmd.args(["-P", n]);
        }
        cmd.arg("status").env("ARCA_CACHE_DIR", &root).stdin(std::process::Stdio::null());
        if out.json {
            cmd.arg("--json");
        }
        if a.notify {
            cmd.arg("--notify");
        }
        let o = cmd.output().map_err(|e| Error::io(format!("running {}", exe.display()), e))?;
        // the child's warnings and errors pass on as they are
        eprint!("{}", String::from_utf8_lossy(&o.stderr));
        match o.status.code() {
            Some(0) => {}
            Some(c) if c == i32::from(super::exit::STATUS_WARNINGS) => {
                code = code.max(super::exit::STATUS_WARNINGS);
            }
            _ => code = super::exit::FATAL,
        }
        if out.json {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&o.stdout) {
                sets.push(v);
            }
        } else if !o.stdout.is_empty() {
            texts.push(String::from_utf8_lossy(&o.stdout).trim_end().to_string());
        }
    }
    if out.json {
        out.json_line(&sets);
    } else if dirs.is_empty() {
        out.text(format!("no profile has run a job yet (no job state under {})", root.join("jobs").display()));
    } else {
        out.text(texts.join("\n\n"));
    }
    Ok(code)
}

/// An RFC 3339 time as local `YYYY-MM-DD HH:MM:SS` (as `snapshots` prints times); text that
/// is not one is shown as it is.
fn local_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn render(s: &Status) -> String {
    let mut lines = vec![format!("profile {} (repository {})", s.profile, s.repository)];
    lines.push(format!("  {:<7} {:<19} {:<17} {:>9} {:>11}  next run", "job", "last run", "result", "took", "added"));
    // a job neither scheduled nor ever run says nothing
    for j in s.jobs.iter().filter(|j| j.last_run.is_some() || j.next_run.is_some()) {
        let (when, result, took, added) = match &j.last_run {
            Some(r) => (
                local_time(&r.started),
                format!("{} ({})", r.outcome.as_str(), r.exit_code),
                format!("{:.1}s", r.duration_ms as f64 / 1000.0),
                r.data_added.map(bytes).unwrap_or_default(),
            ),
            None => ("never".into(), String::new(), String::new(), String::new()),
        };
        let next = j.next_run.as_deref().map_or_else(|| "not scheduled".into(), local_time);
        lines.push(format!("  {:<7} {when:<19} {result:<17} {took:>9} {added:>11}  {next}", j.job));
    }
    if !s.sources.is_empty() {
        lines.push("sources:".into());
    }
    for src in &s.sources {
        let newest = match (&src.newest_snapshot, src.age_seconds) {
            (Some(t), Some(a)) => format!("newest snapshot {} ({} ago)", local_time(t), human_age(a)),
            _ => "no snapshot".into(),
        };
        lines.push(format!("  {}  {newest}{}", src.path, if src.stale { "  STALE" } else { "" }));
    }
    if !s.warnings.is_empty() {
        lines.push("warnings:".into());
        lines.extend(s.warnings.iter().map(|w| format!("  {w}")));
    }
    lines.join("\n")
}
