//! Index files must never panic the decoder. The payload format is fixed-width, so whatever
//! `decode_payload` accepts must re-encode to exactly the input bytes; and sealing the same
//! bytes as an index object must give the same verdict through `IndexFile::decode`.
#![no_main]

use std::sync::LazyLock;

use arca::crypto::{Keys, MasterSecret, SealKind};
use arca::format::index::IndexFile;
use arca::format::object;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&MasterSecret([7u8; 32])));

fuzz_target!(|data: &[u8]| {
    let raw = IndexFile::decode_payload(data, KEYS.format);
    if let Ok(index) = &raw {
        assert_eq!(index.encode_payload(KEYS.format), data, "index payload is not canonical");
    }
    if let Ok(index) = IndexFile::decode_payload(data, 1) {
        assert_eq!(index.encode_payload(1), data, "format 1 index payload is not canonical");
    }
    let _ = IndexFile::decode(&KEYS, data);
    let sealed = IndexFile::decode(&KEYS, &object::encode(&KEYS, SealKind::Index, data));
    assert_eq!(sealed.ok(), raw.ok(), "sealed and raw decoding disagree");
});
