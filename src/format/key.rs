//! `keys/<id>`: the master secret wrapped by one password. CBOR (not sealed by the master
//! secret, which it carries); the wrap is XChaCha20-Poly1305 under Argon2id(password).

use serde::{Deserialize, Serialize};

use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{unwrap_master, wrap_master, KdfParams, MasterSecret};
use crate::error::{Error, Kind, Result};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    pub version: u8,
    /// Always "argon2id" in version 1.
    pub kdf: String,
    pub params: KdfParams,
    #[serde(with = "serde_bytes")]
    pub salt: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub wrapped: Vec<u8>,
    pub created: String,
    pub hostname: String,
    pub username: String,
}

impl KeyFile {
    pub fn create(
        master: &MasterSecret,
        password: &[u8],
        params: KdfParams,
        created: String,
        hostname: String,
        username: String,
    ) -> Result<Self> {
        let salt: [u8; 32] = crate::crypto::random_bytes();
        let mut kf = KeyFile {
            version: 1,
            kdf: "argon2id".into(),
            params,
            salt: salt.to_vec(),
            wrapped: vec![],
            created,
            hostname,
            username,
        };
        kf.wrapped = wrap_master(master, password, &salt, params, &kf.bound())?;
        Ok(kf)
    }

    pub fn open(&self, password: &[u8]) -> Result<MasterSecret> {
        let salt: [u8; 32] =
            self.salt.as_slice().try_into().map_err(|_| Error::corrupt("key file salt is not 32 bytes"))?;
        unwrap_master(&self.wrapped, password, &salt, self.params, &self.bound())
    }

    /// The descriptive fields, authenticated with the wrapped secret: CBOR of
    /// `[version, kdf, created, hostname, username]`.
    fn bound(&self) -> Vec<u8> {
        to_cbor(&(self.version, &self.kdf, &self.created, &self.hostname, &self.username))
    }

    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let k: KeyFile = from_cbor(bytes)?;
        if k.version != 1 || k.kdf != "argon2id" {
            return Err(Error::new(
                Kind::Unsupported,
                format!("key file version {} / kdf {:?} not supported", k.version, k.kdf),
            ));
        }
        Ok(k)
    }
}
