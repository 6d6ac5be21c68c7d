//! A model of what a repository must hold, checked after random operations: backups,
//! forgets, prunes, index repairs, restores and checks on one in-memory repository, each
//! through storage that may fail (stop at its Nth write, fail a share of operations
//! transiently, drop or truncate writes while reporting success, hide new objects from
//! listings, flip bits in what it reads). Shared by the fuzz target `fuzz/fuzz_targets/model.rs`
//! (operations from the fuzzer's bytes) and `tests/model_ops.rs` (operations from a seeded
//! generator, in CI).
//!
//! The model is the set of snapshots whose creating backup reported success (or that a failed
//! one stored anyway) and the files each must hold. After every operation, whatever it
//! returned, with a dead run's locks removed as `unlock` would:
//! - `check --read-data` on the repository passes;
//! - every snapshot of the model is listed and gives back its files byte for byte;
//! - no snapshot exists that the model does not know;
//! - a forget that reported success removed its snapshot.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arca::archiver::{BackupOptions, Progress};
use arca::backend::fault::FaultBackend;
use arca::backend::{self, DynBackend, Location, RetryPolicy, StackOptions};
use arca::chunker::ChunkerParams;
use arca::commands::backup::{self, BackupCommand, Input};
use arca::commands::forget;
use arca::commands::select::Filter;
use arca::format::BlobType;
use arca::id::SnapshotId;
use arca::maintenance::check::{self, ReadData};
use arca::maintenance::{prune, repair};
use arca::repo::{InitOptions, LockMode, Repository};
use arca::restorer::{self, Overwrite, RestoreOptions, RestoreProgress};
#[cfg(fuzzing)]
use libfuzzer_sys::arbitrary::{self, Arbitrary};

const PASSWORD: &[u8] = b"model";
pub const MAX_OPS: usize = 12;

#[cfg_attr(fuzzing, derive(Arbitrary))]
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    None,
    /// Every write and delete from the (n+1)th on fails: the process died there.
    StopAt(u8),
    /// This share (in 1/256) of all operations fails transiently (retried).
    Flaky(u8),
    /// The next write of a pack reports success and stores nothing / half of it.
    DropPack,
    TruncatePack,
    /// Listings leave out what was written during this operation.
    ListLag,
    /// Reads of packs come back with a bit flipped (read-only operations only).
    FlipPacks,
}

/// A file of the source: name `f<slot % 4>`, content from `seed` and `len` (up to 96 KiB), or
/// the previous content of another slot with a few bytes changed (deduplication).
#[cfg_attr(fuzzing, derive(Arbitrary))]
#[derive(Debug, Clone, Copy)]
pub struct FileSpec {
    pub slot: u8,
    pub seed: u8,
    pub len: u16,
    pub derive: bool,
}

#[cfg_attr(fuzzing, derive(Arbitrary))]
#[derive(Debug, Clone)]
pub enum Op {
    Backup { files: Vec<FileSpec>, fault: Fault },
    Forget { which: u8, fault: Fault },
    Prune { instant: bool, max_unused_zero: bool, fault: Fault },
    RepairIndex { read_data: bool, fault: Fault },
    Restore { which: u8, fault: Fault },
    Check { fault: Fault },
}

type Files = BTreeMap<String, Vec<u8>>;

struct Model {
    raw: DynBackend,
    src: tempfile::TempDir,
    scratch: tempfile::TempDir,
    /// Snapshots that must exist, with the files each holds.
    snapshots: BTreeMap<SnapshotId, Files>,
    /// The source as it is now.
    source: Files,
}

static TMP: LazyLock<PathBuf> = LazyLock::new(|| {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
});

fn content(seed: u8, len: u16) -> Vec<u8> {
    let mut x = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..usize::from(len) * 3 / 2)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

impl Model {
    fn new() -> Model {
        let raw = backend::open_raw(&Location::Memory, &[]).expect("memory backend");
        let opts = InitOptions {
            chunker: ChunkerParams { min: 2048, avg: 8192, max: 32768 },
            pack_size: 1 << 20,
            ..arca::test_repo::init_options()
        };
        Repository::init(raw.clone(), PASSWORD, &opts).expect("init");
        Model {
            raw,
            src: tempfile::tempdir_in(&*TMP).expect("tempdir"),
            scratch: tempfile::tempdir_in(&*TMP).expect("tempdir"),
            snapshots: BTreeMap::new(),
            source: Files::new(),
        }
    }

    /// The repository through storage with `fault`, retrying as the command line does (fast).
    fn open(&self, fault: Fault) -> arca::error::Result<Arc<Repository>> {
        let mut f = FaultBackend::new(self.raw.clone());
        f = match fault {
            Fault::None | Fault::FlipPacks => f,
            Fault::StopAt(n) => f.crash_at(u64::from(n) + 1),
            Fault::Flaky(share) => f.transient_share(u64::from(share) * 1000 / 256 / 4, u64::from(share)),
            Fault::DropPack => f.drop_writes("data/", 1),
            Fault::TruncatePack => f.truncate_writes("data/", 1),
            Fault::ListLag => f.list_lag(Duration::from_secs(3600)),
        };
        if matches!(fault, Fault::FlipPacks) {
            f.flip_reads_of("data/");
        }
        let opts = StackOptions {
            retry: RetryPolicy { attempts: 8, base: Duration::from_micros(10), max: Duration::from_micros(100) },
            ..Default::default()
        };
        let b = backend::stack(Arc::new(f), 4, &opts);
        Ok(Arc::new(Repository::open(b, PASSWORD)?.without_cache()))
    }

    fn clean(&self) -> Arc<Repository> {
        self.open(Fault::None).expect("the repository opens")
    }

    fn pick(&self, which: u8) -> Option<SnapshotId> {
        let n = self.snapshots.len();
        (n > 0).then(|| *self.snapshots.keys().nth(usize::from(which) % n).expect("in range"))
    }

    fn write_source(&mut self, files: &[FileSpec]) {
        for f in files.iter().take(6) {
            let name = format!("f{}", f.slot % 4);
            let data = match self.source.values().nth(usize::from(f.seed) % self.source.len().max(1)) {
                Some(prev) if f.derive => {
                    let mut d = prev.clone();
                    let at = usize::from(f.len) % d.len().max(1);
                    d.splice(at..at, [f.seed; 7]);
                    d
                }
                _ => content(f.seed, f.len % 65_535),
            };
            std::fs::write(self.src.path().join(&name), &data).expect("write source");
            self.source.insert(name, data);
        }
    }

    fn backup(&mut self, files: &[FileSpec], fault: Fault) {
        self.write_source(files);
        let before: Vec<SnapshotId> = listed(&self.clean());
        let result = self.open(fault).and_then(|repo| {
            let cmd = BackupCommand {
                input: Input::Paths(vec![self.src.path().to_path_buf()]),
                tags: vec![],
                host: Some("model".into()),
                time: None,
                parent: None,
                force: false,
                excludes_used: vec![],
                skip_if_unchanged: false,
                engine: BackupOptions { uploaders: 2, seal_workers: 2, read_concurrency: 2, ..Default::default() },
            };
            backup::run(repo, cmd, &Progress::default(), &|_| {})
        });
        let new: Vec<SnapshotId> = listed(&self.clean()).into_iter().filter(|id| !before.contains(id)).collect();
        match &result {
            Ok(r) => assert_eq!(new.len(), 1, "a successful backup stored {} snapshots ({r:?})", new.len()),
            Err(_) => assert!(new.len() <= 1, "a failed backup stored {} snapshots", new.len()),
        }
        for id in new {
            self.snapshots.insert(id, self.source.clone());
        }
    }

    fn forget(&mut self, which: u8, fault: Fault) {
        let Some(id) = self.pick(which) else { return };
        let result = self.open(fault).and_then(|repo| {
            let _lock = repo.lock("forget", LockMode::Shared)?;
            let plan = forget::plan_ids(&repo, &[id.to_hex()], &Filter::default())?;
            forget::execute(&repo, &plan)
        });
        let still = listed(&self.clean()).contains(&id);
        assert!(!(result.is_ok() && still), "forget reported success and the snapshot is still there");
        if !still {
            self.snapshots.remove(&id);
        }
    }

    fn prune(&mut self, instant: bool, zero: bool, fault: Fault) {
        let _ = self.open(fault).and_then(|repo| {
            let mode = if instant { LockMode::Exclusive } else { LockMode::Maintenance };
            let lock = repo.lock("prune", mode)?;
            let opts = prune::PruneOptions {
                max_unused: if zero { prune::MaxUnused::Bytes(0) } else { prune::MaxUnused::Percent(5.0) },
                instant_delete: instant,
                keep_delete: Duration::ZERO,
                ..Default::default()
            };
            prune::prune(&repo, &opts, Some(&lock), &|_| {})
        });
    }

    fn repair_index(&mut self, read_data: bool, fault: Fault) {
        let _ = self.open(fault).and_then(|repo| {
            let lock = repo.lock("repair index", LockMode::Exclusive)?;
            repair::repair_index(&repo, read_data, false, Some(&lock), &|_| {})
        });
    }

    /// Restore one snapshot into scratch space; with clean storage it must succeed and match.
    fn restore(&mut self, which: u8, fault: Fault) {
        let Some(id) = self.pick(which) else { return };
        let target = self.scratch.path().join("restore");
        let _ = std::fs::remove_dir_all(&target);
        let result = self.open(fault).and_then(|repo| {
            let snap = repo.load_snapshot(&id)?;
            let src = self.src.path();
            let node = repo.find_path(&snap.tree, &src.to_string_lossy())?.expect("the source is in its snapshot");
            let root = node.subtree.expect("the source is a directory");
            let opts = RestoreOptions {
                target: target.clone(),
                includes: None,
                excludes: Default::default(),
                overwrite: Overwrite::Always,
                delete: false,
                verify: true,
                dry_run: false,
                sparse: false,
                concurrency: 2,
                no_owner: false,
                no_special: false,
                no_setuid: false,
                xattrs: Default::default(),
            };
            restorer::restore(&repo, &root, src, &opts, &RestoreProgress::default(), &|_| {})
        });
        match result {
            Ok(s) if s.errors == 0 => {
                for (name, want) in &self.snapshots[&id] {
                    let got = std::fs::read(target.join(name)).expect("a restored file");
                    assert!(got == *want, "restore of {name} from {} differs", id.short());
                }
            }
            _ => assert!(
                !matches!(fault, Fault::None | Fault::ListLag),
                "restore from healthy storage failed: {result:?}"
            ),
        }
    }

    fn check(&mut self, fault: Fault) {
        let result = self.open(fault).and_then(|repo| check::check(&repo, ReadData::All));
        if matches!(fault, Fault::None) {
            let r = result.expect("check runs on healthy storage");
            assert!(r.ok(), "check: {:?} {:?}", r.errors, r.damaged);
        }
    }

    /// The invariants, read through healthy storage.
    fn verify(&self) {
        let repo = self.clean();
        repo.unlock(true).expect("unlock");
        let listed = listed(&repo);
        for id in &listed {
            assert!(self.snapshots.contains_key(id), "snapshot {} appeared from nowhere", id.short());
        }
        for (id, files) in &self.snapshots {
            assert!(listed.contains(id), "snapshot {} was lost", id.short());
            let snap = repo.load_snapshot(id).expect("a snapshot of the model loads");
            let src = self.src.path().to_string_lossy().into_owned();
            for (name, want) in files {
                let node = repo
                    .find_path(&snap.tree, &format!("{src}/{name}"))
                    .expect("the snapshot's trees read")
                    .unwrap_or_else(|| panic!("{name} is missing from {}", id.short()));
                // a tiny file is stored in its node (format 4, inline), any other in blobs
                let mut got = node.inline.as_ref().map_or_else(|| Vec::with_capacity(want.len()), |b| b.to_vec());
                for blob in repo.file_content(&node).expect("content lists read") {
                    got.extend(repo.read_blob(BlobType::Data, &blob).expect("a data blob reads"));
                }
                assert!(got == *want, "{name} in {} differs from what was backed up", id.short());
            }
        }
        let r = check::check(&repo, ReadData::All).expect("check runs");
        assert!(r.ok(), "check after the operation: {:?} {:?}", r.errors, r.damaged);
    }
}

fn listed(repo: &Repository) -> Vec<SnapshotId> {
    repo.snapshots().expect("snapshots list").into_iter().map(|(id, _)| id).collect()
}

/// Bit flips only make sense for operations that do not rewrite what they read.
fn read_only_flips(fault: Fault) -> Fault {
    if matches!(fault, Fault::FlipPacks) {
        Fault::None
    } else {
        fault
    }
}

/// Run `ops` (at most [`MAX_OPS`]) on a fresh repository, checking the model after each.
pub fn run(ops: Vec<Op>) {
    let mut m = Model::new();
    for op in ops.into_iter().take(MAX_OPS) {
        match op {
            Op::Backup { files, fault } => m.backup(&files, read_only_flips(fault)),
            Op::Forget { which, fault } => m.forget(which, read_only_flips(fault)),
            Op::Prune { instant, max_unused_zero, fault } => m.prune(instant, max_unused_zero, read_only_flips(fault)),
            Op::RepairIndex { read_data, fault } => m.repair_index(read_data, read_only_flips(fault)),
            Op::Restore { which, fault } => m.restore(which, fault),
            Op::Check { fault } => m.check(fault),
        }
        m.verify();
    }
}
