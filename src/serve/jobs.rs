//! The routes of long work: directory archives ([`super::archive`]).

use std::sync::Arc;

use axum::routing::get;
use axum::Router;

use super::state::State;

pub fn router() -> Router<Arc<State>> {
    Router::new().route("/snapshots/{id}/archive", get(super::archive::archive))
}
