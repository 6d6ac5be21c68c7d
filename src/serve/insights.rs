//! The read side of the repository's history, over the verbs' own engines, and the two
//! changes the UI makes to snapshots:
//!
//! - `GET /api/dashboard?stale_after=SECONDS`: sizes, ratios, sources with their newest
//!   snapshot and whether it is stale, a series and a calendar, the last `check`
//!   ([`insights_dashboard`](super::insights_dashboard))
//! - `GET /api/find?pattern=GLOB&host=&tag=&path=&snapshot=ID&limit=N&ignore_case=`:
//!   `find --json`, from the history catalog kept warm here; at most `limit` matches
//!   (default 1,000, at most 10,000) in all, newest snapshots first: `hits` stays each
//!   snapshot's full count, later snapshots are left out, and `X-Arca-Truncated: true` says so
//! - `GET /api/history?path=/abs&host=&tag=`: `find --path P --reverse --json` (the versions
//!   oldest first, as the contract with the UI asks; the CLI lists newest first without
//!   `--reverse`). Bounded by the snapshot count: each snapshot is in one version at most.
//! - `GET /api/diff?from=ID&to=ID&path=/sub&limit=N`: `diff --json`'s records: the changes (at
//!   most `limit`, default and maximum 10,000, `truncated` when cut) and the statistics of
//!   the whole comparison
//! - `GET /api/forget/preview?keep-*=&group-by=&host=&tag=&path=`: `forget --dry-run --json`,
//!   the same plan and the same refusals; changes nothing
//! - `POST /api/snapshots/{id}/tags`, `POST /api/forget`: [`insights_change`](super::insights_change)
//!
//! Everything expensive is computed once and kept in [`Insights`]: the index sums per index
//! generation, restore sizes per snapshot (snapshots never change), the `find` catalog per
//! snapshot list.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::api::{blocking, query};
use super::error::ApiError;
use super::paths::snapshot_path;
use super::state::{SnapshotList, State};
use crate::cache::history::History;
use crate::commands::diff::{Differ, Dir};
use crate::commands::find::{self, FindOptions, PathHistory, SnapshotMatches};
use crate::commands::forget::{self, ForgetGroup, ForgetOptions, GroupBy};
use crate::commands::select::{resolve_dir, select_from};
use crate::commands::snapshots::SnapshotInfo;
use crate::commands::stats::RestoreSizes;
use crate::commands::Filter;
use crate::error::{Error, Result};
use crate::id::SnapshotId;
use crate::maintenance::policy::{parse_count, Policy, Span};

/// Matches of `find` and changes of `diff` when the request names no limit, and the most.
const FIND_DEFAULT: usize = 1000;
const MAX_ITEMS: usize = 10_000;
/// A source is stale when its newest snapshot is older than this (unless the request or the
/// profile's `serve.stale-after` says otherwise): a daily backup a little late is not.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(26 * 3600);

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/dashboard", get(super::insights_dashboard::dashboard))
        .route("/find", get(find_route))
        .route("/history", get(history_route))
        .route("/diff", get(diff_route))
        .route("/forget/preview", get(forget_preview))
        .route("/forget", post(super::insights_change::forget))
        .route("/snapshots/{id}/tags", post(super::insights_change::tags))
}

/// What the routes keep between requests.
#[derive(Default)]
pub struct Insights {
    /// Seconds; 0 is [`DEFAULT_STALE_AFTER`].
    stale_after: AtomicU64,
    pub(super) sums: Mutex<Option<(u64, Arc<super::insights_dashboard::IndexSums>)>>,
    pub(super) sizes: Mutex<SnapshotSizes>,
    catalog: Mutex<Option<(SnapshotList, History)>>,
}

/// Restore sizes by snapshot (`None`: its trees could not be read), and the subtree sums
/// they were made of.
#[derive(Default)]
pub struct SnapshotSizes {
    pub(super) by_snapshot: HashMap<SnapshotId, Option<u64>>,
    pub(super) trees: RestoreSizes,
}

impl Insights {
    /// The default staleness threshold of the dashboard (`serve.stale-after`).
    pub fn set_stale_after(&self, d: Duration) {
        self.stale_after.store(d.as_secs().max(1), Ordering::Relaxed);
    }

    pub fn stale_after(&self) -> Duration {
        match self.stale_after.load(Ordering::Relaxed) {
            0 => DEFAULT_STALE_AFTER,
            s => Duration::from_secs(s),
        }
    }

    /// Run `f` on the history catalog, brought up to date first when the snapshot list
    /// changed since it last was (only new trees are read), and on that list.
    pub fn with_catalog<T>(
        &self,
        state: &State,
        f: impl FnOnce(&History, &[(SnapshotId, crate::format::snapshot::Snapshot)]) -> Result<T>,
    ) -> Result<T> {
        let list = state.snapshots()?;
        let mut held = self.catalog.lock().map_err(|_| Error::internal("the find catalog's lock is poisoned"))?;
        let fresh = matches!(held.as_ref(), Some((seen, _)) if Arc::ptr_eq(seen, &list));
        if !fresh {
            let h = match held.take() {
                Some((_, h)) => h,
                None => find::open_catalog(&state.repo)?,
            };
            find::update_catalog(&state.repo, &h, &list, &|m| tracing::info!("{m}"))?;
            *held = Some((list.clone(), h));
        }
        match held.as_ref() {
            Some((_, h)) => f(h, &list),
            None => Err(Error::internal("the find catalog vanished")),
        }
    }
}

/// `limit` checked: 1 to [`MAX_ITEMS`].
fn limit(asked: Option<usize>, default: usize) -> Result<usize> {
    let n = asked.unwrap_or(default);
    if n == 0 || n > MAX_ITEMS {
        return Err(Error::usage(format!("limit {n} is out of range")).hint(format!("ask for 1 to {MAX_ITEMS}")));
    }
    Ok(n)
}

fn required(v: Option<String>, name: &str, example: &str) -> Result<String> {
    v.filter(|v| !v.is_empty())
        .ok_or_else(|| Error::usage(format!("the query names no {name}")).hint(format!("e.g. {name}={example}")))
}

/// A filter from query values; an empty value (a form's empty field) filters nothing.
fn filter(host: Option<String>, tag: Option<String>, path: Option<String>) -> Filter {
    let some = |v: Option<String>| v.filter(|v| !v.is_empty()).into_iter().collect();
    Filter { hosts: some(host), tags: some(tag), paths: some(path) }
}

/// A keep rule's value: text in a query (`keep-daily=7`), a string or a number in JSON.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum Rule {
    Text(String),
    Number(i64),
}

/// A rule's value, unless the field was left empty.
fn given(v: &Option<Rule>) -> Option<String> {
    match v {
        Some(Rule::Text(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Rule::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindQuery {
    pattern: Option<String>,
    host: Option<String>,
    tag: Option<String>,
    path: Option<String>,
    snapshot: Option<String>,
    limit: Option<usize>,
    ignore_case: Option<bool>,
}

/// Cut `found` (newest snapshot first) to `limit` matches in all; true when anything was cut.
pub fn cut_matches(found: &mut Vec<SnapshotMatches>, limit: usize) -> bool {
    let mut left = limit;
    let mut cut = false;
    found.retain_mut(|g| {
        if left == 0 {
            cut = true;
            return false;
        }
        if g.matches.len() > left {
            g.matches.truncate(left);
            cut = true;
        }
        left -= g.matches.len();
        true
    });
    cut
}

async fn find_route(
    AxumState(state): AxumState<Arc<State>>,
    q: Result<Query<FindQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let pattern = required(q.pattern, "pattern", "*.odt")?;
    let limit = limit(q.limit, FIND_DEFAULT)?;
    let opts = FindOptions {
        patterns: vec![pattern],
        ignore_case: q.ignore_case.unwrap_or(false),
        snapshots: q.snapshot.into_iter().collect(),
        filter: filter(q.host, q.tag, q.path),
        ..Default::default()
    };
    let (found, cut) = blocking(move || {
        let mut found = state.insights.with_catalog(&state, |h, all| find::find_in(h, all, &opts))?;
        let cut = cut_matches(&mut found, limit);
        Ok((found, cut))
    })
    .await?;
    let mut r = Json(found).into_response();
    if cut {
        r.headers_mut().insert("x-arca-truncated", HeaderValue::from_static("true"));
    }
    Ok(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    path: Option<String>,
    host: Option<String>,
    tag: Option<String>,
}

/// One path's versions, oldest first (`find --path P --reverse --json`).
pub fn history(state: &State, path: &str, filter: Filter) -> Result<PathHistory> {
    let opts = FindOptions { path: Some(path.to_string()), filter, ..Default::default() };
    let mut h = state.insights.with_catalog(state, |h, all| find::history_in(h, all, path, &opts))?;
    h.versions.reverse();
    h.versions.iter_mut().for_each(|v| v.snapshots.reverse());
    Ok(h)
}

async fn history_route(
    AxumState(state): AxumState<Arc<State>>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<PathHistory>, ApiError> {
    let q = query(q)?;
    let path = snapshot_path(&required(q.path, "path", "/home/me/report.odt")?)?;
    if path == "/" {
        return Err(Error::usage("the root has no version history")
            .hint("name a file or directory, e.g. path=/home/me/report.odt")
            .into());
    }
    let f = filter(q.host, q.tag, None);
    Ok(Json(blocking(move || history(&state, &path, f)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
    path: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct DiffAnswer {
    pub from: SnapshotInfo,
    pub to: SnapshotInfo,
    /// `diff --json`'s change records, in its order.
    pub changes: Vec<serde_json::Value>,
    /// `diff --json`'s statistics record, of the whole comparison even when `changes` was cut.
    pub stats: serde_json::Value,
    pub truncated: bool,
}

/// Compare `path` in two snapshots with the `diff` engine; at most `limit` changes are kept.
pub fn diff(state: &State, from: &str, to: &str, path: &str, limit: usize) -> Result<DiffAnswer> {
    let all = state.snapshots()?;
    let (old_id, old) = select_from(all.as_ref().clone(), from, &Filter::default())?;
    let (new_id, new) = select_from(all.as_ref().clone(), to, &Filter::default())?;
    let repo = &state.repo;
    let hint = |e: Error| match e.hint {
        Some(_) => e,
        None => e.hint("list what the snapshot holds with GET /api/snapshots/ID/tree?path=/"),
    };
    let old_dir = resolve_dir(repo, &old.tree, Some(path), &old_id).map_err(hint)?;
    let new_dir = resolve_dir(repo, &new.tree, Some(path), &new_id).map_err(hint)?;
    let mut changes = vec![];
    let mut truncated = false;
    // the CLI compares at the path without its trailing `/` (the root is "")
    let base = path.trim_end_matches('/');
    let st = Differ::new(repo, false).diff(base, &Dir::Tree(old_dir), &Dir::Tree(new_dir), &mut |c| {
        if changes.len() < limit {
            changes.push(
                serde_json::json!({"message_type": "change", "path": c.path, "modifier": c.modifier.to_string()}),
            );
        } else {
            truncated = true;
        }
    })?;
    let mut stats = serde_json::to_value(&st).map_err(|e| Error::internal(format!("diff statistics: {e}")))?;
    stats["message_type"] = "statistics".into();
    stats["source_snapshot"] = old_id.to_hex().into();
    stats["target_snapshot"] = new_id.to_hex().into();
    Ok(DiffAnswer {
        from: SnapshotInfo::new(&old_id, &old),
        to: SnapshotInfo::new(&new_id, &new),
        changes,
        stats,
        truncated,
    })
}

async fn diff_route(
    AxumState(state): AxumState<Arc<State>>,
    q: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Json<DiffAnswer>, ApiError> {
    let q = query(q)?;
    let from = required(q.from, "from", "latest@2026-12-01")?;
    let to = required(q.to, "to", "latest")?;
    let path = snapshot_path(q.path.as_deref().unwrap_or("/"))?;
    let limit = limit(q.limit, MAX_ITEMS)?;
    Ok(Json(blocking(move || diff(&state, &from, &to, &path, limit)).await?))
}

/// A forget policy as query keys (the preview) or JSON keys (`POST /api/forget`), named as
/// the CLI's flags without `--`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyQuery {
    keep_last: Option<Rule>,
    keep_hourly: Option<Rule>,
    keep_daily: Option<Rule>,
    keep_weekly: Option<Rule>,
    keep_monthly: Option<Rule>,
    keep_yearly: Option<Rule>,
    keep_within: Option<Rule>,
    keep_within_hourly: Option<Rule>,
    keep_within_daily: Option<Rule>,
    keep_within_weekly: Option<Rule>,
    keep_within_monthly: Option<Rule>,
    keep_within_yearly: Option<Rule>,
    /// One set of tags, comma-separated (`''`: snapshots without tags), as `--keep-tag`.
    keep_tag: Option<String>,
    group_by: Option<String>,
    host: Option<String>,
    tag: Option<String>,
    path: Option<String>,
}

impl PolicyQuery {
    /// The policy, group-by and filter, each value parsed as the CLI parses its flag; an error
    /// names the key.
    pub fn parse(&self) -> Result<(Policy, GroupBy, Filter)> {
        let named = |key: &str, e: Error| {
            let hint = e.hint.clone().unwrap_or_else(|| format!("e.g. {key}=7"));
            Error::usage(format!("{key}: {}", e.message)).hint(hint)
        };
        let count = |key: &str, v: &Option<Rule>| -> Result<i64> {
            given(v)
                .map(|s| parse_count(s.trim()).map_err(|e| named(key, e)))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let span = |key: &str, v: &Option<Rule>| -> Result<Span> {
            given(v).map(|s| s.parse::<Span>().map_err(|e| named(key, e))).transpose().map(Option::unwrap_or_default)
        };
        let policy = Policy {
            last: count("keep-last", &self.keep_last)?,
            hourly: count("keep-hourly", &self.keep_hourly)?,
            daily: count("keep-daily", &self.keep_daily)?,
            weekly: count("keep-weekly", &self.keep_weekly)?,
            monthly: count("keep-monthly", &self.keep_monthly)?,
            yearly: count("keep-yearly", &self.keep_yearly)?,
            within: span("keep-within", &self.keep_within)?,
            within_hourly: span("keep-within-hourly", &self.keep_within_hourly)?,
            within_daily: span("keep-within-daily", &self.keep_within_daily)?,
            within_weekly: span("keep-within-weekly", &self.keep_within_weekly)?,
            within_monthly: span("keep-within-monthly", &self.keep_within_monthly)?,
            within_yearly: span("keep-within-yearly", &self.keep_within_yearly)?,
            tags: self.keep_tag.iter().map(|t| t.split(',').map(str::trim).map(String::from).collect()).collect(),
        };
        let group_by =
            GroupBy::parse(self.group_by.as_deref().unwrap_or("host,paths")).map_err(|e| named("group-by", e))?;
        Ok((policy, group_by, filter(self.host.clone(), self.tag.clone(), self.path.clone())))
    }
}

/// What `forget --dry-run --json` with the same rules prints: the plan over the server's
/// snapshot list, with the same refusals (no policy; a policy that keeps nothing of a group).
pub fn forget_plan(state: &State, q: &PolicyQuery) -> Result<Vec<ForgetGroup>> {
    let (policy, group_by, filter) = q.parse()?;
    let opts = ForgetOptions {
        ids: &[],
        filter: &filter,
        group_by,
        policy: &policy,
        prune: None,
        unsafe_allow_remove_all: false,
    };
    forget::check_request(&opts).map_err(|e| e.hint("give at least one keep-* rule, e.g. keep-daily=7"))?;
    let snaps: Vec<_> = state.snapshots()?.iter().filter(|(_, s)| filter.matches(s)).cloned().collect();
    forget::plan_policy(&snaps, &opts, chrono::Local::now().fixed_offset())
}

async fn forget_preview(
    AxumState(state): AxumState<Arc<State>>,
    q: Result<Query<PolicyQuery>, QueryRejection>,
) -> Result<Json<Vec<ForgetGroup>>, ApiError> {
    let q = query(q)?;
    Ok(Json(blocking(move || forget_plan(&state, &q)).await?))
}
