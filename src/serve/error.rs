//! Errors as the API answers them: `{"error": {"kind", "message", "hint"}}` with the kind
//! names of the CLI's `--json` errors (`not_found`, `usage`, `locked`, …) and an HTTP status
//! that says the same: 404 for what does not exist, 400 for a request that is wrong, 401 and
//! 403 for authentication, 500 for damage and bugs.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::{Error, Kind};

/// An error a handler returns; renders as JSON with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    kind: &'a str,
    message: &'a str,
    hint: Option<&'a str>,
}

impl ApiError {
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            message: "authentication required".into(),
            hint: Some(
                "send `Authorization: Bearer TOKEN` with the token arca serve printed, or log in at /login".into(),
            ),
        }
    }

    pub fn csrf() -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            kind: "forbidden",
            message: "this request changes something and carries no valid CSRF token".into(),
            hint: Some("send the session's token (GET /api/session, field csrf) in the X-CSRF-Token header".into()),
        }
    }
}

/// The HTTP status of an error kind.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::NotFound | Kind::NoRepository => StatusCode::NOT_FOUND,
        Kind::Usage => StatusCode::BAD_REQUEST,
        Kind::Locked | Kind::Interrupted | Kind::Backend => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let message = match &e.object {
            Some(o) if !e.message.contains(o.as_str()) => format!("{}: {o}", e.message),
            _ => e.message.clone(),
        };
        ApiError { status: status_of(e.kind), kind: e.kind.as_str(), message, hint: e.hint.clone() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: Inner { kind: self.kind, message: &self.message, hint: self.hint.as_deref() } };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"arca\""),
            );
        }
        r
    }
}

/// What an unknown route answers (behind authentication, so it says nothing to strangers).
pub async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: Kind::NotFound.as_str(),
        message: "no such route".into(),
        hint: Some(
            "the web UI is at /, WebDAV at /dav/, and the API under /api/ (snapshots, dashboard, find, history, diff, \
             forget, restore, backup, jobs): see the README's arca serve section"
                .into(),
        ),
    }
}
