//! The path history catalog (`history.sqlite` in a repository's cache, or in memory without
//! a cache): every distinct tree's entries once, and each snapshot's root tree, so `find`
//! answers "which snapshots hold a file named like this" and "every version of this path"
//! with index lookups instead of walking every tree of every snapshot. Trees are shared
//! between snapshots, so the catalog grows with what changes, not with the snapshot count.
//! Disposable like the rest of the cache: a schema mismatch drops and rebuilds it.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Kind, Result};
use crate::format::tree::{Node, NodeKind};

/// 2: `mtime` in seconds and `mtime_ns` beside it (1 held saturated nanoseconds since 1970).
const SCHEMA_VERSION: i64 = 2;

/// One entry of a catalogued tree.
#[derive(Clone, Debug)]
pub struct Entry {
    pub tree: [u8; 32],
    pub name: Vec<u8>,
    pub kind: NodeKind,
    pub mode: u32,
    pub size: u64,
    pub mtime: crate::format::tree::Time,
    /// Hash of a file's content ids (its identity across snapshots).
    pub content: Option<[u8; 32]>,
    pub subtree: Option<[u8; 32]>,
}

pub struct History {
    conn: Connection,
}

fn kind_code(k: NodeKind) -> i64 {
    k as i64
}

fn kind_from(code: i64) -> NodeKind {
    use NodeKind::*;
    [File, Dir, Symlink, Chardev, Blockdev, Fifo, Socket].get(code as usize).copied().unwrap_or(File)
}

/// Run a catalog operation; its error names the catalog (callers never see rusqlite's types).
fn catalog<T>(f: impl FnOnce() -> rusqlite::Result<T>) -> Result<T> {
    f().map_err(|e| Error::new(Kind::Other, format!("history catalog: {e}")))
}

fn id32(v: Option<Vec<u8>>) -> Option<[u8; 32]> {
    v.and_then(|b| b.try_into().ok())
}

impl History {
    /// Open the catalog file (created if missing), or an in-memory one for `None`.
    pub fn open(path: Option<&Path>) -> Result<History> {
        catalog(|| {
            let conn = match path {
                Some(p) => Connection::open(p)?,
                None => Connection::open_in_memory()?,
            };
            conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")?;
            let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if v != SCHEMA_VERSION {
                conn.execute_batch(
                    "DROP TABLE IF EXISTS snapshots; DROP TABLE IF EXISTS trees; DROP TABLE IF EXISTS entries;
                     CREATE TABLE snapshots(id BLOB PRIMARY KEY, tree BLOB NOT NULL) WITHOUT ROWID;
                     CREATE INDEX snapshots_tree ON snapshots(tree);
                     CREATE TABLE trees(id BLOB PRIMARY KEY) WITHOUT ROWID;
                     CREATE TABLE entries(tree BLOB NOT NULL, name BLOB NOT NULL, kind INTEGER NOT NULL,
                         mode INTEGER NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, content BLOB,
                         subtree BLOB, PRIMARY KEY(tree, name)) WITHOUT ROWID;
                     CREATE INDEX entries_name ON entries(name);
                     CREATE INDEX entries_subtree ON entries(subtree) WHERE subtree IS NOT NULL;",
                )?;
                conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
            }
            Ok(History { conn })
        })
    }

    pub fn snapshot_ids(&self) -> Result<HashSet<[u8; 32]>> {
        catalog(|| {
            let mut st = self.conn.prepare("SELECT id FROM snapshots")?;
            let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            Ok(rows.filter_map(|r| id32(r.ok())).collect())
        })
    }

    pub fn has_tree(&self, id: &[u8; 32]) -> Result<bool> {
        catalog(|| {
            Ok(self.conn.query_row("SELECT 1 FROM trees WHERE id = ?1", [&id[..]], |_| Ok(())).optional()?.is_some())
        })
    }

    /// Start a batch of additions (one transaction; `commit` ends it).
    pub fn begin(&self) -> Result<()> {
        catalog(|| self.conn.execute_batch("BEGIN"))
    }

    pub fn commit(&self) -> Result<()> {
        catalog(|| self.conn.execute_batch("COMMIT"))
    }

    /// Record a tree's entries; `content` gives a file node's content identity.
    pub fn add_tree(&self, id: &[u8; 32], nodes: &[Node], content: impl Fn(&Node) -> Option<[u8; 32]>) -> Result<()> {
        catalog(|| {
            let mut ins = self.conn.prepare_cached(
                "INSERT OR REPLACE INTO entries(tree, name, kind, mode, size, mtime, mtime_ns, content, subtree)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for n in nodes {
                ins.execute(params![
                    &id[..],
                    &n.name[..],
                    kind_code(n.kind),
                    n.mode,
                    n.size as i64,
                    n.mtime.secs,
                    n.mtime.nanos,
                    content(n).map(|c| c.to_vec()),
                    n.subtree.map(|s| s.0.to_vec()),
                ])?;
            }
            self.conn.execute("INSERT OR IGNORE INTO trees(id) VALUES (?1)", [&id[..]])?;
            Ok(())
        })
    }

    pub fn add_snapshot(&self, id: &[u8; 32], tree: &[u8; 32]) -> Result<()> {
        catalog(|| {
            self.conn.execute("INSERT OR REPLACE INTO snapshots(id, tree) VALUES (?1, ?2)", [&id[..], &tree[..]])?;
            Ok(())
        })
    }

    pub fn remove_snapshot(&self, id: &[u8; 32]) -> Result<()> {
        catalog(|| {
            self.conn.execute("DELETE FROM snapshots WHERE id = ?1", [&id[..]])?;
            Ok(())
        })
    }

    /// Every distinct entry name.
    pub fn names(&self, mut f: impl FnMut(&[u8])) -> Result<()> {
        catalog(|| {
            let mut st = self.conn.prepare("SELECT DISTINCT name FROM entries")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                f(r.get_ref(0)?.as_blob()?);
            }
            Ok(())
        })
    }

    fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
        Ok(Entry {
            tree: id32(r.get(0)?).unwrap_or_default(),
            name: r.get(1)?,
            kind: kind_from(r.get(2)?),
            mode: r.get(3)?,
            size: r.get::<_, i64>(4)? as u64,
            mtime: crate::format::tree::Time::new(r.get(5)?, r.get(6)?),
            content: id32(r.get(7)?),
            subtree: id32(r.get(8)?),
        })
    }

    /// Every entry with this name, in any tree.
    pub fn named(&self, name: &[u8]) -> Result<Vec<Entry>> {
        catalog(|| {
            let mut st = self.conn.prepare_cached(
                "SELECT tree, name, kind, mode, size, mtime, mtime_ns, content, subtree FROM entries WHERE name = ?1",
            )?;
            let rows = st.query_map([name], Self::entry)?;
            rows.collect()
        })
    }

    /// The entry `name` of `tree`.
    pub fn lookup(&self, tree: &[u8; 32], name: &[u8]) -> Result<Option<Entry>> {
        catalog(|| {
            self.conn
                .prepare_cached(
                    "SELECT tree, name, kind, mode, size, mtime, mtime_ns, content, subtree FROM entries WHERE tree = ?1 AND name = ?2",
                )?
                .query_row(params![&tree[..], name], Self::entry)
                .optional()
        })
    }

    /// The (tree, name) pairs whose entry is the directory `tree`.
    pub fn parents(&self, tree: &[u8; 32]) -> Result<Vec<([u8; 32], Vec<u8>)>> {
        catalog(|| {
            let mut st = self.conn.prepare_cached("SELECT tree, name FROM entries WHERE subtree = ?1")?;
            let rows = st.query_map([&tree[..]], |r| Ok((id32(r.get(0)?).unwrap_or_default(), r.get(1)?)))?;
            rows.collect()
        })
    }

    /// The snapshots whose root is `tree`.
    pub fn snapshots_rooted_at(&self, tree: &[u8; 32]) -> Result<Vec<[u8; 32]>> {
        catalog(|| {
            let mut st = self.conn.prepare_cached("SELECT id FROM snapshots WHERE tree = ?1")?;
            let rows = st.query_map([&tree[..]], |r| r.get::<_, Vec<u8>>(0))?;
            Ok(rows.filter_map(|r| id32(r.ok())).collect())
        })
    }
}
