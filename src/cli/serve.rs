//! `arca serve`: the options checked, the repository opened, then `serve::run` until Ctrl-C or
//! SIGTERM. The bound address and the login token go to stderr even with `--quiet`: without
//! them nobody can use the server (tests read the address from there too).

use std::sync::Arc;

use super::args::ServeArgs;
use super::exit;
use super::handlers;
use super::hooks::HookRunner;
use super::output::Out;
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::restorer::RestoreProgress;
use crate::serve::jobs::{metered, BackupFn, BackupProfile, StatusFn};
use crate::serve::{self, Credentials, ServeOptions};

/// A restore job's progress: the `status` message `restore --json` prints.
fn restore_status(p: Arc<RestoreProgress>) -> StatusFn {
    let mut frame = super::progress::restore(p);
    Box::new(move |elapsed, last| frame(elapsed, last).json)
}

/// A backup job's progress: the `status` message `backup --json` prints.
fn backup_status(p: Arc<crate::archiver::Progress>) -> StatusFn {
    let mut frame = super::progress::backup(p);
    Box::new(move |elapsed, last| frame(elapsed, last).json)
}

/// The profile's backup as `POST /api/backup` runs it: the same road as `arca -P NAME backup`
/// (arguments from the profile, [`handlers::backup_command`], `commands::backup::run`, the
/// hooks of the profile's `[hooks]` and `[backup]` around it with the same facts), with the
/// CLI's `--json` progress meter; `None` when the profile names no sources.
fn backup_profile(s: &Settings, out: Out) -> Result<Option<BackupProfile>> {
    let Some(loaded) = &s.profile else { return Ok(None) };
    let a = handlers::profile_backup_args(&loaded.profile)?;
    if a.paths.is_empty() && a.files_from.is_empty() && a.files_from_verbatim.is_empty() && a.files_from_raw.is_empty()
    {
        return Ok(None);
    }
    let name = loaded.names.join(",");
    let paths = a.paths.iter().map(|p| p.display().to_string()).collect();
    let profile = loaded.profile.clone();
    let hooks = profile.hooks.then(&profile.backup.hooks());
    let location = s.location.to_string();
    let hook_name = name.clone();
    let run: BackupFn = Arc::new(move |repo, sink| {
        let runner = match hooks.is_empty() {
            true => None,
            false => Some(HookRunner::new(hooks.clone(), "backup", &hook_name, &location)?),
        };
        if let Some(r) = &runner {
            if let Err(e) = r.before() {
                r.after(exit::FATAL, Some(&e.message), &[]);
                return Err(e);
            }
        }
        let done =
            handlers::profile_backup_args(&profile).and_then(|a| handlers::backup_command(a, true)).and_then(|cmd| {
                let progress = Arc::new(crate::archiver::Progress::reporting(Default::default()));
                let warn = |m: String| out.warning("archival", &m);
                metered(backup_status(progress.clone()), sink, || {
                    crate::commands::backup::run(repo, cmd, &progress, &warn)
                })
            });
        if let Some(r) = &runner {
            match &done {
                Ok(report) => {
                    let code = if report.errors > 0 { exit::PARTIAL } else { exit::OK };
                    r.after(code, None, &handlers::backup_facts(report));
                }
                Err(e) => r.after(super::exit_status(e.kind).0, Some(&e.message), &[]),
            }
        }
        serde_json::to_value(done?).map_err(|e| Error::internal(format!("the backup report: {e}")))
    });
    Ok(Some(BackupProfile { name, paths, run }))
}

pub fn serve(s: &Settings, out: Out, a: ServeArgs) -> Result<u8> {
    let credentials = match &a.htpasswd {
        Some(file) => Credentials::htpasswd(file)?,
        None => Credentials::token()?,
    };
    let refresh =
        humantime::parse_duration(&a.refresh).map_err(|e| Error::usage(format!("--refresh {:?}: {e}", a.refresh)))?;
    let stale_after = match s.profile.as_ref().and_then(|p| p.profile.serve.stale_after.as_deref()) {
        Some(d) => humantime::parse_duration(d).map_err(|e| {
            Error::usage(format!("serve.stale-after {d:?} in the profile: {e}"))
                .hint("give a duration, e.g. \"26h\" or \"8d\"")
        })?,
        None => serve::insights::DEFAULT_STALE_AFTER,
    };
    if stale_after.is_zero() {
        return Err(Error::usage("serve.stale-after in the profile is zero").hint("give a duration, e.g. \"26h\""));
    }
    let mut restore_roots: Vec<_> = s
        .profile
        .iter()
        .flat_map(|l| l.profile.serve.restore_roots.iter().flatten())
        .map(|p| super::profile::expand_tilde(p))
        .collect();
    restore_roots.extend(a.restore_roots.iter().cloned());
    let opts = ServeOptions {
        listen: a.listen,
        credentials,
        refresh,
        insecure_http: a.insecure_http,
        restore_roots,
        restore_status: Some(restore_status),
        backups: vec![],
        stale_after,
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
    };
    // refused before the repository is opened: nothing to unlock, no password asked
    serve::check_listen(&opts)?;
    let opts = ServeOptions { backups: backup_profile(s, out)?.into_iter().collect(), ..opts };
    let repo = Arc::new(s.open()?);
    serve::run(repo, opts, &mut |addr, tls, credentials| {
        let scheme = if tls { "https" } else { "http" };
        eprintln!("arca serve: listening on {scheme}://{addr}/");
        match credentials {
            Credentials::Token(t) => {
                eprintln!("arca serve: token {t}");
                eprintln!("arca serve: log in at {scheme}://{addr}/login, or send `Authorization: Bearer {t}`");
            }
            Credentials::Users(u) => {
                eprintln!("arca serve: {} user(s) may log in at {scheme}://{addr}/login", u.len())
            }
        }
        eprintln!("arca serve: Ctrl-C or SIGTERM stops it");
    })?;
    out.note("arca serve: stopped; lock released");
    Ok(exit::OK)
}
