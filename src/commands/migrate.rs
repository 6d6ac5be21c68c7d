//! `arca migrate [NAME] [--dry-run]`: list the format upgrades that apply to the repository,
//! or apply one under an exclusive lock and check the repository's structure after it
//! (format-spec/v3.md §17.1, `maintenance::migrate`).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::maintenance::check::{self, CheckReport, ReadData};
use crate::maintenance::migrate::{self, MigrationStatus, UpgradeReport, MIGRATIONS};
use crate::repo::{LockMode, Repository};

/// The migrations arca knows, and whether each applies to `repo`.
pub fn list(repo: &Repository) -> Vec<MigrationStatus> {
    migrate::status(repo)
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    #[serde(flatten)]
    pub upgrade: UpgradeReport,
    /// The check of the repository's structure after the migration (none in a dry run).
    pub check: Option<CheckReport>,
}

/// Apply the migration `name` (or with `dry_run` say what it would copy), then check.
pub fn run(mut repo: Repository, name: &str, dry_run: bool, log: &dyn Fn(String)) -> Result<MigrateReport> {
    if !MIGRATIONS.iter().any(|m| m.name == name) {
        let names: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        return Err(Error::usage(format!("no migration named {name:?}"))
            .hint(format!("`arca migrate` lists them: {}", names.join(", "))));
    }
    let lock = repo.lock("migrate", LockMode::Exclusive)?;
    let upgrade = migrate::upgrade(&mut repo, name, &lock, dry_run, log)?;
    let check = if dry_run {
        None
    } else {
        log("checking the repository's structure".into());
        Some(check::check(&repo, ReadData::None)?)
    };
    drop(lock);
    Ok(MigrateReport { upgrade, check })
}
