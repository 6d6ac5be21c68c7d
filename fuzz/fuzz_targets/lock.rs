//! `Lock::decode` must never panic: on raw bytes (what a planted file in `locks/` holds) and
//! on fuzz bytes sealed as a genuine lock object (reaching the CBOR decoder). Accepted locks
//! re-encode to the same lock, and their mode and start time are computed, as locking does.
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{Keys, MasterSecret, SealKind};
use arca::format::lock::Lock;
use arca::format::object;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

fuzz_target!(|data: &[u8]| {
    let _ = Lock::decode(&KEYS, data);
    if let Ok(lock) = Lock::decode(&KEYS, &object::encode(&KEYS, SealKind::Lock, data)) {
        let _ = lock.mode();
        let _ = lock.started_at();
        let again = Lock::decode(&KEYS, &lock.encode(&KEYS)).expect("a decoded lock re-encodes");
        assert_eq!(again, lock);
    }
});
