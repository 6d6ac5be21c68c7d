//! Sans-IO codecs for every stored thing: each takes and returns bytes, so every parser is a
//! fuzz target and a bench target. The normative description is `format-spec/v3.md` (and
//! `v2.md` and `v1.md` for version 2 and 1 repositories).

pub mod config;
pub mod index;
pub mod key;
pub mod lock;
pub mod object;
pub mod pack;
pub mod raw_key;
pub mod snapshot;
pub mod tree;

/// The repository format version `init` creates (format-spec/v3.md): 3.
pub const FORMAT_VERSION: u8 = crate::crypto::NEWEST_FORMAT;
/// The versions this build reads, and writes into repositories of that version: a version 1
/// repository stays version 1, a version 2 one version 2 (format-spec/v3.md §17).
pub const READ_VERSIONS: std::ops::RangeInclusive<u8> = 1..=FORMAT_VERSION;

/// Kind of blob: file content or an encoded tree. Kept in separate packs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobType {
    Data,
    Tree,
}

impl BlobType {
    pub fn to_byte(self) -> u8 {
        match self {
            BlobType::Data => 1,
            BlobType::Tree => 2,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(BlobType::Data),
            2 => Some(BlobType::Tree),
            _ => None,
        }
    }

    /// The id of a blob of this type with this plaintext.
    pub fn id(self, keys: &crate::crypto::Keys, plaintext: &[u8]) -> crate::id::BlobId {
        match self {
            BlobType::Data => keys.blob_id(plaintext),
            BlobType::Tree => keys.tree_id(plaintext),
        }
    }

    pub fn seal_kind(self) -> crate::crypto::SealKind {
        match self {
            BlobType::Data => crate::crypto::SealKind::DataBlob,
            BlobType::Tree => crate::crypto::SealKind::TreeBlob,
        }
    }
}

impl std::fmt::Display for BlobType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlobType::Data => "data",
            BlobType::Tree => "tree",
        })
    }
}

/// Little-endian reader over a byte slice that never panics: every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    pub fn take(&mut self, n: usize) -> crate::error::Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(crate::error::Error::corrupt(format!("{}: truncated", self.what)));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    pub fn u8(&mut self) -> crate::error::Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> crate::error::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> crate::error::Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn id(&mut self) -> crate::error::Result<[u8; 32]> {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.take(32)?);
        Ok(out)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn finish(self) -> crate::error::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(crate::error::Error::corrupt(format!("{}: {} trailing bytes", self.what, self.buf.len())))
        }
    }
}
