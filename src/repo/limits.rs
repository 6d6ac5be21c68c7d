//! How large each stored object may be before anyone has authenticated it. Whoever can write
//! to the storage can plant a file of any size under any name; reading it whole to find out
//! that it does not hash to its name or does not open would let one planted file make every
//! command allocate gigabytes. So each kind has a cap, far above what arca writes, and a read
//! asks for the size first and refuses beyond the cap before allocating anything
//! (format-spec §6, §8, §11.3, §15).
//!
//! | kind | cap | what arca writes |
//! | --- | --- | --- |
//! | `config` | 64 KiB | about 300 bytes |
//! | `keys/` | 64 KiB | about 400 bytes; a rotation key also carries a `config` copy |
//! | `locks/` | 64 KiB | about 200 bytes |
//! | `snapshots/` | 64 MiB | a few KiB; paths and tags given on the command line |
//! | `index/` | 256 MiB | at most 50,000 blobs per file (about 3 MiB) except the file adoption writes |
//! | pack header | `sealed_len(4 + 49·2^20)` | the header of a pack of at most 2^20 entries (in `format::pack`) |
//! | a whole pack | `pack_size` + the largest sealed unit (a 1 GiB tree) + the largest header | a pack closes once its blob area reaches `pack_size` |

use crate::backend::DynBackend;
use crate::error::{Error, Kind, Operation, Result};

/// `config`: a sealed CBOR map of a few numbers and three 32-byte keys.
pub const MAX_CONFIG_LEN: u64 = 64 * 1024;
/// A key file: salt, two 80-byte wraps, three short texts and, in a rotation key, a `config`.
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;
/// A lock: a sealed CBOR map of short texts, a pid and two flags.
pub const MAX_LOCK_LEN: u64 = 64 * 1024;
/// A snapshot: its size grows only with the paths, tags and excludes a user gave.
pub const MAX_SNAPSHOT_LEN: u64 = 64 * 1024 * 1024;
/// An index file: writers flush every 50,000 blobs (about 3 MiB); adopting unindexed packs
/// writes one file for all of them, so the cap leaves room for millions of blobs.
pub const MAX_INDEX_FILE_LEN: u64 = 256 * 1024 * 1024;

/// The largest pack a writer with this `pack_size` makes: its blob area closes once it reaches
/// `pack_size`, so it holds at most one more unit, at most a sealed 1 GiB tree blob, then the
/// header and its 4-byte length.
pub fn max_pack_len(pack_size: u32) -> u64 {
    let largest_unit = 40 + crate::crypto::padme(5 + crate::format::pack::MAX_TREE_LEN as usize) as u64;
    u64::from(pack_size) + largest_unit + crate::format::pack::max_header_len() as u64 + 4
}

/// Read a whole object of at most `cap` bytes: its size is asked first and a larger file is
/// refused (Corrupt, naming it) before a byte is read; the read itself is a ranged read of
/// exactly that size, so a file that grows in between is not read past it. A missing file is
/// [`Kind::NotFound`].
pub fn read_capped(backend: &DynBackend, path: &str, cap: u64) -> Result<Vec<u8>> {
    let size = backend
        .stat(path)
        .map_err(|e| Error::from(e).context_op(Operation::Reading, path))?
        .ok_or_else(|| Error::new(Kind::NotFound, format!("{path} does not exist")).object(path))?;
    read_listed(backend, path, size, cap)
}

/// [`read_capped`] with the size a listing gave, saving the request that asks for it.
pub fn read_listed(backend: &DynBackend, path: &str, size: u64, cap: u64) -> Result<Vec<u8>> {
    if size > cap {
        return Err(too_large(path, size, cap));
    }
    if size == 0 {
        return Ok(vec![]);
    }
    backend.read_range(path, 0, size).map_err(|e| Error::from(e).context_op(Operation::Reading, path))
}

/// The error for a stored file larger than anything arca writes there.
pub fn too_large(path: &str, size: u64, cap: u64) -> Error {
    Error::corrupt(format!("{path} is {size} bytes, more than any arca object of its kind ({cap} bytes); not read"))
        .object(path)
        .hint(format!("arca did not write it: inspect and remove {path} from the repository"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_object_is_refused_without_reading_it() {
        let b = crate::backend::memory().unwrap();
        b.write("locks/a", vec![7u8; 100].into()).unwrap();
        let e = read_capped(&b, "locks/a", 99).unwrap_err();
        assert_eq!(e.kind, Kind::Corrupt);
        assert!(e.message.contains("locks/a") && e.message.contains("100 bytes"), "{}", e.message);
        assert_eq!(read_capped(&b, "locks/a", 100).unwrap(), vec![7u8; 100]);
        assert_eq!(read_capped(&b, "locks/none", 100).unwrap_err().kind, Kind::NotFound);
    }
}
