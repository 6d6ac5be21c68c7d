//! `arca unlock [--remove-all]`: remove stale locks, or every lock.

use crate::error::Result;
use crate::repo::Repository;

/// How many locks were removed.
pub fn run(repo: &Repository, remove_all: bool) -> Result<usize> {
    repo.unlock(remove_all)
}
