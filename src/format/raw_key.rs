//! The unwrapped key of a repository as arca keeps it outside the repository: an entry of the
//! key cache in the kernel keyring, and a raw key file (`arca key export-raw`, `--key-file`).
//! Layout (format-spec/v3.md §18.9), all lengths fixed, so a reader checks the length before
//! it looks at anything else:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 6 | magic: `ARCAKC` (key cache entry) or `ARCAKF` (raw key file) |
//! | 6 | 1 | layout version: 1 |
//! | 7 | 1 | flags: bit 0 set when a previous master secret follows (a key rotation runs); other bits 0 |
//! | 8 | 32 | repository id |
//! | 40 | 32 | id of the key file that was unlocked |
//! | 72 | 32 | master secret |
//! | 104 | 32 | previous master secret, only with flag bit 0 |
//!
//! Nothing here is authenticated: whoever holds these bytes holds the repository. A reader
//! proves them by decoding the repository's `config` under the master secret (authenticated
//! encryption) and comparing the repository id, and uses them only then.

use zeroize::Zeroizing;

use crate::crypto::MasterSecret;
use crate::error::{Error, Result};
use crate::id::{ObjectId, RepoId};

/// Where the bytes are kept: each has its own magic, so one can't be passed for the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    KeyCache,
    KeyFile,
}

impl Holder {
    fn magic(self) -> &'static [u8; 6] {
        match self {
            Holder::KeyCache => b"ARCAKC",
            Holder::KeyFile => b"ARCAKF",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Holder::KeyCache => "key cache entry",
            Holder::KeyFile => "raw key file",
        }
    }
}

pub const VERSION: u8 = 1;
const FLAG_PREVIOUS: u8 = 1;
/// Without and with a previous master secret.
pub const LEN: usize = 104;
pub const LEN_WITH_PREVIOUS: usize = 136;
/// The longest valid encoding: readers refuse anything longer before reading it all.
pub const MAX_LEN: usize = LEN_WITH_PREVIOUS;

/// A repository's unwrapped key.
pub struct RawKey {
    pub repo_id: RepoId,
    pub key_id: ObjectId,
    pub master: MasterSecret,
    /// The master secret a key rotation in progress replaces (format-spec §22).
    pub previous: Option<MasterSecret>,
}

impl RawKey {
    pub fn encode(&self, holder: Holder) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(MAX_LEN));
        out.extend_from_slice(holder.magic());
        out.push(VERSION);
        out.push(if self.previous.is_some() { FLAG_PREVIOUS } else { 0 });
        out.extend_from_slice(&self.repo_id.0);
        out.extend_from_slice(&self.key_id.0);
        out.extend_from_slice(&self.master.0);
        if let Some(p) = &self.previous {
            out.extend_from_slice(&p.0);
        }
        out
    }

    pub fn decode(holder: Holder, bytes: &[u8]) -> Result<RawKey> {
        let what = holder.name();
        if bytes.len() != LEN && bytes.len() != LEN_WITH_PREVIOUS {
            return Err(Error::corrupt(format!(
                "not a {what}: {} bytes, a {what} has {LEN} or {LEN_WITH_PREVIOUS}",
                bytes.len()
            )));
        }
        if &bytes[..6] != holder.magic() {
            return Err(Error::corrupt(format!("not a {what}: wrong magic")));
        }
        if bytes[6] != VERSION {
            return Err(Error::new(
                crate::error::Kind::Unsupported,
                format!("{what} layout version {} (this build reads version {VERSION})", bytes[6]),
            ));
        }
        let flags = bytes[7];
        let with_previous = match flags {
            0 => false,
            FLAG_PREVIOUS => true,
            f => return Err(Error::corrupt(format!("not a {what}: unknown flags {f:#04x}"))),
        };
        if with_previous != (bytes.len() == LEN_WITH_PREVIOUS) {
            return Err(Error::corrupt(format!("not a {what}: its length does not match its flags")));
        }
        let field = |at: usize| -> [u8; 32] {
            let mut b = [0u8; 32];
            b.copy_from_slice(&bytes[at..at + 32]);
            b
        };
        Ok(RawKey {
            repo_id: RepoId(field(8)),
            key_id: ObjectId(field(40)),
            master: MasterSecret(field(72)),
            previous: with_previous.then(|| MasterSecret(field(104))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(previous: bool) -> RawKey {
        RawKey {
            repo_id: RepoId([1; 32]),
            key_id: ObjectId([2; 32]),
            master: MasterSecret([3; 32]),
            previous: previous.then(|| MasterSecret([4; 32])),
        }
    }

    #[test]
    fn round_trips_and_refuses_every_wrong_length_magic_version_and_flag() {
        for previous in [false, true] {
            let bytes = sample(previous).encode(Holder::KeyFile);
            assert_eq!(bytes.len(), if previous { LEN_WITH_PREVIOUS } else { LEN });
            let back = RawKey::decode(Holder::KeyFile, &bytes).unwrap();
            assert_eq!((back.repo_id, back.key_id, back.master.0), (RepoId([1; 32]), ObjectId([2; 32]), [3; 32]));
            assert_eq!(back.previous.map(|p| p.0), previous.then_some([4; 32]));
            // the other holder's magic
            assert!(RawKey::decode(Holder::KeyCache, &bytes).is_err());
            for cut in 0..bytes.len() {
                assert!(RawKey::decode(Holder::KeyFile, &bytes[..cut]).is_err(), "{cut} bytes accepted");
            }
            let mut long = bytes.to_vec();
            long.push(0);
            assert!(RawKey::decode(Holder::KeyFile, &long).is_err());
            for (at, v) in [(6, 2u8), (7, 2), (7, if previous { 0 } else { 1 })] {
                let mut b = bytes.to_vec();
                b[at] = v;
                assert!(RawKey::decode(Holder::KeyFile, &b).is_err(), "byte {at} = {v} accepted");
            }
        }
    }
}
