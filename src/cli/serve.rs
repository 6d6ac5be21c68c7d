//! `arca serve`: the options checked, the repository opened, then `serve::run` until Ctrl-C or
//! SIGTERM. The bound address and the login token go to stderr even with `--quiet`: without
//! them nobody can use the server (tests read the address from there too).

use std::sync::Arc;

use super::args::ServeArgs;
use super::exit;
use super::output::Out;
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::serve::{self, Credentials, ServeOptions};

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
    let opts = ServeOptions { listen: a.listen, credentials, refresh, insecure_http: a.insecure_http, stale_after };
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
