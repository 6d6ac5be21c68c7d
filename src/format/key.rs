//! `keys/<id>`: the master secret wrapped by one password. CBOR (not sealed by the master
//! secret, which it carries); the wrap is XChaCha20-Poly1305 under Argon2id(password).

use serde::{Deserialize, Serialize};

use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{unwrap_master, wrap_master, KdfParams, Kek, MasterSecret};
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
    /// Only while a key rotation runs (format-spec §22): the master secret being replaced,
    /// wrapped under the same password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<serde_bytes::ByteBuf>,
    /// Only while a key rotation runs: the `config` the rotation writes, sealed under the
    /// new master secret, so a crash while `config` is rewritten loses nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_bytes::ByteBuf>,
}

/// Appended to the associated data of the `previous` wrap, so it can't pass for `wrapped`.
const PREVIOUS_DOMAIN: &[u8] = b"previous";

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
            previous: None,
            config: None,
        };
        kf.wrapped = wrap_master(master, password, &salt, params, &kf.bound())?;
        Ok(kf)
    }

    /// A key file of a key rotation in progress: `master` is the new master secret,
    /// `previous` the one it replaces, `config` the new `config` object.
    pub fn create_rotation(
        master: &MasterSecret,
        previous: &MasterSecret,
        config: Vec<u8>,
        password: &[u8],
        params: KdfParams,
        (created, hostname, username): (String, String, String),
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
            previous: None,
            config: Some(config.into()),
        };
        let kek = Kek::derive(password, &salt, params)?;
        kf.wrapped = kek.wrap(master, &kf.bound());
        kf.previous = Some(kek.wrap(previous, &kf.previous_bound()).into());
        Ok(kf)
    }

    /// Does this key belong to a key rotation in progress?
    pub fn is_rotation(&self) -> bool {
        self.previous.is_some()
    }

    fn salt_array(&self) -> Result<[u8; 32]> {
        self.salt.as_slice().try_into().map_err(|_| Error::corrupt("key file salt is not 32 bytes"))
    }

    pub fn open(&self, password: &[u8]) -> Result<MasterSecret> {
        unwrap_master(&self.wrapped, password, &self.salt_array()?, self.params, &self.bound())
    }

    /// The master secret and, for a rotation key, the previous one.
    pub fn open_all(&self, password: &[u8]) -> Result<(MasterSecret, Option<MasterSecret>)> {
        let kek = Kek::derive(password, &self.salt_array()?, self.params)?;
        let master = kek.unwrap(&self.wrapped, &self.bound())?;
        let Some(previous) = &self.previous else { return Ok((master, None)) };
        // the password is right (the first wrap opened): any failure now is damage
        let previous = kek
            .unwrap(previous, &self.previous_bound())
            .map_err(|e| Error::corrupt(format!("the previous master secret does not open: {}", e.message)))?;
        Ok((master, Some(previous)))
    }

    /// The descriptive fields, authenticated with the wrapped secret: CBOR of
    /// `[version, kdf, created, hostname, username]`.
    fn bound(&self) -> Vec<u8> {
        to_cbor(&(self.version, &self.kdf, &self.created, &self.hostname, &self.username))
    }

    /// The associated data of the `previous` wrap: [`Self::bound`] then `"previous"`.
    fn previous_bound(&self) -> Vec<u8> {
        let mut b = self.bound();
        b.extend_from_slice(PREVIOUS_DOMAIN);
        b
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

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    fn meta() -> (String, String, String) {
        ("2026-12-02T00:00:00+00:00".into(), "host".into(), "user".into())
    }

    #[test]
    fn a_rotation_key_opens_to_both_secrets_and_survives_encoding() {
        let (new, old) = (MasterSecret([1; 32]), MasterSecret([2; 32]));
        let kf = KeyFile::create_rotation(&new, &old, b"cfg".to_vec(), b"pw", CHEAP, meta()).unwrap();
        let kf = KeyFile::decode(&kf.encode()).unwrap();
        assert!(kf.is_rotation());
        let (m, p) = kf.open_all(b"pw").unwrap();
        assert_eq!((m.0, p.map(|p| p.0)), ([1; 32], Some([2; 32])));
        assert_eq!(kf.open(b"pw").unwrap().0, [1; 32], "a reader that ignores `previous` gets the new secret");
        assert_eq!(kf.open_all(b"nope").err().map(|e| e.kind), Some(Kind::WrongPassword));
    }

    #[test]
    fn the_two_wraps_of_a_rotation_key_cannot_be_swapped() {
        let (new, old) = (MasterSecret([1; 32]), MasterSecret([2; 32]));
        let mut kf = KeyFile::create_rotation(&new, &old, vec![], b"pw", CHEAP, meta()).unwrap();
        let previous = kf.previous.take().unwrap();
        kf.previous = Some(serde_bytes::ByteBuf::from(std::mem::replace(&mut kf.wrapped, previous.into_vec())));
        assert!(kf.open_all(b"pw").is_err());
    }

    #[test]
    fn a_plain_key_has_no_rotation_fields() {
        let kf = KeyFile::create(&MasterSecret([3; 32]), b"pw", CHEAP, "t".into(), "h".into(), "u".into()).unwrap();
        assert!(!kf.is_rotation());
        let bytes = kf.encode();
        assert!(!bytes.windows(8).any(|w| w == b"previous"));
        assert_eq!(kf.open_all(b"pw").unwrap().1.map(|p| p.0), None);
    }
}
