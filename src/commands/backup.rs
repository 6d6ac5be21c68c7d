//! `arca backup`: save sources as a new snapshot. The snapshot is written last, after its
//! packs and index; a run with unreadable sources still writes it, counting the errors.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::Filter;
use crate::archiver::{self, BackupOptions, Progress, Source};
use crate::error::{Error, Kind, Result};
use crate::format::snapshot::{Snapshot, Summary};
use crate::id::SnapshotId;
use crate::platform;
use crate::repo::stage_clock::StageReport;
use crate::repo::Repository;

pub enum Input {
    Paths(Vec<PathBuf>),
    Stdin { filename: String },
    Command { filename: String, argv: Vec<String> },
}

pub struct BackupCommand {
    pub input: Input,
    pub tags: Vec<String>,
    pub host: Option<String>,
    pub time: Option<String>,
    pub parent: Option<String>,
    pub force: bool,
    pub excludes_used: Vec<String>,
    /// Store no snapshot when the tree equals the parent's (restic 0.17's
    /// `--skip-if-unchanged`); the report then has no snapshot id and is not a dry run.
    pub skip_if_unchanged: bool,
    pub engine: BackupOptions,
}

/// The final `summary` message of `backup --json` (restic's shape).
#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub message_type: &'static str,
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unmodified: u64,
    pub dirs_new: u64,
    pub dirs_changed: u64,
    pub dirs_unmodified: u64,
    pub data_blobs: u64,
    pub tree_blobs: u64,
    pub data_added: u64,
    pub data_added_packed: u64,
    pub total_files_processed: u64,
    pub total_bytes_processed: u64,
    pub total_duration: f64,
    pub backup_start: String,
    pub backup_end: String,
    pub errors: u64,
    pub dry_run: bool,
    pub snapshot_id: Option<SnapshotId>,
    pub parent: Option<SnapshotId>,
    /// Where the time went, per pipeline stage (arca-specific; not in restic's summary).
    pub pipeline: StageReport,
    /// `--changed-paths`: how many paths the change list named, when the walk used it
    /// (arca-specific, omitted otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_paths: Option<u64>,
    /// `--changed-paths` given, but the walk was full: why (arca-specific, omitted otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_walk: Option<String>,
}

impl BackupReport {
    fn new(
        s: &Summary,
        pipeline: &StageReport,
        duration: f64,
        snapshot: Option<SnapshotId>,
        parent: Option<SnapshotId>,
        dry_run: bool,
    ) -> Self {
        BackupReport {
            message_type: "summary",
            files_new: s.files_new,
            files_changed: s.files_changed,
            files_unmodified: s.files_unmodified,
            dirs_new: s.dirs_new,
            dirs_changed: s.dirs_changed,
            dirs_unmodified: s.dirs_unmodified,
            data_blobs: s.data_blobs,
            tree_blobs: s.tree_blobs,
            data_added: s.data_added,
            data_added_packed: s.data_added_packed,
            total_files_processed: s.total_files_processed,
            total_bytes_processed: s.total_bytes_processed,
            total_duration: duration,
            backup_start: s.backup_start.clone(),
            backup_end: s.backup_end.clone(),
            errors: s.errors,
            dry_run,
            snapshot_id: snapshot,
            parent,
            pipeline: pipeline.clone(),
            changed_paths: None,
            full_walk: None,
        }
    }
}

pub fn run(
    repo: Arc<Repository>,
    mut cmd: BackupCommand,
    progress: &Progress,
    warn: &(dyn Fn(String) + Sync),
) -> Result<BackupReport> {
    let started = std::time::Instant::now();
    let lock = if cmd.engine.dry_run { None } else { Some(repo.lock("backup", crate::repo::LockMode::Shared)?) };
    let host = cmd.host.clone().unwrap_or_else(platform::hostname);
    let time = match &cmd.time {
        Some(t) => super::parse_time(t)?.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
        None => platform::now_rfc3339(),
    };
    let mut child = None;
    let (source, paths) = match std::mem::replace(&mut cmd.input, Input::Paths(vec![])) {
        Input::Paths(p) => {
            let mut abs = vec![];
            for path in p {
                let a = std::path::absolute(&path).map_err(|e| Error::io(path.display(), e))?;
                if a.symlink_metadata().is_err() {
                    progress.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    warn(format!("{}: no such file or directory", path.display()));
                    continue;
                }
                abs.push(a);
            }
            if abs.is_empty() {
                return Err(Error::usage("none of the sources exist; nothing to back up"));
            }
            let names = abs.iter().map(|p| p.to_string_lossy().trim_end_matches('/').to_string()).collect();
            (Source::Paths(abs), names)
        }
        Input::Stdin { filename } => (
            Source::Stream { name: filename.clone(), reader: Box::new(std::io::stdin()) },
            vec![format!("/{filename}")],
        ),
        Input::Command { filename, argv } => {
            let (prog, args) =
                argv.split_first().ok_or_else(|| Error::usage("--stdin-from-command needs a command"))?;
            use std::os::unix::process::CommandExt;
            let mut c = crate::platform::without_secrets(&mut std::process::Command::new(prog))
                .args(args)
                .process_group(0)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| Error::new(Kind::Usage, format!("cannot run {prog:?}: {e}")))?;
            let out = c.stdout.take().ok_or_else(|| Error::internal("command has no stdout"))?;
            stop_child_on_interrupt(c.id());
            child = Some(c);
            (Source::Stream { name: filename.clone(), reader: Box::new(out) }, vec![format!("/{filename}")])
        }
    };
    let parent = find_parent(&repo, &cmd, &host, &paths)?;
    if let Some((_, p)) = &parent {
        cmd.engine.parent_tree = Some(p.tree);
    }
    let full_walk = change_list_refused(&cmd, parent.as_ref().map(|(_, p)| p), &paths);
    if full_walk.is_some() {
        cmd.engine.changed = None;
    } else if cmd.engine.changed.is_some() {
        // counting ahead would walk everything the change list spares
        cmd.engine.scan_ahead = false;
    }
    let changed_paths = cmd.engine.changed.as_ref().map(|l| l.entries());
    let outcome = archiver::backup(repo.clone(), source, &cmd.engine, progress, warn);
    if platform::interrupted() {
        return Err(platform::interrupted_error());
    }
    let outcome = outcome?;
    if let Some(mut c) = child {
        let status = c.wait().map_err(|e| Error::new(Kind::Other, format!("waiting for the command: {e}")))?;
        if !status.success() {
            return Err(Error::new(
                Kind::Other,
                format!("the command given to --stdin-from-command failed ({status}); no snapshot written"),
            ));
        }
    }
    let duration = started.elapsed().as_secs_f64();
    let unchanged = parent.as_ref().is_some_and(|(_, p)| p.tree == outcome.tree);
    let parent_id = parent.map(|(id, _)| id);
    let report = |snapshot, dry_run| BackupReport {
        changed_paths,
        full_walk: full_walk.clone(),
        ..BackupReport::new(&outcome.summary, &outcome.stages, duration, snapshot, parent_id, dry_run)
    };
    if cmd.skip_if_unchanged && unchanged && !cmd.engine.dry_run {
        return Ok(report(None, false));
    }
    // a dry run holds no lock, and stores nothing
    let Some(lock) = lock.as_ref().filter(|_| !cmd.engine.dry_run) else {
        return Ok(report(None, true));
    };
    let snap = Snapshot {
        time,
        tree: outcome.tree,
        paths,
        hostname: host,
        username: platform::username(),
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        tags: cmd.tags.iter().flat_map(|t| t.split(',')).filter(|t| !t.is_empty()).map(String::from).collect(),
        parent: parent_id,
        excludes: cmd.excludes_used.clone(),
        program_version: format!("arca {}", env!("CARGO_PKG_VERSION")),
        summary: Some(outcome.summary.clone()),
        original: None,
        change_list: changed_paths,
    };
    let id = repo.save_snapshot(&snap, &outcome.flushed, lock)?;
    Ok(report(Some(id), false))
}

/// Why a change list cannot be used, if it cannot: the subtrees it reuses come from the parent
/// snapshot, which must exist and be of the same sources made with the same exclude patterns.
/// (Other options that shape the tree, `--exclude-if-present`, `--exclude-larger-than`, `-x`,
/// `--with-atime`, are not recorded in a snapshot: a reused subtree keeps the parent's.)
fn change_list_refused(cmd: &BackupCommand, parent: Option<&Snapshot>, paths: &[String]) -> Option<String> {
    cmd.engine.changed.as_ref()?;
    let Some(p) = parent else {
        return Some(if cmd.force { "--force was given" } else { "there is no parent snapshot" }.to_string());
    };
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if sorted(&p.paths) != sorted(paths) {
        return Some("the parent snapshot has other paths".to_string());
    }
    if sorted(&p.excludes) != sorted(&cmd.excludes_used) {
        return Some("the parent snapshot was made with other exclude patterns".to_string());
    }
    None
}

/// A read from the command's output blocks until it writes; on interrupt, end the command's
/// process group (its children may hold the pipe open too) so the read returns and the
/// backup can stop cleanly.
fn stop_child_on_interrupt(pid: u32) {
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if platform::interrupted() {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
            return;
        }
        if !platform::process_alive(pid) {
            return;
        }
    });
}

fn find_parent(
    repo: &Repository,
    cmd: &BackupCommand,
    host: &str,
    paths: &[String],
) -> Result<Option<(SnapshotId, Snapshot)>> {
    if cmd.force {
        return Ok(None);
    }
    if let Some(sel) = &cmd.parent {
        return super::select(repo, sel, &Filter::default()).map(Some);
    }
    let mut sorted = paths.to_vec();
    sorted.sort();
    let all = repo.snapshots()?;
    Ok(all.into_iter().rev().find(|(_, s)| {
        let mut p = s.paths.clone();
        p.sort();
        s.hostname == host && p == sorted
    }))
}
