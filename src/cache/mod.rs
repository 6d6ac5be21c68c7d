//! The local cache of one repository, under the user's cache directory: ciphertext of index
//! files, snapshots and tree packs (content-addressed, so a cached file is checked against
//! its name before use), and a SQLite catalog of what is cached. The repository never depends on the
//! cache: any failure here only means reading from storage again. The catalog is disposable:
//! a schema-version mismatch drops and rebuilds it.

pub mod history;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::id::{ObjectId, RepoId};

const SCHEMA_VERSION: i64 = 1;

pub struct Cache {
    dir: PathBuf,
    catalog: Mutex<Option<Connection>>,
}

impl Cache {
    /// Open (creating) the cache for a repository under `root`.
    pub fn open(root: &Path, repo: &RepoId) -> Option<Cache> {
        let dir = root.join(repo.to_hex());
        std::fs::create_dir_all(&dir).ok()?;
        // private to the user: the index table in here is not encrypted (format-spec §18.5)
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let tag = root.join("CACHEDIR.TAG");
        if !tag.exists() {
            let _ = std::fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# arca cache; see https://bford.info/cachedir/\n",
            );
        }
        let catalog = open_catalog(&dir.join("catalog.sqlite")).map_err(|e| tracing::debug!("cache catalog: {e}")).ok();
        Some(Cache { dir, catalog: Mutex::new(catalog) })
    }

    /// This repository's cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The default cache root: `$XDG_CACHE_HOME/arca` or the platform's equivalent.
    pub fn default_root() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("arca"))
    }

    fn file(&self, path: &str) -> Option<PathBuf> {
        // Only our own object paths: `index/<64 hex>`, `snapshots/<64 hex>`, and tree packs
        // as `data/<2 hex>/<64 hex>`.
        let (dir, name) = path.split_once('/')?;
        let name = match dir {
            "index" | "snapshots" => name,
            "data" => name.split_once('/').filter(|(pre, n)| n.starts_with(pre) && pre.len() == 2)?.1,
            _ => return None,
        };
        ObjectId::from_hex(name).filter(|id| id.to_hex() == name)?;
        Some(self.dir.join(dir).join(name))
    }

    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.file(path)?).ok()?;
        Some(bytes)
    }

    pub fn put(&self, path: &str, bytes: &[u8]) {
        let Some(file) = self.file(path) else { return };
        let Some(parent) = file.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        let tmp = file.with_extension("tmp");
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &file).is_ok() {
            self.with_catalog(|c| {
                c.execute(
                    "INSERT OR REPLACE INTO objects(path, size, added) VALUES (?1, ?2, strftime('%s','now'))",
                    params![path, bytes.len() as i64],
                )
                .map(|_| ())
            });
        }
    }

    /// Forget one cached file (a pack or object the repository no longer has).
    pub fn remove(&self, path: &str) {
        if let Some(file) = self.file(path) {
            if std::fs::remove_file(file).is_ok() {
                self.with_catalog(|c| c.execute("DELETE FROM objects WHERE path = ?1", params![path]).map(|_| ()));
            }
        }
    }

    /// Drop cached files of `dir` that the repository no longer lists.
    pub fn retain_dir(&self, dir: &str, keep: &[ObjectId]) {
        let keep: std::collections::HashSet<String> = keep.iter().map(|i| i.to_hex()).collect();
        let Ok(rd) = std::fs::read_dir(self.dir.join(dir)) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                let _ = std::fs::remove_file(e.path());
                let path = format!("{dir}/{name}");
                self.with_catalog(|c| c.execute("DELETE FROM objects WHERE path = ?1", params![path]).map(|_| ()));
            }
        }
    }

    /// The cached blob index table, mapped read-only.
    pub fn index_table(&self) -> Option<Box<dyn AsRef<[u8]> + Send + Sync>> {
        let file = std::fs::File::open(self.dir.join("index-table")).ok()?;
        Some(Box::new(map_file(&file).ok()?))
    }

    /// Replace the cached blob index table with what `write` produces (written to a temporary
    /// file, then renamed, so a process that has the old one mapped keeps a consistent view).
    pub fn put_index_table(&self, write: &dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()>) {
        use std::io::Write;
        let tmp = self.dir.join(format!("index-table.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            write(&mut w)?;
            w.flush()
        });
        if written.is_err() || std::fs::rename(&tmp, self.dir.join("index-table")).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// `len` bytes at `offset` of a cached file, if it is cached and long enough.
    pub fn get_range(&self, path: &str, offset: u64, len: u64) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(self.file(path)?).ok()?;
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        f.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    }

    /// Number of objects and bytes the catalog records.
    pub fn usage(&self) -> Option<(u64, u64)> {
        let guard = self.catalog.lock().ok()?;
        let c = guard.as_ref()?;
        c.query_row("SELECT count(*), coalesce(sum(size), 0) FROM objects", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })
        .ok()
    }

    /// The id in this repository of a blob (or tree) copied from repository `src_repo`, where it
    /// has id `src` (`arca copy`; ids are keyed per repository). A hint: callers check that
    /// the blob is in the index before trusting it.
    pub fn copied(&self, src_repo: &RepoId, src: &[u8; 32]) -> Option<[u8; 32]> {
        let guard = self.catalog.lock().ok()?;
        let c = guard.as_ref()?;
        let v: Vec<u8> = c
            .query_row(
                "SELECT dst FROM copy_map WHERE src_repo = ?1 AND src = ?2",
                params![src_repo.to_hex(), &src[..]],
                |r| r.get(0),
            )
            .ok()?;
        v.try_into().ok()
    }

    /// Remember copied ids (after the copies are stored and indexed).
    pub fn put_copied(&self, src_repo: &RepoId, pairs: &[([u8; 32], [u8; 32])]) {
        self.with_catalog(|c| {
            let tx = c.unchecked_transaction()?;
            {
                let mut st = tx.prepare("INSERT OR REPLACE INTO copy_map(src_repo, src, dst) VALUES (?1, ?2, ?3)")?;
                for (src, dst) in pairs {
                    st.execute(params![src_repo.to_hex(), &src[..], &dst[..]])?;
                }
            }
            tx.commit()
        });
    }

    fn with_catalog(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<()>) {
        if let Ok(guard) = self.catalog.lock() {
            if let Some(c) = guard.as_ref() {
                if let Err(e) = f(c) {
                    tracing::debug!("cache catalog: {e}");
                }
            }
        }
    }
}

fn open_catalog(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    c.execute_batch("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER)")?;
    let version: Option<i64> = c.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).ok();
    if version != Some(SCHEMA_VERSION) {
        c.execute_batch("DROP TABLE IF EXISTS objects")?;
        c.execute_batch("CREATE TABLE objects(path TEXT PRIMARY KEY, size INTEGER NOT NULL, added INTEGER NOT NULL)")?;
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?1)", params![SCHEMA_VERSION])?;
    }
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS copy_map(src_repo TEXT NOT NULL, src BLOB NOT NULL, dst BLOB NOT NULL, \
         PRIMARY KEY(src_repo, src)) WITHOUT ROWID",
    )?;
    Ok(c)
}

/// Map a cache file read-only. Mapping is `unsafe` because the file could change underneath;
/// arca only ever replaces cache files by rename (the mapping keeps the old inode), and the
/// table's contents are validated before use.
#[allow(unsafe_code)]
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: read-only mapping of a file arca replaces only by rename, never in place.
    unsafe { memmap2::Mmap::map(file) }
}
