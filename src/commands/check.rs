//! `arca check [--read-data | --read-data-subset S]`: the repository's structure, and with
//! `read` its data, checked under a read lock. Without `with_cache` the local cache is set
//! aside: check must see what storage holds.
//!
//! The outcome (a finished check's, or the error that stopped it) is recorded in the
//! repository's cache directory (`cache::last_check`, MAC'd under the repository's key), so
//! `arca serve`'s dashboard can show when the repository was last checked and how it went.

use crate::cache::last_check::{LastCheck, Recorder};
use crate::error::Result;
use crate::maintenance::check::{self, CheckReport, ReadData};
use crate::repo::Repository;
use crate::util::progress::Meter;

pub fn run(repo: Repository, read: ReadData, with_cache: bool, meter: &dyn Meter) -> Result<CheckReport> {
    // taken before the cache is set aside: the result goes there either way
    let recorder = repo.cache().map(|c| c.last_check_recorder());
    let repo = if with_cache { repo } else { repo.without_cache() };
    let result = repo.lock_read("check").and_then(|_lock| check::check_metered(&repo, read, meter));
    if let Some(r) = &recorder {
        record(r, read, &result);
    }
    result
}

/// What `read` reads, in `--read-data-subset`'s words.
fn read_data(read: ReadData) -> Option<String> {
    match read {
        ReadData::None => None,
        ReadData::All => Some("all".into()),
        ReadData::Part(n, t) => Some(format!("{n}/{t}")),
        ReadData::Percent(p) => Some(format!("{p}%")),
        ReadData::Bytes(b) => Some(format!("{b} bytes")),
    }
}

fn record(recorder: &Recorder, read: ReadData, result: &Result<CheckReport>) {
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let (ok, errors, summary) = match result {
        Ok(r) if r.ok() => (
            true,
            0,
            format!(
                "no errors were found ({}, {}, {})",
                plural(r.snapshots, "snapshot"),
                plural(r.packs, "pack"),
                plural(r.blobs, "blob")
            ),
        ),
        Ok(r) => (
            false,
            (r.errors.len() + r.damaged.len()) as u64,
            format!(
                "{} and {} found; first: {}",
                plural(r.errors.len(), "error"),
                plural(r.damaged.len(), "damaged file"),
                r.errors.first().map(String::as_str).unwrap_or("see `arca check`")
            ),
        ),
        Err(e) => (false, 1, format!("the check did not finish: {}", e.message)),
    };
    recorder.record(&LastCheck {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ok,
        errors,
        read_data: read_data(read),
        summary: LastCheck::summary_line(&summary),
    });
}
