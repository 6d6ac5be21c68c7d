//! `arca init`: create a repository.

use crate::backend::DynBackend;
use crate::error::Result;
use crate::repo::{InitOptions, Repository};

#[derive(Debug, serde::Serialize)]
pub struct InitReport {
    pub message_type: &'static str,
    pub id: crate::id::RepoId,
    pub repository: String,
}

pub fn run(backend: DynBackend, password: &[u8], opts: &InitOptions) -> Result<(Repository, InitReport)> {
    let location = backend.location();
    let repo = Repository::init(backend, password, opts)?;
    let report = InitReport { message_type: "initialized", id: repo.config().id, repository: location };
    Ok((repo, report))
}
