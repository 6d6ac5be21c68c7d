//! `[schedule.<job>]` profile sections: when `arca schedule install` units and `arca daemon`
//! run a profile's jobs, turned into `automation::job::ScheduledJob`s.
//!
//! ```toml
//! [schedule.backup]
//! on-calendar = "*:0/30"          # systemd OnCalendar syntax; a string or a list
//! randomized-delay = "2m"         # start up to this much later (default 0)
//! persistent = true               # catch up a run missed while off (default true)
//!
//! [schedule.forget]               # the policy is the [forget] section's
//! on-calendar = "daily"
//! prune = true                    # forget --prune
//!
//! [schedule.prune]
//! on-calendar = "Sun 04:00"
//!
//! [schedule.check]
//! on-calendar = "Sat 05:00"
//! read-data-subset = "5%"         # or read-data = true
//!
//! [schedule.copy]                 # 3-2-1: copy the profile's snapshots to a second repository
//! on-calendar = "daily"
//! to-repo = "s3:offsite/laptop"
//! to-password-file = "~/.config/arca/offsite.pass"   # or to-password-command
//! ```
//!
//! Unknown keys are errors, and so is an invalid calendar expression, at load time, naming
//! the file, the job and the expression.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::profile::expand_tilde;
use crate::automation::calendar::Calendar;
use crate::automation::job::{Job, ScheduledJob};
use crate::error::{Error, Result};

/// `[schedule]`: one optional table per job.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScheduleSections {
    pub backup: Option<ScheduleJob>,
    pub forget: Option<ScheduleForget>,
    pub prune: Option<ScheduleJob>,
    pub check: Option<ScheduleCheck>,
    pub copy: Option<ScheduleCopy>,
}

/// `on-calendar = "daily"` or `on-calendar = ["Mon..Fri 02:00", "Sat 10:00"]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The keys of every job; serde cannot both flatten and reject unknown keys, so each job's
/// struct repeats them through this macro.
macro_rules! schedule_section {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, Clone)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            pub on_calendar: OneOrMany,
            pub randomized_delay: Option<String>,
            pub persistent: Option<bool>,
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            fn common(&self) -> Common<'_> {
                Common {
                    on_calendar: &self.on_calendar,
                    randomized_delay: self.randomized_delay.as_deref(),
                    persistent: self.persistent,
                }
            }
        }
    };
}

schedule_section!(ScheduleJob {});
schedule_section!(ScheduleForget { prune: Option<bool>, });
schedule_section!(ScheduleCheck { read_data: Option<bool>, read_data_subset: Option<String>, });
schedule_section!(ScheduleCopy {
    to_repo: Option<String>,
    to_password_file: Option<PathBuf>,
    to_password_command: Option<String>,
});

struct Common<'a> {
    on_calendar: &'a OneOrMany,
    randomized_delay: Option<&'a str>,
    persistent: Option<bool>,
}

/// Check the calendar expressions of one file's `[schedule]` before the files are merged, so
/// an error names the file that holds the bad expression.
pub fn check_file(table: &toml::Table, file: &Path) -> Result<()> {
    let Some(toml::Value::Table(schedule)) = table.get("schedule") else { return Ok(()) };
    for (job, section) in schedule {
        let Some(cal) = section.as_table().and_then(|t| t.get("on-calendar")) else { continue };
        let texts: Vec<&str> = match cal {
            toml::Value::String(s) => vec![s],
            toml::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => vec![],
        };
        for text in texts {
            Calendar::parse(text).map_err(|e| in_profile(e, &file.display().to_string(), job))?;
        }
    }
    Ok(())
}

fn in_profile(e: Error, profile: &str, job: &str) -> Error {
    let hint = e.hint.clone();
    let mut out = Error::usage(format!("profile {profile}: [schedule.{job}] on-calendar: {}", e.message));
    if let Some(h) = hint {
        out = out.hint(h);
    }
    out
}

/// The validated jobs of the merged sections, in the order of `Job::ALL`.
pub fn jobs(s: &ScheduleSections, profile: &str) -> Result<Vec<ScheduledJob>> {
    let mut out = vec![];
    if let Some(b) = &s.backup {
        out.push(job(Job::Backup, b.common(), vec![], profile)?);
    }
    if let Some(f) = &s.forget {
        let args = if f.prune == Some(true) { vec!["--prune".to_string()] } else { vec![] };
        out.push(job(Job::Forget, f.common(), args, profile)?);
    }
    if let Some(p) = &s.prune {
        out.push(job(Job::Prune, p.common(), vec![], profile)?);
    }
    if let Some(c) = &s.check {
        let mut args = vec![];
        match (c.read_data, &c.read_data_subset) {
            (Some(true), Some(_)) => {
                return Err(Error::usage(format!(
                    "profile {profile}: [schedule.check] has both read-data and read-data-subset"
                ))
                .hint("keep one: read-data reads every pack, read-data-subset a part (e.g. \"5%\")"))
            }
            (Some(true), None) => args.push("--read-data".to_string()),
            (_, Some(subset)) => args.extend(["--read-data-subset".to_string(), subset.clone()]),
            _ => {}
        }
        out.push(job(Job::Check, c.common(), args, profile)?);
    }
    if let Some(c) = &s.copy {
        let Some(to) = &c.to_repo else {
            return Err(Error::usage(format!("profile {profile}: [schedule.copy] has no to-repo"))
                .hint("name the second repository the profile's snapshots are copied to: to-repo = \"…\""));
        };
        let mut args = vec!["--to-repo".to_string(), to.clone()];
        if let Some(f) = &c.to_password_file {
            args.extend(["--to-password-file".to_string(), expand_tilde(f).display().to_string()]);
        }
        if let Some(cmd) = &c.to_password_command {
            args.extend(["--to-password-command".to_string(), cmd.clone()]);
        }
        out.push(job(Job::Copy, c.common(), args, profile)?);
    }
    Ok(out)
}

fn job(job: Job, c: Common<'_>, args: Vec<String>, profile: &str) -> Result<ScheduledJob> {
    let calendar_text = c.on_calendar.list();
    if calendar_text.is_empty() {
        return Err(Error::usage(format!("profile {profile}: [schedule.{job}] on-calendar is an empty list"))
            .hint("give at least one expression, e.g. on-calendar = \"daily\""));
    }
    let calendars = calendar_text
        .iter()
        .map(|t| Calendar::parse(t).map_err(|e| in_profile(e, profile, job.name())))
        .collect::<Result<Vec<_>>>()?;
    let randomized_delay = match c.randomized_delay {
        None => Duration::ZERO,
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            Error::usage(format!("profile {profile}: [schedule.{job}] randomized-delay {t:?}: {e}"))
                .hint("use e.g. 30s, 10m or 1h")
        })?,
    };
    Ok(ScheduledJob { job, calendars, calendar_text, randomized_delay, persistent: c.persistent.unwrap_or(true), args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ScheduledJob>> {
        let t: toml::Table = text.parse().unwrap();
        check_file(&t, Path::new("/p/laptop.toml"))?;
        let p = super::super::profile::Profile::deserialize(toml::Value::Table(t))
            .map_err(|e| Error::usage(e.message().to_string()))?;
        jobs(&p.schedule, "laptop")
    }

    #[test]
    fn every_job_becomes_its_verb_and_arguments() {
        let jobs = parse(
            r#"
            [schedule.backup]
            on-calendar = ["Mon..Fri *:0/30", "Sat 10:00"]
            randomized-delay = "2m"
            [schedule.forget]
            on-calendar = "daily"
            prune = true
            persistent = false
            [schedule.prune]
            on-calendar = "Sun 04:00"
            [schedule.check]
            on-calendar = "monthly"
            read-data-subset = "5%"
            [schedule.copy]
            on-calendar = "daily"
            to-repo = "/srv/offsite"
            to-password-command = "pass offsite"
            "#,
        )
        .unwrap();
        let names: Vec<_> = jobs.iter().map(|j| j.job.name()).collect();
        assert_eq!(names, ["backup", "forget", "prune", "check", "copy"]);
        assert_eq!(jobs[0].calendars.len(), 2);
        assert_eq!(jobs[0].randomized_delay, Duration::from_secs(120));
        assert!(jobs[0].persistent && !jobs[1].persistent);
        assert_eq!(jobs[1].args, ["--prune"]);
        assert_eq!(jobs[3].args, ["--read-data-subset", "5%"]);
        assert_eq!(jobs[4].args, ["--to-repo", "/srv/offsite", "--to-password-command", "pass offsite"]);
    }

    #[test]
    fn bad_schedules_are_errors_that_name_file_job_and_expression() {
        let e = parse("[schedule.backup]\non-calendar = \"Mon..Fry 02:00\"").unwrap_err().to_string();
        assert!(e.contains("/p/laptop.toml") && e.contains("[schedule.backup]") && e.contains("Mon..Fry"), "{e}");
        let e = parse("[schedule.check]\non-calendar = [\"daily\", \"25:00\"]").unwrap_err().to_string();
        assert!(e.contains("[schedule.check]") && e.contains("25:00"), "{e}");
        // unknown keys and jobs, missing calendars, a copy without a target
        for (bad, word) in [
            ("[schedule.backup]\non-calendar = \"daily\"\npersistant = true", "persistant"),
            ("[schedule.restore]\non-calendar = \"daily\"", "restore"),
            ("[schedule.backup]\nrandomized-delay = \"1m\"", "on-calendar"),
            ("[schedule.copy]\non-calendar = \"daily\"", "to-repo"),
            ("[schedule.backup]\non-calendar = \"daily\"\nrandomized-delay = \"soon\"", "soon"),
            ("[schedule.backup]\non-calendar = []", "empty"),
            ("[schedule.check]\non-calendar = \"daily\"\nread-data = true\nread-data-subset = \"1%\"", "both"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(word), "{bad}: {e}");
        }
    }
}
