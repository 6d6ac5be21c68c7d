//! The web UI: one page (`/`, `index.html`) and its assets (`/ui/{asset}`), all embedded in
//! the binary, so nothing is fetched from anywhere else and the server's Content-Security-Policy
//! (`default-src 'self'`) holds: the pages have no inline script or style and use no `eval`.
//! The app routes by the URL's fragment (`#/snapshots`, `#/browse/ID/path`, …) and reads all
//! its data from the JSON API (`api`), so it shows nothing the API would not.
//!
//! The assets are public (the login page needs its style sheet and they hold no data); `/`
//! is behind authentication like every other route. A browser navigation that fails
//! ([`html_errors`]) gets a page with the message and hint the CLI would print instead of the
//! API's JSON, and one without credentials is sent to the login page.

use std::sync::Arc;

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::state::State;

/// `(name, Content-Type, bytes)` of every asset under `/ui/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("ui/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("ui/app.js")),
    ("util.js", "text/javascript; charset=utf-8", include_bytes!("ui/util.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_bytes!("ui/charts.js")),
    ("dashboard.js", "text/javascript; charset=utf-8", include_bytes!("ui/dashboard.js")),
    ("snapshots.js", "text/javascript; charset=utf-8", include_bytes!("ui/snapshots.js")),
    ("browse.js", "text/javascript; charset=utf-8", include_bytes!("ui/browse.js")),
    ("compare.js", "text/javascript; charset=utf-8", include_bytes!("ui/compare.js")),
    ("jobs.js", "text/javascript; charset=utf-8", include_bytes!("ui/jobs.js")),
    ("icon.svg", "image/svg+xml", include_bytes!("ui/icon.svg")),
];

const INDEX: &str = include_str!("ui/index.html");

/// The assets, reachable without logging in.
pub fn assets_router() -> Router<Arc<State>> {
    Router::new().route("/ui/{asset}", get(asset))
}

/// The app itself, behind authentication.
pub fn app_router() -> Router<Arc<State>> {
    Router::new().route("/", get(index))
}

async fn index() -> Html<&'static str> {
    Html(INDEX)
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => ([(header::CONTENT_TYPE, HeaderValue::from_static(kind))], *bytes).into_response(),
        None => ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not_found",
            message: format!("no asset {name:?} in the web UI"),
            hint: Some("the UI's assets are app.css, app.js and the modules it imports".into()),
        }
        .into_response(),
    }
}

/// Is this request a browser navigating (a page load or a link followed), as opposed to the
/// app's `fetch` calls, API clients and WebDAV clients? Browsers put `text/html` first in the
/// `Accept` of a navigation; `fetch`, curl and the WebDAV clients do not.
fn navigation(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    matches!(*method, Method::GET | Method::HEAD)
        && accept.trim_start().starts_with("text/html")
        && !(path == "/dav" || path.starts_with("/dav/"))
}

/// The layer around the whole router: a failing navigation gets an HTML page instead of the
/// JSON error (same message and hint), and one that is not logged in goes to `/login`.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let nav = navigation(req.method(), req.uri().path(), req.headers());
    let r = next.run(req).await;
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !nav || !json || !(r.status().is_client_error() || r.status().is_server_error()) {
        return r;
    }
    if r.status() == StatusCode::UNAUTHORIZED {
        return Redirect::to("/login").into_response();
    }
    let status = r.status();
    // an error body is a few hundred bytes; anything larger is not one of ours
    let body = axum::body::to_bytes(r.into_body(), 64 << 10).await.unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |k: &str| parsed["error"][k].as_str().map(str::to_string);
    let message = field("message").unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    (status, Html(error_page(status, field("kind").as_deref().unwrap_or("error"), &message, field("hint").as_deref())))
        .into_response()
}

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page of the UI's look without script: the login page and the error pages.
pub fn plain_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"icon\" href=\"/ui/icon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/ui/app.css\"></head>\n<body class=\"plain\"><main class=\"narrow\">\n\
         <div class=\"brand\"><img src=\"/ui/icon.svg\" alt=\"\" width=\"28\" height=\"28\"> arca</div>\n{body}\n</main></body></html>\n",
        escape(title)
    )
}

/// The HTML error page: what failed, the hint, the kind (as the CLI's `--json` errors name it).
pub fn error_page(status: StatusCode, kind: &str, message: &str, hint: Option<&str>) -> String {
    let hint = hint.map(|h| format!("<p class=\"hint\">{}</p>", escape(h))).unwrap_or_default();
    plain_page(
        &format!("arca: {}", status.canonical_reason().unwrap_or("error")),
        &format!(
            "<section class=\"card error-page\"><h1>{} {}</h1>\n<p class=\"message\">{}</p>\n{hint}\n\
             <p class=\"muted\">kind: <code>{}</code></p>\n<p><a href=\"/\">Back to the dashboard</a></p></section>",
            status.as_u16(),
            escape(status.canonical_reason().unwrap_or("")),
            escape(message),
            escape(kind)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_escape_what_they_quote() {
        let page = error_page(StatusCode::NOT_FOUND, "not_found", "no <script>alert(1)</script>", Some("a \"hint\""));
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("no &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a &quot;hint&quot;"));
    }

    #[test]
    fn no_asset_has_inline_script_or_style_or_eval() {
        let mut pages = vec![("index.html", INDEX.as_bytes())];
        pages.extend(ASSETS.iter().map(|(n, _, b)| (*n, *b)));
        for (name, bytes) in pages {
            // the SVG namespace is a name, not an address anything is fetched from
            let text = std::str::from_utf8(bytes).unwrap().replace("http://www.w3.org/2000/svg", "");
            for bad in
                ["style=\"", "<style", "eval(", "new Function", "javascript:", "http://", "https://", "innerHTML"]
            {
                assert!(!text.contains(bad), "{name} contains {bad:?}");
            }
            if name.ends_with(".html") {
                // every script is a file of its own
                for (i, _) in text.match_indices("<script") {
                    assert!(text[i..].starts_with("<script type=\"module\" src=\"/ui/"), "{name}: inline script");
                }
            }
        }
    }

    #[test]
    fn browser_navigations_are_told_from_api_and_dav_clients() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(navigation(&Method::GET, "/nothing", &h));
        assert!(!navigation(&Method::POST, "/nothing", &h));
        assert!(!navigation(&Method::GET, "/dav/snapshots/", &h), "WebDAV keeps its answers");
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!navigation(&Method::GET, "/nothing", &h));
        assert!(!navigation(&Method::GET, "/nothing", &HeaderMap::new()));
    }
}
