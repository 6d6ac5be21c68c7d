//! The one module that knows OpenDAL: a blocking operator over OpenDAL's async core, with a
//! private Tokio runtime. Errors are classified into [`BackendErrorKind`].

use std::sync::OnceLock;

use opendal::blocking::Operator;
use opendal::ErrorKind as OdKind;

use super::{
    Backend, BackendError, BackendErrorKind, BackendResult, Bytes, Entry, Location, ServiceConfig, StackOptions,
    SERVICES,
};
use crate::error::{Error, Kind, Result};

/// The one async runtime, started on first use; a failure to start it (no threads left) is
/// kept and reported to every caller.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arca-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Error::new(Kind::Other, format!("cannot start the I/O runtime: {e}")))
}

pub struct OpendalBackend {
    op: Operator,
    location: String,
    scheme: String,
    /// Where the credentials came from, named in authentication errors.
    credentials: String,
    /// Multipart uploads and ranged reads use parts of this size, this many at once.
    part_size: usize,
    parts_at_once: usize,
    multipart: bool,
    /// A local repository's directory of writes in progress (`.arca-tmp`).
    temp_dir: Option<std::path::PathBuf>,
}

/// Objects above this size are written in parts (S3 multipart, Azure blocks, GCS resumable
/// uploads) and read with parallel ranged reads.
const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_AT_ONCE: usize = 4;

impl OpendalBackend {
    pub fn new(location: &Location, service: &ServiceConfig, stack: &StackOptions) -> Result<Self> {
        let temp_dir = match location {
            Location::Local(p) => {
                let abs = std::path::absolute(p).map_err(|e| Error::io(p.display(), e))?;
                local::create_root(&abs)?;
                local::check_layout(&abs)?;
                local::remove_stale_temp_files(&abs);
                Some(abs.join(local::TEMP_DIR))
            }
            _ => None,
        };
        let _guard = runtime()?.enter();
        static REGISTRY: std::sync::Once = std::sync::Once::new();
        REGISTRY.call_once(opendal::install_default);
        let cannot = |e: opendal::Error| {
            let mut err =
                Error::new(Kind::Backend, format!("cannot open {location} ({} service): {e}", service.scheme));
            if e.kind() == OdKind::Unsupported {
                let why = if cfg!(feature = "remote") { "" } else { " (it was built without the `remote` feature)" };
                err = err.hint(format!(
                    "this build of arca has no {:?} service{why}; the forms are: {SERVICES}",
                    service.scheme
                ));
            } else if e.kind() == OdKind::ConfigInvalid {
                err = err.hint(format!("check the location and the -o {}.… options", service.scheme));
            }
            err
        };
        let op = opendal::Operator::via_iter(service.scheme.as_str(), service.config.clone()).map_err(cannot)?;
        let op = op.layer(
            opendal::layers::TimeoutLayer::new().with_timeout(stack.op_timeout).with_io_timeout(stack.io_timeout),
        );
        // Services that take an object in one request only (WebDAV, SFTP) get it whole.
        let multipart = op.info().capability().write_can_multi;
        let op = Operator::new(op).map_err(cannot)?;
        Ok(OpendalBackend {
            op,
            location: location.to_string(),
            scheme: service.scheme.clone(),
            credentials: service.credentials.clone(),
            part_size: PART_SIZE,
            parts_at_once: PARTS_AT_ONCE,
            multipart,
            temp_dir,
        })
    }

    /// A local write that failed (a full disk, most often) leaves its half-written temporary
    /// file (`<name>.<random>`); remove it so it does not keep the disk full.
    fn remove_failed_temp(&self, path: &str) {
        let Some(dir) = &self.temp_dir else { return };
        let Some(name) = path.rsplit('/').next() else { return };
        let prefix = format!("{name}.");
        if let Some(root) = dir.parent() {
            local::remove_temp_files(root, |n, _| n.starts_with(&prefix));
        }
    }

    fn local_err(&self, op: &'static str, path: &str, e: std::io::Error) -> BackendError {
        let kind = match e.raw_os_error() {
            Some(libc_codes::ENOSPC | libc_codes::EDQUOT) => BackendErrorKind::Full,
            Some(libc_codes::EROFS) => BackendErrorKind::ReadOnly,
            _ if e.kind() == std::io::ErrorKind::NotFound => BackendErrorKind::NotFound,
            _ => BackendErrorKind::Permanent,
        };
        BackendError { kind, op, path: path.to_string(), message: format!("{}: {e}", self.location) }
    }

    fn err(&self, op: &'static str, path: &str, e: opendal::Error) -> BackendError {
        let kind = classify(&e);
        let mut message = format!("{} ({}): {e}", self.location, self.scheme);
        if kind == BackendErrorKind::Auth && !self.credentials.is_empty() {
            message.push_str(&format!("; credentials from {}", self.credentials));
        }
        if self.scheme == "sftp" && message.contains("ssh error") {
            message.push_str(
                "; check that `ssh` logs in to that host without a prompt (its host key in known_hosts, \
                 a key or an agent; -o sftp.key=FILE picks a key)",
            );
        }
        BackendError { kind, op, path: path.to_string(), message }
    }
}

impl Backend for OpendalBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list(&self, dir: &str) -> BackendResult<Vec<Entry>> {
        let opts = opendal::options::ListOptions { recursive: true, ..Default::default() };
        let entries = match self.op.list_options(dir, opts) {
            Ok(e) => e,
            Err(e) if e.kind() == OdKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(self.err("list", dir, e)),
        };
        let mut out: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| Entry { size: e.metadata().content_length(), path: e.path().trim_start_matches('/').to_string() })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn stat(&self, path: &str) -> BackendResult<Option<u64>> {
        match self.op.stat(path) {
            Ok(m) => Ok(Some(m.content_length())),
            Err(e) if e.kind() == OdKind::NotFound => Ok(None),
            Err(e) => Err(self.err("stat", path, e)),
        }
    }

    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        let opts = opendal::options::ReadOptions {
            concurrent: self.parts_at_once,
            chunk: Some(self.part_size),
            ..Default::default()
        };
        self.op.read_options(path, opts).map(|b| b.to_vec()).map_err(|e| self.err("read", path, e))
    }

    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        let opts = opendal::options::ReadOptions {
            range: (offset..offset + len).into(),
            concurrent: self.parts_at_once,
            chunk: Some(self.part_size),
            ..Default::default()
        };
        let data = self.op.read_options(path, opts).map(|b| b.to_vec()).map_err(|e| self.err("read", path, e))?;
        if data.len() as u64 != len {
            return Err(BackendError {
                kind: BackendErrorKind::Permanent,
                op: "read",
                path: path.to_string(),
                message: format!("short read: {} of {len} bytes at offset {offset}", data.len()),
            });
        }
        Ok(data)
    }

    fn write(&self, path: &str, data: Bytes) -> BackendResult<()> {
        if let Some(root) = self.temp_dir.as_deref().and_then(|t| t.parent()) {
            local::prepare_write(root, path).map_err(|e| self.local_err("write", path, e))?;
        }
        let opts = if self.multipart && data.len() > self.part_size {
            opendal::options::WriteOptions {
                concurrent: self.parts_at_once,
                chunk: Some(self.part_size),
                ..Default::default()
            }
        } else {
            Default::default()
        };
        self.op.write_options(path, data, opts).map(|_| ()).map_err(|e| {
            self.remove_failed_temp(path);
            self.err("write", path, e)
        })?;
        if let Some(root) = self.temp_dir.as_deref().and_then(|t| t.parent()) {
            local::make_private(root, path).map_err(|e| self.local_err("write", path, e))?;
        }
        Ok(())
    }

    fn delete(&self, path: &str) -> BackendResult<()> {
        self.op.delete(path).map_err(|e| self.err("delete", path, e))
    }
}

fn classify(e: &opendal::Error) -> BackendErrorKind {
    if no_space(e) {
        return BackendErrorKind::Full;
    }
    if read_only(e) {
        return BackendErrorKind::ReadOnly;
    }
    match e.kind() {
        OdKind::NotFound => BackendErrorKind::NotFound,
        OdKind::PermissionDenied => BackendErrorKind::Auth,
        OdKind::RateLimited => BackendErrorKind::Transient,
        _ if e.is_temporary() => BackendErrorKind::Transient,
        _ => BackendErrorKind::Permanent,
    }
}

/// Whether a local file system under the error said ENOSPC or EDQUOT.
fn no_space(e: &opendal::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(io.raw_os_error(), Some(libc_codes::ENOSPC | libc_codes::EDQUOT))
                || io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
            {
                return true;
            }
        }
        cur = err.source();
    }
    e.to_string().contains("No space left on device")
}

/// Whether a local file system under the error said EROFS.
fn read_only(e: &opendal::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc_codes::EROFS) || io.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
                return true;
            }
        }
        cur = err.source();
    }
    e.to_string().contains("Read-only file system")
}

mod libc_codes {
    pub const EROFS: i32 = nix::errno::Errno::EROFS as i32;
    pub const ENOSPC: i32 = nix::errno::Errno::ENOSPC as i32;
    pub const EDQUOT: i32 = nix::errno::Errno::EDQUOT as i32;
}

mod local;
pub(super) use local::READ_ONLY_HINT;
