//! `Tree::decode` and `ContentList::decode` (CBOR tree blobs) must never panic, and what they
//! accept must survive an encode/decode round trip unchanged.
#![no_main]

use arca::format::tree::{ContentList, Tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = Tree::decode(data) {
        let again = Tree::decode(&tree.encode()).expect("a decoded tree re-encodes to a valid tree");
        assert_eq!(again, tree);
    }
    if let Ok(list) = ContentList::decode(data) {
        let again = ContentList::decode(&list.encode()).expect("a decoded content list re-encodes");
        assert_eq!(again, list);
    }
});
