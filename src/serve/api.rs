//! The JSON API under `/api/`, in the shapes of the CLI's `--json` where one exists:
//!
//! - `GET /api/session`: who is logged in, and the CSRF token for changing requests
//! - `GET /api/snapshots?host=&tag=&path=`: the snapshots, oldest first (`snapshots --json`)
//! - `GET /api/snapshots/{id}/tree?path=/x&offset=&limit=&sort=&reverse=`: one directory, a
//!   page of its entries (`ls --json` nodes) with the total
//! - `GET /api/snapshots/{id}/file?path=/x`: the file's bytes, with range support
//!
//! `{id}` is what the CLI takes: an id, a unique prefix, `latest` or `latest@TIME`. Handlers
//! run the verbs' functions on blocking threads and turn their errors into [`ApiError`]s.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::paths::snapshot_path;
use super::state::State;
use crate::commands::file_range::{file_at, FileLayout};
use crate::commands::ls::{list_dir, list_dir_page, sort_nodes, LsNode, SortKey};
use crate::commands::select::{select_from, Filter};
use crate::commands::snapshots::SnapshotInfo;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;

/// Entries per page when none is asked, and the most one page holds.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/session", get(super::auth::session))
        .route("/snapshots", get(snapshots))
        .route("/snapshots/{id}/tree", get(tree))
        .route("/snapshots/{id}/file", get(file))
        .merge(super::insights::router())
        .merge(super::jobs::router())
}

/// Run `f` on a blocking thread (repository work reads storage).
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(Error::internal(format!("a request's worker stopped: {e}")).into()),
    }
}

/// A query string that does not parse is a usage error, answered as JSON like the others.
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| {
        Error::usage(format!("invalid query: {}", e.body_text())).hint("see the API in the README (arca serve)").into()
    })
}

/// The snapshot `selector` names, from the (refreshed) list.
pub(super) fn snapshot(state: &State, selector: &str) -> Result<(SnapshotId, Snapshot)> {
    let all = state.snapshots()?;
    select_from(all.as_ref().clone(), selector, &Filter::default())
}

#[derive(Deserialize)]
pub struct SnapshotQuery {
    host: Option<String>,
    tag: Option<String>,
    path: Option<String>,
}

async fn snapshots(
    AxumState(state): AxumState<Arc<State>>,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<Vec<SnapshotInfo>>, ApiError> {
    let filter = Filter {
        hosts: q.host.into_iter().collect(),
        tags: q.tag.into_iter().collect(),
        paths: q.path.into_iter().collect(),
    };
    let list = blocking(move || state.snapshots()).await?;
    Ok(Json(list.iter().filter(|(_, s)| filter.matches(s)).map(|(id, s)| SnapshotInfo::new(id, s)).collect()))
}

#[derive(Deserialize)]
pub struct TreeQuery {
    path: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    /// `name` (the tree's order, the default), `size` or `mtime`, as `ls --sort`.
    sort: Option<String>,
    reverse: Option<bool>,
}

#[derive(Serialize)]
pub struct TreePage {
    pub snapshot: SnapshotInfo,
    pub path: String,
    /// Entries in the directory, all pages together.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub nodes: Vec<LsNode>,
}

/// The keys the tree route sorts by (`ls --sort`'s, named as the query gives them).
fn sort_key(by: &str) -> Result<SortKey> {
    match by {
        "name" => Ok(SortKey::Name),
        "size" => Ok(SortKey::Size),
        "mtime" | "time" => Ok(SortKey::Mtime),
        other => Err(Error::usage(format!("unknown sort key {other:?}")).hint("sort by name, size or mtime")),
    }
}

async fn tree(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    q: Result<Query<TreeQuery>, QueryRejection>,
) -> Result<Json<TreePage>, ApiError> {
    let q = query(q)?;
    let path = snapshot_path(q.path.as_deref().unwrap_or("/"))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::usage(format!("limit {limit} is out of range"))
            .hint(format!("ask for 1 to {MAX_LIMIT} entries a page"))
            .into());
    }
    let offset = q.offset.unwrap_or(0);
    let page = blocking(move || {
        let (sid, snap) = snapshot(&state, &id)?;
        let (sort, reverse) = (sort_key(q.sort.as_deref().unwrap_or("name"))?, q.reverse.unwrap_or(false));
        let (total, nodes) = if sort == SortKey::Name && !reverse {
            // the tree's own order: only the page is formatted (a 100,000-entry directory)
            list_dir_page(&state.repo, &snap, &path, offset, limit)?
        } else {
            let mut nodes = list_dir(&state.repo, &snap, &path)?;
            sort_nodes(&mut nodes, sort, reverse);
            (nodes.len(), nodes.into_iter().skip(offset).take(limit).collect())
        };
        Ok(TreePage { snapshot: SnapshotInfo::new(&sid, &snap), path, total, offset, limit, nodes })
    })
    .await?;
    Ok(Json(page))
}

#[derive(Deserialize)]
pub struct FileQuery {
    path: String,
}

async fn file(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let path = snapshot_path(&q.path)?;
    let repo = state.repo.clone();
    let (node, layout) = blocking(move || {
        let (_, snap) = snapshot(&state, &id)?;
        let node = file_at(&state.repo, &snap, &path)?;
        let layout = FileLayout::new(&state.repo, &node)?;
        Ok((node, layout))
    })
    .await?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    Ok(super::download::respond(repo, &node, layout, range).into_response())
}
