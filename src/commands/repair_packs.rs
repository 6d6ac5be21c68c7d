//! `arca repair packs ID…` (exclusive lock, without the cache: it must see what storage
//! holds): salvage the readable blobs of damaged packs, then remove them
//! (`maintenance::repair_packs`). Packs are named by id or unique prefix.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::id::PackId;
use crate::maintenance::repair_packs::{self, RepairPacksReport};
use crate::repo::{LockMode, Repository};

pub fn run(repo: Repository, ids: &[String], dry_run: bool, note: &dyn Fn(String)) -> Result<RepairPacksReport> {
    if ids.is_empty() {
        return Err(Error::usage("name the packs to repair")
            .hint("`arca check --read-data` names damaged packs; then `arca repair packs ID…`"));
    }
    let repo = repo.without_cache();
    let lock = repo.lock("repair packs", LockMode::Exclusive)?;
    let mut all: BTreeSet<PackId> = repo.stored_packs()?.into_iter().map(|(id, _)| id).collect();
    all.extend(repo.index()?.packs().iter().copied());
    let mut packs = vec![];
    for prefix in ids {
        let p = prefix.to_ascii_lowercase();
        let found: Vec<PackId> = all.iter().filter(|id| id.to_hex().starts_with(&p)).copied().collect();
        match found[..] {
            [one] if !p.is_empty() => {
                if !packs.contains(&one) {
                    packs.push(one)
                }
            }
            [] | [_] => {
                return Err(Error::usage(format!("no pack {prefix:?} is stored or indexed"))
                    .hint("`arca list packs` lists the stored packs"))
            }
            _ => return Err(Error::usage(format!("pack prefix {prefix:?} is ambiguous: give more digits"))),
        }
    }
    repair_packs::repair_packs(&repo, &packs, &lock, dry_run, note)
}
