//! The only layer that reads argv and the environment, prompts, and prints.

mod about;
mod args;
mod automation_args;
mod browse;
mod browse_args;
mod config_show;
mod copy;
mod daemon;
mod generate;
mod handlers;
#[cfg(test)]
mod help_examples;
mod hooks;
mod key_args;
mod maintenance;
mod maintenance_args;
mod mount;
mod output;
mod profile;
mod profile_apply;
mod profile_notify;
mod profile_schedule;
mod progress;
mod render;
#[cfg(test)]
mod restic_compat;
mod rewrite;
mod run_record;
mod schedule;
#[cfg(feature = "serve")]
mod serve;
mod settings;
mod status;
mod unlock;
mod verbs;
mod watch;

use std::process::ExitCode;

pub use settings::parse_size;

use crate::error::{Error, Kind};
use output::Out;

/// Exit codes (stable; scripts rely on them).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FATAL: u8 = 1;
    pub const PARTIAL: u8 = 3;
    /// `arca status` found something to look at (a failed run, a stale source, ...).
    pub const STATUS_WARNINGS: u8 = 4;
    pub const NO_REPOSITORY: u8 = 10;
    pub const LOCKED: u8 = 11;
    pub const WRONG_PASSWORD: u8 = 12;
    /// Repository files are there but `config` is missing (never "does not exist").
    pub const REPOSITORY_DAMAGED: u8 = 13;
    /// A raw key file (`--key-file`) was refused: not private to the caller, or not a key file.
    pub const KEY_FILE_REFUSED: u8 = 14;
    pub const INTERRUPTED: u8 = 130;
}

/// The one mapping from error kinds to exit codes, and to the hint a kind gives when the error
/// brings none of its own.
pub fn exit_status(kind: Kind) -> (u8, Option<&'static str>) {
    match kind {
        Kind::NoRepository => (exit::NO_REPOSITORY, None),
        Kind::RepositoryDamaged => (exit::REPOSITORY_DAMAGED, None),
        Kind::Locked => (exit::LOCKED, None),
        Kind::WrongPassword => (exit::WRONG_PASSWORD, None),
        Kind::KeyFileRefused => (exit::KEY_FILE_REFUSED, None),
        Kind::Interrupted => (exit::INTERRUPTED, None),
        // a bug is a fatal error like any other to a script; the hint tells the user whose it is
        Kind::Internal => (exit::FATAL, Some("this is a bug in arca, please report it")),
        _ => (exit::FATAL, None),
    }
}

/// Print an error the way `out` prints (text or a JSON line) and return its exit code.
fn report_error(out: Out, mut e: Error) -> u8 {
    let (code, hint) = exit_status(e.kind);
    if let (None, Some(h)) = (&e.hint, hint) {
        e = e.hint(h);
    }
    out.error(&e, code);
    code
}

pub fn run() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = settings::empty_variables_unset(args::Cli::command())
        .try_get_matches_from(verbose_counts(std::env::args_os()))
        .and_then(|m| args::Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::FATAL } else { exit::OK });
        }
    };
    // `-v` lists files (restic's meaning); the log of storage requests, retries and key tries
    // has its own switch, `--log-level`/`ARCA_LOG`: a level (`debug`) or a tracing filter
    // (`arca=debug,opendal=info`)
    let filter = match log_filter(cli.global.log_level.as_deref(), cli.global.quiet) {
        Ok(f) => f,
        Err(e) => return ExitCode::from(report_error(Out { json: cli.global.json, quiet: false, verbose: 0 }, e)),
    };
    use tracing_subscriber::layer::SubscriberExt;
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .finish()
            .with(filter),
    );
    let out = Out { json: cli.global.json, quiet: cli.global.quiet, verbose: cli.global.verbose };
    // commands that need no repository and no settings
    let generated = match &cli.command {
        args::Command::Completion { shell } => Some(generate::completion(*shell)),
        args::Command::Generate { man } => Some(generate::man_pages(man)),
        args::Command::Version => Some(verbs::version(out)),
        args::Command::Options => Some(about::options(out)),
        args::Command::Features => Some(about::features(out)),
        _ => None,
    };
    if let Some(result) = generated {
        return match result {
            Ok(code) => ExitCode::from(code),
            Err(e) => ExitCode::from(report_error(out, e)),
        };
    }
    crate::platform::install_interrupt_handler();
    // faces that read only the profiles and run jobs as child processes
    let faced = match &cli.command {
        args::Command::Schedule(c) => Some(schedule::run(&cli.global, out, c)),
        args::Command::Daemon(a) => Some(daemon::run(&cli.global, out, a)),
        _ => None,
    };
    if let Some(result) = faced {
        return ExitCode::from(result.unwrap_or_else(|e| report_error(out, e)));
    }
    let code = run_with_profile(cli, &matches, out);
    ExitCode::from(code)
}

/// Load the profiles, fill the command line from them, then run the command between its hooks.
fn run_with_profile(mut cli: args::Cli, matches: &clap::ArgMatches, out: Out) -> u8 {
    let fail = |e: Error| report_error(out, e);
    let loaded = match profile::load(&cli.global.profiles) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if let Some(l) = &loaded {
        profile_apply::apply(&l.profile, &mut cli, matches);
    }
    let hooks = loaded.as_ref().and_then(|l| {
        let p = &l.profile;
        let (name, own) = match &cli.command {
            args::Command::Backup(_) => ("backup", p.backup.hooks()),
            args::Command::Forget(_) => ("forget", p.forget.hooks()),
            args::Command::Prune(_) => ("prune", p.prune.hooks()),
            args::Command::Check(_) => ("check", p.check.hooks()),
            _ => return None,
        };
        Some((name, p.hooks.then(&own), l.names.join(",")))
    });
    let mut settings = match settings::Settings::from_global(&cli.global) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    settings.profile = loaded;
    if matches!(settings.location, crate::backend::Location::Memory) {
        // memory: lives in this process: whatever this command writes is gone when it ends
        out.warning(
            "memory:",
            "memory: is a test backend: this repository lives for this one command and is gone when it ends",
        );
    }
    // the guard: one run of a profile's job at a time, taken before its hooks
    let _guard = match guard(&cli, &settings, out) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    // a job a profile drives leaves a record (for `arca status`, the metrics, notifications)
    let run = run_record::job_of(&cli.command)
        .filter(|_| !cli.global.profiles.is_empty())
        .map(|job| run_record::Run::begin(job, &cli.global.profiles));
    let metrics_file = cli.global.metrics_file.clone();
    // its notifications, checked before it runs (a mistake in [notify] is a profile error)
    let notifier = match settings.profile.as_ref().map(|l| &l.profile.notify).filter(|n| !n.is_empty()) {
        Some(section) if run.is_some() => match section.notifier() {
            Ok(n) => Some(n),
            Err(e) => return fail(e),
        },
        _ => None,
    };
    let ending = Ending { run: run.as_ref(), notifier: notifier.as_ref(), metrics_file: metrics_file.as_deref() };
    ending.start(out);
    let runner = match hooks {
        Some((name, h, profiles)) if !h.is_empty() => {
            match hooks::HookRunner::new(h, name, &profiles, &settings.location.to_string()) {
                Ok(r) => Some(r),
                Err(e) => return fail(e),
            }
        }
        _ => None,
    };
    if let Some(r) = &runner {
        if let Err(e) = r.before() {
            let msg = e.message.clone();
            let code = fail(e);
            r.after(code, Some(&msg), &[]);
            ending.finish(&settings, out, code, Some(&msg));
            return code;
        }
    }
    let cleanup_cache = cli.global.cleanup_cache;
    let (code, error) = match handlers::dispatch(&settings, out, cli.command) {
        Ok(code) => (code, None),
        // the reader of stdout went away (`| head`): the output ends there, quietly
        Err(e) if output::stdout_closed() && e.kind == Kind::Io => (exit::OK, None),
        Err(e) => {
            let msg = e.message.clone();
            (fail(e), Some(msg))
        }
    };
    if cleanup_cache {
        cleanup_old_caches(&settings, out);
    }
    if let Some(r) = &runner {
        r.after(code, error.as_deref(), &settings.facts());
    }
    ending.finish(&settings, out, code, error.as_deref());
    code
}

/// The job a profile-driven command is (`-P` given and the verb one a schedule runs).
fn profile_job(cli: &args::Cli) -> Option<crate::automation::job::Job> {
    use crate::automation::job::Job;
    if cli.global.profiles.is_empty() {
        return None;
    }
    match &cli.command {
        args::Command::Backup(_) => Some(Job::Backup),
        args::Command::Forget(_) => Some(Job::Forget),
        args::Command::Prune(_) => Some(Job::Prune),
        args::Command::Check(_) => Some(Job::Check),
        args::Command::Copy(_) => Some(Job::Copy),
        _ => None,
    }
}

/// The profile job's lock in its job state directory; another run holding it is exit 11.
/// A lock that cannot be taken at all (no cache directory, a state directory or lock file
/// that is not private: a symlink, a FIFO) is a warning and the job runs unguarded: the
/// repository's own locks still keep it whole, and a backup that does not run is the worse
/// failure.
fn guard(
    cli: &args::Cli,
    settings: &settings::Settings,
    out: Out,
) -> Result<Option<crate::cache::job_lock::JobLock>, Error> {
    use crate::cache::job_lock::JobLock;
    let Some(job) = profile_job(cli) else { return Ok(None) };
    let profiles = &cli.global.profiles;
    let dir = settings
        .cache_root
        .clone()
        .or_else(crate::cache::Cache::default_root)
        .ok_or_else(|| Error::usage("no cache directory (give --cache-dir)"))
        .and_then(|root| crate::cache::job_state::profile_dir(&root, profiles));
    match dir.and_then(|dir| JobLock::try_acquire(&dir, job.name()).map(|l| (dir, l))) {
        Ok((_, Some(lock))) => Ok(Some(lock)),
        Ok((dir, None)) => {
            let words: Vec<String> =
                profiles.iter().map(|p| format!("-P {}", crate::automation::job::shell_quote(p))).collect();
            let pid =
                JobLock::holder(&dir, job.name()).map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"));
            Err(Error::new(
                Kind::Locked,
                format!("another `arca {} {job}` is already running ({pid})", words.join(" ")),
            )
            .hint(format!(
                "wait for it to end; this run did nothing (its lock: {})",
                dir.join(format!("{job}.lock")).display()
            )))
        }
        Err(e) => {
            out.warning("job lock", &format!("this run is not guarded against a second one at once: {e}"));
            Ok(None)
        }
    }
}

/// What happens around a job a profile drives: the start ping, then its record, the metrics
/// file and the notifications. None of them changes the exit code.
struct Ending<'a> {
    run: Option<&'a run_record::Run>,
    notifier: Option<&'a crate::automation::notify::Notifier>,
    metrics_file: Option<&'a std::path::Path>,
}

impl Ending<'_> {
    fn start(&self, out: Out) {
        if let (Some(run), Some(n)) = (self.run, self.notifier) {
            let profile = run.profiles.join(",");
            let event = crate::automation::notify::Event::Start { profile: &profile, job: run.job };
            for failed in n.send(&event) {
                out.warning("notify", &failed.to_string());
            }
        }
    }

    fn finish(&self, settings: &settings::Settings, out: Out, code: u8, error: Option<&str>) {
        let Some(run) = self.run else { return };
        let record = run.record(settings, code, error);
        run.save(settings, out, &record);
        if let Some(path) = self.metrics_file {
            run_record::write_metrics(settings, out, path);
        }
        if let Some(n) = self.notifier {
            for failed in n.send(&crate::automation::notify::Event::Finished(&record)) {
                out.warning("notify", &failed.to_string());
            }
        }
    }
}

/// `--cleanup-cache` (restic's): after the command, whether it succeeded or not, the caches
/// of repositories unused for more than 30 days go, as `arca cache --cleanup` removes them
/// (the cache of the repository just used was marked used when it opened). A failure here is
/// a warning: the command's own outcome stands.
fn cleanup_old_caches(settings: &settings::Settings, out: Out) {
    let Some(root) = settings.cache_root.as_deref() else { return };
    let opts = crate::commands::cache::CacheOptions { cleanup: true, max_age_days: 30, with_size: false };
    match crate::commands::cache::run(root, &opts) {
        Ok(r) if r.removed > 0 => {
            out.note(format!("removed {} old cache directories from {}", r.removed, root.display()))
        }
        Ok(_) => {}
        Err(e) => out.warning("--cleanup-cache", &e.to_string()),
    }
}

/// restic's `--verbose=N` as N times `-v` (clap counts `-v` but takes no value with it);
/// nothing after `--` is touched.
fn verbose_counts(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = vec![];
    let mut rest = false;
    for a in args {
        let n = a.to_str().filter(|_| !rest).and_then(|s| s.strip_prefix("--verbose=")).map(str::parse::<u8>);
        rest |= a == "--";
        match n {
            Some(Ok(0)) => {}
            Some(Ok(n)) => out.push(format!("-{}", "v".repeat(n as usize)).into()),
            _ => out.push(a),
        }
    }
    out
}

/// The log filter: `--log-level`/`ARCA_LOG` as a level or `target=level,…` list; without it,
/// warnings (errors only with `--quiet`), from arca and the libraries alike.
fn log_filter(spec: Option<&str>, quiet: bool) -> Result<tracing_subscriber::filter::Targets, Error> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let base = if quiet { LevelFilter::ERROR } else { LevelFilter::WARN };
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Targets::new().with_default(base)),
        Some(s) => s.parse::<Targets>().map_err(|e| {
            Error::usage(format!("--log-level / ARCA_LOG {s:?}: {e}"))
                .hint("give a level (error, warn, info, debug, trace) or TARGET=LEVEL,… (e.g. arca=debug)")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_n_becomes_n_counted_flags_and_log_filters_parse() {
        let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            verbose_counts(os(&["arca", "--verbose=2", "backup", "--", "--verbose=3"])),
            os(&["arca", "-vv", "backup", "--", "--verbose=3"])
        );
        assert_eq!(verbose_counts(os(&["arca", "--verbose=0", "-v"])), os(&["arca", "-v"]));
        assert!(log_filter(Some("debug"), false).is_ok());
        assert!(log_filter(Some("arca=debug,opendal=info"), false).is_ok());
        assert!(log_filter(Some("arca=loud"), false).is_err());
    }

    #[test]
    fn a_bug_exits_fatal_and_asks_for_a_report_other_kinds_keep_their_codes() {
        let (code, hint) = exit_status(Kind::Internal);
        assert_eq!(code, exit::FATAL);
        assert!(hint.is_some_and(|h| h.contains("bug in arca")), "{hint:?}");
        for (kind, code) in [
            (Kind::NoRepository, 10),
            (Kind::Locked, 11),
            (Kind::WrongPassword, 12),
            (Kind::RepositoryDamaged, 13),
            (Kind::KeyFileRefused, 14),
            (Kind::Interrupted, 130),
            (Kind::Corrupt, 1),
            (Kind::Other, 1),
        ] {
            assert_eq!(exit_status(kind), (code, None), "{kind:?}");
        }
    }
}
