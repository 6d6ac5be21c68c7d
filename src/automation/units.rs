//! What `arca schedule install` writes: a systemd `.service` (the job's command line) and
//! `.timer` (its calendars) per scheduled job, or, without systemd, the equivalent crontab
//! line and launchd plist.
//!
//! Every unit starts with [`MARKER`] and names its profiles and job in comments, so `remove`
//! and `list` touch only units arca wrote. The command line is quoted for systemd (`%` and `$`
//! doubled, words with other characters double-quoted), so a profile name or a password
//! command never changes what runs. The service runs at low CPU and idle I/O priority, with
//! `ARCA_TRIGGER=schedule`; it is not sandboxed further, because a backup must read whatever
//! the profile names and write its cache.

use std::path::Path;

use super::job::{shell_line, ScheduledJob};

/// The first line of every unit arca writes.
pub const MARKER: &str = "# Written by `arca schedule install`; `arca schedule remove` deletes it.";

/// What a unit is for: the profiles (as given to -P), their key, the job.
pub struct UnitSpec<'a> {
    pub exe: &'a Path,
    pub profiles: &'a [String],
    pub profile_key: &'a str,
    pub job: &'a ScheduledJob,
    /// `Environment=` lines the run needs (where profiles and caches are found).
    pub env: &'a [(String, String)],
}

/// `arca-<profile key>-<job>`, escaped as `systemd-escape` does (a `+` is `\x2b`).
pub fn unit_name(profile_key: &str, job: &str) -> String {
    let raw = format!("arca-{profile_key}-{job}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-') {
                c.to_string()
            } else {
                let mut b = [0u8; 4];
                c.encode_utf8(&mut b).bytes().map(|x| format!("\\x{x:02x}")).collect()
            }
        })
        .collect()
}

/// One word of a systemd command line or `Environment=` assignment.
pub fn systemd_quote(w: &str) -> String {
    let escaped = w.replace('%', "%%").replace('$', "$$");
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-$".contains(c);
    if !escaped.is_empty() && escaped.chars().all(plain) {
        escaped
    } else {
        let mut out = String::from("\"");
        for c in escaped.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

fn header(spec: &UnitSpec<'_>) -> String {
    format!(
        "{MARKER}\n# arca-profiles: {}\n# arca-job: {}\n",
        spec.profiles.iter().map(|p| p.escape_debug().to_string()).collect::<Vec<_>>().join(" "),
        spec.job.job
    )
}

fn description(spec: &UnitSpec<'_>) -> String {
    // `%` starts a specifier in unit settings
    format!("arca {} of profile {}", spec.job.job, spec.profiles.join(" + ").escape_debug()).replace('%', "%%")
}

pub fn service(spec: &UnitSpec<'_>) -> String {
    let exec: Vec<String> = std::iter::once(spec.exe.display().to_string())
        .chain(spec.job.arguments(spec.profiles))
        .map(|w| systemd_quote(&w))
        .collect();
    let mut env = vec![systemd_quote("ARCA_TRIGGER=schedule")];
    env.extend(spec.env.iter().map(|(k, v)| systemd_quote(&format!("{k}={v}"))));
    format!(
        "{}\n[Unit]\nDescription={}\n\n[Service]\nType=oneshot\nExecStart={}\n{}\nNice=10\nIOSchedulingClass=idle\n\
         # arca stops cleanly on SIGTERM (its lock released): time to do so\nTimeoutStopSec=5min\n",
        header(spec),
        description(spec),
        exec.join(" "),
        env.iter().map(|e| format!("Environment={e}")).collect::<Vec<_>>().join("\n"),
    )
}

pub fn timer(spec: &UnitSpec<'_>) -> String {
    let cal: Vec<String> = spec.job.calendar_text.iter().map(|c| format!("OnCalendar={c}")).collect();
    format!(
        "{}\n[Unit]\nDescription=Schedule of {}\n\n[Timer]\n{}\nRandomizedDelaySec={}\nPersistent={}\n\n\
         [Install]\nWantedBy=timers.target\n",
        header(spec),
        description(spec),
        cal.join("\n"),
        spec.job.randomized_delay.as_secs(),
        spec.job.persistent,
    )
}

/// The job's crontab lines (one per calendar), or why cron cannot run it on the same times.
pub fn crontab_lines(spec: &UnitSpec<'_>) -> Result<Vec<String>, String> {
    let mut out = vec![];
    for (cal, text) in spec.job.calendars.iter().zip(&spec.job.calendar_text) {
        let fields = cal.cron_fields().ok_or_else(|| {
            format!("{text:?} has seconds, years, a time zone or both a day and a weekday, which cron cannot say")
        })?;
        let f: Vec<String> = fields
            .iter()
            .map(|v| v.as_ref().map_or("*".to_string(), |v| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")))
            .collect();
        let env: Vec<String> = std::iter::once(("ARCA_TRIGGER".to_string(), "schedule".to_string()))
            .chain(spec.env.iter().cloned())
            .map(|(k, v)| format!("{k}={}", super::job::shell_quote(&v)))
            .collect();
        // cron gives `%` a meaning of its own: escaped
        let line = shell_line(spec.exe, &spec.job.arguments(spec.profiles)).replace('%', "\\%");
        out.push(format!("{} {} {line}", f.join(" "), env.join(" ")));
    }
    Ok(out)
}

/// A launchd agent plist (`~/Library/LaunchAgents/<label>.plist`), or why launchd cannot run
/// the job on the same times (as for cron, plus more than 500 start times).
pub fn launchd_plist(spec: &UnitSpec<'_>) -> Result<String, String> {
    let xml = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut dicts = vec![];
    for (cal, text) in spec.job.calendars.iter().zip(&spec.job.calendar_text) {
        let fields = cal.cron_fields().ok_or_else(|| format!("{text:?} cannot be said in launchd's terms"))?;
        let keys = ["Minute", "Hour", "Day", "Month", "Weekday"];
        let mut combos: Vec<Vec<(&str, u32)>> = vec![vec![]];
        for (key, values) in keys.iter().zip(&fields) {
            let Some(values) = values else { continue };
            combos = combos
                .iter()
                .flat_map(|c| values.iter().map(move |v| [c.clone(), vec![(*key, *v)]].concat()))
                .collect();
            if combos.len() > 500 {
                return Err(format!("{text:?} needs more than 500 launchd start times"));
            }
        }
        for c in combos {
            let body: String = c.iter().map(|(k, v)| format!("<key>{k}</key><integer>{v}</integer>")).collect();
            dicts.push(format!("    <dict>{body}</dict>"));
        }
    }
    let args: String = std::iter::once(spec.exe.display().to_string())
        .chain(spec.job.arguments(spec.profiles))
        .map(|a| format!("    <string>{}</string>\n", xml(&a)))
        .collect();
    let env: String = std::iter::once(("ARCA_TRIGGER".to_string(), "schedule".to_string()))
        .chain(spec.env.iter().cloned())
        .map(|(k, v)| format!("    <key>{}</key><string>{}</string>\n", xml(&k), xml(&v)))
        .collect();
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<!-- {} -->\n<plist version=\"1.0\">\n<dict>\n  \
         <key>Label</key><string>org.arca.{}</string>\n  <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n  \
         <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n  <key>StartCalendarInterval</key>\n  <array>\n{}\n  \
         </array>\n  <key>ProcessType</key><string>Background</string>\n  <key>LowPriorityIO</key><true/>\n</dict>\n</plist>\n",
        xml(MARKER.trim_start_matches("# ")),
        xml(&unit_name(spec.profile_key, spec.job.job.name())),
        dicts.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::calendar::Calendar;
    use crate::automation::job::Job;

    fn job(cal: &[&str], args: &[&str]) -> ScheduledJob {
        ScheduledJob {
            job: Job::Check,
            calendars: cal.iter().map(|c| Calendar::parse(c).unwrap()).collect(),
            calendar_text: cal.iter().map(|c| c.to_string()).collect(),
            randomized_delay: std::time::Duration::from_secs(600),
            persistent: true,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn names_and_words_are_escaped_so_nothing_changes_what_runs() {
        assert_eq!(unit_name("base+laptop", "backup"), "arca-base\\x2blaptop-backup");
        assert_eq!(systemd_quote("5%"), "5%%");
        assert_eq!(systemd_quote("$HOME"), "$$HOME");
        assert_eq!(systemd_quote("my \"laptop\""), "\"my \\\"laptop\\\"\"");
        let j = job(&["Mon..Fri 02:00", "Sat 10:00"], &["--read-data-subset", "5%"]);
        let profiles = vec!["a b".to_string()];
        let spec =
            UnitSpec { exe: Path::new("/usr/bin/arca"), profiles: &profiles, profile_key: "a_b-1", job: &j, env: &[] };
        let s = service(&spec);
        assert!(s.starts_with(MARKER), "{s}");
        assert!(s.contains("ExecStart=/usr/bin/arca -P \"a b\" check --read-data-subset 5%%\n"), "{s}");
        assert!(s.contains("Environment=ARCA_TRIGGER=schedule\n"), "{s}");
        let t = timer(&spec);
        assert!(
            t.contains("OnCalendar=Mon..Fri 02:00\nOnCalendar=Sat 10:00\nRandomizedDelaySec=600\nPersistent=true"),
            "{t}"
        );
        let cron = crontab_lines(&spec).unwrap();
        assert_eq!(
            cron[0],
            "0 2 * * 1,2,3,4,5 ARCA_TRIGGER=schedule /usr/bin/arca -P 'a b' check --read-data-subset 5\\%"
        );
        let plist = launchd_plist(&spec).unwrap();
        assert_eq!(plist.matches("<dict><key>Minute</key>").count(), 6, "{plist}");
        let secs = job(&["*:*:0/5"], &[]);
        let spec = UnitSpec { job: &secs, ..spec };
        assert!(crontab_lines(&spec).unwrap_err().contains("seconds"));
    }
}
