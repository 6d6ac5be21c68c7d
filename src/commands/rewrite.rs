//! `arca rewrite`: the selected snapshots without the excluded paths (or with a new host or
//! time), under a shared lock.

use std::sync::Arc;

use super::{select_many, Filter};
use crate::error::Result;
use crate::maintenance::rewrite::{self, RewriteOptions, RewriteReport};
use crate::repo::{LockMode, Repository};

pub fn run(repo: &Arc<Repository>, ids: &[String], filter: &Filter, opts: &RewriteOptions) -> Result<RewriteReport> {
    let lock = repo.lock("rewrite", LockMode::Shared)?;
    let snaps = select_many(repo, ids, filter)?;
    rewrite::rewrite(repo, snaps, opts, &lock)
}
