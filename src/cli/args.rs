//! Command-line arguments as clap sees them (step one of two; `settings` validates them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "arca", version, about = "Deduplicating, encrypted backups on any OpenDAL backend")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Repository: a local path, or SERVICE:ROOT (default: a local repository in your data directory)
    #[arg(short = 'r', long = "repo", env = "ARCA_REPOSITORY", global = true)]
    pub repo: Option<String>,
    /// Read the password from this file
    #[arg(long, env = "ARCA_PASSWORD_FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password
    #[arg(long, env = "ARCA_PASSWORD_COMMAND", global = true)]
    pub password_command: Option<String>,
    /// Backend option key=value (e.g. -o fs.atomic_write_dir=/tmp)
    #[arg(short = 'o', long = "option", global = true)]
    pub options: Vec<String>,
    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Cache directory (default: your cache directory/arca)
    #[arg(long, env = "ARCA_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Don't use a local cache
    #[arg(long, global = true)]
    pub no_cache: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new repository
    Init(InitArgs),
    /// Back up files and directories into a new snapshot
    Backup(BackupArgs),
    /// List snapshots
    Snapshots(SnapshotsArgs),
    /// List files in a snapshot
    Ls(LsArgs),
    /// Print repository objects (config, index, pack, blob, snapshot, tree, key, lock)
    Cat(CatArgs),
    /// Restore a snapshot
    Restore(RestoreArgs),
    /// Manage passwords (keys)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Remove stale locks
    Unlock(UnlockArgs),
    /// Check the repository's structure (and, with --read-data, every blob)
    Check(CheckArgs),
}

#[derive(Args, Debug, Default, Clone)]
pub struct FilterArgs {
    /// Only snapshots of this host (repeatable)
    #[arg(long = "host", short = 'H')]
    pub hosts: Vec<String>,
    /// Only snapshots with these tags (comma-separated = all of them; repeat = any)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only snapshots with this path (repeatable)
    #[arg(long = "path")]
    pub paths: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Chunk sizes MIN,AVG,MAX in bytes (even; default 524288,1048576,8388608)
    #[arg(long)]
    pub chunker_params: Option<String>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Files and directories to back up
    pub paths: Vec<PathBuf>,
    /// Tag the snapshot (repeatable, or comma-separated)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Host name to record (default: this host)
    #[arg(long, short = 'H')]
    pub host: Option<String>,
    /// Time to record instead of now (e.g. "2026-11-01 12:00:00")
    #[arg(long)]
    pub time: Option<String>,
    /// Compare with this snapshot instead of the latest one of the same host and paths
    #[arg(long)]
    pub parent: Option<String>,
    /// Read every file, ignoring the parent snapshot
    #[arg(long)]
    pub force: bool,
    /// Do everything but write to the repository
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Exclude paths matching a pattern (repeatable)
    #[arg(long, short = 'e')]
    pub exclude: Vec<String>,
    /// Like --exclude, case-insensitive
    #[arg(long)]
    pub iexclude: Vec<String>,
    /// Read exclude patterns from a file
    #[arg(long)]
    pub exclude_file: Vec<PathBuf>,
    /// Read case-insensitive exclude patterns from a file
    #[arg(long)]
    pub iexclude_file: Vec<PathBuf>,
    /// Exclude directories holding a CACHEDIR.TAG
    #[arg(long)]
    pub exclude_caches: bool,
    /// Exclude directories holding this file (FILE or FILE:HEADER)
    #[arg(long)]
    pub exclude_if_present: Vec<String>,
    /// Exclude files larger than this (e.g. 500M, 2G)
    #[arg(long)]
    pub exclude_larger_than: Option<String>,
    /// Don't cross file system boundaries
    #[arg(long, short = 'x')]
    pub one_file_system: bool,
    /// Read the paths to back up from a file (one per line)
    #[arg(long)]
    pub files_from: Vec<PathBuf>,
    /// Back up standard input
    #[arg(long)]
    pub stdin: bool,
    /// File name for --stdin and --stdin-from-command
    #[arg(long, default_value = "stdin")]
    pub stdin_filename: String,
    /// Back up the output of a command (the arguments after the options)
    #[arg(long)]
    pub stdin_from_command: bool,
    /// off, auto, max, or a zstd level 1-22
    #[arg(long, default_value = "auto")]
    pub compression: String,
    /// Files read at once
    #[arg(long, default_value_t = 2)]
    pub read_concurrency: usize,
    /// Store access times too
    #[arg(long)]
    pub with_atime: bool,
}

#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Snapshot ids (or prefixes) to show
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Snapshot: id, prefix, latest or latest@TIME
    pub snapshot: String,
    /// Directories to list (default: the whole snapshot)
    pub dirs: Vec<String>,
    /// Long listing
    #[arg(short = 'l', long)]
    pub long: bool,
    /// List directories given recursively
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// config, index, pack, blob, snapshot, tree, key or lock
    pub what: String,
    /// Object id (or prefix); for tree: SNAPSHOT[:PATH]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot: id, prefix, latest or latest@TIME, optionally :PATH for a subdirectory
    pub snapshot: String,
    /// Directory to restore into
    #[arg(long, short = 't')]
    pub target: PathBuf,
    /// Restore only paths matching this pattern (repeatable)
    #[arg(long, short = 'i')]
    pub include: Vec<String>,
    /// Like --include, case-insensitive
    #[arg(long)]
    pub iinclude: Vec<String>,
    /// Don't restore paths matching this pattern (repeatable)
    #[arg(long, short = 'e')]
    pub exclude: Vec<String>,
    /// Like --exclude, case-insensitive
    #[arg(long)]
    pub iexclude: Vec<String>,
    /// always, if-changed, if-newer or never
    #[arg(long, default_value = "always")]
    pub overwrite: String,
    /// Delete files in the target that are not in the snapshot
    #[arg(long)]
    pub delete: bool,
    /// Read restored files back and check them
    #[arg(long)]
    pub verify: bool,
    /// Show what would be restored
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Write runs of zeros as holes
    #[arg(long)]
    pub sparse: bool,
    /// Files written at once
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Add a password
    Add(NewPasswordArgs),
    /// List keys
    List,
    /// Remove a key by id
    Remove { id: String },
    /// Change the password in use
    Passwd(NewPasswordArgs),
}

#[derive(Args, Debug)]
pub struct NewPasswordArgs {
    /// Read the new password from this file
    #[arg(long)]
    pub new_password_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Remove all locks, even fresh ones
    #[arg(long)]
    pub remove_all: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Download and authenticate every blob
    #[arg(long)]
    pub read_data: bool,
}
