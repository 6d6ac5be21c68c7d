//! Arguments of the verbs that browse snapshots: `find`, `diff`, `dump`, `stats`, `ls` and `cat`.

use std::path::PathBuf;

use clap::Args;

use super::args::FilterArgs;

#[derive(Args, Debug)]
pub struct FindArgs {
    /// Glob patterns (* ? [..] **), matched against names, or against paths when they contain /
    pub patterns: Vec<String>,
    /// Instead of patterns: every version of this path across snapshots
    #[arg(long, value_name = "PATH", conflicts_with = "patterns")]
    pub path: Option<String>,
    /// The arguments are data blob ids (or prefixes): list the files that hold them
    #[arg(long, conflicts_with_all = ["tree", "pack", "path"])]
    pub blob: bool,
    /// The arguments are tree ids (or prefixes): list the directories that are them
    #[arg(long, conflicts_with_all = ["pack", "path"])]
    pub tree: bool,
    /// The arguments are pack ids (or prefixes): list their blobs and the files that use them
    #[arg(long, conflicts_with = "path")]
    pub pack: bool,
    /// Match patterns without regard to case
    #[arg(short = 'i', long)]
    pub ignore_case: bool,
    /// Only entries modified at or after this time (e.g. 2026-11-01 or '2026-11-01 12:00')
    #[arg(short = 'O', long, value_name = "TIME")]
    pub oldest: Option<String>,
    /// Only entries modified at or before this time
    #[arg(short = 'N', long, value_name = "TIME")]
    pub newest: Option<String>,
    /// Search only these snapshots (repeatable)
    #[arg(short = 's', long = "snapshot", value_name = "ID")]
    pub snapshots: Vec<String>,
    /// Only snapshots of this host (repeatable)
    #[arg(long = "host", short = 'H', env = "ARCA_HOST")]
    pub hosts: Vec<String>,
    /// Only snapshots with this tag (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Oldest snapshot first (default: newest first)
    #[arg(short = 'R', long)]
    pub reverse: bool,
    /// Long lines, as `ls -l`: permissions, size, modification time and path
    #[arg(short = 'l', long)]
    pub long: bool,
    /// Sizes as 1.2 KiB, 3.4 MiB in --long lines
    #[arg(long)]
    pub human_readable: bool,
    /// With --blob or --tree: also the pack each found blob is stored in
    #[arg(long)]
    pub show_pack_id: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old side: a snapshot, optionally with :/SUBPATH
    pub old: String,
    /// The new side: a snapshot (optionally with :/SUBPATH), or a directory on disk
    pub new: String,
    /// Also report metadata changes (mode, owner, mtime, xattrs)
    #[arg(long)]
    pub metadata: bool,
}

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Snapshot: id, prefix, latest or latest@TIME (a date alone: the end of that day)
    pub snapshot: String,
    /// Path inside the snapshot (a file, or a directory dumped as an archive)
    pub path: String,
    /// Archive format for directories: tar or zip
    #[arg(long, short = 'a', default_value = "tar")]
    pub archive: String,
    /// Write to this file instead of stdout
    #[arg(long, short = 't', value_name = "FILE")]
    pub target: Option<PathBuf>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Snapshots (ids, prefixes, latest); none: every snapshot the filters select
    pub ids: Vec<String>,
    /// restore-size, files-by-contents, blobs-per-file or raw-data
    #[arg(long, default_value = "restore-size")]
    pub mode: String,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Snapshot: id, prefix, latest or latest@TIME (a date alone: the end of that day)
    pub snapshot: String,
    /// Directories to list (default: the whole snapshot)
    pub dirs: Vec<String>,
    /// Long listing
    #[arg(short = 'l', long)]
    pub long: bool,
    /// List directories given recursively
    #[arg(long)]
    pub recursive: bool,
    /// Sort by name (the tree's order), size, time (= mtime), atime, ctime, mtime or extension
    #[arg(short = 's', long, value_enum, default_value = "name")]
    pub sort: LsSort,
    /// Reverse the sorted order
    #[arg(long)]
    pub reverse: bool,
    /// Sizes as 1.2 KiB, 3.4 MiB in -l lines
    #[arg(long)]
    pub human_readable: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `ls --sort`: restic's keys (`time` is `mtime`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsSort {
    Name,
    Size,
    Time,
    Atime,
    Ctime,
    Mtime,
    Extension,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// config, index, pack, blob, snapshot, tree, key or lock
    pub what: String,
    /// Object id (or prefix); for tree: SNAPSHOT[:PATH]
    pub id: Option<String>,
    /// `cat config`: also print the keys the config carries (chunker and blob/tree id keys of
    /// a repository made with --copy-chunker-params or rotated); hidden by default
    #[arg(long)]
    pub show_secrets: bool,
}
