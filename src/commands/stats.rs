//! `arca stats`: restic's four counting modes over a set of snapshots, plus deduplication and
//! compression ratios.
//!
//! - `restore-size`: what restoring every selected snapshot would write (hard links once
//!   per snapshot); shared subtrees are summed once and remembered by tree id.
//! - `files-by-contents`: files counted once per distinct content.
//! - `blobs-per-file`: as above, plus the size of every blob of each distinct content.
//! - `raw-data`: the distinct blobs the snapshots reference, as stored. A file stored inline
//!   (format 4) has no blob: its bytes are counted inside the tree blob that holds them.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::error::{Error, Result, ResultExt};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::id::{BlobId, SnapshotId, TreeId};
use crate::maintenance::usage::mark_used;
use crate::repo::Repository;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    RestoreSize,
    FilesByContents,
    BlobsPerFile,
    RawData,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "restore-size" => Mode::RestoreSize,
            "files-by-contents" => Mode::FilesByContents,
            "blobs-per-file" => Mode::BlobsPerFile,
            "raw-data" => Mode::RawData,
            _ => {
                return Err(Error::usage(format!("unknown stats mode {s:?}"))
                    .hint("use restore-size, files-by-contents, blobs-per-file or raw-data"))
            }
        })
    }
}

/// restic's field names; the ratios are arca's own.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub total_size: u64,
    pub total_file_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_blob_count: Option<u64>,
    pub snapshots_count: u64,
    /// raw-data: the plaintext size of the distinct blobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_uncompressed_size: Option<u64>,
    /// raw-data: plaintext / stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_ratio: Option<f64>,
    /// raw-data: percent of the blobs stored compressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_progress: Option<f64>,
    /// raw-data: percent of the plaintext that compression saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_space_saving: Option<f64>,
    /// raw-data: what a restore of every snapshot writes / the distinct data blobs' plaintext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduplication_ratio: Option<f64>,
    /// raw-data: restore size / stored size (deduplication and compression together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ratio: Option<f64>,
}

/// `arca stats [IDS...]`: the selected snapshots' statistics in `mode`, under a read lock.
pub fn run(repo: &Repository, ids: &[String], filter: &super::Filter, mode: Mode) -> Result<Stats> {
    let _lock = repo.lock_read("stats")?;
    let snaps = super::select_many(repo, ids, filter)?;
    stats(repo, &snaps, mode)
}

pub fn stats(repo: &Repository, snapshots: &[(SnapshotId, Snapshot)], mode: Mode) -> Result<Stats> {
    let mut st = Stats { snapshots_count: snapshots.len() as u64, ..Default::default() };
    match mode {
        Mode::RestoreSize => {
            let mut memo = HashMap::new();
            for (sid, s) in snapshots {
                let (size, count) = restore_size(repo, &s.tree, &mut memo).ctx(format!("snapshot {}", sid.short()))?;
                st.total_size = st.total_size.saturating_add(size);
                st.total_file_count += count;
            }
        }
        Mode::FilesByContents | Mode::BlobsPerFile => {
            let mut seen_trees = HashSet::new();
            let mut seen_files = HashSet::new();
            for (sid, s) in snapshots {
                walk_files(
                    repo,
                    &s.tree,
                    &mut seen_trees,
                    &mut |node| {
                        let content = repo.file_content(node)?;
                        // inline content (format 4) is known by the id its blob would have, so
                        // the same bytes inline and in a blob are one content
                        let key = match &node.inline {
                            Some(b) => content_key(&[repo.blob_id(crate::format::BlobType::Data, b)]),
                            None => content_key(&content),
                        };
                        if !seen_files.insert(key) {
                            return Ok(());
                        }
                        st.total_file_count += 1;
                        if mode == Mode::FilesByContents {
                            st.total_size = st.total_size.saturating_add(node.size);
                        } else {
                            // inline content has no blob: its bytes count, no blob does
                            st.total_size += node.inline.as_ref().map_or(0, |b| b.len() as u64);
                            let idx = repo.whole_index()?;
                            for id in &content {
                                let loc = idx.get(id).ok_or_else(|| {
                                    Error::new(
                                        crate::error::Kind::NotFound,
                                        format!("data blob {id} is not in the index"),
                                    )
                                })?;
                                st.total_size += loc.entry.raw_length as u64;
                                *st.total_blob_count.get_or_insert(0) += 1;
                            }
                        }
                        Ok(())
                    },
                    0,
                )
                .ctx(format!("snapshot {}", sid.short()))?;
            }
        }
        Mode::RawData => {
            let usage = mark_used(repo, snapshots)?;
            if let Some(e) = usage.missing_error() {
                return Err(e);
            }
            let idx = repo.whole_index()?;
            let (mut stored, mut plain, mut count, mut compressed, mut data_plain) = (0u64, 0u64, 0u64, 0u64, 0u64);
            // groups holding used blobs, by (pack, offset): sealed length, plaintext end, members
            let mut groups: HashMap<(u32, u32), (u64, u64, u64)> = HashMap::new();
            for i in (0..idx.table_len()).filter(|i| usage.used.contains(*i)) {
                let e = idx.table_entry(i);
                plain += e.raw_length as u64;
                count += 1;
                if e.blob_type == crate::format::BlobType::Data {
                    data_plain += e.raw_length as u64;
                }
                let p = e.pack_entry();
                if p.group_offset.is_some() {
                    // a group's bytes count once, however many of its members are used
                    let g = groups.entry((e.pack, e.offset)).or_insert((e.length as u64, 0, 0));
                    g.1 = g.1.max(p.plain_end() as u64);
                    g.2 += 1;
                    continue;
                }
                stored += e.length as u64;
                // a blob stored raw is sealed at exactly its raw frame's padded length
                if (e.length as usize) < crate::crypto::SEAL_OVERHEAD + e.raw_length as usize {
                    compressed += 1;
                }
            }
            for (length, plain_end, members) in groups.into_values() {
                stored += length;
                if length < crate::crypto::SEAL_OVERHEAD as u64 + plain_end {
                    compressed += members;
                }
            }
            drop(idx);
            let mut memo = HashMap::new();
            let mut restore = 0;
            for (_, s) in snapshots {
                restore = restore_size(repo, &s.tree, &mut memo)?.0.saturating_add(restore);
            }
            let ratio = |a: u64, b: u64| (b > 0).then(|| round2(a as f64 / b as f64));
            st.total_size = stored;
            st.total_blob_count = Some(count);
            st.total_uncompressed_size = Some(plain);
            st.compression_ratio = ratio(plain, stored);
            st.compression_progress = ratio(compressed * 100, count);
            st.compression_space_saving =
                (plain > 0).then(|| round2(100.0 * (1.0 - stored.min(plain) as f64 / plain as f64)));
            st.deduplication_ratio = ratio(restore, data_plain);
            st.total_ratio = ratio(restore, stored);
        }
    }
    Ok(st)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Identity of a file's content: its blob ids, hashed.
fn content_key(content: &[BlobId]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for id in content {
        h.update(&id.0);
    }
    *h.finalize().as_bytes()
}

/// Restore sizes of many snapshots over time: each distinct subtree is summed once and
/// remembered by its id (trees never change), so a long-running caller (the server's
/// dashboard) pays only for the trees of snapshots it has not seen.
#[derive(Default)]
pub struct RestoreSizes {
    memo: HashMap<TreeId, Sized>,
}

impl RestoreSizes {
    /// What `stats --mode restore-size` counts for one snapshot's tree: bytes (hard links once).
    pub fn size(&mut self, repo: &Repository, tree: &TreeId) -> Result<u64> {
        restore_size(repo, tree, &mut self.memo).map(|(bytes, _)| bytes)
    }
}

/// What a restore of one tree writes: bytes of singly linked files, nodes, and the files with
/// several links by (device, inode, size), counted once per snapshot by the caller.
#[derive(Clone, Default)]
struct Sized {
    bytes: u64,
    nodes: u64,
    linked: std::sync::Arc<Vec<(u64, u64, u64)>>,
}

/// Bytes and nodes a restore of a snapshot's tree writes (hard links once). Sizes come from
/// the repository, so sums saturate: a hostile node size cannot overflow them.
fn restore_size(repo: &Repository, tree: &TreeId, memo: &mut HashMap<TreeId, Sized>) -> Result<(u64, u64)> {
    let s = tree_size(repo, tree, memo, 0)?;
    let linked: HashSet<(u64, u64, u64)> = s.linked.iter().copied().collect();
    Ok((linked.iter().fold(s.bytes, |sum, l| sum.saturating_add(l.2)), s.nodes))
}

/// Each distinct subtree is summed once and remembered by id.
fn tree_size(repo: &Repository, tree: &TreeId, memo: &mut HashMap<TreeId, Sized>, depth: usize) -> Result<Sized> {
    if let Some(v) = memo.get(tree) {
        return Ok(v.clone());
    }
    crate::format::tree::check_depth(depth, &format!("tree {}", tree.short()))?;
    let mut out = Sized::default();
    let mut linked = vec![];
    for n in repo.load_tree(tree)?.nodes {
        out.nodes += 1;
        match (n.kind, &n.subtree) {
            (NodeKind::Dir, Some(sub)) => {
                let s = tree_size(repo, sub, memo, depth + 1)?;
                out.bytes = out.bytes.saturating_add(s.bytes);
                out.nodes += s.nodes;
                linked.extend_from_slice(&s.linked);
            }
            (NodeKind::File, _) if n.links > 1 => linked.push((n.device, n.inode, n.size)),
            (NodeKind::File, _) => out.bytes = out.bytes.saturating_add(n.size),
            _ => {}
        }
    }
    linked.sort_unstable();
    linked.dedup();
    out.linked = std::sync::Arc::new(linked);
    memo.insert(*tree, out.clone());
    Ok(out)
}

/// Call `f` on every file node below `tree`, visiting each distinct subtree once.
fn walk_files(
    repo: &Repository,
    tree: &TreeId,
    seen: &mut HashSet<TreeId>,
    f: &mut dyn FnMut(&Node) -> Result<()>,
    depth: usize,
) -> Result<()> {
    if !seen.insert(*tree) {
        return Ok(());
    }
    crate::format::tree::check_depth(depth, &format!("tree {}", tree.short()))?;
    for n in repo.load_tree(tree)?.nodes {
        match (n.kind, &n.subtree) {
            (NodeKind::Dir, Some(sub)) => walk_files(repo, sub, seen, f, depth + 1)?,
            (NodeKind::File, _) => f(&n)?,
            _ => {}
        }
    }
    Ok(())
}
