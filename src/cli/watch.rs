//! `arca watch`: flags and the `[watch]` section turned into [`WatchOptions`], and each backup
//! started as a child process `arca [-P p...] backup --json -q --changed-paths-0 FILE`, with
//! `ARCA_TRIGGER=watch`, so it is guarded, recorded and notified like every other run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::automation_args::WatchArgs;
use super::exit;
use super::output::Out;
use super::profile::expand_tilde;
use super::settings::Settings;
use crate::automation::watch::{self, WatchOptions};
use crate::error::{Error, Result};

pub(super) fn watch(s: &Settings, out: Out, a: WatchArgs) -> Result<u8> {
    let (names, section, sources) = match &s.profile {
        Some(l) => (l.names.clone(), l.profile.watch.clone(), l.profile.backup.sources.clone()),
        None => (vec![], Default::default(), None),
    };
    let duration = |flag: &Option<String>, key: &Option<String>, default: &str, name: &str| -> Result<Duration> {
        let text = flag.as_deref().or(key.as_deref()).unwrap_or(default);
        humantime::parse_duration(text)
            .map_err(|e| Error::usage(format!("watch {name} {text:?}: {e}")).hint("a duration, e.g. 30s, 5m, 1h"))
    };
    let debounce = duration(&a.debounce, &section.debounce, "30s", "debounce")?;
    let max_delay = duration(&a.max_delay, &section.max_delay, "10m", "max-delay")?;
    let min_interval = duration(&a.min_interval, &section.min_interval, "1m", "min-interval")?;
    let backend = watch::Backend::parse(a.backend.as_deref().or(section.backend.as_deref()).unwrap_or("auto"))?;
    // without a profile the watched paths are what is backed up
    let backed_up: Vec<PathBuf> = if s.profile.is_none() { a.paths.clone() } else { vec![] };
    let watched: Vec<PathBuf> = if !a.paths.is_empty() {
        a.paths.clone()
    } else if let Some(p) = section.paths.or(sources) {
        p.iter().map(|p| expand_tilde(p)).collect()
    } else {
        return Err(Error::usage("nothing to watch")
            .hint("name paths (`arca watch ~/work`), or use a profile with [backup] sources or [watch] paths"));
    };
    let mut paths = vec![];
    for p in watched {
        let abs = std::path::absolute(&p).map_err(|e| Error::io(p.display(), e))?;
        if abs.symlink_metadata().is_err() {
            return Err(Error::usage(format!("{}: no such file or directory; cannot watch it", abs.display())));
        }
        paths.push(abs);
    }
    let root = s.cache_root.clone().or_else(crate::cache::Cache::default_root).ok_or_else(|| {
        Error::usage("no cache directory for the watch's state").hint("give --cache-dir or set XDG_CACHE_HOME")
    })?;
    let state_dir = crate::cache::job_state::profile_dir(&root, &names)?;
    let opts = WatchOptions { paths, debounce, max_delay, min_interval, state_dir, backend };
    let exe = std::env::current_exe().map_err(|e| Error::io("the arca executable", e))?;
    let forwarded = forwarded_globals(std::env::args_os().skip(1));
    let backup = |list: Option<&Path>| {
        let mut c = Command::new(&exe);
        for n in &names {
            c.arg("-P").arg(n);
        }
        c.args(&forwarded).args(["backup", "--json", "-q"]);
        if let Some(l) = list {
            c.arg("--changed-paths-0").arg(l);
        }
        if !backed_up.is_empty() {
            c.arg("--").args(&backed_up);
        }
        c.env("ARCA_TRIGGER", "watch").stdin(Stdio::null()).stdout(Stdio::piped());
        c.spawn().map_err(|e| Error::io(exe.display(), e).hint("the backup is run as a child process of arca watch"))
    };
    let log = |line: String| out.text(format!("{} {line}", chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z")));
    watch::run(&opts, &backup, &log)?;
    Ok(exit::OK)
}

/// The global options of this command line that choose the repository, its password and
/// cache (a profile brings its own): passed on to each backup.
fn forwarded_globals(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    const WITH_VALUE: &[&str] = &[
        "-r",
        "--repo",
        "--repository-file",
        "--password-file",
        "--password-command",
        "-o",
        "--option",
        "--cache-dir",
        "--connections",
        "--limit-upload",
        "--limit-download",
        "--storage-timeout",
        "--retry-lock",
        "--pack-size",
    ];
    const FLAGS: &[&str] = &["--no-cache"];
    let mut out = vec![];
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        let text = a.to_string_lossy();
        if text == "--" {
            break;
        }
        if FLAGS.contains(&text.as_ref()) {
            out.push(a);
        } else if WITH_VALUE.contains(&text.as_ref()) {
            if let Some(v) = args.next() {
                out.push(a);
                out.push(v);
            }
        } else if WITH_VALUE.iter().any(|f| f.starts_with("--") && text.starts_with(&format!("{f}="))) {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_password_and_cache_options_reach_the_backup() {
        let args =
            ["-r", "/srv/r", "watch", "--debounce", "1s", "--password-file=/p", "--no-cache", "-o", "s3.x=y", "/home"];
        let got = forwarded_globals(args.iter().map(OsString::from));
        let want: Vec<OsString> =
            ["-r", "/srv/r", "--password-file=/p", "--no-cache", "-o", "s3.x=y"].iter().map(OsString::from).collect();
        assert_eq!(got, want);
    }
}
