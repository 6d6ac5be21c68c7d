//! The umbrella error: a kind (which decides the exit code), what failed, on which object or
//! path, and a hint for the user. Layers have their own enums and convert into it.

use std::fmt;

/// What kind of failure: callers tell "not found" from "transient" from "tampered".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// The repository does not exist at the given location.
    NoRepository,
    /// The repository is locked by another process.
    Locked,
    /// No key file opens with the given password.
    WrongPassword,
    /// An object or path that should exist does not.
    NotFound,
    /// Stored bytes fail authentication, hashing or decoding.
    Corrupt,
    /// A format version or feature this build does not understand.
    Unsupported,
    /// A storage operation failed (after retries where they apply).
    Backend,
    /// A local file system operation failed.
    Io,
    /// The user asked for something invalid.
    Usage,
    /// Interrupted by a signal.
    Interrupted,
    /// A bug in arca: a worker thread panicked, a channel closed before its work was done, a
    /// lock was poisoned, an invariant of the code did not hold. Never caused by the user, the
    /// source files or the repository's bytes.
    Internal,
    /// Anything else.
    Other,
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, source: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }

    /// Prefix the message with where it happened ("reading snapshots/ab12: ...").
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::new(Kind::Corrupt, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    /// A bug in arca (see [`Kind::Internal`]).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Kind::Internal, message)
    }

    pub fn io(path: impl fmt::Display, e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { Kind::NotFound } else { Kind::Io };
        Error::new(kind, format!("{path}: {e}")).with_source(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// `result.ctx("reading index/ab12")?` adds where an error happened.
pub trait ResultExt<T> {
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { Kind::NotFound } else { Kind::Io };
        Error::new(kind, e.to_string()).with_source(e)
    }
}
