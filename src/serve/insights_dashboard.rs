//! `GET /api/dashboard`: the repository at a glance.
//!
//! - sizes: every pack file's size summed (`stored_bytes`); the plaintext of the unique
//!   indexed blobs (`raw_bytes`) and how compression shrank them (`compression_ratio`:
//!   plaintext / their stored length, grouped blobs counted once per group); the restore size
//!   of each source's newest snapshot summed (`logical_bytes`); `dedup_ratio`: what
//!   restoring every snapshot writes over the plaintext of the unique data blobs. The
//!   ratios are computed as `stats --mode raw-data` computes them, rounded to two places.
//! - sources (host and paths): how many snapshots, the newest, its age, and `stale` when
//!   older than `stale_after` (the query's, else `serve.stale-after`, else 26 h)
//! - `series` (cumulative count and packed bytes added, by snapshot time) and `calendar`
//!   (snapshots per local day)
//! - `last_check`: what the last `arca check` recorded in the cache (`cache::last_check`),
//!   when it reads back authenticated; else null
//!
//! The index sums are made once per index generation ([`State::index_generation`]); restore
//! sizes once per snapshot, each distinct subtree summed once. A warm request only walks the
//! snapshot list.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::api::{blocking, query};
use super::error::ApiError;
use super::state::State;
use crate::cache::last_check::LastCheck;
use crate::commands::snapshots::SnapshotInfo;
use crate::error::{Error, Result};
use crate::format::BlobType;

/// The longest staleness threshold a request may ask (ten years).
const MAX_STALE_AFTER: u64 = 10 * 366 * 86400;

#[derive(Serialize)]
pub struct Dashboard {
    pub repository: RepositorySums,
    pub sources: Vec<Source>,
    pub stale_after_seconds: u64,
    pub series: Vec<Point>,
    pub calendar: Vec<Day>,
    pub last_check: Option<LastCheck>,
}

#[derive(Serialize)]
pub struct RepositorySums {
    pub location: String,
    pub id: String,
    pub version: u8,
    pub stored_bytes: u64,
    pub raw_bytes: u64,
    pub logical_bytes: u64,
    pub compression_ratio: f64,
    pub dedup_ratio: f64,
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
}

#[derive(Serialize)]
pub struct Source {
    pub host: String,
    pub paths: Vec<String>,
    pub snapshots: usize,
    pub newest: SnapshotInfo,
    pub age_seconds: i64,
    pub stale: bool,
}

#[derive(Serialize)]
pub struct Point {
    pub time: String,
    pub snapshots: usize,
    pub stored_bytes: u64,
}

#[derive(Serialize)]
pub struct Day {
    pub date: String,
    pub snapshots: usize,
}

/// What the index and the pack listing say, for one index generation.
#[derive(Debug, Default)]
pub struct IndexSums {
    stored_bytes: u64,
    packs: usize,
    blobs: usize,
    raw_bytes: u64,
    data_raw_bytes: u64,
    /// The stored length of the unique blobs (a group's once).
    blob_stored_bytes: u64,
}

fn index_sums(state: &State) -> Result<IndexSums> {
    let mut s = IndexSums::default();
    for (_, size) in state.repo.stored_packs()? {
        s.stored_bytes = s.stored_bytes.saturating_add(size);
        s.packs += 1;
    }
    let idx = state.repo.whole_index()?;
    let mut groups = std::collections::HashSet::new();
    let mut previous = None;
    // the table is sorted by id: a blob stored twice is two adjacent entries
    for i in 0..idx.table_len() {
        let e = idx.table_entry(i);
        if previous == Some(e.id) {
            continue;
        }
        previous = Some(e.id);
        s.blobs += 1;
        s.raw_bytes += e.raw_length as u64;
        if e.blob_type == BlobType::Data {
            s.data_raw_bytes += e.raw_length as u64;
        }
        if e.pack_entry().group_offset.is_none() || groups.insert((e.pack, e.offset)) {
            s.blob_stored_bytes += e.length as u64;
        }
    }
    Ok(s)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        return 0.0;
    }
    (a as f64 / b as f64 * 100.0).round() / 100.0
}

/// The dashboard with sources stale after `stale_after`.
pub fn dashboard_of(state: &State, stale_after: Duration) -> Result<Dashboard> {
    let list = state.snapshots()?;
    let generation = state.index_generation();
    let poisoned = || Error::internal("the dashboard's lock is poisoned");
    let sums = {
        let mut held = state.insights.sums.lock().map_err(|_| poisoned())?;
        match held.as_ref() {
            Some((g, s)) if *g == generation => s.clone(),
            _ => {
                let s = Arc::new(index_sums(state)?);
                *held = Some((generation, s.clone()));
                s
            }
        }
    };
    let sizes: Vec<Option<u64>> = {
        let mut held = state.insights.sizes.lock().map_err(|_| poisoned())?;
        let held = &mut *held;
        if held.by_snapshot.len() > list.len() {
            let listed: std::collections::HashSet<_> = list.iter().map(|(id, _)| *id).collect();
            held.by_snapshot.retain(|id, _| listed.contains(id));
        }
        list.iter()
            .map(|(id, s)| {
                *held.by_snapshot.entry(*id).or_insert_with(|| match held.trees.size(&state.repo, &s.tree) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        tracing::warn!("snapshot {}: its restore size is unknown: {}", id.short(), e.message);
                        None
                    }
                })
            })
            .collect()
    };

    let now = chrono::Utc::now();
    let mut sources: BTreeMap<(String, Vec<String>), (usize, usize)> = BTreeMap::new();
    let mut series = Vec::with_capacity(list.len());
    let mut calendar: BTreeMap<chrono::NaiveDate, usize> = BTreeMap::new();
    let mut added = 0u64;
    for (i, (_, s)) in list.iter().enumerate() {
        let mut paths = s.paths.clone();
        paths.sort();
        let e = sources.entry((s.hostname.clone(), paths)).or_insert((0, i));
        e.0 += 1;
        e.1 = i; // the list is oldest first
        added = added.saturating_add(s.summary.as_ref().map_or(0, |m| m.data_added_packed));
        series.push(Point { time: s.time.clone(), snapshots: i + 1, stored_bytes: added });
        if let Some(t) = s.timestamp() {
            *calendar.entry(t.with_timezone(&chrono::Local).date_naive()).or_default() += 1;
        }
    }
    let mut logical = 0u64;
    let sources = sources
        .into_iter()
        .map(|((host, paths), (count, newest))| {
            let (id, s) = &list[newest];
            logical = logical.saturating_add(sizes[newest].unwrap_or(0));
            let age = s.timestamp().map_or(i64::MAX, |t| now.signed_duration_since(t).num_seconds()).max(0);
            Source {
                host,
                paths,
                snapshots: count,
                newest: SnapshotInfo::new(id, s),
                age_seconds: age,
                stale: age as u64 > stale_after.as_secs(),
            }
        })
        .collect();
    let restore_all = sizes.iter().flatten().fold(0u64, |a, b| a.saturating_add(*b));
    let config = state.repo.config();
    Ok(Dashboard {
        repository: RepositorySums {
            location: state.repo.location(),
            id: config.id.to_hex(),
            version: config.version,
            stored_bytes: sums.stored_bytes,
            raw_bytes: sums.raw_bytes,
            logical_bytes: logical,
            compression_ratio: ratio(sums.raw_bytes, sums.blob_stored_bytes),
            dedup_ratio: ratio(restore_all, sums.data_raw_bytes),
            snapshots: list.len(),
            packs: sums.packs,
            blobs: sums.blobs,
        },
        sources,
        stale_after_seconds: stale_after.as_secs(),
        series,
        calendar: calendar
            .into_iter()
            .map(|(d, n)| Day { date: d.format("%Y-%m-%d").to_string(), snapshots: n })
            .collect(),
        last_check: state.repo.cache().and_then(|c| c.last_check()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    stale_after: Option<u64>,
}

pub(super) async fn dashboard(
    AxumState(state): AxumState<Arc<State>>,
    q: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Json<Dashboard>, ApiError> {
    let q = query(q)?;
    let stale_after = match q.stale_after {
        None => state.insights.stale_after(),
        Some(s) if (1..=MAX_STALE_AFTER).contains(&s) => Duration::from_secs(s),
        Some(s) => {
            return Err(Error::usage(format!("stale_after {s} is out of range"))
                .hint(format!("give seconds, 1 to {MAX_STALE_AFTER}, e.g. stale_after=93600 for 26 hours"))
                .into())
        }
    };
    Ok(Json(blocking(move || dashboard_of(&state, stale_after)).await?))
}
