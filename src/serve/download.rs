//! File downloads: the whole file or one byte range (`Range: bytes=…`, RFC 9110 §14), streamed
//! from a blocking reader through a small bounded channel, so at most a few blobs of a file
//! are in memory whatever its size. A range that is not understood (several ranges, another
//! unit, bad syntax) is ignored and the whole file sent, as the RFC allows; one that starts
//! past the end is answered 416 with the size.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::commands::file_range::FileLayout;
use crate::format::tree::Node;
use crate::repo::Repository;

/// Blobs in flight between the reader and the socket.
const IN_FLIGHT: usize = 4;

/// What the `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    Whole,
    /// Bytes `start..end` (end exclusive, within the file).
    Part {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

pub fn requested(range: Option<&str>, size: u64) -> Requested {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else { return Requested::Whole };
    if spec.contains(',') {
        return Requested::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Requested::Whole };
    let num =
        |s: &str| if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) { None } else { s.parse::<u64>().ok() };
    match (a.is_empty(), num(a), num(b)) {
        // bytes=-N: the last N bytes
        (true, _, Some(n)) if n > 0 && size > 0 => Requested::Part { start: size - n.min(size), end: size },
        (true, _, Some(_)) => Requested::Unsatisfiable,
        (false, Some(start), _) if start >= size => Requested::Unsatisfiable,
        (false, Some(start), None) if b.is_empty() => Requested::Part { start, end: size },
        (false, Some(start), Some(last)) if last >= start => {
            Requested::Part { start, end: size.min(last.saturating_add(1)) }
        }
        _ => Requested::Whole,
    }
}

/// `attachment; filename*=UTF-8''…` with the name percent-encoded (RFC 6266, 8187).
pub(super) fn disposition(name: &str) -> String {
    let mut out = String::from("attachment; filename*=UTF-8''");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The response for `node` (a regular file whose layout is known) and the `Range` header.
pub fn respond(repo: Arc<Repository>, node: &Node, layout: FileLayout, range: Option<&str>) -> Response {
    let size = layout.size();
    let (status, start, end) = match requested(range, size) {
        Requested::Whole => (StatusCode::OK, 0, size),
        Requested::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        Requested::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    let name = node.name_lossy();
    tokio::task::spawn_blocking(move || {
        let sent = layout.read(&repo, start, end, &mut |piece| tx.blocking_send(Ok(Bytes::from(piece))).is_ok());
        if let Err(e) = sent {
            tracing::warn!("serve: download of {name} stopped: {e}");
            // the body ends with an error: the client sees a cut connection, not a short file
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&disposition(&node.name_lossy())) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        use Requested::*;
        assert_eq!(requested(None, 100), Whole);
        assert_eq!(requested(Some("bytes=0-9"), 100), Part { start: 0, end: 10 });
        assert_eq!(requested(Some("bytes=90-"), 100), Part { start: 90, end: 100 });
        assert_eq!(requested(Some("bytes=90-500"), 100), Part { start: 90, end: 100 });
        assert_eq!(requested(Some("bytes=-10"), 100), Part { start: 90, end: 100 });
        assert_eq!(requested(Some("bytes=-500"), 100), Part { start: 0, end: 100 });
        assert_eq!(requested(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(requested(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(requested(Some("bytes=0-"), 0), Unsatisfiable);
        // not understood: the whole file
        assert_eq!(requested(Some("bytes=0-1,5-6"), 100), Whole);
        assert_eq!(requested(Some("items=0-1"), 100), Whole);
        assert_eq!(requested(Some("bytes=9-1"), 100), Whole);
        assert_eq!(requested(Some("bytes=+1-2"), 100), Whole);
        assert_eq!(requested(Some("bytes=-"), 100), Whole);
    }

    #[test]
    fn names_are_percent_encoded_in_the_disposition() {
        assert_eq!(disposition("a b\"\r\n.txt"), "attachment; filename*=UTF-8''a%20b%22%0D%0A.txt");
    }
}
