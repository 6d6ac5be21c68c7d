//! The one module that knows OpenDAL: a blocking operator over OpenDAL's async core, with a
//! private Tokio runtime. Errors are classified into [`BackendErrorKind`].

use std::sync::OnceLock;

use opendal::blocking::Operator;
use opendal::ErrorKind as OdKind;

use super::{Backend, BackendError, BackendErrorKind, BackendResult, Entry, Location};
use crate::error::{Error, Kind, Result};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arca-io")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the I/O runtime: {e}"))
    })
}

pub struct OpendalBackend {
    op: Operator,
    location: String,
}

impl OpendalBackend {
    pub fn new(location: &Location, options: &[(String, String)]) -> Result<Self> {
        let (scheme, mut cfg): (&str, Vec<(String, String)>) = match location {
            Location::Local(p) => {
                let abs = std::path::absolute(p).map_err(|e| Error::io(p.display(), e))?;
                // Writes go to a temporary file that is fsynced and then renamed into place,
                // so a crash never leaves a partial object under its final name.
                let tmp = abs.join(".arca-tmp");
                remove_stale_temp_files(&tmp);
                (
                    "fs",
                    vec![
                        ("root".into(), abs.to_string_lossy().into_owned()),
                        ("atomic_write_dir".into(), tmp.to_string_lossy().into_owned()),
                    ],
                )
            }
            Location::Memory => ("memory", vec![]),
        };
        cfg.extend(options.iter().cloned());
        let _guard = runtime().enter();
        static REGISTRY: std::sync::Once = std::sync::Once::new();
        REGISTRY.call_once(opendal::init_default_registry);
        let op = opendal::Operator::via_iter(scheme, cfg)
            .map_err(|e| Error::new(Kind::Backend, format!("cannot open {location}: {e}")))?;
        let op = Operator::new(op).map_err(|e| Error::new(Kind::Backend, format!("cannot open {location}: {e}")))?;
        Ok(OpendalBackend { op, location: location.to_string() })
    }

    fn err(op: &'static str, path: &str, e: opendal::Error) -> BackendError {
        let kind = match e.kind() {
            OdKind::NotFound => BackendErrorKind::NotFound,
            OdKind::PermissionDenied => BackendErrorKind::Auth,
            _ if e.is_temporary() => BackendErrorKind::Transient,
            OdKind::RateLimited => BackendErrorKind::Transient,
            _ => BackendErrorKind::Permanent,
        };
        BackendError { kind, op, path: path.to_string(), message: e.to_string() }
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
            Err(e) => return Err(Self::err("list", dir, e)),
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
            Err(e) => Err(Self::err("stat", path, e)),
        }
    }

    fn read(&self, path: &str) -> BackendResult<Vec<u8>> {
        self.op.read(path).map(|b| b.to_vec()).map_err(|e| Self::err("read", path, e))
    }

    fn read_range(&self, path: &str, offset: u64, len: u64) -> BackendResult<Vec<u8>> {
        let opts = opendal::options::ReadOptions { range: (offset..offset + len).into(), ..Default::default() };
        let data = self.op.read_options(path, opts).map(|b| b.to_vec()).map_err(|e| Self::err("read", path, e))?;
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

    fn write(&self, path: &str, data: &[u8]) -> BackendResult<()> {
        self.op.write(path, data.to_vec()).map(|_| ()).map_err(|e| Self::err("write", path, e))
    }

    fn delete(&self, path: &str) -> BackendResult<()> {
        self.op.delete(path).map_err(|e| Self::err("delete", path, e))
    }
}

/// Temporary files older than a day are left by a crash (a write in progress renames its
/// file within seconds); remove them so they don't accumulate.
fn remove_stale_temp_files(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let day = std::time::Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        let old = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
