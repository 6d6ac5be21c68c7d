//! `arca schedule install|remove|list|status`: the profiles' `[schedule.<job>]` jobs as systemd
//! timers (user units for a user, system units as root, or `--unit-dir`), enabled with
//! `systemctl` when systemd runs; otherwise the equivalent crontab lines (and launchd plists
//! with `--launchd`) are printed. Units carry `automation::units::MARKER`: `remove` deletes
//! only those, and `install` never overwrites a unit it did not write.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::args::Global;
use super::automation_args::{ScheduleCommand, ScheduleInstallArgs, UnitDirArgs};
use super::exit;
use super::output::Out;
use super::profile::{self, Loaded};
use crate::automation::job::Job;
use crate::automation::units::{self, UnitSpec, MARKER};
use crate::error::{Error, Result};

pub fn run(g: &Global, out: Out, c: &ScheduleCommand) -> Result<u8> {
    match c {
        ScheduleCommand::Install(a) => install(g, out, a),
        ScheduleCommand::Remove(a) => remove(g, out, a),
        ScheduleCommand::List(a) => list(out, a),
        ScheduleCommand::Status(a) => status(g, out, a),
    }
}

/// The profiles named with -P, loaded, with at least one scheduled job.
pub(super) fn scheduled(g: &Global, verb: &str) -> Result<Loaded> {
    let loaded = profile::load(&g.profiles)?.ok_or_else(|| {
        Error::usage(format!("{verb} needs the profiles whose [schedule.<job>] sections it runs"))
            .hint(format!("arca -P PROFILE {verb}"))
    })?;
    let watches = verb == "daemon" && loaded.profile.watch.enabled == Some(true);
    if loaded.schedule.is_empty() && !watches {
        return Err(Error::usage(format!("profile {} has no [schedule.<job>] section", loaded.names.join(" + ")))
            .hint(if verb == "daemon" {
                "add e.g. [schedule.backup] with on-calendar = \"daily\", or [watch] enabled = true (see the README's Profiles section)"
            } else {
                "add e.g. [schedule.backup] with on-calendar = \"daily\" (see the README's Profiles section)"
            }));
    }
    for name in &loaded.names {
        if name.contains('/') && !name.starts_with('/') {
            return Err(Error::usage(format!("profile {name}: a relative path means nothing to a job run elsewhere"))
                .hint("give the profile by name or by its absolute path"));
        }
    }
    Ok(loaded)
}

/// The profiles' scheduled jobs, and the stale-source check when `[notify]` has `stale-after`.
pub(super) fn jobs_of(l: &Loaded) -> Vec<crate::automation::job::ScheduledJob> {
    let mut jobs = l.schedule.clone();
    if l.profile.notify.stale_after.is_some() {
        jobs.push(crate::automation::job::ScheduledJob::stale_check());
    }
    jobs
}

/// Where the jobs' state is: --cache-dir / ARCA_CACHE_DIR, the profile's cache-dir, or the
/// default cache root (job state is kept even with --no-cache).
pub(super) fn state_root(g: &Global, l: &Loaded) -> Option<PathBuf> {
    g.cache_dir
        .clone()
        .or_else(|| l.profile.repository.cache_dir.as_deref().map(profile::expand_tilde))
        .or_else(crate::cache::Cache::default_root)
}

fn unit_dir(a: &UnitDirArgs) -> Result<PathBuf> {
    if let Some(d) = &a.unit_dir {
        return Ok(d.clone());
    }
    if crate::platform::is_root() {
        return Ok(PathBuf::from("/etc/systemd/system"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| Error::usage("no $HOME or $XDG_CONFIG_HOME for the user units").hint("give --unit-dir DIR"))?;
    Ok(config.join("systemd/user"))
}

/// systemctl is called only for the default unit directory of a running systemd.
fn systemd_running(a: &UnitDirArgs) -> bool {
    a.unit_dir.is_none() && Path::new("/run/systemd/system").is_dir()
}

fn systemctl(args: &[&str]) -> Result<()> {
    let mut cmd = std::process::Command::new("systemctl");
    if !crate::platform::is_root() {
        cmd.arg("--user");
    }
    let o = cmd.args(args).output().map_err(|e| Error::io("systemctl", e))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(Error::new(
            crate::error::Kind::Other,
            format!("systemctl {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim()),
        )
        .hint("see `systemctl --user status` (or as root without --user); the unit files are written"))
    }
}

/// The environment a job needs to find the same profiles and state as this command.
fn job_env() -> Vec<(String, String)> {
    ["XDG_CONFIG_HOME", "XDG_CACHE_HOME", "ARCA_CACHE_DIR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
        .collect()
}

/// Is `path` a unit arca wrote? (`None`: there is no such file.)
fn ours(path: &Path) -> Option<bool> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().next() == Some(MARKER))
}

/// Write a unit whole: a new file beside it (`O_EXCL|O_NOFOLLOW`, 0644), renamed over it.
fn write_unit(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("unit");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path.display(), e)
    })
}

#[derive(Serialize)]
struct Installed {
    unit_dir: PathBuf,
    units: Vec<String>,
    enabled: bool,
    crontab: Vec<String>,
    removed: Vec<String>,
}

fn install(g: &Global, out: Out, a: &ScheduleInstallArgs) -> Result<u8> {
    let loaded = scheduled(g, "schedule install")?;
    let dir = unit_dir(&a.dir)?;
    let exe =
        std::env::current_exe().and_then(|e| e.canonicalize()).map_err(|e| Error::io("the arca executable", e))?;
    let key = crate::cache::job_state::profile_key(&loaded.names);
    let env = job_env();
    let jobs = jobs_of(&loaded);
    let specs: Vec<UnitSpec<'_>> = jobs
        .iter()
        .map(|job| UnitSpec { exe: &exe, profiles: &loaded.names, profile_key: &key, job, env: &env })
        .collect();
    // everything is checked before the first file is written
    let mut files = vec![];
    for spec in &specs {
        let name = units::unit_name(&key, spec.job.job.name());
        for (ext, text) in [("service", units::service(spec)), ("timer", units::timer(spec))] {
            let path = dir.join(format!("{name}.{ext}"));
            if path.exists() && ours(&path) != Some(true) {
                return Err(Error::usage(format!(
                    "{} exists and was not written by arca: nothing installed",
                    path.display()
                ))
                .hint("rename or remove it yourself, or give --unit-dir"));
            }
            files.push((path, text));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
    for (path, text) in &files {
        write_unit(path, text)?;
    }
    // jobs no longer in the profile: their units go
    let stale: Vec<Job> = Job::ALL.into_iter().filter(|j| !jobs.iter().any(|s| s.job == *j)).collect();
    let systemd = systemd_running(&a.dir);
    let removed = remove_units(&dir, &key, &stale, systemd, out)?;
    let timers: Vec<String> =
        specs.iter().map(|s| format!("{}.timer", units::unit_name(&key, s.job.job.name()))).collect();
    let mut report = Installed {
        unit_dir: dir.clone(),
        units: files.iter().map(|(p, _)| p.display().to_string()).collect(),
        enabled: false,
        crontab: vec![],
        removed,
    };
    if systemd {
        systemctl(&["daemon-reload"])?;
        let mut args = vec!["enable", "--now"];
        args.extend(timers.iter().map(String::as_str));
        systemctl(&args)?;
        report.enabled = true;
    } else {
        for spec in &specs {
            match units::crontab_lines(spec) {
                Ok(lines) => report.crontab.extend(lines),
                Err(why) => report.crontab.push(format!("# {}: {why}; run `arca daemon` for it instead", spec.job.job)),
            }
        }
    }
    if out.json {
        out.json_line(&report);
        return Ok(exit::OK);
    }
    for f in &report.units {
        out.text(format!("wrote {f}"));
    }
    for r in &report.removed {
        out.text(format!("removed {r} (its job is no longer scheduled)"));
    }
    if report.enabled {
        out.text(format!("enabled {}", timers.join(", ")));
        return Ok(exit::OK);
    }
    let why = if a.dir.unit_dir.is_some() {
        "--unit-dir given: the units are written, systemctl was not called".to_string()
    } else {
        "systemd is not running here (no /run/systemd/system): the units are written, not enabled".to_string()
    };
    out.note(why);
    out.text("the same schedule as crontab lines (`crontab -e`), or run `arca daemon`:");
    for l in &report.crontab {
        out.text(l);
    }
    if a.launchd {
        for spec in &specs {
            match units::launchd_plist(spec) {
                Ok(p) => out.text(format!(
                    "# launchd: ~/Library/LaunchAgents/org.arca.{}.plist\n{p}",
                    units::unit_name(&key, spec.job.job.name())
                )),
                Err(why) => out.warning("launchd", &format!("{}: {why}", spec.job.job)),
            }
        }
    }
    Ok(exit::OK)
}

/// Disable and delete the units of `jobs` that arca wrote; others are named and left alone.
fn remove_units(dir: &Path, key: &str, jobs: &[Job], systemd: bool, out: Out) -> Result<Vec<String>> {
    let mut mine = vec![];
    for job in jobs {
        let name = units::unit_name(key, job.name());
        for ext in ["timer", "service"] {
            let path = dir.join(format!("{name}.{ext}"));
            match ours(&path) {
                Some(true) => mine.push((format!("{name}.{ext}"), path)),
                Some(false) => {
                    out.warning("schedule remove", &format!("{} was not written by arca: left alone", path.display()))
                }
                None => {}
            }
        }
    }
    if systemd {
        let timers: Vec<&str> = mine.iter().filter(|(n, _)| n.ends_with(".timer")).map(|(n, _)| n.as_str()).collect();
        if !timers.is_empty() {
            let mut args = vec!["disable", "--now"];
            args.extend(timers);
            systemctl(&args)?;
        }
    }
    for (_, path) in &mine {
        std::fs::remove_file(path).map_err(|e| Error::io(path.display(), e))?;
    }
    if systemd && !mine.is_empty() {
        systemctl(&["daemon-reload"])?;
    }
    Ok(mine.into_iter().map(|(_, p)| p.display().to_string()).collect())
}

fn remove(g: &Global, out: Out, a: &UnitDirArgs) -> Result<u8> {
    let names = &g.profiles;
    if names.is_empty() {
        return Err(Error::usage("schedule remove needs the profiles whose units it removes")
            .hint("arca -P PROFILE schedule remove"));
    }
    let dir = unit_dir(a)?;
    let key = crate::cache::job_state::profile_key(names);
    let removed = remove_units(&dir, &key, &Job::ALL, systemd_running(a), out)?;
    if out.json {
        out.json_line(&serde_json::json!({ "unit_dir": dir, "removed": removed }));
    } else if removed.is_empty() {
        out.note(format!("no arca units of profile {} in {}", names.join(" + "), dir.display()));
    } else {
        for r in &removed {
            out.text(format!("removed {r}"));
        }
    }
    Ok(exit::OK)
}

#[derive(Serialize)]
struct Listed {
    unit: String,
    profiles: String,
    job: String,
    on_calendar: Vec<String>,
}

fn list(out: Out, a: &UnitDirArgs) -> Result<u8> {
    let dir = unit_dir(a)?;
    let mut rows = vec![];
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if !name.starts_with("arca-") || !name.ends_with(".timer") || ours(&p) != Some(true) {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let field = |prefix: &str| {
                text.lines().filter_map(|l| l.strip_prefix(prefix)).map(str::to_string).collect::<Vec<_>>()
            };
            rows.push(Listed {
                unit: name,
                profiles: field("# arca-profiles: ").join(" "),
                job: field("# arca-job: ").join(" "),
                on_calendar: field("OnCalendar="),
            });
        }
    }
    if out.json {
        out.json_line(&rows);
    } else if rows.is_empty() {
        out.note(format!("no arca units in {}", dir.display()));
    } else {
        for r in &rows {
            out.text(format!("{}  profile {}  {}  {}", r.unit, r.profiles, r.job, r.on_calendar.join("; ")));
        }
    }
    Ok(exit::OK)
}

#[derive(Serialize)]
struct JobStatus {
    job: String,
    unit: String,
    installed: bool,
    on_calendar: Vec<String>,
    next: Option<String>,
    last_started: Option<String>,
    last_outcome: Option<String>,
    last_exit_code: Option<u8>,
}

fn status(g: &Global, out: Out, a: &UnitDirArgs) -> Result<u8> {
    let loaded = scheduled(g, "schedule status")?;
    let dir = unit_dir(a)?;
    let key = crate::cache::job_state::profile_key(&loaded.names);
    let state = state_root(g, &loaded).map(|r| r.join(crate::cache::job_state::JOBS_DIR).join(&key));
    let now = chrono::Local::now();
    let rows: Vec<JobStatus> = jobs_of(&loaded)
        .iter()
        .map(|j| {
            let unit = units::unit_name(&key, j.job.name());
            let last = state.as_deref().and_then(|s| crate::cache::runs::last(s, j.job.name()));
            JobStatus {
                job: j.job.name().to_string(),
                installed: ours(&dir.join(format!("{unit}.timer"))) == Some(true),
                unit,
                on_calendar: j.calendars.iter().map(|c| c.normalized()).collect(),
                next: j.next_after(now).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
                last_started: last.as_ref().map(|r| r.started.clone()),
                last_outcome: last.as_ref().map(|r| r.outcome.as_str().to_string()),
                last_exit_code: last.as_ref().map(|r| r.exit_code),
            }
        })
        .collect();
    if out.json {
        out.json_line(&rows);
        return Ok(exit::OK);
    }
    for r in &rows {
        out.text(format!(
            "{:<7} {} ({})  {}  next {}  last {}",
            r.job,
            r.unit,
            if r.installed { "installed" } else { "not installed" },
            r.on_calendar.join("; "),
            r.next.as_deref().unwrap_or("never"),
            match (&r.last_started, &r.last_outcome) {
                (Some(t), Some(o)) => format!("{t} {o}"),
                _ => "never".to_string(),
            }
        ));
    }
    Ok(exit::OK)
}
