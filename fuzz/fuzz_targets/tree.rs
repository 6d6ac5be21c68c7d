//! `Tree::decode` and `ContentList::decode` (CBOR tree blobs) must never panic, and what they
//! accept must survive an encode/decode round trip unchanged: exactly in the format 3 encoding
//! (times as `[seconds, nanoseconds]`), and with times saturated to nanoseconds in an `i64` in
//! the format 2 encoding; one with inline content (format 4) has no format 2 encoding, and
//! asking for one is an error, never a panic.
#![no_main]

use arca::format::tree::{ContentList, Time, Tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = Tree::decode(data) {
        let again = Tree::decode(&tree.encode()).expect("a decoded tree re-encodes to a valid tree");
        assert_eq!(again, tree);
        let Ok(old) = tree.encode_for(2) else {
            assert!(tree.has_inline(), "a tree without inline content has no format 2 encoding");
            return;
        };
        let old = Tree::decode(&old).expect("a decoded tree re-encodes for format 2");
        for (o, n) in old.nodes.iter().zip(&tree.nodes) {
            for (a, b) in [(o.mtime, n.mtime), (o.atime, n.atime), (o.ctime, n.ctime)] {
                assert_eq!(a, Time::from_nanos(b.to_nanos_saturating()), "a format 2 time is not the saturated one");
            }
        }
    }
    if let Ok(list) = ContentList::decode(data) {
        let again = ContentList::decode(&list.encode()).expect("a decoded content list re-encodes");
        assert_eq!(again, list);
    }
});
