//! The read-only WebDAV view of `arca serve`: the same tree as `arca mount` (snapshots/,
//! hosts/, tags/, ids/), served by dav-server over [`fs::TreeFs`] so Finder, Explorer,
//! rclone and davfs2 can browse and copy from it.
//!
//! Read-only twice over: only OPTIONS, GET, HEAD and PROPFIND reach the file system (every
//! other method is 405 before it does), and the file system refuses to open anything for
//! writing. A request path whose decoded names include `.` or `..`, a NUL, a slash or a
//! backslash is refused with 400 before it is parsed at all (dav-server would fold `..`
//! away; here it is never interpreted). File content is served as a sandboxed, unsniffed
//! download: a backed-up HTML file cannot run script in the UI's origin.

mod fs;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use dav_server::{DavConfig, DavHandler, DavMethodSet};

use crate::mount::vfs::Vfs;

/// Bytes read from the tree per step of a GET (the mount's reader caches whole blobs).
const READ_BUF: usize = 256 << 10;

/// The WebDAV view of `vfs`, to be nested behind the server's authentication with
/// `nest_service("/dav", router(vfs))` (axum's `nest` would not route `/dav/` itself, the
/// root every client asks for first); the hrefs it answers with carry the prefix.
pub fn router(vfs: Arc<Vfs>) -> Router {
    let dav = DavHandler::builder()
        .filesystem(Box::new(fs::TreeFs::new(vfs)))
        .methods(DavMethodSet::WEBDAV_RO)
        .hide_symlinks(true)
        .autoindex(false)
        .read_buf_size(READ_BUF)
        .build_handler();
    Router::new().fallback(move |req: Request| handle(dav.clone(), req))
}

/// The methods that reach dav-server; the others are refused here, whatever it knows.
const ALLOW: &str = "OPTIONS, GET, HEAD, PROPFIND";

async fn handle(dav: DavHandler, mut req: Request) -> Response {
    if !ALLOW.split(", ").any(|m| m == req.method().as_str()) {
        let msg = format!("{} refused: the WebDAV view is read-only ({ALLOW})\n", req.method());
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, ALLOW)], msg).into_response();
    }
    if let Err(why) = check_path(req.uri().path()) {
        let msg = format!("refused path {:?}: {why}; name a file or directory of the tree\n", req.uri().path());
        return (StatusCode::BAD_REQUEST, msg).into_response();
    }
    // Nested under a prefix, axum hands on the path below it; dav-server wants the whole
    // path and the prefix, so that the hrefs it writes resolve for the client.
    let inner = req.uri().path().to_string();
    let mut config = DavConfig::new();
    if let Some(OriginalUri(original)) = req.extensions().get::<OriginalUri>().cloned() {
        let full = original.path();
        let prefix = match full.strip_suffix(inner.as_str()) {
            Some(p) => p,
            None if inner == "/" => full.trim_end_matches('/'),
            None => "",
        };
        if !prefix.is_empty() {
            config = config.strip_prefix(prefix.to_string());
            *req.uri_mut() = original;
        }
    }
    let mut resp = dav.handle_with(config, req).await.map(Body::new);
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    resp
}

/// Refuse a raw (percent-encoded) request path any of whose decoded names is `.` or `..`
/// or holds a NUL, `/` or `\`, or that is not valid percent-encoding.
fn check_path(raw: &str) -> std::result::Result<(), &'static str> {
    for seg in raw.split('/') {
        let name = decode(seg.as_bytes()).ok_or("invalid percent-encoding")?;
        if name == b"." || name == b".." {
            return Err("a name is '.' or '..'");
        }
        if name.iter().any(|b| matches!(b, 0 | b'/' | b'\\')) {
            return Err("a name holds a NUL, a slash or a backslash");
        }
    }
    Ok(())
}

fn decode(s: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hi = hex(*s.get(i + 1)?)?;
            let lo = hex(*s.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A server of [`router`] nested at `/dav` on 127.0.0.1, on a thread of its own with its
/// own runtime, for tests (the `serve` command wires the router into the real server).
/// Stops when dropped.
#[cfg(feature = "testing")]
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(feature = "testing")]
impl TestServer {
    pub fn start(vfs: Arc<Vfs>) -> std::io::Result<TestServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().nest_service("/dav", router(vfs));
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let shutdown = async move {
                    let _ = stopped.await;
                };
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                    tracing::warn!("serve: the test server stopped: {e}");
                }
            })
        });
        Ok(TestServer { addr, stop: Some(stop), thread: Some(thread) })
    }
}

#[cfg(feature = "testing")]
impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_dot_names_nul_or_separators_in_a_name_are_refused() {
        for bad in [
            "/snapshots/..",
            "/snapshots/%2e%2e/x",
            "/snapshots/%2E%2e",
            "/./x",
            "/a/%00b",
            "/a%2fb",
            "/a%5c..",
            "/a/%zz",
            "/a/%2",
        ] {
            assert!(check_path(bad).is_err(), "{bad} passed");
        }
        for good in ["/", "/snapshots/", "/ids/abc/dir/caf%C3%A9%20x.txt", "/a/..b/c..", "/%2e%2e%2e"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
    }
}
