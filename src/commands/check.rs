//! `arca check [--read-data | --read-data-subset S]`: the repository's structure, and with
//! `read` its data, checked under a read lock. Without `with_cache` the local cache is set
//! aside: check must see what storage holds.

use crate::error::Result;
use crate::maintenance::check::{self, CheckReport, ReadData};
use crate::repo::Repository;
use crate::util::progress::Meter;

pub fn run(repo: Repository, read: ReadData, with_cache: bool, meter: &dyn Meter) -> Result<CheckReport> {
    let repo = if with_cache { repo } else { repo.without_cache() };
    let _lock = repo.lock_read("check")?;
    check::check_metered(&repo, read, meter)
}
