//! Authentication: who may use `arca serve`, and how a request proves it.
//!
//! Credentials are either a random token made at start and printed once ([`Credentials::token`])
//! or the users of an htpasswd file with Argon2 PHC hashes ([`Credentials::htpasswd`]). A
//! request proves itself with `Authorization: Bearer TOKEN`, with `Authorization: Basic` (a
//! user and password, or any user and the token: what WebDAV clients send), or with the
//! session cookie that logging in at `/login` sets (HttpOnly, SameSite=Strict).
//!
//! A session cookie is sent by the browser on its own, so a request through one that is not a
//! GET or HEAD must also carry the session's CSRF token in `X-CSRF-Token` (the API hands it
//! out at `GET /api/session`); an `Authorization` header is never sent by a browser on its own,
//! so those requests need none. Every secret is compared through BLAKE3 digests, whose
//! equality is constant-time; sessions are found by the digest of their id.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::state::State;
use super::throttle::ClientAddr;
use crate::error::{Error, Result};

/// The session cookie's name.
pub const COOKIE: &str = "arca_session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a login lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// At most this many live sessions; logging in past it ends the oldest.
const MAX_SESSIONS: usize = 1024;

/// Who may log in.
pub enum Credentials {
    /// The one token printed at start.
    Token(String),
    /// `(user, Argon2 PHC string)` pairs from an htpasswd file.
    Users(Vec<(String, String)>),
}

/// 32 random bytes as hex.
fn random_hex() -> Result<String> {
    Ok(hex::encode(crate::crypto::random_bytes::<32>()))
}

/// Constant-time equality of two secrets (of any lengths).
pub fn same_secret(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

impl Credentials {
    /// A fresh random token.
    pub fn token() -> Result<Credentials> {
        Ok(Credentials::Token(random_hex()?))
    }

    /// The users of an htpasswd file: `user:$argon2id$…` lines; empty lines and `#` comments
    /// are skipped. Any other hash is refused, naming the line.
    pub fn htpasswd(path: &Path) -> Result<Credentials> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
        let mut users = vec![];
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{}:{}", path.display(), n + 1);
            let Some((user, hash)) = line.split_once(':') else {
                return Err(Error::usage(format!("{at}: expected USER:HASH")));
            };
            if user.is_empty() || !hash.starts_with("$argon2") {
                return Err(Error::usage(format!("{at}: user {user:?} has no Argon2 hash")).hint(
                    "hashes must be Argon2 PHC strings, e.g. from `htpasswd`-like tools or `argon2 SALT -id -e`",
                ));
            }
            users.push((user.to_string(), hash.to_string()));
        }
        if users.is_empty() {
            return Err(Error::usage(format!("{}: no users", path.display())));
        }
        Ok(Credentials::Users(users))
    }

    /// Does this user and password (or token) log in? Blocking (Argon2). An unknown user
    /// costs what a known one does: the password is checked against a made-up hash with the
    /// first user's parameters, so the time of an answer does not tell which users exist.
    fn check(&self, user: Option<&str>, secret: &str) -> Option<String> {
        match self {
            Credentials::Token(t) => same_secret(t, secret).then(|| "token".to_string()),
            Credentials::Users(users) => {
                let found = user.and_then(|user| users.iter().find(|(u, _)| same_secret(u, user)));
                let hash = match found {
                    Some((_, hash)) => hash.clone(),
                    None => users.first().map(|(_, h)| unknown_user_hash(h))?,
                };
                let ok = matches!(crate::crypto::verify_password_hash(secret.as_bytes(), &hash), Ok(true));
                found.filter(|_| ok).map(|(name, _)| name.clone())
            }
        }
    }

    /// Are failed logins throttled? Only for passwords people chose (see `throttle`).
    fn throttled(&self) -> bool {
        matches!(self, Credentials::Users(_))
    }
}

/// A PHC string with the parameters of `like` (algorithm, version, memory, passes, lanes) and
/// a random salt and hash of the same lengths: verifying a password against it costs what
/// verifying against `like` costs, and never succeeds.
fn unknown_user_hash(like: &str) -> String {
    use base64ct::Encoding;
    let mut fields: Vec<String> = like.split('$').map(str::to_string).collect();
    let n = fields.len();
    if n >= 2 {
        for i in [n - 2, n - 1] {
            let len = base64ct::Base64Unpadded::decode_vec(&fields[i]).map(|v| v.len()).unwrap_or(32).clamp(8, 64);
            let random = crate::crypto::random_bytes::<64>();
            fields[i] = base64ct::Base64Unpadded::encode_string(&random[..len]);
        }
    }
    fields.join("$")
}

/// A logged-in browser.
#[derive(Clone)]
struct Session {
    user: String,
    csrf: String,
    expires: Instant,
}

/// The live sessions, by the BLAKE3 digest of their cookie.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<[u8; 32], Session>>);

impl Sessions {
    fn key(id: &str) -> [u8; 32] {
        *blake3::hash(id.as_bytes()).as_bytes()
    }

    /// A new session for `user`: its cookie value.
    fn open(&self, user: String) -> Result<String> {
        let id = random_hex()?;
        let s = Session { user, csrf: random_hex()?, expires: Instant::now() + SESSION_LIFETIME };
        let mut map = self.0.lock().map_err(|_| Error::internal("the session table's lock is poisoned"))?;
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(Self::key(&id), s);
        Ok(id)
    }

    fn get(&self, id: &str) -> Option<Session> {
        let map = self.0.lock().ok()?;
        map.get(&Self::key(id)).filter(|s| s.expires > Instant::now()).cloned()
    }

    fn close(&self, id: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&Self::key(id));
        }
    }
}

/// Who a request is, as handlers see it (a request extension).
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: String,
    /// The session's CSRF token; `None` when authenticated by a header.
    pub csrf: Option<String>,
    session: Option<String>,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Basic credentials: (user, password).
fn basic(value: &str) -> Option<(String, String)> {
    use base64ct::Encoding;
    let decoded = base64ct::Base64::decode_vec(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The outcome of checking a request's credentials.
enum Checked {
    In(Principal),
    Refused,
    /// Too many failures from this client: try again after this long.
    Throttled(Duration),
}

/// Check `user` and `secret` off the async threads, counting failures per client when the
/// credentials are passwords (and refusing a client that must wait without checking).
async fn check_secret(state: &Arc<State>, client: Option<ClientAddr>, user: Option<String>, secret: String) -> Checked {
    let ip = client.filter(|_| state.credentials.throttled()).map(|c| c.0.ip());
    if let Some(ip) = ip {
        if let Err(wait) = state.throttle.check(ip) {
            return Checked::Throttled(wait);
        }
    }
    let st = state.clone();
    let found =
        tokio::task::spawn_blocking(move || st.credentials.check(user.as_deref(), &secret)).await.ok().flatten();
    match (found, ip) {
        (Some(user), ip) => {
            if let Some(ip) = ip {
                state.throttle.succeeded(ip);
            }
            Checked::In(Principal { user, csrf: None, session: None })
        }
        (None, ip) => {
            if let Some(ip) = ip {
                state.throttle.failed(ip);
            }
            Checked::Refused
        }
    }
}

async fn authenticate(state: &Arc<State>, headers: &HeaderMap, client: Option<ClientAddr>) -> Checked {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let Some((scheme, value)) = auth.split_once(' ') else { return Checked::Refused };
        let (user, secret) = match scheme.to_ascii_lowercase().as_str() {
            "bearer" => (None, value.trim().to_string()),
            "basic" => match basic(value) {
                Some((u, p)) => (Some(u), p),
                None => return Checked::Refused,
            },
            _ => return Checked::Refused,
        };
        return check_secret(state, client, user, secret).await;
    }
    let Some(id) = cookie(headers, COOKIE) else { return Checked::Refused };
    match state.sessions.get(id) {
        Some(s) => Checked::In(Principal { user: s.user, csrf: Some(s.csrf), session: Some(id.to_string()) }),
        None => Checked::Refused,
    }
}

/// `429 Too Many Requests` with `Retry-After` (whole seconds, rounded up).
fn throttled(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let e = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        kind: "unauthorized",
        message: format!("too many failed logins from this address: wait {secs} s"),
        hint: Some("try again after the time in Retry-After; each further failure doubles it".into()),
    };
    let message = ThrottleMessage(format!("{} ({})", e.message, e.hint.as_deref().unwrap_or_default()));
    let mut r = e.into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r.extensions_mut().insert(message);
    r
}

/// What a throttled answer says, for the login form to show it.
#[derive(Clone)]
struct ThrottleMessage(String);

/// The layer in front of every route but the login page: 401 without credentials, 403 for a
/// cookie-authenticated request that changes something without its CSRF token.
pub async fn require(AxumState(state): AxumState<Arc<State>>, mut req: Request, next: Next) -> Response {
    let client = req.extensions().get::<axum::extract::ConnectInfo<ClientAddr>>().map(|c| c.0);
    let who = match authenticate(&state, req.headers(), client).await {
        Checked::In(who) => who,
        Checked::Refused => return ApiError::unauthorized().into_response(),
        Checked::Throttled(wait) => return throttled(wait),
    };
    if let Some(csrf) = &who.csrf {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD);
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !safe && !sent.is_some_and(|s| same_secret(s, csrf)) {
            return ApiError::csrf().into_response();
        }
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

/// `/login`: the form and its answer; the only routes without authentication.
pub fn login_router() -> Router<Arc<State>> {
    Router::new().route("/login", get(login_page).post(login))
}

async fn login_page(AxumState(state): AxumState<Arc<State>>) -> Html<String> {
    Html(login_html(&state, None))
}

/// The login form (in the UI's look, without script), with what went wrong last time.
fn login_html(state: &State, failed: Option<&str>) -> String {
    let fields = match state.credentials {
        Credentials::Token(_) => {
            r#"<label>Token <input name="token" type="password" autocomplete="current-password" required autofocus></label>"#
        }
        Credentials::Users(_) => {
            r#"<label>User <input name="user" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>"#
        }
    };
    let failed =
        failed.map(|m| format!("<p class=\"alert\" role=\"alert\">{}</p>\n", super::ui::escape(m))).unwrap_or_default();
    super::ui::plain_page(
        "arca: log in",
        &format!(
            "<section class=\"card login\"><h1>Log in</h1>\n{failed}<form method=\"post\" action=\"/login\" class=\"stack\">\n{fields}\n\
             <button class=\"primary\">Log in</button></form>\n\
             <p class=\"muted\">The token is the one <code>arca serve</code> printed when it started.</p></section>"
        ),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
}

/// A browser's form post (it prefers HTML) gets the form again on failure; others get JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.trim_start().starts_with("text/html"))
}

async fn login(
    AxumState(state): AxumState<Arc<State>>,
    client: Option<Extension<axum::extract::ConnectInfo<ClientAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = client.map(|Extension(c)| c.0);
    let secret = form.token.or(form.password).unwrap_or_default();
    let user = match check_secret(&state, client, form.user, secret).await {
        Checked::In(who) => who.user,
        Checked::Throttled(wait) => {
            let mut r = throttled(wait);
            if wants_html(&headers) {
                // a person at the form reads why, and the same status and Retry-After stay
                let message = r.extensions().get::<ThrottleMessage>().map(|m| m.0.clone()).unwrap_or_default();
                let retry = r.headers_mut().remove(header::RETRY_AFTER);
                let mut page =
                    (StatusCode::TOO_MANY_REQUESTS, Html(login_html(&state, Some(&message)))).into_response();
                if let Some(v) = retry {
                    page.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return page;
            }
            return r;
        }
        Checked::Refused => {
            let mut e = ApiError::unauthorized();
            e.message = "wrong token, user or password".into();
            if wants_html(&headers) {
                return (StatusCode::UNAUTHORIZED, Html(login_html(&state, Some(&e.message)))).into_response();
            }
            return e.into_response();
        }
    };
    let id = match state.sessions.open(user) {
        Ok(id) => id,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // over HTTPS the browser must never send it over plain HTTP
    let secure = if state.tls { "; Secure" } else { "" };
    let cookie =
        format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", SESSION_LIFETIME.as_secs());
    // to the web UI
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /logout`: ends the session (a CSRF-checked request like any other).
pub async fn logout(AxumState(state): AxumState<Arc<State>>, Extension(who): Extension<Principal>) -> Response {
    if let Some(id) = &who.session {
        state.sessions.close(id);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let gone = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// What `GET /api/session` answers: who is logged in and the CSRF token to send back.
#[derive(Serialize)]
pub struct SessionInfo {
    pub user: String,
    pub csrf: Option<String>,
}

pub async fn session(Extension(who): Extension<Principal>) -> Json<SessionInfo> {
    Json(SessionInfo { user: who.user, csrf: who.csrf })
}
