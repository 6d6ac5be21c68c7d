//! Tree blobs: a directory as CBOR, a map `{"nodes": [node...]}` sorted strictly by name bytes.
//! Names and symlink targets are raw bytes, so non-UTF-8 names survive exactly. Decoding
//! rejects names a restore could misuse (empty, `.`, `..`, containing `/` or NUL) and
//! unsorted or duplicate names, so every consumer sees only well-formed trees.
//!
//! A file with more than [`MAX_INLINE_CONTENT`] chunks lists its content indirectly: its node
//! names `content_lists`, tree-type blobs each holding a [`ContentList`] of up to
//! [`MAX_INLINE_CONTENT`] ids, so no node grows without bound.
//!
//! Times are [`Time`]s: seconds and nanoseconds apart, so every time a file system holds (ext4
//! and XFS go past 2262 and before 1678, which nanoseconds in an `i64` cannot) fits. Format 3
//! writes them as a CBOR array `[seconds, nanoseconds]`; formats 1 and 2 wrote nanoseconds
//! since 1970 in one integer, which readers still accept and writers into a version 1 or 2
//! repository still write (saturated at the ends of that range), so an older arca reads its
//! repository (format-spec/v3.md §13.1).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;

use crate::codec::{from_cbor, to_cbor};
use crate::error::{Error, Result};
use crate::id::{BlobId, TreeId};

pub const MAX_INLINE_CONTENT: usize = 2048;

/// The longest `inline` content a node may carry (format-spec/v4.md §13.1): readers refuse a
/// longer one before copying it out of the tree's bytes. Writers inline files up to their own
/// threshold, at most this (`archiver::file_reader::INLINE_MAX`).
pub const MAX_INLINE_BYTES: usize = 1024;

/// The first format version whose trees may hold `inline` content.
pub const INLINE_FORMAT: u8 = 4;

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

#[cfg(test)]
fn is_zero(v: &u64) -> bool {
    *v == 0
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A point in time: seconds since the Unix epoch (negative before 1970) and nanoseconds
/// within that second (`0..1_000_000_000`), as `struct timespec` holds it. Ordered by time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    pub secs: i64,
    pub nanos: u32,
}

impl Time {
    /// The epoch itself; as an `atime` it means "not recorded".
    pub const ZERO: Time = Time { secs: 0, nanos: 0 };

    /// From seconds and nanoseconds as `stat` gives them; nanoseconds outside one second
    /// carry into the seconds.
    pub fn new(secs: i64, nanos: i64) -> Time {
        let secs = secs.saturating_add(nanos.div_euclid(NANOS_PER_SEC));
        Time { secs, nanos: nanos.rem_euclid(NANOS_PER_SEC) as u32 }
    }

    /// From nanoseconds since the epoch (the encoding of formats 1 and 2).
    pub fn from_nanos(ns: i64) -> Time {
        Time { secs: ns.div_euclid(NANOS_PER_SEC), nanos: ns.rem_euclid(NANOS_PER_SEC) as u32 }
    }

    /// Nanoseconds since the epoch, saturated at the ends of the `i64` range (years 1677 and
    /// 2262): what formats 1 and 2 can store.
    pub fn to_nanos_saturating(self) -> i64 {
        let ns = i128::from(self.secs) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos);
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    pub fn is_zero(&self) -> bool {
        *self == Time::ZERO
    }

    /// As a `SystemTime` (which holds every `Time` on Linux).
    pub fn to_system_time(self) -> std::time::SystemTime {
        use std::time::{Duration, UNIX_EPOCH};
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::new(self.secs as u64, self.nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs()) + Duration::from_nanos(u64::from(self.nanos))
        }
    }

    /// As a UTC date, `None` past what `chrono` holds (year ±262,143).
    pub fn to_utc(self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(self.secs, self.nanos)
    }
}

impl<'de> Deserialize<'de> for Time {
    /// Either encoding: an integer of nanoseconds (formats 1 and 2) or `[seconds, nanoseconds]`
    /// (format 3), nanoseconds below one second.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Time;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("nanoseconds since 1970 or [seconds, nanoseconds]")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Time, E> {
                Ok(Time::from_nanos(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Time, E> {
                i64::try_from(v).map(Time::from_nanos).map_err(|_| E::custom("time out of range"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Time, A::Error> {
                use serde::de::Error;
                let secs: i64 = a.next_element()?.ok_or_else(|| A::Error::custom("time without seconds"))?;
                let nanos: u32 = a.next_element()?.ok_or_else(|| A::Error::custom("time without nanoseconds"))?;
                if a.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("time with more than two fields"));
                }
                if i64::from(nanos) >= NANOS_PER_SEC {
                    return Err(A::Error::custom("time with nanoseconds of a second or more"));
                }
                Ok(Time { secs, nanos })
            }
        }
        d.deserialize_any(V)
    }
}

/// A time in the encoding of a format version.
struct TimeAs(Time, u8);

impl Serialize for TimeAs {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.1 >= 3 {
            (self.0.secs, self.0.nanos).serialize(s)
        } else {
            s.serialize_i64(self.0.to_nanos_saturating())
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
    pub mtime: Time,
    /// [`Time::ZERO`] when not recorded (the default); restore then uses `mtime`.
    #[serde(default)]
    pub atime: Time,
    pub ctime: Time,
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
    /// Format 4: the whole content of a small regular file (1 to [`MAX_INLINE_BYTES`] bytes,
    /// exactly `size` of them), instead of `content`/`content_lists`.
    #[serde(default, deserialize_with = "inline_bytes")]
    pub inline: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<TreeId>,
}

/// `inline` as a byte string of at most [`MAX_INLINE_BYTES`], refused by its length before
/// its bytes are copied out of the tree.
fn inline_bytes<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<ByteBuf>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<ByteBuf>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a byte string of at most {MAX_INLINE_BYTES} bytes")
        }
        fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> std::result::Result<Self::Value, E> {
            self.visit_bytes(v)
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<Self::Value, E> {
            if v.len() > MAX_INLINE_BYTES {
                return Err(E::custom(format!("inline content of {} bytes, over {MAX_INLINE_BYTES}", v.len())));
            }
            Ok(Some(ByteBuf::from(v.to_vec())))
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> std::result::Result<Self::Value, E> {
            if v.len() > MAX_INLINE_BYTES {
                return Err(E::custom(format!("inline content of {} bytes, over {MAX_INLINE_BYTES}", v.len())));
            }
            Ok(Some(ByteBuf::from(v)))
        }
    }
    d.deserialize_bytes(V)
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
            mtime: Time::ZERO,
            atime: Time::ZERO,
            ctime: Time::ZERO,
            size: 0,
            inode: 0,
            device: 0,
            links: 0,
            xattrs: Vec::new(),
            link_target: None,
            rdev: 0,
            content: Vec::new(),
            content_lists: Vec::new(),
            inline: None,
            subtree: None,
        }
    }

    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A node in the encoding of a format version: fields in the order of format-spec §13.1,
/// those holding their "omitted when" value left out, times as [`TimeAs`] writes them. For
/// formats 1 and 2 this is byte for byte what those versions' writers produced.
struct NodeAs<'a>(&'a Node, u8);

impl Serialize for NodeAs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let (n, v) = (self.0, self.1);
        let present = [
            !n.user.is_empty(),
            !n.group.is_empty(),
            !n.atime.is_zero(),
            n.size != 0,
            n.inode != 0,
            n.device != 0,
            n.links != 0,
            !n.xattrs.is_empty(),
            n.link_target.is_some(),
            n.rdev != 0,
            !n.content.is_empty(),
            !n.content_lists.is_empty(),
            n.inline.is_some(),
            n.subtree.is_some(),
        ];
        let mut m = s.serialize_struct("Node", 7 + present.iter().filter(|p| **p).count())?;
        m.serialize_field("name", &n.name)?;
        m.serialize_field("type", &n.kind)?;
        m.serialize_field("mode", &n.mode)?;
        m.serialize_field("uid", &n.uid)?;
        m.serialize_field("gid", &n.gid)?;
        if !n.user.is_empty() {
            m.serialize_field("user", &n.user)?;
        }
        if !n.group.is_empty() {
            m.serialize_field("group", &n.group)?;
        }
        m.serialize_field("mtime", &TimeAs(n.mtime, v))?;
        if !n.atime.is_zero() {
            m.serialize_field("atime", &TimeAs(n.atime, v))?;
        }
        m.serialize_field("ctime", &TimeAs(n.ctime, v))?;
        for (key, value) in [("size", n.size), ("inode", n.inode), ("device", n.device), ("links", n.links)] {
            if value != 0 {
                m.serialize_field(key, &value)?;
            }
        }
        if !n.xattrs.is_empty() {
            m.serialize_field("xattrs", &n.xattrs)?;
        }
        if let Some(t) = &n.link_target {
            m.serialize_field("link_target", t)?;
        }
        if n.rdev != 0 {
            m.serialize_field("rdev", &n.rdev)?;
        }
        if !n.content.is_empty() {
            m.serialize_field("content", &n.content)?;
        }
        if !n.content_lists.is_empty() {
            m.serialize_field("content_lists", &n.content_lists)?;
        }
        if let Some(b) = &n.inline {
            if v < INLINE_FORMAT {
                // callers convert first (copy stores a blob); never silently drop content
                return Err(serde::ser::Error::custom(format!("inline content in a format {v} tree")));
            }
            m.serialize_field("inline", b)?;
        }
        if let Some(t) = &n.subtree {
            m.serialize_field("subtree", t)?;
        }
        m.end()
    }
}

/// A tree in the encoding of a format version.
struct TreeAs<'a>(&'a Tree, u8);

impl Serialize for TreeAs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let nodes: Vec<NodeAs<'_>> = self.0.nodes.iter().map(|n| NodeAs(n, self.1)).collect();
        let mut m = s.serialize_struct("Tree", 1)?;
        m.serialize_field("nodes", &nodes)?;
        m.end()
    }
}

/// Is `name` safe as one path component?
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Encode for a repository of the newest format; nodes must already be sorted by name
    /// (the archiver walks in sorted order).
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(&TreeAs(self, super::FORMAT_VERSION))
    }

    /// Encode for a repository of format `version`: times as that version stores them
    /// (format-spec/v4.md §13.1). A tree with `inline` content has no encoding before format 4:
    /// Unsupported, with the way out.
    pub fn encode_for(&self, version: u8) -> Result<Vec<u8>> {
        if version < INLINE_FORMAT && self.has_inline() {
            return Err(Error::new(
                crate::error::Kind::Unsupported,
                format!("a tree with inline file content cannot be stored in a format {version} repository"),
            )
            .hint("upgrade the repository first: `arca migrate upgrade_repo_v4`"));
        }
        Ok(to_cbor(&TreeAs(self, version)))
    }

    /// Does a node carry `inline` content (which formats before 4 cannot store)?
    pub fn has_inline(&self) -> bool {
        self.nodes.iter().any(|n| n.inline.is_some())
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
            if let Some(b) = &n.inline {
                check_inline(n, b)?;
            }
        }
        Ok(t)
    }
}

/// The rules of `inline` (format-spec/v4.md §13.1): only on a regular file, never beside
/// `content` or `content_lists`, 1 to [`MAX_INLINE_BYTES`] bytes, exactly `size` of them.
fn check_inline(n: &Node, b: &[u8]) -> Result<()> {
    let name = n.name_lossy();
    if n.kind != NodeKind::File {
        return Err(Error::corrupt(format!("node {name:?}: inline content on a {}", n.kind.as_str())));
    }
    if !n.content.is_empty() || !n.content_lists.is_empty() {
        return Err(Error::corrupt(format!("node {name:?}: both inline content and content blobs")));
    }
    if b.is_empty() || b.len() > MAX_INLINE_BYTES {
        return Err(Error::corrupt(format!(
            "node {name:?}: inline content of {} bytes (1 to {MAX_INLINE_BYTES} allowed)",
            b.len()
        )));
    }
    if b.len() as u64 != n.size {
        return Err(Error::corrupt(format!(
            "node {name:?}: {} bytes of inline content, its size says {}",
            b.len(),
            n.size
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{BlobId, ObjectId, SnapshotId};

    // SnapshotId and TreeId (src/id.rs) encode exactly as the ids they were aliases of.

    /// A real tree id: the v3 test vector's (format-spec/vectors/v3.json, `node_times`).
    fn vector_tree_id() -> String {
        let v: serde_json::Value = serde_json::from_str(include_str!("../../format-spec/vectors/v3.json")).unwrap();
        v["node_times"]["tree_id_v3"].as_str().unwrap().to_string()
    }

    #[test]
    fn snapshot_and_tree_ids_serialise_exactly_as_the_ids_they_were_aliases_of() {
        let hex = vector_tree_id();
        let bytes: [u8; 32] = hex::decode(&hex).unwrap().try_into().unwrap();
        let mut cbor = vec![0x58, 0x20]; // a CBOR byte string of 32 bytes
        cbor.extend_from_slice(&bytes);
        let json = format!("\"{hex}\"");

        let tree = TreeId::from_hex(&hex).unwrap();
        let snapshot = SnapshotId::from_hex(&hex).unwrap();
        for (got, same_as) in [
            (crate::codec::to_cbor(&tree), crate::codec::to_cbor(&BlobId(bytes))),
            (crate::codec::to_cbor(&snapshot), crate::codec::to_cbor(&ObjectId(bytes))),
        ] {
            assert_eq!(got, cbor);
            assert_eq!(got, same_as);
        }
        assert_eq!(serde_json::to_string(&tree).unwrap(), json);
        assert_eq!(serde_json::to_string(&snapshot).unwrap(), json);

        assert_eq!(crate::codec::from_cbor::<TreeId>(&cbor).unwrap(), tree);
        assert_eq!(crate::codec::from_cbor::<SnapshotId>(&cbor).unwrap(), snapshot);
        assert_eq!(serde_json::from_str::<TreeId>(&json).unwrap(), tree);
        assert_eq!(serde_json::from_str::<SnapshotId>(&json).unwrap(), snapshot);

        assert_eq!(tree.as_blob(), BlobId(bytes));
        assert_eq!(TreeId::from_blob(BlobId(bytes)), tree);
        assert_eq!(snapshot.as_object(), ObjectId(bytes));
        assert_eq!(SnapshotId::from_object(ObjectId(bytes)), snapshot);
    }

    #[test]
    fn a_subtree_is_stored_as_the_32_bytes_of_its_id() {
        let tree = TreeId::from_hex(&vector_tree_id()).unwrap();
        let mut dir = Node::new(b"d".to_vec(), NodeKind::Dir);
        dir.subtree = Some(tree);
        let encoded = Tree { nodes: vec![dir] }.encode_for(3).unwrap();
        let mut field = b"\x67subtree\x58\x20".to_vec();
        field.extend_from_slice(tree.as_bytes());
        assert!(encoded.windows(field.len()).any(|w| w == field), "subtree is not a 32-byte string");
        assert_eq!(Tree::decode(&encoded).unwrap().nodes[0].subtree, Some(tree));
    }

    /// The node of formats 1 and 2 as their writers declared it (serde derive, times in
    /// nanoseconds), to hold the hand-written encoder to their bytes.
    #[derive(Serialize)]
    struct NodeV2<'a> {
        name: &'a ByteBuf,
        #[serde(rename = "type")]
        kind: NodeKind,
        mode: u32,
        uid: u32,
        gid: u32,
        #[serde(skip_serializing_if = "String::is_empty")]
        user: &'a String,
        #[serde(skip_serializing_if = "String::is_empty")]
        group: &'a String,
        mtime: i64,
        #[serde(skip_serializing_if = "is_zero_i64")]
        atime: i64,
        ctime: i64,
        #[serde(skip_serializing_if = "is_zero")]
        size: u64,
        #[serde(skip_serializing_if = "is_zero")]
        inode: u64,
        #[serde(skip_serializing_if = "is_zero")]
        device: u64,
        #[serde(skip_serializing_if = "is_zero")]
        links: u64,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        xattrs: &'a Vec<Xattr>,
        #[serde(skip_serializing_if = "Option::is_none")]
        link_target: &'a Option<ByteBuf>,
        #[serde(skip_serializing_if = "is_zero")]
        rdev: u64,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        content: &'a Vec<BlobId>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        content_lists: &'a Vec<BlobId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        subtree: &'a Option<TreeId>,
    }

    fn is_zero_i64(v: &i64) -> bool {
        *v == 0
    }

    #[derive(Serialize)]
    struct TreeV2<'a> {
        nodes: Vec<NodeV2<'a>>,
    }

    fn v2(n: &Node) -> NodeV2<'_> {
        NodeV2 {
            name: &n.name,
            kind: n.kind,
            mode: n.mode,
            uid: n.uid,
            gid: n.gid,
            user: &n.user,
            group: &n.group,
            mtime: n.mtime.to_nanos_saturating(),
            atime: n.atime.to_nanos_saturating(),
            ctime: n.ctime.to_nanos_saturating(),
            size: n.size,
            inode: n.inode,
            device: n.device,
            links: n.links,
            xattrs: &n.xattrs,
            link_target: &n.link_target,
            rdev: n.rdev,
            content: &n.content,
            content_lists: &n.content_lists,
            subtree: &n.subtree,
        }
    }

    fn sample() -> Tree {
        let mut full = Node::new(b"a file".to_vec(), NodeKind::File);
        (full.mode, full.uid, full.gid, full.user, full.group) = (0o4755, 1000, 100, "u".into(), "g".into());
        (full.mtime, full.atime, full.ctime) = (Time::new(1_700_000_000, 5), Time::new(-3, 7), Time::new(1, 0));
        (full.size, full.inode, full.device, full.links) = (9, 8, 7, 2);
        full.xattrs = vec![Xattr { name: ByteBuf::from(b"user.x".to_vec()), value: ByteBuf::from(b"v".to_vec()) }];
        full.content = vec![BlobId([3; 32])];
        let mut link = Node::new(b"b link".to_vec(), NodeKind::Symlink);
        link.link_target = Some(ByteBuf::from(b"a file".to_vec()));
        link.mtime = Time::new(-(1 << 40), 999_999_999);
        let mut dev = Node::new(b"c dev".to_vec(), NodeKind::Chardev);
        dev.rdev = 0x0501;
        let mut dir = Node::new(b"d dir".to_vec(), NodeKind::Dir);
        dir.subtree = Some(TreeId([4; 32]));
        dir.mtime = Time::new(1 << 34, 1);
        let mut big = Node::new(b"e big".to_vec(), NodeKind::File);
        big.content_lists = vec![BlobId([5; 32])];
        Tree { nodes: vec![full, link, dev, dir, big] }
    }

    #[test]
    fn formats_1_and_2_encode_exactly_as_their_writers_did() {
        let t = sample();
        let old = to_cbor(&TreeV2 { nodes: t.nodes.iter().map(v2).collect() });
        assert_eq!(t.encode_for(2).unwrap(), old);
        assert_eq!(t.encode_for(1).unwrap(), old);
    }

    #[test]
    fn format_3_keeps_every_time_and_reads_the_old_encoding() {
        let t = sample();
        let got = Tree::decode(&t.encode_for(3).unwrap()).unwrap();
        assert_eq!(got, t, "a format 3 tree lost a time");
        assert_eq!(got.encode_for(3).unwrap(), t.encode_for(3).unwrap(), "re-encoding changed the bytes");
        // the old encoding reads back as the saturated nanoseconds
        let old = Tree::decode(&t.encode_for(2).unwrap()).unwrap();
        assert_eq!(old.nodes[0], t.nodes[0]);
        assert_eq!(old.nodes[3].mtime, Time::from_nanos(i64::MAX), "2514 does not fit nanoseconds in an i64");
        assert_eq!(old.nodes[1].mtime, Time::from_nanos(i64::MIN));
    }

    fn inline_node(bytes: &[u8], size: u64) -> Node {
        let mut n = Node::new(b"tiny".to_vec(), NodeKind::File);
        n.size = size;
        n.inline = Some(ByteBuf::from(bytes.to_vec()));
        n
    }

    /// Encode with the version 4 encoder, skipping the writer's own rules: what a hostile
    /// writer with the key could store.
    fn hostile(nodes: Vec<Node>) -> Vec<u8> {
        Tree { nodes }.encode_for(4).unwrap()
    }

    fn corrupt_message(bytes: &[u8]) -> String {
        let e = Tree::decode(bytes).expect_err("a hostile tree decoded");
        assert_eq!(e.kind, crate::error::Kind::Corrupt, "{e}");
        e.message
    }

    #[test]
    fn inline_content_round_trips_in_format_4_and_has_no_older_encoding() {
        let t = Tree { nodes: vec![inline_node(b"hello", 5)] };
        let got = Tree::decode(&t.encode_for(4).unwrap()).unwrap();
        assert_eq!(got, t);
        assert!(t.has_inline() && !sample().has_inline());
        // trees without inline content encode in format 4 exactly as in format 3
        assert_eq!(sample().encode_for(4).unwrap(), sample().encode_for(3).unwrap());
        let old = t.encode_for(3).map(|_| ()).unwrap_err();
        assert!(old.message.contains("format 3") && old.hint.is_some(), "{old:?}");
    }

    #[test]
    fn inline_content_of_another_length_than_size_is_corrupt_naming_the_node() {
        for size in [4, 6, 0] {
            let m = corrupt_message(&hostile(vec![inline_node(b"hello", size)]));
            assert!(m.contains("\"tiny\"") && m.contains("5 bytes of inline content"), "{m}");
        }
    }

    #[test]
    fn inline_content_over_the_maximum_is_refused_before_it_is_copied() {
        let at_max = vec![7u8; MAX_INLINE_BYTES];
        assert!(Tree::decode(&hostile(vec![inline_node(&at_max, MAX_INLINE_BYTES as u64)])).is_ok());
        let over = vec![7u8; MAX_INLINE_BYTES + 1];
        let m = corrupt_message(&hostile(vec![inline_node(&over, over.len() as u64)]));
        assert!(m.contains("over 1024"), "{m}");
        // a byte string head claiming 4 GiB with a handful of bytes behind it: refused by its
        // head (no 4 GiB allocation), whatever the reason given
        let mut bytes = hostile(vec![inline_node(b"hello", 5)]);
        let at = bytes.windows(6).position(|w| w == [0x45, b'h', b'e', b'l', b'l', b'o']).unwrap();
        bytes.splice(at..at + 1, [0x5a, 0xff, 0xff, 0xff, 0xff]);
        assert!(Tree::decode(&bytes).is_err());
    }

    #[test]
    fn inline_content_beside_content_blobs_or_on_a_non_file_or_empty_is_corrupt() {
        let mut both = inline_node(b"hello", 5);
        both.content = vec![BlobId([1; 32])];
        assert!(corrupt_message(&hostile(vec![both])).contains("both inline content and content blobs"));
        let mut lists = inline_node(b"hello", 5);
        lists.content_lists = vec![BlobId([1; 32])];
        assert!(corrupt_message(&hostile(vec![lists])).contains("both inline content and content blobs"));
        let mut link = inline_node(b"hello", 5);
        link.kind = NodeKind::Symlink;
        assert!(corrupt_message(&hostile(vec![link])).contains("inline content on a symlink"));
        let m = corrupt_message(&hostile(vec![inline_node(b"", 0)]));
        assert!(m.contains("inline content of 0 bytes"), "{m}");
    }

    #[test]
    fn a_time_of_a_second_or_more_of_nanoseconds_is_refused() {
        let mut t = sample();
        t.nodes.truncate(1);
        let good = t.encode_for(3).unwrap();
        // mtime [1700000000, 5]: the nanoseconds are the byte after the seconds' 5-byte head
        let at = good.windows(7).position(|w| w == [0x82, 0x1a, 0x65, 0x53, 0xf1, 0x00, 0x05]).unwrap();
        let mut bad = good.clone();
        bad.splice(at + 6..at + 7, [0x1a, 0x3b, 0x9a, 0xca, 0x00]); // 1_000_000_000
        assert!(Tree::decode(&bad).is_err());
        bad = good;
        bad.splice(at + 6..at + 7, [0x1a, 0x3b, 0x9a, 0xc9, 0xff]); // 999_999_999
        assert_eq!(Tree::decode(&bad).unwrap().nodes[0].mtime, Time::new(1_700_000_000, 999_999_999));
    }
}
