//! `keys/<id>`: the master secret wrapped by one password. CBOR (not sealed by the master
//! secret, which it carries); the wrap is XChaCha20-Poly1305 under Argon2id(password).

use serde::{Deserialize, Serialize};

use crate::codec::{from_cbor, to_cbor};
use crate::crypto::{open, seal, unwrap_master, wrap_master, Aad, KdfParams, Kek, MasterSecret, SealKind, WRAPPED_LEN};
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
    /// Only while a key rotation runs: proof that whoever started it held the master
    /// secret being replaced. An empty payload sealed under that secret's seal key, whose
    /// associated data binds this file's other fields ([`Self::marker_aad`]). A holder of
    /// the old secret can tell a real rotation (which revokes its password) from a planted
    /// key file that merely has a `previous` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<serde_bytes::ByteBuf>,
}

/// Appended to the associated data of the `previous` wrap, so it can't pass for `wrapped`.
const PREVIOUS_DOMAIN: &[u8] = b"previous";
/// Starts the associated data of the rotation marker.
const MARKER_DOMAIN: &[u8] = b"arca key rotation marker";

impl KeyFile {
    pub fn create(
        master: &MasterSecret,
        password: &[u8],
        params: KdfParams,
        created: String,
        hostname: String,
        username: String,
    ) -> Result<Self> {
        params.check_new()?;
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
            marker: None,
        };
        kf.wrapped = wrap_master(master, password, &salt, params, &kf.bound())?;
        Ok(kf)
    }

    /// A key file of a key rotation in progress: `master` is the new master secret,
    /// `previous` the one it replaces (`previous_seal` its seal key, which seals the
    /// marker), `config` the new `config` object.
    pub fn create_rotation(
        master: &MasterSecret,
        (previous, previous_seal): (&MasterSecret, &[u8; 32]),
        config: Vec<u8>,
        password: &[u8],
        params: KdfParams,
        (created, hostname, username): (String, String, String),
    ) -> Result<Self> {
        params.check_new()?;
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
            marker: None,
        };
        let kek = Kek::derive(password, &salt, params)?;
        kf.wrapped = kek.wrap(master, &kf.bound());
        kf.previous = Some(kek.wrap(previous, &kf.previous_bound()).into());
        kf.marker = Some(seal(previous_seal, &Aad::new(SealKind::Key, &kf.marker_aad()), 0, &[]).into());
        Ok(kf)
    }

    /// Does this key file say that a key rotation is in progress? Anyone can write one
    /// that says so: [`Self::rotates_away`] tells whether it is true.
    pub fn is_rotation(&self) -> bool {
        self.previous.is_some()
    }

    /// Is this the rotation key of a rotation that replaces the master secret whose seal
    /// key is `seal_key`? True only if its marker authenticates under that key, i.e. the
    /// rotation was started by someone holding that secret.
    pub fn rotates_away(&self, seal_key: &[u8; 32]) -> bool {
        match (&self.previous, &self.marker) {
            (Some(_), Some(m)) => open(seal_key, &Aad::new(SealKind::Key, &self.marker_aad()), m).is_ok(),
            _ => false,
        }
    }

    /// The associated data of the marker: a domain string, [`Self::bound`], then the
    /// `wrapped`, `previous` and `config` bytes, each preceded by its length (u32 LE), so
    /// the marker can't be moved to another key file or vouch for edited fields.
    fn marker_aad(&self) -> Vec<u8> {
        let mut v = MARKER_DOMAIN.to_vec();
        let empty: &[u8] = &[];
        for part in [
            self.bound().as_slice(),
            &self.wrapped,
            self.previous.as_deref().map_or(empty, |b| b.as_slice()),
            self.config.as_deref().map_or(empty, |b| b.as_slice()),
        ] {
            v.extend_from_slice(&(part.len() as u32).to_le_bytes());
            v.extend_from_slice(part);
        }
        v
    }

    /// What a reader checks before running Argon2id (format-spec §8): the salt's and the
    /// wraps' lengths, and the cost parameters against the ceiling.
    pub fn check_before_deriving(&self) -> Result<()> {
        self.salt_array()?;
        if self.wrapped.len() != WRAPPED_LEN {
            return Err(Error::corrupt(format!("wrapped secret is {} bytes, not {WRAPPED_LEN}", self.wrapped.len())));
        }
        if let Some(p) = &self.previous {
            if p.len() != WRAPPED_LEN {
                return Err(Error::corrupt(format!("previous wrapped secret is {} bytes, not {WRAPPED_LEN}", p.len())));
            }
        }
        self.params.check_read()
    }

    fn salt_array(&self) -> Result<[u8; 32]> {
        self.salt.as_slice().try_into().map_err(|_| Error::corrupt("key file salt is not 32 bytes"))
    }

    pub fn open(&self, password: &[u8]) -> Result<MasterSecret> {
        self.check_before_deriving()?;
        unwrap_master(&self.wrapped, password, &self.salt_array()?, self.params, &self.bound())
    }

    /// The master secret and, for a rotation key, the previous one.
    pub fn open_all(&self, password: &[u8]) -> Result<(MasterSecret, Option<MasterSecret>)> {
        self.check_before_deriving()?;
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

    const CHEAP: KdfParams = KdfParams::INSECURE_TEST;

    fn meta() -> (String, String, String) {
        ("2026-12-02T00:00:00+00:00".into(), "host".into(), "user".into())
    }

    #[test]
    fn a_rotation_key_opens_to_both_secrets_and_survives_encoding() {
        let (new, old) = (MasterSecret([1; 32]), MasterSecret([2; 32]));
        let kf = KeyFile::create_rotation(&new, (&old, &[9; 32]), b"cfg".to_vec(), b"pw", CHEAP, meta()).unwrap();
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
        let mut kf = KeyFile::create_rotation(&new, (&old, &[9; 32]), vec![], b"pw", CHEAP, meta()).unwrap();
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

    #[test]
    fn a_rotation_marker_authenticates_only_under_the_replaced_secret_and_only_its_own_file() {
        let (new, old) = (MasterSecret([1; 32]), MasterSecret([2; 32]));
        let kf = KeyFile::create_rotation(&new, (&old, &[9; 32]), b"cfg".to_vec(), b"pw", CHEAP, meta()).unwrap();
        assert!(kf.rotates_away(&[9; 32]));
        assert!(!kf.rotates_away(&[8; 32]), "a marker opened under another secret's seal key");
        // a planted key file: `previous` set, no marker, or a marker moved from a real one
        let mut planted =
            KeyFile::create(&MasterSecret([5; 32]), b"attacker", CHEAP, "t".into(), "h".into(), "u".into()).unwrap();
        planted.previous = Some(vec![0; WRAPPED_LEN].into());
        assert!(planted.is_rotation() && !planted.rotates_away(&[9; 32]));
        planted.marker = kf.marker.clone();
        assert!(!planted.rotates_away(&[9; 32]), "a marker vouched for another key file");
        let mut edited = kf.clone();
        edited.username = "somebody else".into();
        assert!(!edited.rotates_away(&[9; 32]), "the marker did not bind the names it shows");
    }

    #[test]
    fn hostile_lengths_and_costs_are_refused_before_argon2_runs() {
        let good = KeyFile::create(&MasterSecret([3; 32]), b"pw", CHEAP, "t".into(), "h".into(), "u".into()).unwrap();
        let started = std::time::Instant::now();
        let mut k = good.clone();
        k.params = KdfParams { m_kib: 4 * 1024 * 1024, t: 64, p: 64 };
        assert_eq!(k.open_all(b"pw").err().map(|e| e.kind), Some(Kind::Corrupt));
        let mut k = good.clone();
        k.params = KdfParams { m_kib: 1024 * 1024, t: 3, p: 1 };
        k.wrapped = vec![0; 1 << 20];
        assert!(k.open_all(b"pw").err().unwrap().message.contains("wrapped secret"));
        let mut k = good.clone();
        k.params = KdfParams { m_kib: 1024 * 1024, t: 3, p: 1 };
        k.previous = Some(vec![0; 81].into());
        assert!(k.open_all(b"pw").err().unwrap().message.contains("previous wrapped secret"));
        assert!(started.elapsed() < std::time::Duration::from_millis(500), "Argon2id ran for a refused key file");
        let weak = KdfParams { m_kib: 8 * 1024, t: 1, p: 1 };
        let e = KeyFile::create(&MasterSecret([3; 32]), b"pw", weak, "t".into(), "h".into(), "u".into()).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
    }
}
