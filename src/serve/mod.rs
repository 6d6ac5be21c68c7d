//! `arca serve`: the repository over HTTP, a second face over the verbs of `commands/`.
//!
//! One process opens the repository once and holds a read lock for as long as it serves,
//! refreshed as `arca mount` refreshes its own ([`run`]); an interrupt (Ctrl-C, SIGTERM)
//! stops accepting, lets the requests under way finish, and releases the lock. The snapshot
//! list is reloaded when older than the refresh interval ([`state`]), so new snapshots appear.
//!
//! Safe by default: every route but the login page needs authentication ([`auth`]), a request
//! that changes something through a session cookie needs that session's CSRF token, and no path
//! parameter can name anything outside a snapshot's tree ([`paths`]). The JSON API ([`api`])
//! answers with the shapes of the CLI's `--json` and errors as `{"error": {kind, message,
//! hint}}` ([`error`]); file downloads stream with HTTP range support ([`download`]).
//!
//! The web UI ([`ui`]) is one page at `/` with embedded assets, over the same JSON API.
//! The WebDAV view (`dav`, read-only, same tree as the mount) is nested at `/dav/` behind the
//! same authentication in [`router`].

pub mod api;
pub mod archive;
pub mod auth;
pub mod dav;
pub mod download;
pub mod error;
pub mod insights;
pub mod insights_change;
pub mod insights_dashboard;
pub mod jobs;
pub mod paths;
pub mod restore;
pub mod state;
pub mod throttle;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;

use crate::error::{Error, Kind, Result};
use crate::repo::Repository;

pub use auth::Credentials;

/// How often the serving loop looks for an interrupt and refreshes the lock when due.
const POLL: Duration = Duration::from_millis(200);

/// What `arca serve` was asked.
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Who may log in: the token printed at start, or the users of an htpasswd file.
    pub credentials: Credentials,
    /// Look for new snapshots at most this often.
    pub refresh: Duration,
    /// Serve plain HTTP on a non-loopback address (otherwise refused).
    pub insecure_http: bool,
    /// The dashboard marks a source stale when its newest snapshot is older than this.
    pub stale_after: std::time::Duration,
    /// Where `POST /api/restore` may write (none: nowhere).
    pub restore_roots: Vec<std::path::PathBuf>,
    /// The restic `status` message of a restore's counters (the CLI's meter).
    pub restore_status: Option<fn(Arc<crate::restorer::RestoreProgress>) -> jobs::StatusFn>,
    /// The profile backups `POST /api/backup` may run (`arca -P NAME serve`).
    pub backups: Vec<jobs::BackupProfile>,
    /// HTTPS: a PEM certificate chain and its PEM private key.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// Refuse what would expose the repository: plain HTTP beyond loopback without the explicit
/// `--insecure-http`.
pub fn check_listen(opts: &ServeOptions) -> Result<()> {
    if !opts.listen.ip().is_loopback() && !opts.insecure_http && opts.tls.is_none() {
        return Err(Error::usage(format!(
            "refusing to serve plain HTTP on {}, which is not a loopback address",
            opts.listen
        ))
        .hint("serve HTTPS with --tls-cert and --tls-key, or listen on 127.0.0.1 (the default) and reach it through an SSH tunnel or a TLS proxy, or pass --insecure-http if the network is trusted"));
    }
    Ok(())
}

/// The whole application: the login routes and the UI's assets, then the app, the API and
/// `/dav/`, every one of them behind [`auth::require`]; failing browser navigations get HTML
/// error pages ([`ui::html_errors`]).
pub fn router(state: Arc<state::State>, tree: Arc<crate::mount::vfs::Vfs>) -> Router {
    let protected = Router::new()
        .nest("/api", api::router())
        .merge(ui::app_router())
        .route("/logout", axum::routing::post(auth::logout))
        // the read-only WebDAV view of the mount's tree, behind the same authentication layer
        // (`nest_service`: axum's `nest` would not route `/dav/` itself)
        .nest_service("/dav", dav::router(tree))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require));
    Router::new()
        .merge(auth::login_router())
        .merge(ui::assets_router())
        .merge(protected)
        .layer(axum::middleware::from_fn(ui::html_errors))
        .layer(axum::middleware::map_response(hardened))
        .with_state(state)
}

/// Headers on every answer, the login page and refusals included: nothing is cached (the API
/// answers hold names and contents of backups), no page may be framed (clickjacking of the
/// changing routes to come), no type is sniffed, no referrer leaves.
async fn hardened(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // a stricter policy of the route stays: `/dav/` sandboxes backed-up files, so an HTML page
    // from a backup cannot load script from this origin
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
        );
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// Serve until interrupted. `ready` is called once the socket is bound, with its address and
/// whether it is HTTPS (the CLI prints them, with the token). Blocks; returns after the lock is released.
pub fn run(
    repo: Arc<Repository>,
    opts: ServeOptions,
    ready: &mut dyn FnMut(SocketAddr, bool, &Credentials),
) -> Result<()> {
    check_listen(&opts)?;
    let roots = opts.restore_roots.iter().map(|r| restore::Root::open(r)).collect::<Result<Vec<_>>>()?;
    let tls = opts.tls.as_ref().map(|(cert, key)| tls::config(cert, key)).transpose()?;
    let lock = repo.lock_read("serve")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(Kind::Other, format!("cannot start the HTTP server's runtime: {e}")))?;
    let tree = Arc::new(crate::mount::vfs::Vfs::new(
        repo.clone(),
        crate::mount::vfs::VfsOptions { refresh: opts.refresh, ..Default::default() },
    )?);
    let work = jobs::Work { roots, restore_status: opts.restore_status, backups: opts.backups, ..Default::default() };
    let mut state = state::State::new(repo, opts.credentials, opts.refresh).with_work(work);
    state.tls = tls.is_some();
    state.insights.set_stale_after(opts.stale_after);
    let state = Arc::new(state);
    let listener = runtime.block_on(tokio::net::TcpListener::bind(opts.listen)).map_err(|e| {
        Error::io(format!("listening on {}", opts.listen), e)
            .hint("pick another address with --listen, e.g. --listen 127.0.0.1:0 for any free port")
    })?;
    let bound = listener.local_addr().map_err(|e| Error::io("the listening socket", e))?;
    ready(bound, state.tls, &state.credentials);
    let lock = Arc::new(lock);
    let failure: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
    let stop = {
        let (lock, failure) = (lock.clone(), failure.clone());
        async move {
            while !crate::platform::interrupted() {
                tokio::time::sleep(POLL).await;
                let l = lock.clone();
                let fresh = tokio::task::spawn_blocking(move || l.ensure_fresh()).await;
                let err = match fresh {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(e) => Error::new(Kind::Internal, format!("refreshing the lock: {e}")),
                };
                if let Ok(mut f) = failure.lock() {
                    *f = Some(err);
                }
                break;
            }
        }
    };
    let app = router(state, tree).into_make_service_with_connect_info::<throttle::ClientAddr>();
    let served = runtime.block_on(async move {
        match tls {
            Some(config) => {
                let listener = tls::TlsListener::new(listener, config)?;
                axum::serve(listener, app).with_graceful_shutdown(stop).await
            }
            None => axum::serve(listener, app).with_graceful_shutdown(stop).await,
        }
    });
    // requests under way have finished; no thread of the runtime holds the repository now
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(lock);
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    served.map_err(|e| Error::new(Kind::Io, format!("serving on {bound}: {e}")))
}
