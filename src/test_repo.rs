//! [`TestRepo`]: a repository in memory with cheap key derivation, a scratch directory for
//! sources and restore targets, and the verbs a library test needs as one call each, so a
//! test of the library reads as what it checks (restic's `internal/repository/testing.go`).
//!
//! ```ignore
//! let t = TestRepo::new();
//! let src = t.write_tree("src", &[("a", b"alpha"), ("sub/b", b"beta")]);
//! t.backup(&src);
//! assert_eq!(t.stored(&src.join("sub/b")).as_deref(), Some(&b"beta"[..]));
//! t.check();
//! ```
//!
//! Test builds only: the module exists with the `testing` feature, which the dev-dependency of
//! arca on itself turns on for tests, benches and the fuzz targets (Cargo.toml); a release
//! build has no such feature and so none of this. Helpers fail the calling test by panicking,
//! with what failed in the message, as an `unwrap` in the test itself would.
#![allow(clippy::expect_used, clippy::panic, clippy::new_without_default)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::archiver::{BackupOptions, Progress};
use crate::backend::DynBackend;
use crate::commands::backup::{self, BackupCommand, BackupReport, Input};
use crate::commands::Filter;
use crate::crypto::KdfParams;
use crate::error::Kind;
use crate::format::snapshot::Snapshot;
use crate::format::BlobType;
use crate::id::SnapshotId;
use crate::maintenance::check::{self, CheckReport, ReadData};
use crate::repo::{InitOptions, Repository};
use crate::restorer::{Overwrite, RestoreOptions, RestoreProgress, RestoreSummary};
use crate::util::sync::IgnorePoison;

/// The password of every test repository.
pub const PASSWORD: &[u8] = b"correct horse battery staple";

/// How test repositories are made: the defaults with the cheapest key derivation the key
/// format admits ([`KdfParams::INSECURE_TEST`]). A test that needs other chunker or pack
/// parameters changes only those: `InitOptions { pack_size: 1 << 20, ..init_options() }`.
pub fn init_options() -> InitOptions {
    InitOptions { kdf: KdfParams::INSECURE_TEST, ..Default::default() }
}

/// A repository in memory and a scratch directory beside it (removed when dropped).
pub struct TestRepo {
    pub repo: Arc<Repository>,
    /// The storage under `repo` (OpenDAL's memory service under arca's standard wrappers), for
    /// opening the repository again as another client would.
    pub backend: DynBackend,
    dir: tempfile::TempDir,
}

impl TestRepo {
    /// A new repository made with [`init_options`].
    pub fn new() -> TestRepo {
        TestRepo::with_options(&init_options())
    }

    /// A new repository made with `opts` (start from [`init_options`], keep its cheap KDF).
    pub fn with_options(opts: &InitOptions) -> TestRepo {
        let backend = crate::backend::memory().expect("the memory backend opens");
        let repo = Repository::init(backend.clone(), PASSWORD, opts).expect("a test repository initialises");
        let dir = tempfile::tempdir().expect("a scratch directory for the test");
        TestRepo { repo: Arc::new(repo), backend, dir }
    }

    /// The same storage opened again, as another client would (no state shared with `repo`).
    pub fn reopen(&self) -> Arc<Repository> {
        Arc::new(Repository::open(self.backend.clone(), PASSWORD).expect("the test repository opens again"))
    }

    /// `rel` inside the scratch directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write `bytes` to `rel` in the scratch directory, creating its directories; returns its path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Write each `(relative path, content)` below `root` in the scratch directory; returns
    /// the root's path.
    pub fn write_tree(&self, root: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir = self.path(root);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        for (rel, bytes) in files {
            self.write(&format!("{root}/{rel}"), bytes);
        }
        dir
    }

    /// A backup of `path` as [`Self::backup`] runs it (host `test`, no tags), for a test to
    /// change a field of: `BackupCommand { tags: vec!["x".into()], ..t.command(&src) }`.
    pub fn command(&self, path: &Path) -> BackupCommand {
        BackupCommand {
            input: Input::Paths(vec![path.to_path_buf()]),
            tags: vec![],
            host: Some("test".into()),
            time: None,
            parent: None,
            force: false,
            excludes_used: vec![],
            skip_if_unchanged: false,
            engine: BackupOptions::default(),
        }
    }

    /// Back up `path`; fails the test on an error or on any warning.
    pub fn backup(&self, path: &Path) -> BackupReport {
        let (report, warnings) = self.backup_with(self.command(path));
        assert!(warnings.is_empty(), "backing up {} warned: {warnings:?}", path.display());
        report
    }

    /// Run `cmd` (see [`Self::command`]); returns its report and the warnings it gave.
    pub fn backup_with(&self, cmd: BackupCommand) -> (BackupReport, Vec<String>) {
        let warnings = Mutex::new(vec![]);
        let report =
            backup::run(self.repo.clone(), cmd, &Progress::default(), &|w| warnings.lock().ignore_poison().push(w))
                .expect("the backup succeeds");
        (report, warnings.into_inner().ignore_poison())
    }

    /// Every snapshot, oldest first.
    pub fn snapshots(&self) -> Vec<(SnapshotId, Snapshot)> {
        self.repo.snapshots().expect("the snapshots can be listed")
    }

    /// The newest snapshot.
    pub fn latest(&self) -> (SnapshotId, Snapshot) {
        crate::commands::select(&self.repo, "latest", &Filter::default()).expect("there is a snapshot")
    }

    /// The content stored for the file `path` in the newest snapshot; `None` when the snapshot
    /// has no such path.
    pub fn stored(&self, path: &Path) -> Option<Vec<u8>> {
        let (_, snap) = self.latest();
        let path = path.to_str().expect("a UTF-8 path");
        let node = match self.repo.find_path(&snap.tree, path) {
            Err(e) if e.kind == Kind::NotFound => return None,
            r => r.expect("the snapshot's trees can be read")?,
        };
        let mut out = node.inline.as_ref().map(|b| b.to_vec()).unwrap_or_default();
        for id in self.repo.file_content(&node).expect("the file's content list can be read") {
            out.extend(self.repo.read_blob(BlobType::Data, &id).expect("the file's blobs can be read"));
        }
        Some(out)
    }

    /// How [`Self::restore`] restores into `target`: overwriting, verifying what it wrote.
    pub fn restore_options(&self, target: &Path) -> RestoreOptions {
        RestoreOptions {
            target: target.to_path_buf(),
            includes: None,
            excludes: Default::default(),
            overwrite: Overwrite::Always,
            delete: false,
            verify: true,
            dry_run: false,
            sparse: false,
            concurrency: 4,
            no_owner: false,
            no_special: false,
            no_setuid: false,
            xattrs: Default::default(),
        }
    }

    /// Restore `selector` (`SNAPSHOT[:PATH]`, as on the command line) into `target`; fails the
    /// test on an error or a warning.
    pub fn restore(&self, selector: &str, target: &Path) -> RestoreSummary {
        let warnings = Mutex::new(vec![]);
        let (_, summary) = crate::commands::restore::run(
            &self.repo,
            selector,
            &Filter::default(),
            &self.restore_options(target),
            &RestoreProgress::default(),
            &|w| warnings.lock().ignore_poison().push(w),
        )
        .unwrap_or_else(|e| panic!("restoring {selector}: {e}"));
        let warnings = warnings.into_inner().ignore_poison();
        assert!(warnings.is_empty(), "restoring {selector} warned: {warnings:?}");
        summary
    }

    /// `check --read-data`: fails the test unless it finds nothing wrong, unreferenced packs
    /// included. Returns the report.
    pub fn check(&self) -> CheckReport {
        let report = check::check(&self.repo, ReadData::All).expect("check runs");
        assert!(report.ok(), "check found errors: {:?} damaged: {:?}", report.errors, report.damaged);
        assert!(report.unreferenced_packs.is_empty(), "unreferenced packs: {:?}", report.unreferenced_packs);
        report
    }
}
