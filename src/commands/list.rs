//! `arca list {snapshots,index,packs,keys,locks,blobs}`: the ids of what the repository holds,
//! as restic lists them: one id per line; blobs as `TYPE ID` (from the index). Read lock,
//! except for `locks` (listing them must work while another client holds one).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::repo::{ObjectKind, Repository};

/// What `list` can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListWhat {
    Snapshots,
    Index,
    Packs,
    Keys,
    Locks,
    Blobs,
}

impl ListWhat {
    pub const NAMES: &'static [&'static str] = &["snapshots", "index", "packs", "keys", "locks", "blobs"];

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "snapshots" => ListWhat::Snapshots,
            "index" => ListWhat::Index,
            "packs" => ListWhat::Packs,
            "keys" => ListWhat::Keys,
            "locks" => ListWhat::Locks,
            "blobs" => ListWhat::Blobs,
            other => {
                return Err(Error::usage(format!("cannot list {other:?}"))
                    .hint(format!("`arca list` takes one of: {}", Self::NAMES.join(", "))))
            }
        })
    }
}

/// One listed item: an id, and for blobs its type (`data` or `tree`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Listed {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub blob_type: Option<String>,
    pub id: String,
}

/// The sorted ids of `what` (blobs: each distinct type and id the index holds once).
pub fn run(repo: &Repository, what: ListWhat) -> Result<Vec<Listed>> {
    let _lock = if what == ListWhat::Locks { None } else { Some(repo.lock_read("list")?) };
    let id = |id: String| Listed { blob_type: None, id };
    let mut out: Vec<Listed> = match what {
        ListWhat::Snapshots => repo.list(ObjectKind::Snapshot)?.iter().map(|i| id(i.to_hex())).collect(),
        ListWhat::Index => repo.list(ObjectKind::Index)?.iter().map(|i| id(i.to_hex())).collect(),
        ListWhat::Keys => repo.list(ObjectKind::Key)?.iter().map(|i| id(i.to_hex())).collect(),
        ListWhat::Locks => repo.list(ObjectKind::Lock)?.iter().map(|i| id(i.to_hex())).collect(),
        ListWhat::Packs => repo.stored_packs()?.iter().map(|(p, _)| id(p.to_hex())).collect(),
        ListWhat::Blobs => repo
            .index()?
            .iter()
            .map(|l| Listed { blob_type: Some(l.entry.blob_type.to_string()), id: l.entry.id.to_hex() })
            .collect(),
    };
    out.sort();
    out.dedup();
    Ok(out)
}
