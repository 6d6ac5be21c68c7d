//! A scheduled job as the faces see it: which verb, when (calendar expressions), how late it
//! may start (randomized delay), whether a run missed while nothing was running is caught up,
//! and the verb's own arguments. `cli::profile` makes these from `[schedule.<job>]` sections;
//! units, the crontab lines and the daemon all turn one into the same command line,
//! `arca -P PROFILE… JOB ARGS…`.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Local};

use super::calendar::Calendar;

/// The jobs a schedule can run: the verbs (`backup`, `forget`, `prune`, `check`, `copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Job {
    Backup,
    Forget,
    Prune,
    Check,
    Copy,
    /// `status --notify`: the stale-source check of a profile whose `[notify]` has
    /// `stale-after`, every 15 minutes (not a `[schedule]` section of its own).
    Status,
}

impl Job {
    pub const ALL: [Job; 6] = [Job::Backup, Job::Forget, Job::Prune, Job::Check, Job::Copy, Job::Status];

    /// The verb, also the job's name in unit names, state files and locks.
    pub fn name(self) -> &'static str {
        match self {
            Job::Backup => "backup",
            Job::Forget => "forget",
            Job::Prune => "prune",
            Job::Check => "check",
            Job::Copy => "copy",
            Job::Status => "status",
        }
    }

    pub fn from_name(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One `[schedule.<job>]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    pub job: Job,
    /// `on-calendar`: the job runs whenever any of them elapses.
    pub calendars: Vec<Calendar>,
    /// The expressions as written (they go into units as they are).
    pub calendar_text: Vec<String>,
    /// `randomized-delay`: each run starts up to this much later (0: on time).
    pub randomized_delay: Duration,
    /// `persistent`: a run missed while the machine (or the daemon) was down runs at start.
    pub persistent: bool,
    /// The verb's arguments after its name (`--prune`, `--read-data-subset 5%`, `--to-repo …`).
    pub args: Vec<String>,
}

impl ScheduledJob {
    /// The stale-source check (`arca -P p status --notify` every 15 minutes; exit 4 means a
    /// warning was found and notified, not a failure).
    pub fn stale_check() -> ScheduledJob {
        let every = "*:0/15";
        ScheduledJob {
            job: Job::Status,
            calendars: super::calendar::Calendar::parse(every).into_iter().collect(),
            calendar_text: vec![every.to_string()],
            randomized_delay: Duration::ZERO,
            persistent: false,
            args: vec!["--notify".to_string()],
        }
    }

    /// The earliest elapse of any of the job's calendars strictly after `after`.
    pub fn next_after(&self, after: DateTime<Local>) -> Option<DateTime<Local>> {
        self.calendars.iter().filter_map(|c| c.next_after(after)).min()
    }

    /// `arca -P p1 -P p2 JOB ARGS…` (without the program).
    pub fn arguments(&self, profiles: &[String]) -> Vec<String> {
        let mut out = vec![];
        for p in profiles {
            out.push("-P".to_string());
            out.push(p.clone());
        }
        out.push(self.job.name().to_string());
        out.extend(self.args.iter().cloned());
        out
    }
}

/// The command line as one shell-safe string (for units, crontab lines and logs): words with
/// characters beyond `[A-Za-z0-9_./:=@%+,-]` are single-quoted.
pub fn shell_line(program: &Path, args: &[String]) -> String {
    std::iter::once(program.display().to_string())
        .chain(args.iter().cloned())
        .map(|w| shell_quote(&w))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn shell_quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_what_a_shell_would_split_or_expand() {
        let job = ScheduledJob {
            job: Job::Check,
            calendars: vec![Calendar::parse("daily").unwrap()],
            calendar_text: vec!["daily".into()],
            randomized_delay: Duration::ZERO,
            persistent: true,
            args: vec!["--read-data-subset".into(), "5%".into()],
        };
        let args = job.arguments(&["base".into(), "my laptop".into()]);
        assert_eq!(
            shell_line(Path::new("/usr/bin/arca"), &args),
            "/usr/bin/arca -P base -P 'my laptop' check --read-data-subset 5%"
        );
        assert_eq!(shell_quote("a'b$c"), r"'a'\''b$c'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(Job::from_name("prune"), Some(Job::Prune));
        assert_eq!(Job::from_name("restore"), None);
    }
}
