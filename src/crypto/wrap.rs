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

    /// Upper bounds a reader accepts, so a hostile key file can't demand absurd memory.
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    pub const MAX_T: u32 = 64;
    pub const MAX_P: u32 = 64;

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
        if self.m_kib > Self::MAX_M_KIB || self.t > Self::MAX_T || self.p > Self::MAX_P {
            return Err(Error::corrupt(format!("key file asks for excessive Argon2id costs {self:?}")));
        }
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
