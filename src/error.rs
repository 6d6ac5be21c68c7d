//! The umbrella error: a kind (which decides the exit code), what failed, on which object or
//! path, and a hint for the user. Layers have their own enums and convert into it.

use std::fmt;

/// What kind of failure: callers tell "not found" from "transient" from "tampered".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// The repository does not exist at the given location.
    NoRepository,
    /// Something of a repository is at the location, but not enough to open it (its
    /// `config` is missing beside key files, packs, index files or snapshots).
    RepositoryDamaged,
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
    /// A raw key file (`--key-file`) refused before any use: not a regular file of the caller
    /// private to them (a symlink, another owner, group or other permission bits), or not a
    /// key file at all (its length or layout).
    KeyFileRefused,
    /// A bug in arca: a worker thread panicked, a channel closed before its work was done, a
    /// lock was poisoned, an invariant of the code did not hold. Never caused by the user, the
    /// source files or the repository's bytes.
    Internal,
    /// Anything else.
    Other,
}

impl Kind {
    /// The kind's stable name, as the JSON error line carries it (`"wrong_password"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NoRepository => "no_repository",
            Kind::RepositoryDamaged => "repository_damaged",
            Kind::Locked => "locked",
            Kind::WrongPassword => "wrong_password",
            Kind::NotFound => "not_found",
            Kind::Corrupt => "corrupt",
            Kind::Unsupported => "unsupported",
            Kind::Backend => "backend",
            Kind::Io => "io",
            Kind::Usage => "usage",
            Kind::Interrupted => "interrupted",
            Kind::KeyFileRefused => "key_file_refused",
            Kind::Internal => "internal",
            Kind::Other => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was being done to the object when it failed: a small fixed vocabulary, so a program
/// can tell a failed read from a failed write without parsing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    Opening,
    Reading,
    Writing,
    Listing,
    Deleting,
    /// Asking for an object's size or existence (a backend's `stat`).
    Statting,
}

impl Operation {
    /// The operation's stable name, as messages and the JSON error line spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Opening => "opening",
            Operation::Reading => "reading",
            Operation::Writing => "writing",
            Operation::Listing => "listing",
            Operation::Deleting => "deleting",
            Operation::Statting => "statting",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error for the user and for a program: the `kind` decides the exit code; `object` and
/// `operation` say, when known, on what it failed and while doing what, without parsing
/// `message` (which says the same for a human, with more detail).
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    /// What failed: a repository object (`snapshots/ab12…`, `data/ab/ab12…`), a local path, or
    /// a repository location. The innermost one named: the most precise.
    pub object: Option<String>,
    /// What was being done to `object`.
    pub operation: Option<Operation>,
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, object: None, operation: None, source: None }
    }

    /// Set the `object` field (what failed); the message is not changed.
    pub fn object(mut self, object: impl fmt::Display) -> Self {
        self.object = Some(object.to_string());
        self
    }

    /// Set the `operation` field (what was being done); the message is not changed.
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
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

    /// Prefix the message with the object it happened on ("snapshots/ab12: ...") and record
    /// it, unless an inner error already named a (more precise) object.
    pub fn context_object(self, object: impl fmt::Display) -> Self {
        let object = object.to_string();
        let mut e = self.context(&object);
        e.object.get_or_insert(object);
        e
    }

    /// Prefix the message with what was being done to which object ("reading
    /// snapshots/ab12: ...") and record both, unless an inner error already named them.
    pub fn context_op(self, operation: Operation, object: impl fmt::Display) -> Self {
        let object = object.to_string();
        let mut e = self.context(format_args!("{operation} {object}"));
        match &e.object {
            None => {
                e.object = Some(object);
                e.operation = Some(operation);
            }
            Some(o) if *o == object => {
                e.operation.get_or_insert(operation);
            }
            Some(_) => {}
        }
        e
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
        Error::new(kind, format!("{path}: {e}")).object(path).with_source(e)
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

/// `result.ctx("reading the rotation key")?` adds where an error happened; `ctx_op` and
/// `ctx_object` also record the object (and operation) in the error's fields.
pub trait ResultExt<T> {
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
    /// `result.ctx_op(Operation::Reading, "index/ab12")?`: "reading index/ab12: ...".
    fn ctx_op(self, operation: Operation, object: impl fmt::Display) -> Result<T>;
    /// `result.ctx_object("snapshots/ab12")?`: "snapshots/ab12: ...".
    fn ctx_object(self, object: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
    fn ctx_op(self, operation: Operation, object: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context_op(operation, object))
    }
    fn ctx_object(self, object: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context_object(object))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { Kind::NotFound } else { Kind::Io };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_message_text_and_the_innermost_object() {
        let inner = Error::io("/src/a", std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(inner.object.as_deref(), Some("/src/a"));
        let e = Err::<(), _>(inner).ctx_op(Operation::Reading, "snapshots/ab").unwrap_err();
        assert!(e.message.starts_with("reading snapshots/ab: /src/a: "), "{}", e.message);
        assert_eq!((e.object.as_deref(), e.operation), (Some("/src/a"), None));
        let e = Error::corrupt("bad").context_object("index/cd").context_op(Operation::Reading, "index/cd");
        assert_eq!(e.message, "reading index/cd: index/cd: bad");
        assert_eq!((e.object.as_deref(), e.operation), (Some("index/cd"), Some(Operation::Reading)));
        let e = Error::corrupt("bad").context("config as written");
        assert_eq!((e.message.as_str(), e.object, e.operation), ("config as written: bad", None, None));
    }
}
