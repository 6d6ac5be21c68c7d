//! The inodes the kernel holds inside snapshots, kept compact because it may hold millions
//! (every entry of a walked tree stays cached until memory pressure): 24 bytes per inode
//! in the table, the directory a held entry lies in interned once for all its entries.

use std::collections::HashMap;

use crate::id::TreeId;

/// Where a held entry is: the tree listing it, its index there, and the inode of the
/// snapshot root it lies below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub dir: TreeId,
    pub index: u32,
    pub root: u64,
}

struct Held {
    dir: u32,
    index: u32,
    lookups: u32,
}

#[derive(Default)]
pub struct Inodes {
    held: HashMap<u64, Held>,
    /// Interned (tree, root) pairs and how many held entries name each.
    dirs: Vec<(TreeId, u64, u32)>,
    dir_slot: HashMap<(TreeId, u64), u32>,
    free: Vec<u32>,
}

impl Inodes {
    /// The kernel took one more reference to `ino` at `place` (the first place seen wins
    /// for hard links sharing an inode).
    pub fn hold(&mut self, ino: u64, place: Place) {
        if let Some(h) = self.held.get_mut(&ino) {
            h.lookups = h.lookups.saturating_add(1);
            return;
        }
        let key = (place.dir, place.root);
        let dir = match self.dir_slot.get(&key) {
            Some(s) => *s,
            None => {
                let s = match self.free.pop() {
                    Some(s) => {
                        self.dirs[s as usize] = (place.dir, place.root, 0);
                        s
                    }
                    None => {
                        self.dirs.push((place.dir, place.root, 0));
                        (self.dirs.len() - 1) as u32
                    }
                };
                self.dir_slot.insert(key, s);
                s
            }
        };
        self.dirs[dir as usize].2 += 1;
        self.held.insert(ino, Held { dir, index: place.index, lookups: 1 });
    }

    /// The kernel dropped `n` references to `ino`.
    pub fn forget(&mut self, ino: u64, n: u64) {
        let Some(h) = self.held.get_mut(&ino) else { return };
        h.lookups = h.lookups.saturating_sub(n.min(u32::MAX as u64) as u32);
        if h.lookups > 0 {
            return;
        }
        let dir = h.dir;
        self.held.remove(&ino);
        let slot = &mut self.dirs[dir as usize];
        slot.2 -= 1;
        if slot.2 == 0 {
            self.dir_slot.remove(&(slot.0, slot.1));
            self.free.push(dir);
        }
    }

    pub fn get(&self, ino: u64) -> Option<Place> {
        let h = self.held.get(&ino)?;
        let (dir, root, _) = self.dirs[h.dir as usize];
        Some(Place { dir, index: h.index, root })
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Directories named by held entries.
    #[cfg(test)]
    fn dirs(&self) -> usize {
        self.dir_slot.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(n: u8) -> TreeId {
        TreeId([n; 32])
    }

    #[test]
    fn entries_are_held_until_every_lookup_is_forgotten_and_dirs_are_shared() {
        let mut t = Inodes::default();
        let a = Place { dir: tree(1), index: 0, root: 9 };
        let b = Place { dir: tree(1), index: 1, root: 9 };
        t.hold(10, a);
        t.hold(10, a);
        t.hold(11, b);
        assert_eq!((t.len(), t.dirs()), (2, 1));
        assert_eq!(t.get(11), Some(b));
        t.forget(10, 1);
        assert_eq!(t.get(10), Some(a));
        t.forget(10, 1);
        assert_eq!(t.get(10), None);
        assert_eq!(t.dirs(), 1);
        t.forget(11, 5);
        assert_eq!(t.len(), 0);
        assert_eq!(t.dirs(), 0);
        // a freed slot is reused for another directory
        let c = Place { dir: tree(2), index: 3, root: 7 };
        t.hold(12, c);
        assert_eq!(t.get(12), Some(c));
        assert_eq!(t.dirs.len(), 1);
        t.forget(99, 1); // unknown: ignored
    }

    #[test]
    fn the_same_tree_below_two_roots_is_two_places() {
        let mut t = Inodes::default();
        t.hold(1, Place { dir: tree(1), index: 0, root: 5 });
        t.hold(2, Place { dir: tree(1), index: 0, root: 6 });
        assert_eq!(t.dirs(), 2);
        assert_eq!(t.get(2).map(|p| p.root), Some(6));
    }
}
