//! The last few groups opened by single-blob reads (mount, dump, cat): reading the small files
//! of one directory one by one opens their group once, not once per file. Restore, check and
//! prune open each group once by themselves and do not use it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::format::pack::OpenedUnit;
use crate::id::PackId;
use crate::util::sync::IgnorePoison;

/// Groups kept: each is at most `MAX_GROUP_LEN` (arca writes them under 1.5 MiB).
const KEPT: usize = 4;

/// A group's place: its pack and its offset there.
type Place = (PackId, u32);

#[derive(Default)]
pub struct GroupCache {
    recent: Mutex<VecDeque<(Place, Arc<OpenedUnit>)>>,
}

impl GroupCache {
    /// The opened group at `offset` in `pack`, if it is one of the last few.
    pub fn get(&self, pack: &PackId, offset: u32) -> Option<Arc<OpenedUnit>> {
        let recent = self.recent.lock().ignore_poison();
        recent.iter().find(|(k, _)| *k == (*pack, offset)).map(|(_, u)| u.clone())
    }

    pub fn put(&self, pack: PackId, offset: u32, unit: Arc<OpenedUnit>) {
        let mut recent = self.recent.lock().ignore_poison();
        if recent.len() >= KEPT {
            recent.pop_back();
        }
        recent.push_front(((pack, offset), unit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_few_groups() {
        let c = GroupCache::default();
        let unit = |n: u8| Arc::new(OpenedUnit { compressed: false, plain: vec![n] });
        for n in 0..=KEPT as u8 {
            c.put(PackId([1; 32]), u32::from(n), unit(n));
        }
        assert!(c.get(&PackId([1; 32]), 0).is_none(), "the oldest is dropped");
        assert_eq!(c.get(&PackId([1; 32]), KEPT as u32).unwrap().plain, vec![KEPT as u8]);
        assert!(c.get(&PackId([2; 32]), 1).is_none(), "another pack's offset is another group");
    }
}
