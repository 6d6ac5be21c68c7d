//! arca: deduplicating, encrypted backups on any OpenDAL backend.
//!
//! Layers only point down (checked by `cargo xtask layers`):
//! `cli` → `commands` → `archiver`, `restorer` → `repo` → `cache`, `format` → `crypto`,
//! `chunker`, `codec` → `backend`, `platform`, `util`, `id`, `error`.

pub mod archiver;
pub mod automation;
pub mod backend;
pub mod cache;
pub mod chunker;
pub mod cli;
pub mod codec;
pub mod commands;
pub mod crypto;
pub mod error;
pub mod format;
pub mod id;
pub mod maintenance;
pub mod mount;
pub mod patterns;
pub mod platform;
pub mod repo;
pub mod restorer;
#[cfg(feature = "serve")]
pub mod serve;
/// A repository in memory for library tests; with the `testing` feature, which test builds
/// turn on (Cargo.toml) and release builds never do.
#[cfg(any(test, feature = "testing"))]
pub mod test_repo;
/// Helpers for tests (deadlines for tests that could hang); the unit tests' own, and the
/// integration tests' with the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod util;
