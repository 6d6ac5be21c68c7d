//! Typed 32-byte identifiers, one type per object kind, so a tree id can't be passed where a
//! pack id or a snapshot id is expected. All print as 64 lowercase hex digits; `short()` (or
//! `{:.8}`) gives the first 8, the form reports and messages show.
//!
//! A [`SnapshotId`] is the [`ObjectId`] of a snapshot's file and a [`TreeId`] the [`BlobId`] of
//! a tree blob: they share the bytes and the serialisation of those ids, but converting between
//! them is spelled out ([`SnapshotId::as_object`], [`TreeId::as_blob`] and their inverses), so
//! only the code that names a snapshot's file or consults the blob index does it.
//!
//! ```compile_fail,E0308
//! fn load(_: &arca::id::SnapshotId) {}
//! let tree = arca::id::TreeId::default();
//! load(&tree); // a tree id is not a snapshot id
//! ```
//!
//! ```compile_fail,E0308
//! fn save_tree_ref(_: arca::id::TreeId) {}
//! let data = arca::id::BlobId::default();
//! save_tree_ref(data); // a data blob id is not a tree id until someone says so
//! ```

use std::fmt;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub const LEN: usize = 32;

            pub fn from_hex(s: &str) -> Option<Self> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).ok()?;
                Some(Self(out))
            }

            pub fn from_slice(b: &[u8]) -> Option<Self> {
                Some(Self(b.try_into().ok()?))
            }

            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// The first 8 hex digits, as reports and messages show an id.
            pub fn short(&self) -> String {
                format!("{self:.8}")
            }

            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        /// 64 hex digits; a precision keeps that many (`{:.8}` is [`Self::short`]).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_hex())
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("32 bytes or 64 hex digits")
                    }
                    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        $name::from_slice(v).ok_or_else(|| E::invalid_length(v.len(), &self))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_hex(v).ok_or_else(|| E::custom("invalid hex id"))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<$name, A::Error> {
                        let mut out = [0u8; 32];
                        for (i, b) in out.iter_mut().enumerate() {
                            *b = a.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                        }
                        Ok($name(out))
                    }
                }
                if d.is_human_readable() {
                    d.deserialize_str(V)
                } else {
                    d.deserialize_bytes(V)
                }
            }
        }
    };
}

define_id!(
    /// Keyed BLAKE3 of a blob's plaintext.
    BlobId
);
define_id!(
    /// BLAKE3 of a pack file's bytes.
    PackId
);
define_id!(
    /// BLAKE3 of a stored object's bytes (index, snapshot, key, lock).
    ObjectId
);
define_id!(
    /// Random repository identifier.
    RepoId
);

define_id!(
    /// A snapshot: the object id of its file under `snapshots/` (BLAKE3 of the stored bytes).
    /// Selectors, `parent`, `original` and every report name snapshots by it.
    SnapshotId
);
define_id!(
    /// A directory: the blob id (keyed BLAKE3 of the plaintext) of its encoded tree blob, as
    /// a snapshot's `tree` and a node's `subtree` hold it.
    TreeId
);

impl SnapshotId {
    /// The snapshot whose file is the object `id` (a name listed under `snapshots/`, or the
    /// id a snapshot was stored under).
    pub fn from_object(id: ObjectId) -> Self {
        SnapshotId(id.0)
    }

    /// The object id that names this snapshot's file.
    pub fn as_object(&self) -> ObjectId {
        ObjectId(self.0)
    }
}

impl TreeId {
    /// The tree stored as blob `id` (a blob saved, or listed, with type tree).
    pub fn from_blob(id: BlobId) -> Self {
        TreeId(id.0)
    }

    /// The blob id under which the blob index finds this tree.
    pub fn as_blob(&self) -> BlobId {
        BlobId(self.0)
    }
}

/// Serialises an optional id as its hex, or `""` when there is none (the `tree` of a snapshot
/// file that cannot be read, as `snapshots --json` has always printed it).
pub fn serialize_or_empty<I: fmt::Display, S: serde::Serializer>(id: &Option<I>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_str(""),
    }
}

/// Serialises an id (or anything displayed as hex) in its short form, for report fields whose
/// JSON shows 8 hex digits (`short_id` of `snapshots --json`, the snapshot of check's damage).
pub fn serialize_short<I: fmt::Display, S: serde::Serializer>(id: &I, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{id:.8}"))
}

/// BLAKE3 of stored bytes: the name of every content-addressed file in a repository.
pub fn storage_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real tree id: the v3 test vector's (format-spec/vectors/v3.json, `node_times`).
    fn vector_tree_id() -> String {
        let v: serde_json::Value = serde_json::from_str(include_str!("../format-spec/vectors/v3.json")).unwrap();
        v["node_times"]["tree_id_v3"].as_str().unwrap().to_string()
    }

    #[test]
    fn short_is_the_first_eight_hex_digits_and_display_honours_a_precision() {
        let id = SnapshotId::from_hex(&vector_tree_id()).unwrap();
        assert_eq!(id.short(), "3b30660e");
        assert_eq!(format!("{id:.8}"), id.short());
        assert_eq!(format!("{id}"), id.to_hex());
        assert_eq!(format!("{:?}", id), "SnapshotId(3b30660e)");
        let mut ser = serde_json::Serializer::new(vec![]);
        serialize_short(&id, &mut ser).unwrap();
        assert_eq!(ser.into_inner(), b"\"3b30660e\"");
        let mut ser = serde_json::Serializer::new(vec![]);
        serialize_or_empty(&None::<TreeId>, &mut ser).unwrap();
        assert_eq!(ser.into_inner(), b"\"\"");
        let mut ser = serde_json::Serializer::new(vec![]);
        serialize_or_empty(&Some(id), &mut ser).unwrap();
        assert_eq!(ser.into_inner(), format!("\"{id}\"").as_bytes());
    }
}
