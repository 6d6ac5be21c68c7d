//! `KeyFile::decode` (plain CBOR, not sealed) must never panic. When a decoded key file asks
//! for tiny Argon2id costs, opening it is tried too, which exercises the salt and parameter
//! checks and the unwrap; large costs are skipped so one input can't take seconds.
#![no_main]

use arca::format::key::KeyFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = KeyFile::decode(data) {
        let again = KeyFile::decode(&key.encode()).expect("a decoded key file re-encodes");
        assert_eq!(again, key);
        if key.params.m_kib <= 64 && key.params.t <= 2 && key.params.p <= 2 {
            let _ = key.open(b"password");
        }
    }
});
