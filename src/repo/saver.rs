//! Saving blobs: dedup, then compress + seal on a pool of workers, then pack (one open pack
//! per blob type, so trees and data live in separate packs), then upload in parallel. A pack's
//! blobs enter the in-memory index only after the pack is stored; index files are written
//! after their packs, so every index entry points at a durable pack.
//!
//! Dedup uses the index plus an in-flight set: a blob id enters the set when the first caller
//! claims it, so two workers never store the same blob twice in one run.
//!
//! Channels are bounded, so a slow backend slows the producers instead of filling memory.
//! The first error wins and stops the pipeline; `finish` reports it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::buffer_pool::BufferPool;
use super::in_flight::InFlight;
use super::stage_clock::{Stage, StageClock};
use super::{IndexFlushed, Repository};
use crate::codec::{Compression, Compressor};
use crate::error::{Error, Kind, Result, ResultExt};
use crate::format::index::{IndexFile, IndexPack};
use crate::format::pack::{
    encode_header, seal_compressed_into, seal_group_into, unit_entries, GroupBuilder, PackEntry, CLOSE_AT_ENTRIES,
    GROUP_MEMBER_MAX,
};
use crate::format::tree::{ContentList, Node, Tree, MAX_INLINE_CONTENT};
use crate::format::BlobType;
use crate::id::{storage_hash, BlobId, ObjectId, PackId, TreeId};
use crate::util::sync::IgnorePoison;

/// Write an index file once this many blobs are pending.
pub(crate) const INDEX_FLUSH_BLOBS: usize = 50_000;

/// Chunk-sized buffers kept for reuse between blobs (about 16 average chunks).
const POOL_BUDGET: usize = 16 * 1024 * 1024;

/// Bytes of blobs between the readers and the packer (two chunks of the chunker's maximum, or
/// more average chunks than the channels hold).
const IN_FLIGHT_BUDGET: u64 = 16 * 1024 * 1024;

/// What a finished saver stored.
#[derive(Debug, Default, Clone)]
pub struct SaveSummary {
    pub index_files: Vec<ObjectId>,
    pub data_blobs: u64,
    pub tree_blobs: u64,
    pub data_added: u64,
    pub data_added_packed: u64,
    pub packs: u64,
}

#[derive(Debug, Default)]
pub struct SaveStats {
    pub data_blobs: AtomicU64,
    pub tree_blobs: AtomicU64,
    pub data_added: AtomicU64,
    pub data_added_packed: AtomicU64,
    pub packs: AtomicU64,
}

/// A blob to seal, or a group of small data blobs (`data` is then their plaintexts back to
/// back and `members` names them; it is empty for a blob sealed alone).
struct Job {
    blob_type: BlobType,
    id: BlobId,
    data: Vec<u8>,
    members: Vec<(BlobId, u32)>,
    /// What the blob counts against the in-flight budget, released by the packer.
    counted: u64,
}

struct SealedBlob {
    blob_type: BlobType,
    /// The blob, or the group's members, with plaintext lengths.
    members: Vec<(BlobId, u32)>,
    sealed: Vec<u8>,
    counted: u64,
}

/// The group small data blobs are collected in before sealing (format-spec §11.2).
#[derive(Default)]
struct OpenGroup {
    group: GroupBuilder,
    counted: u64,
}

impl OpenGroup {
    /// The collected blobs as one job: a group, or a single blob sealed alone.
    fn take(&mut self) -> Option<Job> {
        if self.group.is_empty() {
            return None;
        }
        let OpenGroup { group: GroupBuilder { plain, mut members }, counted } = std::mem::take(self);
        let id = members[0].0;
        if members.len() == 1 {
            members.clear();
        }
        Some(Job { blob_type: BlobType::Data, id, data: plain, members, counted })
    }
}

struct FinishedPack {
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
}

struct Shared {
    repo: Arc<Repository>,
    inflight: Mutex<HashSet<BlobId>>,
    error: Mutex<Option<Error>>,
    pending_index: Mutex<IndexFile>,
    written_index: Mutex<Vec<ObjectId>>,
    stats: SaveStats,
    /// Where the time goes (shared with the archiver's stages).
    clock: Arc<StageClock>,
    /// Buffers for blobs and their sealed forms, recycled.
    pool: BufferPool,
    in_flight: InFlight,
    /// Do everything but write to storage.
    dry_run: bool,
    /// Small data blobs waiting to be sealed together; `None` in a format 1 repository.
    group: Option<Mutex<OpenGroup>>,
}

impl Shared {
    fn fail(&self, e: Error) {
        let mut slot = self.error.lock().ignore_poison();
        if slot.is_none() {
            *slot = Some(e);
        }
        drop(slot);
        self.in_flight.close();
    }

    fn failed(&self) -> bool {
        self.error.lock().ignore_poison().is_some()
    }

    fn flush_index(&self, force: bool) -> Result<()> {
        let file = {
            let mut pending = self.pending_index.lock().ignore_poison();
            if pending.packs.is_empty() || (!force && pending.blob_count() < INDEX_FLUSH_BLOBS) {
                return Ok(());
            }
            std::mem::take(&mut *pending)
        };
        if self.dry_run {
            return Ok(());
        }
        let id = self.repo.store_index(&file)?;
        self.written_index.lock().ignore_poison().push(id);
        Ok(())
    }
}

pub struct BlobSaver {
    shared: Arc<Shared>,
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl BlobSaver {
    /// Start the pipeline with `workers` seal threads and `uploaders` upload threads, after
    /// adopting packs an interrupted backup left unindexed.
    pub fn new(
        repo: Arc<Repository>,
        compression: Compression,
        workers: usize,
        uploaders: usize,
        dry_run: bool,
    ) -> Result<Self> {
        repo.adopt_unindexed_packs(dry_run)?;
        let repo_format = repo.config().version;
        let shared = Arc::new(Shared {
            repo,
            inflight: Mutex::new(HashSet::new()),
            error: Mutex::new(None),
            pending_index: Mutex::new(IndexFile::default()),
            written_index: Mutex::new(vec![]),
            stats: SaveStats::default(),
            clock: Arc::new(StageClock::default()),
            pool: BufferPool::new(POOL_BUDGET),
            in_flight: InFlight::new(IN_FLIGHT_BUDGET),
            dry_run,
            group: (repo_format >= 2).then(Mutex::default),
        });
        let workers = workers.max(1);
        let uploaders = uploaders.max(1);
        let (job_tx, job_rx) = bounded::<Job>(workers * 2);
        let (sealed_tx, sealed_rx) = bounded::<SealedBlob>(workers * 2);
        // a finished pack goes straight to a free uploader: packs waiting in a queue would only
        // hold memory (16 MiB each) while the packer goes on filling the next one
        let (pack_tx, pack_rx) = bounded::<FinishedPack>(0);
        let mut threads = vec![];
        for i in 0..workers {
            let (rx, tx, sh) = (job_rx.clone(), sealed_tx.clone(), shared.clone());
            threads.push(spawn(&format!("arca-seal-{i}"), move || seal_worker(rx, tx, sh, compression))?);
        }
        drop(sealed_tx);
        let sh = shared.clone();
        threads.push(spawn("arca-packer", move || packer(sealed_rx, pack_tx, sh))?);
        for i in 0..uploaders {
            let (rx, sh) = (pack_rx.clone(), shared.clone());
            threads.push(spawn(&format!("arca-upload-{i}"), move || uploader(rx, sh))?);
        }
        // counted until dropped: no snapshot commits through `nothing_pending` meanwhile
        shared.repo.pending.writer_opened();
        Ok(BlobSaver { shared, jobs: Some(job_tx), threads })
    }

    pub fn repo(&self) -> &Arc<Repository> {
        &self.shared.repo
    }

    pub fn stats(&self) -> &SaveStats {
        &self.shared.stats
    }

    /// The pipeline's stage times; the archiver adds its own stages to it.
    pub fn clock(&self) -> &Arc<StageClock> {
        &self.shared.clock
    }

    /// Is this blob already stored or being stored? If not, claim it.
    fn claim(&self, id: &BlobId) -> Result<bool> {
        // Hold the in-flight set while checking the index: an uploader moves a blob from the
        // set to the index, and must not slip between the two checks.
        let mut inflight = self.shared.inflight.lock().ignore_poison();
        let repo = &self.shared.repo;
        if repo.blob_stored(&*repo.index()?, id) {
            return Ok(false);
        }
        Ok(inflight.insert(*id))
    }

    /// Save a blob unless it is already stored. Returns its id and whether it was new.
    pub fn save(&self, blob_type: BlobType, data: Vec<u8>) -> Result<(BlobId, bool)> {
        let id = self.shared.clock.busy(Stage::Hash, || blob_type.id(self.shared.repo.keys(), &data));
        let new = self.save_with_id(blob_type, id, data)?;
        Ok((id, new))
    }

    /// [`save`](Self::save) for borrowed bytes (a chunk in a read buffer): copied, into a
    /// recycled buffer, only when the blob is new.
    pub fn save_slice(&self, blob_type: BlobType, data: &[u8]) -> Result<(BlobId, bool)> {
        let id = self.shared.clock.busy(Stage::Hash, || blob_type.id(self.shared.repo.keys(), data));
        if !self.claim_new(&id)? {
            return Ok((id, false));
        }
        let mut buf = self.shared.pool.take();
        // the reader's copy of the chunk, part of cutting it out of the read buffer
        self.shared.clock.busy(Stage::Chunk, || buf.extend_from_slice(data));
        self.submit(blob_type, id, buf)?;
        Ok((id, true))
    }

    pub fn save_with_id(&self, blob_type: BlobType, id: BlobId, data: Vec<u8>) -> Result<bool> {
        if !self.claim_new(&id)? {
            self.shared.pool.give(data);
            return Ok(false);
        }
        self.submit(blob_type, id, data)?;
        Ok(true)
    }

    /// Claim the blob unless it is stored or being stored; fails once the pipeline has failed.
    fn claim_new(&self, id: &BlobId) -> Result<bool> {
        if let Some(e) = self.shared.error.lock().ignore_poison().as_ref() {
            // the pipeline's error as it was, but for its source: what failed, where, and
            // the hint (a full or read-only storage says what to do)
            let mut copy = Error::new(e.kind, e.message.clone());
            copy.hint.clone_from(&e.hint);
            copy.object.clone_from(&e.object);
            copy.operation = e.operation;
            return Err(copy);
        }
        self.claim(id)
    }

    /// Send a claimed blob to the sealers.
    fn submit(&self, blob_type: BlobType, id: BlobId, data: Vec<u8>) -> Result<()> {
        let stats = &self.shared.stats;
        match blob_type {
            BlobType::Data => stats.data_blobs.fetch_add(1, Ordering::Relaxed),
            BlobType::Tree => stats.tree_blobs.fetch_add(1, Ordering::Relaxed),
        };
        stats.data_added.fetch_add(data.len() as u64, Ordering::Relaxed);
        // the caller's stage (chunking, or tree assembly) waits here while the sealers are busy
        let stage = if blob_type == BlobType::Data { Stage::Chunk } else { Stage::Trees };
        let counted = self.shared.clock.blocked(stage, || self.shared.in_flight.acquire(data.len()));
        let group = self.shared.group.as_ref().filter(|_| blob_type == BlobType::Data && data.len() < GROUP_MEMBER_MAX);
        let job = match group {
            Some(g) => {
                let full = {
                    let mut g = g.lock().ignore_poison();
                    g.group.push(id, &data);
                    g.counted += counted;
                    if g.group.is_full() {
                        g.take()
                    } else {
                        None
                    }
                };
                self.shared.pool.give(data);
                match full {
                    Some(job) => job,
                    None => return Ok(()),
                }
            }
            None => Job { blob_type, id, data, members: vec![], counted },
        };
        self.send(job, stage)
    }

    fn send(&self, job: Job, stage: Stage) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or_else(|| Error::internal("blob saver already finished"))?;
        self.shared.clock.blocked(stage, || jobs.send(job)).map_err(|_| self.take_error())
    }

    /// Send the small blobs collected so far to the sealers.
    fn flush_group(&self) -> Result<()> {
        let job = match &self.shared.group {
            Some(g) => g.lock().ignore_poison().take(),
            None => None,
        };
        match job {
            Some(job) => self.send(job, Stage::Chunk),
            None => Ok(()),
        }
    }

    /// Store content ids in a node, indirectly through content lists when there are many.
    pub fn set_content(&self, node: &mut Node, content: Vec<BlobId>) -> Result<()> {
        if content.len() <= MAX_INLINE_CONTENT {
            node.content = content;
            return Ok(());
        }
        for part in content.chunks(MAX_INLINE_CONTENT) {
            let list = ContentList { content: part.to_vec() };
            node.content_lists.push(self.save(BlobType::Tree, list.encode())?.0);
        }
        Ok(())
    }

    /// Store a tree; refuses one over the tree size limit with a clear error.
    pub fn save_tree(&self, tree: Tree) -> Result<TreeId> {
        let format = self.shared.repo.keys().format;
        let bytes = self.shared.clock.busy(Stage::Trees, || tree.encode_for(format))?;
        if bytes.len() as u64 > u64::from(BlobType::Tree.max_len()) {
            return Err(Error::new(
                Kind::Unsupported,
                format!(
                    "a directory of {} entries encodes to {} bytes, over the 1 GiB tree limit",
                    tree.nodes.len(),
                    bytes.len()
                ),
            )
            .hint("exclude part of it or back up its subdirectories separately"));
        }
        Ok(TreeId::from_blob(self.save(BlobType::Tree, bytes)?.0))
    }

    fn take_error(&self) -> Error {
        self.shared.error.lock().ignore_poison().take().unwrap_or_else(|| Error::internal("blob saver stopped"))
    }

    /// Flush everything: seal, pack, upload, then write the remaining index entries. Returns
    /// what was stored, and the proof that every pack stored is indexed, which storing a
    /// snapshot that names its blobs requires ([`Repository::save_snapshot`]).
    pub fn finish(mut self) -> Result<(SaveSummary, IndexFlushed)> {
        if let Err(e) = self.flush_group() {
            self.shared.fail(e);
        }
        self.jobs = None;
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                self.shared.fail(Error::internal("a backup worker thread panicked"));
            }
        }
        if let Some(e) = self.shared.error.lock().ignore_poison().take() {
            return Err(e);
        }
        self.shared.flush_index(true)?;
        let st = &self.shared.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let summary = SaveSummary {
            index_files: std::mem::take(&mut *self.shared.written_index.lock().ignore_poison()),
            data_blobs: l(&st.data_blobs),
            tree_blobs: l(&st.tree_blobs),
            data_added: l(&st.data_added),
            data_added_packed: l(&st.data_added_packed),
            packs: l(&st.packs),
        };
        Ok((summary, self.shared.repo.flushed()))
    }
}

impl Drop for BlobSaver {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.shared.repo.pending.writer_closed();
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(f).ctx("starting a worker thread")
}

fn seal_worker(rx: Receiver<Job>, tx: Sender<SealedBlob>, sh: Arc<Shared>, level: Compression) {
    let clock = &sh.clock;
    clock.thread(Stage::Compress);
    clock.thread(Stage::Encrypt);
    let mut compressor = Compressor::new(level);
    let mut compressed = Vec::new();
    for job in rx {
        if sh.failed() {
            sh.in_flight.release(job.counted);
            continue;
        }
        let smaller = clock.busy(Stage::Compress, || compressor.compress_into(&job.data, &mut compressed));
        let mut sealed = sh.pool.take();
        clock.busy(Stage::Encrypt, || {
            let compressed = smaller.then_some(&compressed[..]);
            if job.members.is_empty() {
                seal_compressed_into(sh.repo.keys(), job.blob_type, &job.id, compressed, &job.data, &mut sealed)
            } else {
                seal_group_into(sh.repo.keys(), compressed, &job.data, &mut sealed)
            }
        });
        let members = match job.members {
            m if m.is_empty() => vec![(job.id, job.data.len() as u32)],
            m => m,
        };
        sh.pool.give(job.data);
        let blob = SealedBlob { blob_type: job.blob_type, members, sealed, counted: job.counted };
        if clock.blocked(Stage::Encrypt, || tx.send(blob)).is_err() {
            sh.in_flight.close();
            return;
        }
    }
}

/// A pack being filled: sealed blobs back to back, and their entries.
#[derive(Default)]
pub(super) struct OpenPack {
    pub bytes: Vec<u8>,
    pub entries: Vec<PackEntry>,
}

impl OpenPack {
    /// Is it time to store this pack (format-spec §11.2)?
    pub fn is_full(&self, pack_size: usize) -> bool {
        self.bytes.len() >= pack_size || self.entries.len() >= CLOSE_AT_ENTRIES
    }

    /// Append a sealed unit: one blob, or a group of `members` (id and plaintext length, in
    /// the order of the group's plaintext).
    pub fn add_unit(&mut self, blob_type: BlobType, members: &[(BlobId, u32)], sealed: &[u8]) {
        let offset = self.bytes.len() as u32;
        self.entries.extend(unit_entries(blob_type, offset, sealed.len() as u32, members));
        self.bytes.extend_from_slice(sealed);
    }

    /// Close the pack: its bytes with the sealed header and trailer, and its entries.
    pub fn close(&mut self, keys: &crate::crypto::Keys) -> Option<(Vec<u8>, Vec<PackEntry>)> {
        if self.entries.is_empty() {
            return None;
        }
        let mut p = std::mem::take(self);
        let header = encode_header(keys, &p.entries, &p.bytes);
        p.bytes.extend_from_slice(&header);
        Some((p.bytes, p.entries))
    }

    fn finish(&mut self, sh: &Shared) -> Option<FinishedPack> {
        self.close(sh.repo.keys()).map(|(bytes, entries)| FinishedPack { bytes, entries })
    }
}

fn packer(rx: Receiver<SealedBlob>, tx: Sender<FinishedPack>, sh: Arc<Shared>) {
    let target = sh.repo.pack_target();
    let mut data = OpenPack::default();
    let mut tree = OpenPack::default();
    let clock = &sh.clock;
    clock.thread(Stage::Pack);
    for b in rx {
        if sh.failed() {
            sh.in_flight.release(b.counted);
            continue;
        }
        let open = if b.blob_type == BlobType::Data { &mut data } else { &mut tree };
        let full = clock.busy(Stage::Pack, || {
            open.add_unit(b.blob_type, &b.members, &b.sealed);
            sh.pool.give(b.sealed);
            sh.in_flight.release(b.counted);
            if open.is_full(target) {
                open.finish(&sh)
            } else {
                None
            }
        });
        if let Some(p) = full {
            if clock.blocked(Stage::Pack, || tx.send(p)).is_err() {
                sh.in_flight.close();
                return;
            }
        }
    }
    for open in [&mut data, &mut tree] {
        if let Some(p) = open.finish(&sh) {
            let _ = tx.send(p);
        }
    }
}

fn uploader(rx: Receiver<FinishedPack>, sh: Arc<Shared>) {
    sh.clock.thread(Stage::Upload);
    for FinishedPack { bytes, entries } in rx {
        if sh.failed() {
            continue;
        }
        let started = std::time::Instant::now();
        let len = bytes.len() as u64;
        let result = (|| -> Result<()> {
            let id = if sh.dry_run { PackId(storage_hash(&bytes)) } else { sh.repo.store_pack(bytes)? };
            sh.repo.index_add_pack(id, &entries)?;
            {
                let mut inflight = sh.inflight.lock().ignore_poison();
                for e in &entries {
                    inflight.remove(&e.id);
                }
            }
            sh.stats.data_added_packed.fetch_add(len, Ordering::Relaxed);
            sh.stats.packs.fetch_add(1, Ordering::Relaxed);
            sh.pending_index.lock().ignore_poison().packs.push(IndexPack { id, blobs: entries });
            sh.flush_index(false)
        })();
        sh.clock.add_busy(Stage::Upload, started.elapsed());
        if let Err(e) = result {
            sh.fail(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_of_tiny_blobs_closes_at_its_blob_count() {
        let pack_size = 16 << 20;
        let mut open = OpenPack::default();
        for i in 0..CLOSE_AT_ENTRIES {
            assert!(!open.is_full(pack_size), "full after {i} blobs of 56 bytes");
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            open.add_unit(BlobType::Data, &[(BlobId(id), 8)], &[0; 56]);
        }
        assert!(open.is_full(pack_size));
        let mut big = OpenPack::default();
        big.add_unit(BlobType::Data, &[(BlobId([1; 32]), 1 << 20)], &vec![0; pack_size]);
        assert!(big.is_full(pack_size), "a pack is full at its size, too");
    }
}
