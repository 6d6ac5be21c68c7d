//! Pure cryptography: the master secret and its subkeys, sealing and opening, and the
//! Argon2id wrapping of the master secret by a password. No I/O.

mod keys;
mod password_hash;
mod seal;
mod wrap;

pub use keys::{Keys, MasterSecret, NEWEST_FORMAT};
pub use password_hash::verify_password_hash;
pub use seal::{open, padme, seal, seal_append, seal_with_nonce, Aad, SealKind, FLAG_ZSTD, FRAME_LEN, SEAL_OVERHEAD};
pub use wrap::{unwrap_master, wrap_master, KdfParams, Kek, WRAPPED_LEN};

/// Fill a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS random source failing is not recoverable; no secret may be made without it.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}
