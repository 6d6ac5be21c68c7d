//! Storage: opaque bytes under a path. A small synchronous trait; OpenDAL and its async
//! runtime stay inside `opendal.rs`. Wrappers (connection limit, retry, logging, bandwidth
//! limit, fault injection) implement the same trait and are stacked in one fixed order by
//! [`stack`] (see `layers.rs`). This layer knows nothing of crypto, formats or repositories.

pub mod fault;
mod layers;
mod location;
mod opendal;
mod retry;
mod services;

use std::sync::Arc;

/// Bytes to store: owned and cheaply shared, so a write hands its buffer to the storage
/// client (and a retry re-sends it) without copying a 16 MiB pack.
pub use bytes::Bytes;

pub use layers::{LimitBackend, LogBackend, ThrottleBackend, VerifyBackend};
pub use location::{Location, SERVICES};
pub use retry::{RetryBackend, RetryPolicy};
pub use services::{configure, ServiceConfig, KNOWN_OPTIONS};

use crate::error::{Error, Kind, Operation};

/// What a backend failure means to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendErrorKind {
    NotFound,
    /// Worth retrying: timeouts, rate limits, connection resets.
    Transient,
    /// Credentials missing or refused.
    Auth,
    /// No space left (or quota exhausted) where the storage writes: retrying cannot help.
    Full,
    /// The file system under a local repository is mounted read-only.
    ReadOnly,
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
            BackendErrorKind::Full => (
                Kind::Backend,
                Some("the storage is full: free space there and run the command again (what was stored is kept and reused)"),
            ),
            BackendErrorKind::ReadOnly => (Kind::Backend, Some(self::opendal::READ_ONLY_HINT)),
            BackendErrorKind::Permanent => (Kind::Backend, None),
        };
        let operation = match e.op {
            "read" => Some(Operation::Reading),
            "write" => Some(Operation::Writing),
            "list" => Some(Operation::Listing),
            "delete" => Some(Operation::Deleting),
            "stat" => Some(Operation::Statting),
            _ => None,
        };
        let mut err = Error::new(kind, e.to_string()).object(&e.path);
        err.operation = operation;
        let err = err.with_source(e);
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
    fn write(&self, path: &str, data: Bytes) -> BackendResult<()>;
    fn delete(&self, path: &str) -> BackendResult<()>;
}

pub type DynBackend = Arc<dyn Backend>;

/// How a service is wrapped: see `layers.rs` for the order and why.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Operations at once; `None` takes the service's default.
    pub connections: Option<usize>,
    pub retry: RetryPolicy,
    /// Per attempt: a request that makes no progress for this long is abandoned and retried.
    pub io_timeout: std::time::Duration,
    /// Per attempt, for operations without a body (stat, list, delete).
    pub op_timeout: std::time::Duration,
    /// Bytes per second.
    pub limit_upload: Option<u64>,
    pub limit_download: Option<u64>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            connections: None,
            retry: RetryPolicy::default(),
            io_timeout: std::time::Duration::from_secs(60),
            op_timeout: std::time::Duration::from_secs(120),
            limit_upload: None,
            limit_download: None,
        }
    }
}

/// Open a location with the standard wrapper stack and default settings.
pub fn open(location: &Location, options: &[(String, String)]) -> crate::error::Result<DynBackend> {
    open_with(location, options, &StackOptions::default())
}

/// Open a location with the standard wrapper stack.
pub fn open_with(
    location: &Location,
    options: &[(String, String)],
    stack_opts: &StackOptions,
) -> crate::error::Result<DynBackend> {
    let service = services::configure(location, options)?;
    let connections = stack_opts.connections.unwrap_or(service.default_connections);
    let raw: DynBackend = Arc::new(opendal::OpendalBackend::new(location, &service, stack_opts)?);
    Ok(stack(raw, connections, stack_opts))
}

/// Wrap a bare backend (the service, or a fault injector around it in tests) in the fixed
/// order: connection limit, retry, write verification, logging, bandwidth limit.
pub fn stack(raw: DynBackend, connections: usize, opts: &StackOptions) -> DynBackend {
    let mut b = raw;
    if opts.limit_upload.is_some() || opts.limit_download.is_some() {
        b = Arc::new(ThrottleBackend::new(b, opts.limit_upload, opts.limit_download));
    }
    b = Arc::new(LogBackend::new(b));
    b = Arc::new(VerifyBackend::new(b));
    b = Arc::new(RetryBackend::new(b, opts.retry));
    Arc::new(LimitBackend::new(b, connections))
}

/// The bare OpenDAL backend, without retries (tests stack their own wrappers on it).
pub fn open_raw(location: &Location, options: &[(String, String)]) -> crate::error::Result<DynBackend> {
    let service = services::configure(location, options)?;
    Ok(Arc::new(opendal::OpendalBackend::new(location, &service, &StackOptions::default())?))
}

/// A new, empty in-memory backend (OpenDAL's memory service), for tests and experiments.
pub fn memory() -> crate::error::Result<DynBackend> {
    open(&Location::Memory, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_name_their_path_and_operation() {
        for (op, want) in [
            ("read", Operation::Reading),
            ("write", Operation::Writing),
            ("list", Operation::Listing),
            ("delete", Operation::Deleting),
            ("stat", Operation::Statting),
        ] {
            let b = BackendError {
                kind: BackendErrorKind::Permanent,
                op,
                path: "data/ab/ab12".into(),
                message: "refused".into(),
            };
            let e = Error::from(b);
            assert_eq!(e.message, format!("{op} data/ab/ab12: refused"));
            assert_eq!((e.kind, e.object.as_deref(), e.operation), (Kind::Backend, Some("data/ab/ab12"), Some(want)));
        }
    }
}
