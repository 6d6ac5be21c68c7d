//! Run records: what each job a profile drives (`arca -P p backup|forget|prune|check|copy`)
//! did the last time it ran, kept in the profile set's job state directory
//! ([`super::job_state::profile_dir`]) as `last-<job>.json`, plus the last [`HISTORY_RUNS`]
//! runs of every job in `history.json`. `arca status`, the metrics and the notifications read
//! them.
//!
//! The directory is private to the user (0700, checked), but the files are still hostile input
//! when read back: each is opened without following a symlink (and without blocking on a FIFO),
//! refused past a fixed size before anything is read, parsed strictly (unknown fields refuse
//! it) and checked field by field (an RFC 3339 time, a known job, bounded strings without
//! control characters, a hex snapshot id). A file that fails is as if the job never ran
//! (`last`) or is left out (`history`); it decides nothing that is written to a repository.
//! Files are written whole to a temporary file (mode 0600) and renamed over the old one, so a
//! reader never sees half a record.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The jobs that leave a record: the verbs a schedule runs.
pub const JOBS: &[&str] = &["backup", "forget", "prune", "check", "copy"];
/// How many runs `history.json` keeps (the oldest go first).
pub const HISTORY_RUNS: usize = 100;
/// A record is well under 2 KiB; anything past this is not ours.
pub const MAX_RECORD_LEN: u64 = 16 * 1024;
/// The history holds at most [`HISTORY_RUNS`] records.
pub const MAX_HISTORY_LEN: u64 = MAX_RECORD_LEN * HISTORY_RUNS as u64;
const HISTORY_FILE: &str = "history.json";
const MAX_ERROR: usize = 2000;
const MAX_TEXT: usize = 1000;

/// How a run ended, from its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// exit 0
    Success,
    /// exit 3: a backup that could not read some files (the snapshot exists and says so)
    Warning,
    /// any other exit code
    Failure,
    /// exit 130: stopped by a signal
    Interrupted,
}

impl Outcome {
    pub fn from_exit_code(code: u8) -> Outcome {
        match code {
            0 => Outcome::Success,
            3 => Outcome::Warning,
            130 => Outcome::Interrupted,
            _ => Outcome::Failure,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Warning => "warning",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// One run of one job. The figures are a backup's (absent for the other jobs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The profile names, joined by `,` as given (`-P base -P laptop` → `base,laptop`).
    pub profile: String,
    pub job: String,
    /// When it started (RFC 3339).
    pub started: String,
    pub duration_ms: u64,
    pub exit_code: u8,
    pub outcome: Outcome,
    /// The error message of a failed run (arca's own message: it names no password).
    #[serde(default)]
    pub error: Option<String>,
    /// What started it: `manual`, or `ARCA_TRIGGER` (`schedule`, `daemon`, `watch`).
    pub trigger: String,
    #[serde(default)]
    pub snapshot_id: Option<String>,
    #[serde(default)]
    pub files_new: Option<u64>,
    #[serde(default)]
    pub files_changed: Option<u64>,
    #[serde(default)]
    pub files_unmodified: Option<u64>,
    /// Bytes of new data before compression.
    #[serde(default)]
    pub data_added: Option<u64>,
    /// What that new data took in the repository (compressed and sealed).
    #[serde(default)]
    pub data_added_packed: Option<u64>,
    /// Size of everything the backup read (the snapshot's size).
    #[serde(default)]
    pub total_bytes: Option<u64>,
    /// Files and directories that could not be read.
    #[serde(default)]
    pub source_errors: Option<u64>,
    /// Entries of the change list a `--changed-paths` backup walked (absent: a full walk).
    #[serde(default)]
    pub changed_paths: Option<u64>,
    /// The repository's location as displayed (never a password).
    pub repository: String,
}

impl RunRecord {
    /// Is every field what a run writes? Checked on both sides: a record that would be refused
    /// when read is not written.
    pub fn valid(&self) -> std::result::Result<(), String> {
        let clean = |name: &str, s: &str, max: usize| -> std::result::Result<(), String> {
            if s.chars().count() > max {
                return Err(format!("{name} is longer than {max} characters"));
            }
            if s.chars().any(char::is_control) {
                return Err(format!("{name} holds a control character"));
            }
            Ok(())
        };
        if !JOBS.contains(&self.job.as_str()) {
            return Err(format!("unknown job {:?}", self.job));
        }
        chrono::DateTime::parse_from_rfc3339(&self.started).map_err(|e| format!("started {:?}: {e}", self.started))?;
        clean("profile", &self.profile, MAX_TEXT)?;
        clean("trigger", &self.trigger, 32)?;
        clean("repository", &self.repository, MAX_TEXT)?;
        if let Some(e) = &self.error {
            clean("error", e, MAX_ERROR)?;
        }
        if let Some(id) = &self.snapshot_id {
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("snapshot_id {id:?} is not 64 hex digits"));
            }
        }
        Ok(())
    }

    /// An error message made fit for a record: one line, control characters as spaces, cut
    /// on a character boundary.
    pub fn error_line(s: &str) -> String {
        let one: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if one.chars().count() <= MAX_ERROR {
            return one;
        }
        let mut cut: String = one.chars().take(MAX_ERROR - 1).collect();
        cut.push('…');
        cut
    }

    /// `started` as a time (valid records always have one).
    pub fn started_at(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        chrono::DateTime::parse_from_rfc3339(&self.started).ok()
    }
}

fn last_file(job: &str) -> Result<String> {
    if !JOBS.contains(&job) {
        return Err(Error::usage(format!("no run record for {job:?}: records are kept for {}", JOBS.join(", "))));
    }
    Ok(format!("last-{job}.json"))
}

/// Save `r` as its job's last run and append it to the history (keeping the last
/// [`HISTORY_RUNS`]). `dir` is the profile set's job state directory.
pub fn save(dir: &Path, r: &RunRecord) -> Result<()> {
    r.valid().map_err(|why| Error::new(crate::error::Kind::Internal, format!("run record not saved: {why}")))?;
    let file = dir.join(last_file(&r.job)?);
    let bytes = serde_json::to_vec_pretty(r)
        .map_err(|e| Error::new(crate::error::Kind::Internal, format!("run record not encoded: {e}")))?;
    write_atomic(&file, &bytes)?;
    let mut all = history(dir);
    all.push(r.clone());
    let cut = all.len().saturating_sub(HISTORY_RUNS);
    let bytes = serde_json::to_vec(&all[cut..])
        .map_err(|e| Error::new(crate::error::Kind::Internal, format!("run history not encoded: {e}")))?;
    write_atomic(&dir.join(HISTORY_FILE), &bytes)
}

/// The last run of `job`, if one was recorded and reads back whole (anything else: `None`).
pub fn last(dir: &Path, job: &str) -> Option<RunRecord> {
    let bytes = read_bounded(&dir.join(last_file(job).ok()?), MAX_RECORD_LEN)?;
    let r: RunRecord = serde_json::from_slice(&bytes).ok()?;
    (r.valid().is_ok() && r.job == job).then_some(r)
}

/// The recorded runs, oldest first; records that fail their checks are left out, and a history
/// file that is not a bounded JSON list of records counts as empty.
pub fn history(dir: &Path) -> Vec<RunRecord> {
    let Some(bytes) = read_bounded(&dir.join(HISTORY_FILE), MAX_HISTORY_LEN) else { return vec![] };
    let Ok(all) = serde_json::from_slice::<Vec<RunRecord>>(&bytes) else { return vec![] };
    let mut all: Vec<RunRecord> = all.into_iter().filter(|r| r.valid().is_ok()).collect();
    let cut = all.len().saturating_sub(HISTORY_RUNS);
    all.drain(..cut);
    all
}

/// Every profile set's job state directory under the cache root `root`, as `(key, path)`
/// (directories only: a symlink or a file planted among them is left out), sorted by key.
pub fn profile_dirs(root: &Path) -> Vec<(String, std::path::PathBuf)> {
    let jobs = root.join(super::job_state::JOBS_DIR);
    let Ok(entries) = std::fs::read_dir(&jobs) else { return vec![] };
    let mut dirs: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    dirs.sort();
    dirs
}

/// Read a small file of the job state: not through a symlink, not a FIFO or device, at most
/// `max` bytes (longer: `None`, before reading it).
pub fn read_bounded(path: &Path, max: u64) -> Option<Vec<u8>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // a file that grew after the stat is still read only up to the bound
    f.take(max + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

/// Write `bytes` to `path` whole or not at all: a new 0600 temporary file beside it (never
/// following a symlink), then a rename over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    super::write_new(path, &mut |w: &mut dyn Write| w.write_all(bytes))
        .map_err(|e| Error::io(format!("job state file {}", path.display()), e))
}

/// A run record as a job writes one, for tests of every layer that reads them: `job` ended
/// with `code` (a failure has an error and no snapshot; exit 3 one source error).
#[cfg(test)]
pub fn sample(job: &str, code: u8) -> RunRecord {
    RunRecord {
        profile: "laptop".into(),
        job: job.into(),
        started: "2026-12-07T18:00:00+00:00".into(),
        duration_ms: 1234,
        exit_code: code,
        outcome: Outcome::from_exit_code(code),
        error: (code == 1).then(|| "repository /nope does not exist".into()),
        trigger: "manual".into(),
        snapshot_id: (job == "backup" && code != 1).then(|| "ab".repeat(32)),
        files_new: Some(3),
        files_changed: Some(1),
        files_unmodified: Some(10),
        data_added: Some(4096),
        data_added_packed: Some(2048),
        total_bytes: Some(1 << 20),
        source_errors: Some(u64::from(code == 3)),
        changed_paths: None,
        repository: "/srv/backup".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_saved_record_reads_back_private_and_the_history_keeps_the_last_hundred() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(last(dir, "backup"), None);
        assert!(history(dir).is_empty());
        let r = sample("backup", 0);
        save(dir, &r).unwrap();
        assert_eq!(last(dir, "backup"), Some(r.clone()));
        assert_eq!(last(dir, "check"), None);
        let mode = std::fs::metadata(dir.join("last-backup.json")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        for i in 0..(HISTORY_RUNS + 5) {
            let mut r = sample(JOBS[i % JOBS.len()], if i % 2 == 0 { 0 } else { 1 });
            r.duration_ms = i as u64;
            save(dir, &r).unwrap();
        }
        let h = history(dir);
        assert_eq!(h.len(), HISTORY_RUNS);
        assert_eq!(h.last().unwrap().duration_ms, HISTORY_RUNS as u64 + 4);
        assert_eq!(h.first().unwrap().duration_ms, 5);
        // no temporary file is left behind
        let names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn planted_garbage_a_symlink_a_fifo_and_a_huge_file_are_as_if_no_run_was_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let f = dir.join("last-backup.json");
        let good = serde_json::to_string(&sample("backup", 0)).unwrap();
        for bad in [
            "not json".to_string(),
            good.replace("\"job\":\"backup\"", "\"job\":\"../../etc\""),
            good.replace("\"outcome\":\"success\"", "\"outcome\":\"great\""),
            good.replace("2026-12-07T18:00:00+00:00", "yesterday"),
            good.replace("\"trigger\":\"manual\"", "\"trigger\":\"a\\u001b[31mred\""),
            good.replace(&"ab".repeat(32), "../x"),
            good.replace('}', ",\"extra\":1}"),
            // another job's record in this job's file
            serde_json::to_string(&sample("check", 0)).unwrap(),
        ] {
            std::fs::write(&f, &bad).unwrap();
            assert_eq!(last(dir, "backup"), None, "{bad}");
        }
        // a huge file is refused by its size, before it is read
        std::fs::write(&f, format!("{good}{}", " ".repeat(MAX_RECORD_LEN as usize))).unwrap();
        assert_eq!(last(dir, "backup"), None);
        // a symlink to a good record elsewhere is not followed
        let elsewhere = dir.join("elsewhere.json");
        std::fs::write(&elsewhere, &good).unwrap();
        std::fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &f).unwrap();
        assert_eq!(last(dir, "backup"), None);
        // a FIFO does not block the reader
        std::fs::remove_file(&f).unwrap();
        nix::unistd::mkfifo(&f, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(last(dir, "backup"), None);
        // saving replaces the FIFO with a record, and a symlinked history is replaced, not followed
        std::fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join(HISTORY_FILE)).unwrap();
        save(dir, &sample("backup", 0)).unwrap();
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), good, "the symlink's target was written");
        assert_eq!(history(dir).len(), 1);
        // a history that is not a list, or with a bad entry among good ones
        std::fs::write(dir.join(HISTORY_FILE), "{}").unwrap();
        assert!(history(dir).is_empty());
        let bad = serde_json::to_string(&RunRecord { job: "rm".into(), ..sample("backup", 0) }).unwrap();
        std::fs::write(dir.join(HISTORY_FILE), format!("[{good},{bad},{good}]")).unwrap();
        assert_eq!(history(dir).len(), 2);
    }

    #[test]
    fn a_record_that_would_be_refused_is_not_written_and_errors_are_cut_to_one_line() {
        let tmp = tempfile::tempdir().unwrap();
        let e = save(tmp.path(), &RunRecord { job: "../evil".into(), ..sample("backup", 0) }).unwrap_err();
        assert!(e.to_string().contains("unknown job"), "{e}");
        assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
        let line = RunRecord::error_line(&format!("a\nb{}", "x".repeat(5000)));
        assert!(!line.contains('\n') && line.chars().count() == MAX_ERROR, "{}", line.len());
        assert_eq!(Outcome::from_exit_code(3), Outcome::Warning);
        assert_eq!(Outcome::from_exit_code(11), Outcome::Failure);
        assert_eq!(Outcome::from_exit_code(130), Outcome::Interrupted);
    }
}
