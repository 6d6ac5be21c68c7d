//! Metrics of the jobs profiles run, in Prometheus' text exposition (OpenMetrics text, which
//! Prometheus scrapes and node_exporter's textfile collector reads), made from the run records
//! ([`crate::cache::runs`]) with the `prometheus-client` crate.
//!
//! Every series has the labels `profile` (the profile set's key, as its job state directory is
//! named) and `job` (backup, forget, prune, check, copy); all are gauges (they are the last
//! run's values, not counts since a start):
//!
//! | metric | value |
//! |---|---|
//! | `arca_job_last_run_timestamp_seconds` | when the last run started (Unix time) |
//! | `arca_job_last_success_timestamp_seconds` | when the last run that ended in success or warning (exit 0 or 3: its snapshot exists) started, from the history |
//! | `arca_job_last_duration_seconds` | how long the last run took |
//! | `arca_job_last_exit_code` | its exit code |
//! | `arca_job_last_outcome{outcome=…}` | 1 for the last run's outcome (success, warning, failure, interrupted) |
//! | `arca_backup_files{state="new\|changed\|unmodified"}` | files of the last backup that made a snapshot |
//! | `arca_backup_data_added_bytes` | new data it added, before compression |
//! | `arca_backup_data_stored_bytes` | what that data took in the repository (compressed, sealed) |
//! | `arca_backup_size_bytes` | the size of what that backup read: the snapshot's size |
//! | `arca_backup_source_errors` | files and directories it could not read |
//!
//! The repository's own stored size is not among them: it takes reading the whole index
//! (`arca stats --mode raw-data`), too much for every run; the snapshot's size is what the
//! last backup knew at no cost.
//!
//! `--metrics-file PATH` writes the text after every run ([`write_file`]: a temporary file in
//! the same directory, renamed over PATH, so the collector never reads half a file), and the
//! daemon serves it on `/metrics` ([`serve`]).

mod http;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use http::serve;

use crate::cache::runs::{self, Outcome, RunRecord};
use crate::error::{Error, Result};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    profile: String,
    job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    profile: String,
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FileLabels {
    profile: String,
    job: String,
    state: String,
}

type Value = Gauge<f64, AtomicU64>;

struct Families {
    last_run: Family<JobLabels, Value>,
    last_success: Family<JobLabels, Value>,
    duration: Family<JobLabels, Value>,
    exit_code: Family<JobLabels, Value>,
    outcome: Family<OutcomeLabels, Value>,
    files: Family<FileLabels, Value>,
    added: Family<JobLabels, Value>,
    stored: Family<JobLabels, Value>,
    size: Family<JobLabels, Value>,
    source_errors: Family<JobLabels, Value>,
}

impl Families {
    fn register(reg: &mut Registry) -> Families {
        let f = Families {
            last_run: Family::default(),
            last_success: Family::default(),
            duration: Family::default(),
            exit_code: Family::default(),
            outcome: Family::default(),
            files: Family::default(),
            added: Family::default(),
            stored: Family::default(),
            size: Family::default(),
            source_errors: Family::default(),
        };
        reg.register("arca_job_last_run_timestamp_seconds", "When the job's last run started", f.last_run.clone());
        reg.register(
            "arca_job_last_success_timestamp_seconds",
            "When the job's last run that ended in success or warning started",
            f.last_success.clone(),
        );
        reg.register("arca_job_last_duration_seconds", "How long the job's last run took", f.duration.clone());
        reg.register("arca_job_last_exit_code", "The exit code of the job's last run", f.exit_code.clone());
        reg.register("arca_job_last_outcome", "1 for the outcome of the job's last run", f.outcome.clone());
        reg.register("arca_backup_files", "Files of the last backup that made a snapshot", f.files.clone());
        reg.register("arca_backup_data_added_bytes", "New data of that backup, before compression", f.added.clone());
        reg.register(
            "arca_backup_data_stored_bytes",
            "What that new data took in the repository, compressed and sealed",
            f.stored.clone(),
        );
        reg.register("arca_backup_size_bytes", "Size of what that backup read (the snapshot's size)", f.size.clone());
        reg.register(
            "arca_backup_source_errors",
            "Files and directories that backup could not read",
            f.source_errors.clone(),
        );
        f
    }

    fn add(&self, profile: &str, job: &str, last: &RunRecord, history: &[RunRecord]) {
        let l = JobLabels { profile: profile.to_string(), job: job.to_string() };
        let unix = |r: &RunRecord| r.started_at().map(|t| t.timestamp_millis() as f64 / 1000.0);
        if let Some(t) = unix(last) {
            self.last_run.get_or_create(&l).set(t);
        }
        let ok = |r: &&RunRecord| r.job == job && matches!(r.outcome, Outcome::Success | Outcome::Warning);
        let success = std::iter::once(last).filter(ok).chain(history.iter().rev().filter(ok)).filter_map(unix);
        if let Some(t) = success.fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t)))) {
            self.last_success.get_or_create(&l).set(t);
        }
        self.duration.get_or_create(&l).set(last.duration_ms as f64 / 1000.0);
        self.exit_code.get_or_create(&l).set(f64::from(last.exit_code));
        let o = OutcomeLabels { profile: l.profile.clone(), job: l.job.clone(), outcome: last.outcome.as_str().into() };
        self.outcome.get_or_create(&o).set(1.0);
        // the figures of the newest backup that made a snapshot (a failed run has none)
        let with_snapshot = |r: &&RunRecord| r.job == job && r.snapshot_id.is_some();
        let Some(b) =
            std::iter::once(last).filter(with_snapshot).chain(history.iter().rev().filter(with_snapshot)).next()
        else {
            return;
        };
        for (state, n) in [("new", b.files_new), ("changed", b.files_changed), ("unmodified", b.files_unmodified)] {
            if let Some(n) = n {
                let fl = FileLabels { profile: l.profile.clone(), job: l.job.clone(), state: state.into() };
                self.files.get_or_create(&fl).set(n as f64);
            }
        }
        for (family, n) in [
            (&self.added, b.data_added),
            (&self.stored, b.data_added_packed),
            (&self.size, b.total_bytes),
            (&self.source_errors, b.source_errors),
        ] {
            if let Some(n) = n {
                family.get_or_create(&l).set(n as f64);
            }
        }
    }
}

/// The metrics of every profile set in `dirs` (`(profile key, job state directory)`), from
/// their run records, as Prometheus/OpenMetrics text (ending in `# EOF`).
pub fn render(dirs: &[(String, PathBuf)]) -> String {
    let mut reg = Registry::default();
    let families = Families::register(&mut reg);
    for (profile, dir) in dirs {
        let history = runs::history(dir);
        for job in runs::JOBS {
            if let Some(last) = runs::last(dir, job) {
                families.add(profile, job, &last, &history);
            }
        }
    }
    let mut text = String::new();
    // writing into a String cannot fail; a failure would only cut the text short
    let _ = prometheus_client::encoding::text::encode(&mut text, &reg);
    text
}

/// Write `text` to `path` for node_exporter's textfile collector: into a new temporary file
/// beside it (mode 0644, so the collector's user can read it; never through a symlink), then
/// renamed over `path`, so a scrape sees the old file or the new one, never half of one.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().ok_or_else(|| {
        Error::usage(format!("--metrics-file {}: not a file name", path.display()))
            .hint("give a file path, e.g. /var/lib/node_exporter/textfile/arca.prom")
    })?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // a leading dot and no `.prom` ending: the collector skips the file until it is renamed
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    // one left by a writer of this pid that died; removing never follows a symlink
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_data()))
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("metrics file {}", path.display()), e)
            .hint("give --metrics-file (or [metrics] file) a path in a directory you can write")
    })
}

#[cfg(test)]
mod tests;
