//! The local cache of one repository, under the user's cache directory: ciphertext of index
//! files, snapshots and tree packs (content-addressed, so a cached file is checked against
//! its name before use), and a SQLite catalog of what is cached. The repository never depends on the
//! cache: any failure here only means reading from storage again. The catalog is disposable:
//! a schema-version mismatch drops and rebuilds it.
//!
//! Trust (format-spec §18.5): the cache is on a local disk other users and other programs
//! may reach, so nothing read from it decides what is written, pruned or copied unless it is
//! authenticated. The blob index table carries a keyed BLAKE3 MAC over all its bytes, and each
//! row of the copy map one over the row, under a key derived from the master secret
//! (`Keys::cache_mac`); a table or row that fails is ignored (and rebuilt), never used. The
//! cache directory is checked as OpenSSH's StrictModes checks `~/.ssh`: every component a
//! real directory (no symlink), the cache's own directories owned by the user and not group- or
//! world-writable, their ancestors owned by the user or root and writable by others only when
//! sticky; otherwise the cache is not used, with a warning. Temporary files get unique names
//! and are created `O_EXCL|O_NOFOLLOW`, mode 0600.

pub mod caches;
pub mod history;
pub mod job_lock;
pub mod job_state;
pub mod key_hint;
pub mod last_check;
pub mod runs;

mod mapped;
mod private_dir;

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::id::{ObjectId, RepoId};
use mapped::{map_file, Prefix};

/// 2: the copy map's rows carry a MAC (`copy_map2`); the unauthenticated `copy_map` is dropped.
const SCHEMA_VERSION: i64 = 2;
/// The cached blob index table's trailer: a keyed BLAKE3 MAC of every byte before it.
const TABLE_MAC_LEN: usize = 32;
/// Before the MAC, which MAC key made it ([`Cache::key_fingerprint`]): a table made under
/// another master secret (before `key rotate`) is rebuilt without a warning that would
/// read like tampering.
const TABLE_FINGERPRINT_LEN: usize = 8;
/// The cached blob index table, with its MAC trailer. (`index-table`, the name of the table
/// without a MAC, is removed when found.)
const TABLE_FILE: &str = "blob-index-table";

pub struct Cache {
    dir: PathBuf,
    catalog: Mutex<Option<Connection>>,
    mac_key: [u8; 32],
}

impl Cache {
    /// Open (creating) the cache for a repository under `root`; `mac_key` authenticates what
    /// the cache holds. `None` (with a warning) when the directory is not private to the user.
    pub fn open(root: &Path, repo: &RepoId, mac_key: [u8; 32]) -> Option<Cache> {
        let dir = root.join(repo.to_hex());
        if let Err(why) = private_dir::make(root).and_then(|()| private_dir::make(&dir)) {
            tracing::warn!("not using the local cache: {why}");
            return None;
        }
        let tag = root.join("CACHEDIR.TAG");
        if !tag.exists() {
            let _ = std::fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# arca cache; see https://bford.info/cachedir/\n",
            );
        }
        // used now: `arca cache --cleanup` removes only caches unused for longer (`caches`)
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.set_modified(std::time::SystemTime::now());
        }
        let _ = std::fs::remove_file(dir.join("index-table"));
        let catalog = open_catalog(&dir.join("catalog.sqlite")).map_err(|e| tracing::debug!("cache catalog: {e}")).ok();
        Some(Cache { dir, catalog: Mutex::new(catalog), mac_key })
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
        use std::io::Read;
        let mut bytes = vec![];
        open_nofollow(&self.file(path)?).ok()?.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    pub fn put(&self, path: &str, bytes: &[u8]) {
        let Some(file) = self.file(path) else { return };
        let Some(parent) = file.parent() else { return };
        if std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).is_err() {
            return;
        }
        let written = write_new(&file, &mut |w| w.write_all(bytes));
        if written.is_ok() {
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

    /// The cached blob index table, mapped read-only, if its MAC checks out (the MAC
    /// trailer is not part of the bytes returned). A table that fails is reported and
    /// ignored: the caller rebuilds it from the repository.
    pub fn index_table(&self) -> Option<Box<dyn AsRef<[u8]> + Send + Sync>> {
        let file = open_nofollow(&self.dir.join(TABLE_FILE)).ok()?;
        let map = map_file(&file).ok()?;
        let len = map.len().checked_sub(TABLE_MAC_LEN)?;
        let data_len = len.checked_sub(TABLE_FINGERPRINT_LEN)?;
        if map[data_len..len] != self.key_fingerprint() {
            tracing::debug!("the cached blob index table was made under another master secret; rebuilding it");
            return None;
        }
        let mut h = blake3::Hasher::new_keyed(&self.mac_key);
        if len >= 1 << 20 {
            h.update_rayon(&map[..len]);
        } else {
            h.update(&map[..len]);
        }
        let want: [u8; 32] = map[len..].try_into().ok()?;
        // blake3::Hash compares in constant time
        if h.finalize() != blake3::Hash::from(want) {
            tracing::warn!(
                "the cached blob index table {} fails its authentication; rebuilding it from the repository",
                self.dir.join(TABLE_FILE).display()
            );
            return None;
        }
        Some(Box::new(Prefix::new(map, data_len)))
    }

    /// Names the MAC key without revealing it: the first bytes of a keyed BLAKE3 of a fixed
    /// string under it.
    fn key_fingerprint(&self) -> [u8; TABLE_FINGERPRINT_LEN] {
        let h = blake3::keyed_hash(&self.mac_key, b"arca cache table key fingerprint");
        let mut fp = [0u8; TABLE_FINGERPRINT_LEN];
        fp.copy_from_slice(&h.as_bytes()[..TABLE_FINGERPRINT_LEN]);
        fp
    }

    /// Replace the cached blob index table with what `write` produces, followed by its MAC
    /// (written to a new temporary file, then renamed, so a process that has the old one
    /// mapped keeps a consistent view).
    pub fn put_index_table(&self, write: &dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()>) {
        let _ = write_new(&self.dir.join(TABLE_FILE), &mut |w| {
            let mut mac = MacWriter { inner: w, mac: blake3::Hasher::new_keyed(&self.mac_key) };
            write(&mut mac)?;
            mac.write_all(&self.key_fingerprint())?;
            let tag = mac.mac.finalize();
            w.write_all(tag.as_bytes())
        });
    }

    /// `len` bytes at `offset` of a cached file, if it is cached and long enough.
    pub fn get_range(&self, path: &str, offset: u64, len: u64) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let f = open_nofollow(&self.file(path)?).ok()?;
        if offset.checked_add(len)? > f.metadata().ok()?.len() {
            return None;
        }
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
    /// has id `src` (`arca copy`; ids are keyed per repository). Only a row whose MAC checks
    /// out is returned; callers still check that the blob is in the index.
    pub fn copied(&self, src_repo: &RepoId, src: &[u8; 32]) -> Option<[u8; 32]> {
        let guard = self.catalog.lock().ok()?;
        let c = guard.as_ref()?;
        let (dst, mac): (Vec<u8>, Vec<u8>) = c
            .query_row(
                "SELECT dst, mac FROM copy_map2 WHERE src_repo = ?1 AND src = ?2",
                params![src_repo.to_hex(), &src[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()?;
        let dst: [u8; 32] = dst.try_into().ok()?;
        let mac: [u8; 32] = mac.try_into().ok()?;
        if self.copy_mac(src_repo, src, &dst) != blake3::Hash::from(mac) {
            tracing::warn!("a row of the cached copy map fails its authentication; ignoring it");
            return None;
        }
        Some(dst)
    }

    /// Remember copied ids (after the copies are stored and indexed).
    pub fn put_copied(&self, src_repo: &RepoId, pairs: &[([u8; 32], [u8; 32])]) {
        self.with_catalog(|c| {
            let tx = c.unchecked_transaction()?;
            {
                let mut st =
                    tx.prepare("INSERT OR REPLACE INTO copy_map2(src_repo, src, dst, mac) VALUES (?1, ?2, ?3, ?4)")?;
                for (src, dst) in pairs {
                    let mac = self.copy_mac(src_repo, src, dst);
                    st.execute(params![src_repo.to_hex(), &src[..], &dst[..], &mac.as_bytes()[..]])?;
                }
            }
            tx.commit()
        });
    }

    /// A copy map row's MAC: keyed BLAKE3 of `"arca copy map\0" || src_repo || src || dst`.
    fn copy_mac(&self, src_repo: &RepoId, src: &[u8; 32], dst: &[u8; 32]) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.mac_key);
        h.update(b"arca copy map\0");
        h.update(src_repo.to_hex().as_bytes());
        h.update(src);
        h.update(dst);
        h.finalize()
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
        "DROP TABLE IF EXISTS copy_map; \
         CREATE TABLE IF NOT EXISTS copy_map2(src_repo TEXT NOT NULL, src BLOB NOT NULL, dst BLOB NOT NULL, \
         mac BLOB NOT NULL, PRIMARY KEY(src_repo, src)) WITHOUT ROWID",
    )?;
    Ok(c)
}

/// Open a cache file for reading, never through a symlink.
fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC).open(path)
}

/// Write `path` whole: into a new temporary file beside it (a unique name, `O_EXCL|O_NOFOLLOW`,
/// mode 0600), then renamed over it. The temporary file is removed on failure.
fn write_new(path: &Path, write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{}.tmp", std::process::id(), hex::encode(crate::crypto::random_bytes::<8>())));
    let tmp = path.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let r = write(&mut w).and_then(|()| w.flush()).and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// A writer that MACs what passes through it.
struct MacWriter<'a> {
    inner: &'a mut dyn Write,
    mac: blake3::Hasher,
}

impl Write for MacWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.mac.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
