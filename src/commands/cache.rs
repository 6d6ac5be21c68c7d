//! `arca cache [--cleanup [--max-age DAYS]] [--no-size]` (restic's): the local caches under
//! the cache root, one per repository, with size and last use; `--cleanup` removes those
//! unused for more than `max_age_days`. Needs no repository and no password.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cache::caches;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct CacheOptions {
    pub cleanup: bool,
    pub max_age_days: u64,
    pub with_size: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CacheEntry {
    /// The repository's id (full hex).
    pub repo_id: String,
    pub path: String,
    /// RFC 3339.
    pub last_used: String,
    /// Whole days since the last use.
    pub age_days: u64,
    /// Unused for more than the maximum age.
    pub old: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Removed by `--cleanup`.
    pub removed: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CacheReport {
    pub root: String,
    pub max_age_days: u64,
    pub caches: Vec<CacheEntry>,
    pub removed: usize,
}

pub fn run(root: &Path, o: &CacheOptions) -> Result<CacheReport> {
    let now = SystemTime::now();
    let max_age = Duration::from_secs(o.max_age_days.saturating_mul(86_400));
    let mut report =
        CacheReport { root: root.display().to_string(), max_age_days: o.max_age_days, caches: vec![], removed: 0 };
    for c in caches::list(root, o.with_size)? {
        let age = now.duration_since(c.last_used).unwrap_or_default();
        let old = age > max_age;
        let removed = o.cleanup && old;
        if removed {
            caches::remove(&c)?;
            report.removed += 1;
        }
        report.caches.push(CacheEntry {
            repo_id: c.repo.to_hex(),
            path: c.path.display().to_string(),
            last_used: chrono::DateTime::<chrono::Utc>::from(c.last_used).to_rfc3339(),
            age_days: age.as_secs() / 86_400,
            old,
            size: c.size,
            removed,
        });
    }
    Ok(report)
}
