//! `Snapshot::decode` must never panic: on raw bytes and on fuzz bytes sealed as a genuine
//! snapshot object (reaching the CBOR decoder). Accepted snapshots round-trip and their time
//! is parsed, as `snapshots` does.
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{Keys, MasterSecret, SealKind};
use arca::format::object;
use arca::format::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

fuzz_target!(|data: &[u8]| {
    let _ = Snapshot::decode(&KEYS, data);
    if let Ok(snapshot) = Snapshot::decode(&KEYS, &object::encode(&KEYS, SealKind::Snapshot, data)) {
        let _ = snapshot.timestamp();
        let again = Snapshot::decode(&KEYS, &snapshot.encode(&KEYS)).expect("a decoded snapshot re-encodes");
        assert_eq!(again, snapshot);
    }
});
