//! `arca serve`: the options checked, the repository opened, then `serve::run` until Ctrl-C or
//! SIGTERM. The bound address and the login token go to stderr even with `--quiet`: without
//! them nobody can use the server (tests read the address from there too).

use std::sync::Arc;

use super::args::ServeArgs;
use super::exit;
use super::output::Out;
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::restorer::RestoreProgress;
use crate::serve::jobs::StatusFn;
use crate::serve::{self, Credentials, ServeOptions};

/// A restore job's progress: the `status` message `restore --json` prints.
fn restore_status(p: Arc<RestoreProgress>) -> StatusFn {
    let mut frame = super::progress::restore(p);
    Box::new(move |elapsed, last| frame(elapsed, last).json)
}

pub fn serve(s: &Settings, out: Out, a: ServeArgs) -> Result<u8> {
    let credentials = match &a.htpasswd {
        Some(file) => Credentials::htpasswd(file)?,
        None => Credentials::token()?,
    };
    let refresh =
        humantime::parse_duration(&a.refresh).map_err(|e| Error::usage(format!("--refresh {:?}: {e}", a.refresh)))?;
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
    };
    // refused before the repository is opened: nothing to unlock, no password asked
    serve::check_listen(&opts)?;
    let repo = Arc::new(s.open()?);
    serve::run(repo, opts, &mut |addr, credentials| {
        eprintln!("arca serve: listening on http://{addr}/");
        match credentials {
            Credentials::Token(t) => {
                eprintln!("arca serve: token {t}");
                eprintln!("arca serve: log in at http://{addr}/login, or send `Authorization: Bearer {t}`");
            }
            Credentials::Users(u) => eprintln!("arca serve: {} user(s) may log in at http://{addr}/login", u.len()),
        }
        eprintln!("arca serve: Ctrl-C or SIGTERM stops it");
    })?;
    out.note("arca serve: stopped; lock released");
    Ok(exit::OK)
}
