//! The master secret wrapped by a password: Argon2id(password, salt, m, t, p) gives a 32-byte
//! key that seals the master secret. The KDF parameters and salt are bound into the
//! associated data, so changing them is detected rather than silently deriving another key;
//! so are the key file's descriptive fields (created, hostname, username).

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use super::keys::MasterSecret;
use super::seal::{open, seal, Aad, SealKind};
use crate::error::{Error, Kind, Result};

/// Argon2id cost parameters, stored in each key file beside the salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// The default for new keys: 64 MiB, 3 passes, 4 lanes.
    pub const DEFAULT: KdfParams = KdfParams { m_kib: 64 * 1024, t: 3, p: 4 };

    /// The test suite's setting: the one setting below [`Self::check_new`]'s floor that new
    /// keys may use, so tests make repositories in milliseconds. No release build of the
    /// command line chooses it (`ARCA_TEST_INSECURE_KDF` is honoured by debug builds only);
    /// a key file planted with it only makes the planter's own password cheap to guess.
    pub const INSECURE_TEST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    /// Ceilings a reader checks before running Argon2id (format-spec §8): every key file in
    /// `keys/` is tried with the password, so one planted file must not be able to demand
    /// more than a few seconds and a gigabyte. 1 GiB is 16 times the default memory; the
    /// work cap (`m_kib · t`, 4 GiB-passes) is 21 times the default's, about 3.5 s on the
    /// 2-core reference machine.
    pub const MAX_M_KIB: u32 = 1024 * 1024;
    pub const MAX_T: u32 = 16;
    pub const MAX_P: u32 = 16;
    pub const MAX_WORK: u64 = 4 * 1024 * 1024;

    /// The floor for new keys: OWASP's minimum for Argon2id (19 MiB, 2 passes). Readers
    /// accept less (down to Argon2's own minimum, `m_kib ≥ 8·p`, `t ≥ 1`, `p ≥ 1`): a weak
    /// key costs only whoever guesses its password, and refusing to read one would lock its
    /// owner out.
    pub const MIN_NEW_M_KIB: u32 = 19 * 1024;
    pub const MIN_NEW_T: u32 = 2;

    /// The work one derivation costs, in KiB-passes (what key files are sorted by).
    pub fn work(&self) -> u64 {
        self.m_kib as u64 * self.t as u64
    }

    /// Can a key file with these parameters be opened? Checked before Argon2id runs.
    pub fn check_read(&self) -> Result<()> {
        if self.m_kib > Self::MAX_M_KIB || self.t > Self::MAX_T || self.p > Self::MAX_P || self.work() > Self::MAX_WORK
        {
            return Err(Error::corrupt(format!(
                "key file asks for Argon2id costs {self:?}, above the ceiling (m_kib ≤ {}, t ≤ {}, p ≤ {}, m_kib·t ≤ {}); not derived",
                Self::MAX_M_KIB,
                Self::MAX_T,
                Self::MAX_P,
                Self::MAX_WORK
            )));
        }
        if self.t < 1 || self.p < 1 || (self.m_kib as u64) < 8 * self.p as u64 {
            return Err(Error::corrupt(format!("key file has invalid Argon2id parameters {self:?}")));
        }
        Ok(())
    }

    /// May a new key be made with these parameters? Within the reader's ceiling and at or
    /// above the floor for new keys (or exactly [`Self::INSECURE_TEST`]).
    pub fn check_new(&self) -> Result<()> {
        self.check_read().map_err(|e| Error::usage(e.message))?;
        if *self != Self::INSECURE_TEST && (self.m_kib < Self::MIN_NEW_M_KIB || self.t < Self::MIN_NEW_T) {
            return Err(Error::usage(format!(
                "Argon2id parameters {self:?} are too weak for a new key (at least m_kib = {}, t = {})",
                Self::MIN_NEW_M_KIB,
                Self::MIN_NEW_T
            ))
            .hint("use KdfParams::DEFAULT"));
        }
        Ok(())
    }

    fn aad_bytes(&self, salt: &[u8; 32], bound: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(44 + bound.len());
        v.extend_from_slice(salt);
        v.extend_from_slice(&self.m_kib.to_le_bytes());
        v.extend_from_slice(&self.t.to_le_bytes());
        v.extend_from_slice(&self.p.to_le_bytes());
        v.extend_from_slice(bound);
        v
    }

    fn derive(&self, password: &[u8], salt: &[u8; 32]) -> Result<[u8; 32]> {
        self.check_read()?;
        let params = Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| Error::corrupt(format!("invalid Argon2id parameters {self:?}: {e}")))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password, salt, &mut out)
            .map_err(|e| Error::new(Kind::Other, format!("Argon2id failed: {e}")))?;
        Ok(out)
    }
}

/// The key-encryption key: Argon2id of a password. Zeroed when dropped.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Kek([u8; 32], #[zeroize(skip)] KdfParams, [u8; 32]);

impl Kek {
    /// Run Argon2id (the slow step; once per key file opened).
    pub fn derive(password: &[u8], salt: &[u8; 32], params: KdfParams) -> Result<Kek> {
        Ok(Kek(params.derive(password, salt)?, params, *salt))
    }

    /// Wrap a master secret. `bound` is more data to authenticate with it (the key file's
    /// descriptive fields), appended to the associated data.
    pub fn wrap(&self, master: &MasterSecret, bound: &[u8]) -> Vec<u8> {
        seal(&self.0, &Aad::new(SealKind::Key, &self.1.aad_bytes(&self.2, bound)), 0, &master.0)
    }

    /// Unwrap; a failure to authenticate is [`Kind::WrongPassword`].
    pub fn unwrap(&self, sealed: &[u8], bound: &[u8]) -> Result<MasterSecret> {
        let (flags, secret) = open(&self.0, &Aad::new(SealKind::Key, &self.1.aad_bytes(&self.2, bound)), sealed)
            .map_err(|_| Error::new(Kind::WrongPassword, "wrong password"))?;
        if flags != 0 {
            return Err(Error::corrupt("wrapped master secret has unexpected flags"));
        }
        let bytes: [u8; 32] =
            secret.as_slice().try_into().map_err(|_| Error::corrupt("wrapped master secret has the wrong length"))?;
        Ok(MasterSecret(bytes))
    }
}

/// The length of a wrapped master secret: 32 bytes sealed (format-spec §8).
pub const WRAPPED_LEN: usize = super::seal::NONCE_LEN + 40 + super::seal::TAG_LEN;

/// Wrap the master secret under Argon2id of `password` (see [`Kek::wrap`]).
pub fn wrap_master(
    master: &MasterSecret,
    password: &[u8],
    salt: &[u8; 32],
    params: KdfParams,
    bound: &[u8],
) -> Result<Vec<u8>> {
    Ok(Kek::derive(password, salt, params)?.wrap(master, bound))
}

/// Unwrap; a failure to authenticate is [`Kind::WrongPassword`].
pub fn unwrap_master(
    sealed: &[u8],
    password: &[u8],
    salt: &[u8; 32],
    params: KdfParams,
    bound: &[u8],
) -> Result<MasterSecret> {
    Kek::derive(password, salt, params)?.unwrap(sealed, bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_above_the_ceiling_are_refused_before_deriving() {
        let started = std::time::Instant::now();
        for p in [
            KdfParams { m_kib: 2 * 1024 * 1024, t: 1, p: 1 },
            KdfParams { m_kib: 64 * 1024, t: 1000, p: 1 },
            KdfParams { m_kib: 1024 * 1024, t: 16, p: 1 },
            KdfParams { m_kib: 64 * 1024, t: 1, p: 1000 },
        ] {
            let e = Kek::derive(b"pw", &[0; 32], p).err().map(|e| e.kind);
            assert_eq!(e, Some(Kind::Corrupt), "{p:?}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "a refused key ran Argon2id");
        KdfParams::DEFAULT.check_read().unwrap();
        KdfParams { m_kib: 1024 * 1024, t: 4, p: 16 }.check_read().unwrap();
    }

    #[test]
    fn new_keys_need_the_floor_and_readers_accept_less() {
        let weak = KdfParams { m_kib: 8 * 1024, t: 1, p: 1 };
        assert_eq!(weak.check_new().err().map(|e| e.kind), Some(Kind::Usage));
        weak.check_read().unwrap();
        KdfParams::DEFAULT.check_new().unwrap();
        KdfParams::INSECURE_TEST.check_new().unwrap();
        assert_eq!(KdfParams { m_kib: 7, t: 1, p: 1 }.check_read().err().map(|e| e.kind), Some(Kind::Corrupt));
        assert_eq!(WRAPPED_LEN, super::super::seal::sealed_len(32));
    }
}
