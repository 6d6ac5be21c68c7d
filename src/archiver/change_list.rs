//! The change list of `backup --changed-paths`: the paths that may have changed since the
//! parent snapshot, as written by `arca watch` or by any other journal of file events.
//!
//! With a change list the walker lists only the directories on the way to a changed path and
//! takes every other directory's subtree from the parent snapshot by id, without listing it
//! (see `walker`). The list is parsed here, without I/O, as hostile input: absolute paths only,
//! each at most [`MAX_PATH_BYTES`], at most [`MAX_ENTRIES`] of them, no NUL inside a line, no
//! `..` (which only a symlink could make mean something else than its lexical reading, and
//! which could thereby hide a change); each error names its line. Paths are kept as bytes:
//! a name that is not UTF-8 compares exactly.
//!
//! The paths become a [`ChangeTree`] of components from `/`. A path named in the list is
//! walked whole (a directory moved in, or one whose own entry changed); the directories
//! above it are listed; a path that no longer exists simply is not in its listed parent.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use crate::error::{Error, Result};

/// Longest path accepted (Linux's `PATH_MAX`, terminating NUL included).
pub const MAX_PATH_BYTES: usize = 4096;
/// Most paths accepted in one list; a larger change costs a full walk anyway.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most bytes read from a change list (with [`MAX_ENTRIES`] long paths it would be more).
pub const MAX_LIST_BYTES: u64 = 256 << 20;

/// The changed paths below one directory (or below `/` for the root of a list).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangeTree {
    /// This path itself is in the list: walk it whole.
    pub named: bool,
    /// Changed paths below this one, by the name of the next component.
    pub children: BTreeMap<Vec<u8>, ChangeTree>,
}

/// A parsed change list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeList {
    root: ChangeTree,
    entries: u64,
}

impl ChangeList {
    /// Parse `bytes` as paths separated by `sep` (`b'\n'` or NUL). Blank entries are skipped;
    /// with `\n`, a `\r` before it is not stripped (it may be part of a name).
    pub fn parse(bytes: &[u8], sep: u8) -> Result<ChangeList> {
        let mut list = ChangeList { root: ChangeTree::default(), entries: 0 };
        for (i, line) in bytes.split(|b| *b == sep).enumerate() {
            if line.is_empty() {
                continue;
            }
            let n = i + 1;
            let bad = |what: &str| {
                Error::usage(format!("change list, entry {n}: {what}"))
                    .hint("a change list holds one absolute path per line (or per NUL with --changed-paths-0)")
            };
            if line.len() >= MAX_PATH_BYTES {
                return Err(bad(&format!("a path of {} bytes, longer than {} bytes", line.len(), MAX_PATH_BYTES - 1)));
            }
            if line.contains(&0) {
                return Err(bad("a NUL byte inside a path"));
            }
            if line[0] != b'/' {
                return Err(bad(&format!("relative path {:?}: paths must be absolute", String::from_utf8_lossy(line))));
            }
            let mut at = &mut list.root;
            for c in Path::new(std::ffi::OsStr::from_bytes(line)).components() {
                match c {
                    Component::Normal(name) => at = at.children.entry(name.as_bytes().to_vec()).or_default(),
                    Component::ParentDir => return Err(bad("a `..` component (name the path itself)")),
                    _ => {}
                }
            }
            if !at.named {
                at.named = true;
                list.entries += 1;
                if list.entries > MAX_ENTRIES as u64 {
                    return Err(bad(&format!("more than {MAX_ENTRIES} paths"))
                        .hint("back up without --changed-paths: a full walk costs less than this many changes"));
                }
            }
        }
        Ok(list)
    }

    /// How many distinct paths the list names.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// What changed at or below the absolute, cleaned path `path`: `None` if the path or one
    /// above it is named (walk it whole), else the changes below it (empty if none).
    pub fn below(&self, path: &Path) -> Option<&ChangeTree> {
        static EMPTY: ChangeTree = ChangeTree { named: false, children: BTreeMap::new() };
        let mut at = &self.root;
        if at.named {
            return None;
        }
        for c in path.components() {
            if let Component::Normal(name) = c {
                match at.children.get(name.as_bytes()) {
                    Some(t) if t.named => return None,
                    Some(t) => at = t,
                    None => return Some(&EMPTY),
                }
            }
        }
        Some(at)
    }
}

impl ChangeTree {
    /// The scope of the entry `name` below this directory: `None` to walk it whole, else the
    /// changes below it (empty: nothing changed below it).
    pub fn child(&self, name: &[u8]) -> Option<&ChangeTree> {
        static EMPTY: ChangeTree = ChangeTree { named: false, children: BTreeMap::new() };
        match self.children.get(name) {
            Some(t) if t.named => None,
            Some(t) => Some(t),
            None => Some(&EMPTY),
        }
    }

    /// Nothing below this directory is named.
    pub fn is_empty(&self) -> bool {
        !self.named && self.children.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_become_a_tree_of_bytes_with_named_leaves() {
        let l = ChangeList::parse(b"/a/b/c\n\n/a/x\xff\n/a//b/./c/\n", b'\n').unwrap();
        assert_eq!(l.entries(), 2);
        let a = l.below(Path::new("/a")).unwrap();
        assert!(!a.named);
        assert!(a.child(b"x\xff").is_none(), "a named path is walked whole");
        assert!(a.child(b"x").unwrap().is_empty(), "bytes, not a lossy string, are compared");
        assert!(l.below(Path::new("/a/b/c")).is_none());
        assert!(l.below(Path::new("/a/b/c/deeper")).is_none(), "below a named path: whole");
        assert!(!l.below(Path::new("/a/b")).unwrap().is_empty());
        assert!(l.below(Path::new("/elsewhere")).unwrap().is_empty());
    }

    #[test]
    fn nul_separated_lists_keep_newlines_in_names() {
        let l = ChangeList::parse(b"/d/new\nline\0/d/other\0", 0).unwrap();
        assert_eq!(l.entries(), 2);
        assert!(l.below(Path::new("/d")).unwrap().child(b"new\nline").is_none());
    }

    #[test]
    fn an_empty_list_changes_nothing_and_the_root_changes_everything() {
        let l = ChangeList::parse(b"\n\n", b'\n').unwrap();
        assert_eq!(l.entries(), 0);
        assert!(l.below(Path::new("/src")).unwrap().is_empty());
        let all = ChangeList::parse(b"/\n", b'\n').unwrap();
        assert!(all.below(Path::new("/src")).is_none());
    }

    #[test]
    fn hostile_lists_are_refused_naming_the_entry() {
        let e = ChangeList::parse(b"/ok\nrelative/path\n", b'\n').unwrap_err();
        assert!(e.message.contains("entry 2") && e.message.contains("relative"), "{}", e.message);
        let e = ChangeList::parse(b"/a/../etc\n", b'\n').unwrap_err();
        assert!(e.message.contains("entry 1") && e.message.contains(".."), "{}", e.message);
        let e = ChangeList::parse(b"/a\0b\n", b'\n').unwrap_err();
        assert!(e.message.contains("NUL"), "{}", e.message);
        let mut long = b"/".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_PATH_BYTES));
        let e = ChangeList::parse(&long, b'\n').unwrap_err();
        assert!(e.message.contains("longer than"), "{}", e.message);
    }

    #[test]
    fn too_many_entries_are_refused() {
        let mut text = Vec::new();
        for i in 0..=MAX_ENTRIES {
            text.extend_from_slice(format!("/{i}\n").as_bytes());
        }
        let e = ChangeList::parse(&text, b'\n').unwrap_err();
        assert!(e.message.contains("more than"), "{}", e.message);
        // repeated paths count once
        let same = b"/x\n".repeat(MAX_ENTRIES + 5);
        assert_eq!(ChangeList::parse(&same, b'\n').unwrap().entries(), 1);
    }
}
