//! Tree blobs: a directory as CBOR, a map `{"nodes": [node...]}` sorted strictly by name bytes.
//! Names and symlink targets are raw bytes, so non-UTF-8 names survive exactly. Decoding
//! rejects names a restore could misuse (empty, `.`, `..`, containing `/` or NUL) and
//! unsorted or duplicate names, so every consumer sees only well-formed trees.
//!
//! A file with more than [`MAX_INLINE_CONTENT`] chunks lists its content indirectly: its node
//! names `content_lists`, tree-type blobs each holding a [`ContentList`] of up to
//! [`MAX_INLINE_CONTENT`] ids, so no node grows without bound.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::codec::{from_cbor, to_cbor};
use crate::error::{Error, Result};
use crate::id::{BlobId, TreeId};

pub const MAX_INLINE_CONTENT: usize = 2048;

/// Directories nested deeper than this are refused by every reader that walks trees: no real
/// file system gets there (paths end at 4096 bytes), and a hostile tree could otherwise
/// exhaust the stack of a recursive walk.
pub const MAX_DEPTH: usize = 2048;

/// Corrupt when `depth` (directories below the snapshot root) passes [`MAX_DEPTH`] at `at`.
pub fn check_depth(depth: usize, at: &dyn std::fmt::Display) -> crate::error::Result<()> {
    if depth > MAX_DEPTH {
        return Err(crate::error::Error::corrupt(format!("{at}: directories nested deeper than {MAX_DEPTH}")));
    }
    Ok(())
}

/// The depth of a `/`-separated path (its number of components).
pub fn path_depth(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    Chardev,
    Blockdev,
    Fifo,
    Socket,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::File => "file",
            NodeKind::Dir => "dir",
            NodeKind::Symlink => "symlink",
            NodeKind::Chardev => "chardev",
            NodeKind::Blockdev => "blockdev",
            NodeKind::Fifo => "fifo",
            NodeKind::Socket => "socket",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    pub name: ByteBuf,
    pub value: ByteBuf,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: ByteBuf,
    #[serde(rename = "type")]
    pub kind: NodeKind,
    /// Permission bits including setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Nanoseconds since the Unix epoch.
    pub mtime: i64,
    /// 0 when not recorded (the default); restore then uses `mtime`.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub atime: i64,
    pub ctime: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inode: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub device: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub links: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<ByteBuf>,
    /// Device number of char and block devices.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rdev: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<BlobId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_lists: Vec<BlobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<TreeId>,
}

impl Node {
    pub fn new(name: Vec<u8>, kind: NodeKind) -> Self {
        Node {
            name: ByteBuf::from(name),
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            user: String::new(),
            group: String::new(),
            mtime: 0,
            atime: 0,
            ctime: 0,
            size: 0,
            inode: 0,
            device: 0,
            links: 0,
            xattrs: Vec::new(),
            link_target: None,
            rdev: 0,
            content: Vec::new(),
            content_lists: Vec::new(),
            subtree: None,
        }
    }

    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Is `name` safe as one path component?
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Encode; nodes must already be sorted by name (the archiver walks in sorted order).
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let t: Tree = from_cbor(bytes)?;
        for (i, n) in t.nodes.iter().enumerate() {
            if !valid_name(&n.name) {
                return Err(Error::corrupt(format!("tree has an invalid name {:?}", n.name_lossy())));
            }
            if i > 0 && t.nodes[i - 1].name >= n.name {
                return Err(Error::corrupt(format!("tree names unsorted or duplicated at {:?}", n.name_lossy())));
            }
            if (n.kind == NodeKind::Dir) != n.subtree.is_some() {
                return Err(Error::corrupt(format!("node {:?}: subtree does not match its type", n.name_lossy())));
            }
        }
        Ok(t)
    }
}

/// A slice of a large file's content ids, stored as a tree-type blob.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentList {
    pub content: Vec<BlobId>,
}

impl ContentList {
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let c: ContentList = from_cbor(bytes)?;
        if c.content.len() > MAX_INLINE_CONTENT {
            return Err(Error::corrupt("content list too long"));
        }
        Ok(c)
    }
}
