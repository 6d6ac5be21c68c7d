//! The two routes that change snapshots, each through its verb (which takes the same lock as
//! on the command line, a shared lock beside the server's own) and only with the session's
//! CSRF token when the request comes through a cookie (`auth::require`):
//!
//! - `POST /api/snapshots/{id}/tags` `{"add": [..], "remove": [..]}` or `{"set": [..]}`
//!   (`"set": []` removes every tag): `tag --json`'s report; the snapshot gets a new id
//!   (`changed: [{old, new, tags}]`)
//! - `POST /api/forget` `{"ids": [..]}`, or `{"policy": {keep-* keys, group-by, host, tag,
//!   path}, "confirm": true}`: `forget --json`'s groups. A policy without `"confirm": true` is
//!   refused before anything is locked or deleted (the UI shows the preview first).
//!
//! Afterwards the server's snapshot list is read again at the next request, so its answers
//! show the change at once.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State as AxumState};
use axum::Json;
use serde::Deserialize;

use super::api::blocking;
use super::error::ApiError;
use super::insights::PolicyQuery;
use super::state::State;
use crate::commands::forget::{self, ForgetGroup, ForgetOptions};
use crate::commands::tag::{self, TagChange, TagReport};
use crate::commands::Filter;
use crate::error::Error;

/// A JSON body that does not parse is a usage error, answered as JSON.
fn body<T>(b: Result<Json<T>, JsonRejection>, example: &str) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| {
        Error::usage(format!("invalid request body: {}", e.body_text()))
            .hint(format!("send Content-Type: application/json and a body like {example}"))
            .into()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
    set: Option<Vec<String>>,
}

pub(super) async fn tags(
    AxumState(state): AxumState<Arc<State>>,
    Path(id): Path<String>,
    b: Result<Json<TagBody>, JsonRejection>,
) -> Result<Json<TagReport>, ApiError> {
    let b = body(b, r#"{"add": ["keep"], "remove": ["draft"]}"#)?;
    // `"set": []` is the CLI's `--set ''`: no tags at all
    let set = match b.set {
        Some(s) if s.is_empty() => vec![String::new()],
        Some(s) => s,
        None => vec![],
    };
    let change = TagChange::new(&set, &b.add, &b.remove)
        .map_err(|e| Error::usage(e.message.replace("--", "")).hint(r#"e.g. {"add": ["keep"]} or {"set": []}"#))?;
    let report = blocking(move || {
        // the verb resolves the selector against the stored snapshots, not the server's list
        // (which may be a refresh interval old): a snapshot another client just retagged is found
        let r = tag::tag(&state.repo, &[id], &Filter::default(), &change);
        state.invalidate_snapshots();
        r
    })
    .await?;
    Ok(Json(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetBody {
    ids: Option<Vec<String>>,
    policy: Option<PolicyQuery>,
    #[serde(default)]
    confirm: bool,
}

pub(super) async fn forget(
    AxumState(state): AxumState<Arc<State>>,
    b: Result<Json<ForgetBody>, JsonRejection>,
) -> Result<Json<Vec<ForgetGroup>>, ApiError> {
    let b = body(b, r#"{"ids": ["3fa9c1d2"]} or {"policy": {"keep-daily": "7"}, "confirm": true}"#)?;
    let ids = b.ids.unwrap_or_default();
    let policy_query = b.policy.unwrap_or_default();
    let (policy, group_by, filter) = policy_query.parse()?;
    if !policy.is_empty() && !b.confirm {
        return Err(Error::usage("a forget by policy must be confirmed: nothing was removed")
            .hint(r#"look at GET /api/forget/preview with the same rules, then send the policy again with "confirm": true"#)
            .into());
    }
    let groups = blocking(move || {
        let opts = ForgetOptions {
            ids: &ids,
            filter: &filter,
            group_by,
            policy: &policy,
            prune: None,
            unsafe_allow_remove_all: false,
        };
        let plan = forget::prepare(&state.repo, &opts).map_err(|e| {
            if e.kind == crate::error::Kind::Usage && (e.hint.is_none() || e.message.starts_with("no policy")) {
                e.hint(r#"send {"ids": [..]} or {"policy": {"keep-daily": "7", ...}, "confirm": true}"#)
            } else {
                e
            }
        })?;
        let done = plan.execute(&state.repo);
        state.invalidate_snapshots();
        done?;
        Ok(plan.groups.clone())
    })
    .await?;
    Ok(Json(groups))
}
