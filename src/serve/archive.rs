//! `GET /api/snapshots/{id}/archive?path=/dir&format=tar|zip`: a directory of a snapshot as
//! one tar or zip archive, written by `arca dump`'s own writers ([`dump_dir`]) on a blocking
//! thread into a [`ChannelWriter`], whose bounded channel is the response body. Nothing is
//! stored on the way: at most [`IN_FLIGHT`] pieces of [`PIECE`] bytes wait for the socket, and
//! the writer blocks while they do (backpressure). A client that goes away drops the body,
//! the channel closes, the next write fails and the dump stops where it is.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State as AxumState};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::api::{blocking, query, snapshot};
use super::error::ApiError;
use super::paths::snapshot_path;
use super::state::State;
use crate::commands::dump::{dump_dir, Archive};
use crate::error::Error;
use crate::format::tree::NodeKind;

/// Bytes gathered before a piece goes to the socket.
pub const PIECE: usize = 64 << 10;
/// Pieces waiting for the socket at most.
pub const IN_FLIGHT: usize = 4;

/// A `Write` whose bytes go, in pieces, to the receiving end of a bounded channel; a write
/// after the receiver is gone fails with `BrokenPipe`.
pub struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<std::io::Result<Bytes>>) -> ChannelWriter {
        ChannelWriter { tx, buf: Vec::with_capacity(PIECE) }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(PIECE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[derive(Deserialize)]
pub struct ArchiveQuery {
    path: Option<String>,
    format: Option<String>,
}

/// The archive's file name: the directory's name, or `snapshot-SHORTID` for the root.
fn file_name(path: &str, short: &str, format: Archive) -> String {
    let base = match path.rsplit('/').next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("snapshot-{short}"),
    };
    format!("{base}.{}", if format == Archive::Tar { "tar" } else { "zip" })
}

pub async fn archive(
    AxumState(state): AxumState<Arc<State>>,
    UrlPath(id): UrlPath<String>,
    q: Result<Query<ArchiveQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let path = snapshot_path(q.path.as_deref().unwrap_or("/"))?;
    let format: Archive = q.format.as_deref().unwrap_or("tar").parse()?;
    // find the directory before answering, so a wrong path is an error status, not a cut body
    let st = state.clone();
    let p = path.clone();
    let (sid, top, tree) = blocking(move || {
        let (sid, snap) = snapshot(&st, &id)?;
        match st.repo.find_path(&snap.tree, &p)? {
            None => Ok((sid, None, snap.tree)),
            Some(n) if n.kind == NodeKind::Dir => {
                let tree = n.subtree.ok_or_else(|| Error::corrupt(format!("{p}: a directory without a tree")))?;
                Ok((sid, Some(n), tree))
            }
            Some(n) => {
                Err(Error::usage(format!("{p} in snapshot {} is a {}, not a directory", sid.short(), n.kind.as_str()))
                    .hint("download a file with /api/snapshots/ID/file?path=…; archives are of directories"))
            }
        }
    })
    .await?;
    let name = file_name(&path, &sid.short(), format);
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter::new(tx.clone());
        let written = dump_dir(&state.repo, Path::new(&path), top.as_ref(), &tree, format, &mut w)
            .and_then(|_| w.flush().map_err(|e| Error::io("the archive's last piece", e)));
        if let Err(e) = written {
            tracing::warn!("serve: archive of {path} in {} stopped: {e}", sid.short());
            // the body ends with an error: the client sees a cut connection, not a short archive
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    let kind = if format == Archive::Tar { "application/x-tar" } else { "application/zip" };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&super::download::disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_bounded_and_a_gone_reader_stops_the_writer() {
        let (tx, mut rx) = mpsc::channel(IN_FLIGHT);
        let mut w = ChannelWriter::new(tx);
        // a write larger than a piece is taken in part (the caller writes the rest)
        let big = vec![7u8; PIECE * 2 + 10];
        let n = w.write(&big).unwrap();
        assert_eq!(n, PIECE);
        w.write_all(&big[n..]).unwrap();
        w.flush().unwrap();
        let mut got = vec![];
        while let Ok(Ok(piece)) = rx.try_recv() {
            assert!(piece.len() <= PIECE);
            got.extend_from_slice(&piece);
        }
        assert_eq!(got, big);
        // the client went away: the next piece cannot go, the dump gets an error and stops
        drop(rx);
        let e = w.write_all(&big).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn names_come_from_the_directory_or_the_snapshot() {
        assert_eq!(file_name("/home/me", "abcd1234", Archive::Tar), "me.tar");
        assert_eq!(file_name("/", "abcd1234", Archive::Zip), "snapshot-abcd1234.zip");
    }
}
