//! `Config::decode` must never panic: on raw bytes (almost always rejected by the seal) and on
//! fuzz bytes sealed as a genuine config object, which reaches the CBOR decoder and the
//! parameter validation behind it.
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{Keys, MasterSecret, SealKind};
use arca::format::config::Config;
use arca::format::object;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

fuzz_target!(|data: &[u8]| {
    let _ = Config::decode(&KEYS, data);
    if let Ok(config) = Config::decode(&KEYS, &object::encode(&KEYS, SealKind::Config, data)) {
        let again = Config::decode(&KEYS, &config.encode(&KEYS)).expect("a decoded config re-encodes");
        assert_eq!(again, config);
    }
});
