//! Storage: opaque bytes under a path. A small synchronous trait; OpenDAL and its async
//! runtime stay inside `opendal.rs`. Wrappers (retry, fault injection) implement the same
//! trait and are stacked in one fixed order by [`open`]. This layer knows nothing of
//! crypto, formats or repositories.

pub mod fault;
mod location;
mod opendal;
mod retry;

use std::sync::Arc;

pub use location::Location;
pub use retry::{RetryBackend, RetryPolicy};

use crate::error::{Error, Kind};

/// What a backend failure means to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendErrorKind {
    NotFound,
    /// Worth retrying: timeouts, rate limits, connection resets.
    Transient,
    /// Credentials missing or refused.
    Auth,
    Permanent,
}

#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {message}")]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub op: &'static str,
    pub path: String,
    pub message: String,
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        let (kind, hint) = match e.kind {
            BackendErrorKind::NotFound => (Kind::NotFound, None),
            BackendErrorKind::Auth => (Kind::Backend, Some("check the storage credentials and permissions")),
            BackendErrorKind::Transient => {
                (Kind::Backend, Some("the storage failed repeatedly; check the connection and retry"))
            }
            BackendErrorKind::Permanent => (Kind::Backend, None),
        };
        let err = Error::new(kind, e.to_string()).with_source(e);
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

pub type BackendResult<T> = std::result::Result<T, BackendError>;

/// One stored file as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the repository root, `/`-separated, no leading slash.
    pub path: String,
    pub size: u64,
}

/// Synchronous storage operations. Paths are relative to the repository root.
pub trait Backend: Send + Sync {
    /// Human-readable location, for messages.
    fn location(&self) -> String;
    /// Every file below `dir` (recursively), e.g. `"data/"`.
    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>>;
    /// Size of the file, or `None` if it doesn't exist.
    fn stat(&self, path: &str) -> BackendResult<Option<u64>>;
    fn read(&self, path: &str) -> BackendResult<Vec<u8>>;
    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>>;
    /// Store a new file. Objects are never modified: callers write each path once.
    fn write(&self, path: &str, data: &[u8]) -> BackendResult<()>;
    fn delete(&self, path: &str) -> BackendResult<()>;
}

pub type DynBackend = Arc<dyn Backend>;

/// Open a location with the standard wrapper stack: OpenDAL, then retry.
pub fn open(location: &Location, options: &[(String, String)]) -> crate::error::Result<DynBackend> {
    Ok(Arc::new(RetryBackend::new(open_raw(location, options)?, RetryPolicy::default())))
}

/// The bare OpenDAL backend, without retries (tests stack their own wrappers on it).
pub fn open_raw(location: &Location, options: &[(String, String)]) -> crate::error::Result<DynBackend> {
    Ok(Arc::new(opendal::OpendalBackend::new(location, options)?))
}

/// A new, empty in-memory backend (OpenDAL's memory service), for tests and experiments.
pub fn memory() -> crate::error::Result<DynBackend> {
    open(&Location::Memory, &[])
}
