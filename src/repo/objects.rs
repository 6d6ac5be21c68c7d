//! The objects stored one file each under a directory named after their kind (`snapshots/`,
//! `index/`, `keys/`, `locks/`), each named by the BLAKE3 of its bytes (format-spec §6).
//! Packs, under `data/<2 hex>/`, have their own operations (`packs.rs`).
//!
//! Outside `repo/` an object is named by its [`ObjectKind`] and id, never by a path string:
//! listing, reading and deleting are typed here, so the layout of the storage is spelled in one
//! place. [`ObjectKind::path`] gives the path for messages.

use std::fmt;

use super::{limits, Repository};
use crate::error::{Error, Operation, Result, ResultExt};
use crate::id::{storage_hash, ObjectId};

/// A kind of content-addressed object, one file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `snapshots/<id>`: a sealed snapshot.
    Snapshot,
    /// `index/<id>`: a sealed index file.
    Index,
    /// `keys/<id>`: the master secret wrapped by a password.
    Key,
    /// `locks/<id>`: a sealed lock.
    Lock,
}

impl ObjectKind {
    /// The directory the objects of this kind are stored in.
    pub fn dir(self) -> &'static str {
        match self {
            ObjectKind::Snapshot => "snapshots",
            ObjectKind::Index => "index",
            ObjectKind::Key => "keys",
            ObjectKind::Lock => "locks",
        }
    }

    /// The stored path of the object `id` of this kind (`snapshots/<64 hex>`), as messages
    /// name it.
    pub fn path(self, id: &ObjectId) -> String {
        format!("{}/{id}", self.dir())
    }

    /// The largest file of this kind read before it is authenticated ([`limits`]).
    pub(in crate::repo) fn cap(self) -> u64 {
        match self {
            ObjectKind::Snapshot => limits::MAX_SNAPSHOT_LEN,
            ObjectKind::Index => limits::MAX_INDEX_FILE_LEN,
            ObjectKind::Key => limits::MAX_KEY_FILE_LEN,
            ObjectKind::Lock => limits::MAX_LOCK_LEN,
        }
    }

    /// Kept in the local cache once read (the cache holds index files and snapshots).
    fn cached(self) -> bool {
        matches!(self, ObjectKind::Snapshot | ObjectKind::Index)
    }
}

/// The directory name: `snapshots`, `index`, `keys`, `locks`.
impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir())
    }
}

impl Repository {
    /// Ids of the objects of `kind` (names that are not 64 lowercase hex digits are ignored).
    pub fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectId>> {
        Ok(self.list_sized(kind)?.into_iter().map(|(id, _)| id).collect())
    }

    /// [`Self::list`] with each file's size as listed.
    pub(in crate::repo) fn list_sized(&self, kind: ObjectKind) -> Result<Vec<(ObjectId, u64)>> {
        let dir = kind.dir();
        let entries = self.backend.list(&format!("{dir}/")).ctx_op(Operation::Listing, dir)?;
        // only canonical names (64 lowercase hex digits) are objects; anything else is ignored
        Ok(entries
            .iter()
            .filter_map(|e| {
                let name = e.path.rsplit('/').next()?;
                ObjectId::from_hex(name).filter(|id| id.to_hex() == name).map(|id| (id, e.size))
            })
            .collect())
    }

    /// Read an object, from the cache when present (index files and snapshots), and verify
    /// that its bytes hash to its name; a file larger than its kind's cap is refused unread
    /// (`repo/limits.rs`). The bytes are not opened: the typed readers do that.
    pub fn read(&self, kind: ObjectKind, id: &ObjectId) -> Result<Vec<u8>> {
        self.read_sized(kind, id, None)
    }

    /// [`Self::read`] with the size a listing gave (else the size is asked first).
    pub(in crate::repo) fn read_sized(
        &self,
        kind: ObjectKind,
        id: &ObjectId,
        listed_size: Option<u64>,
    ) -> Result<Vec<u8>> {
        let path = kind.path(id);
        let cache = self.cache.as_ref().filter(|_| kind.cached());
        if let Some(c) = cache {
            if let Some(b) = c.get(&path) {
                if storage_hash(&b) == id.0 {
                    return Ok(b);
                }
            }
        }
        // a listing that gives no sizes says 0 (no object is empty): then ask
        let bytes = match listed_size.filter(|s| *s > 0) {
            Some(size) => limits::read_listed(&self.backend, &path, size, kind.cap())?,
            None => limits::read_capped(&self.backend, &path, kind.cap())?,
        };
        if storage_hash(&bytes) != id.0 {
            return Err(Error::corrupt(format!("{path}: content does not match its name")).object(&path));
        }
        if let Some(c) = cache {
            c.put(&path, &bytes);
        }
        Ok(bytes)
    }

    /// Delete an object and its cached copy; one already gone is no error.
    pub fn delete(&self, kind: ObjectKind, id: &ObjectId) -> Result<()> {
        self.delete_file(&kind.path(id))
    }

    /// Delete a stored file and its cached copy (a missing one is no error). Private to
    /// `repo/`: outside, files are named by kind and id.
    pub(in crate::repo) fn delete_file(&self, path: &str) -> Result<()> {
        match self.backend.delete(path) {
            Ok(()) => {}
            Err(e) if e.kind == crate::backend::BackendErrorKind::NotFound => {}
            Err(e) => return Err(Error::from(e).context_op(Operation::Deleting, path)),
        }
        if let Some(c) = &self.cache {
            c.remove(path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::error::Kind;
    use crate::repo::InitOptions;

    const KINDS: [ObjectKind; 4] = [ObjectKind::Snapshot, ObjectKind::Index, ObjectKind::Key, ObjectKind::Lock];

    fn repo() -> Repository {
        let opts = InitOptions { kdf: KdfParams::INSECURE_TEST, ..Default::default() };
        Repository::init(crate::backend::memory().unwrap(), b"pw", &opts).unwrap()
    }

    #[test]
    fn a_file_under_another_name_is_refused_for_every_kind() {
        let repo = repo();
        for kind in KINDS {
            let bytes = format!("planted as a {kind}").into_bytes();
            let named = ObjectId(storage_hash(&bytes));
            let swapped = ObjectId([7; 32]);
            for id in [named, swapped] {
                repo.backend.write(&kind.path(&id), bytes.clone().into()).unwrap();
            }
            assert_eq!(repo.read(kind, &named).unwrap(), bytes);
            let e = repo.read(kind, &swapped).unwrap_err();
            assert_eq!(e.kind, Kind::Corrupt, "{kind}: {e}");
            assert_eq!(e.message, format!("{}: content does not match its name", kind.path(&swapped)));
        }
    }

    #[test]
    fn a_file_larger_than_its_kind_is_refused_unread_and_listing_skips_odd_names() {
        let repo = repo();
        for kind in [ObjectKind::Key, ObjectKind::Lock] {
            let id = ObjectId([9; 32]);
            repo.backend.write(&kind.path(&id), vec![0u8; kind.cap() as usize + 1].into()).unwrap();
            let e = repo.read(kind, &id).unwrap_err();
            assert!(e.message.contains("more than any arca object of its kind"), "{kind}: {e}");
            // only 64 lowercase hex digits name an object
            repo.backend.write(&format!("{}/{}", kind.dir(), id.to_hex().to_uppercase()), vec![1].into()).unwrap();
            repo.backend.write(&format!("{}/notes.txt", kind.dir()), vec![1].into()).unwrap();
            let listed = repo.list(kind).unwrap();
            assert_eq!(listed.iter().filter(|i| **i == id).count(), 1, "{kind}: the upper-case name is no second copy");
            assert_eq!(listed.len(), usize::from(kind == ObjectKind::Key) + 1, "{kind}: {listed:?}");
            repo.delete(kind, &id).unwrap();
            assert!(!repo.list(kind).unwrap().contains(&id));
            repo.delete(kind, &id).unwrap(); // already gone: no error
        }
        assert_eq!(repo.list(ObjectKind::Snapshot).unwrap(), vec![]);
        assert_eq!(repo.read(ObjectKind::Index, &ObjectId([1; 32])).unwrap_err().kind, Kind::NotFound);
    }
}
